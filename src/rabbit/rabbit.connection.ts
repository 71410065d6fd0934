import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import amqp, { AmqpConnectionManager } from 'amqp-connection-manager';

import { WorkerConfig } from '../config/worker-config';

/** Heartbeats notice a silent broker within two intervals. */
const HEARTBEAT_S = 5;
const RECONNECT_S = 1;

/**
 * A connection to RabbitMQ that reconnects by itself, named `name` in the
 * broker's connection list (`connection_name`), its ups and downs logged.
 */
export function connectToRabbit(url: string, name: string, logger: Logger): AmqpConnectionManager {
  const manager = amqp.connect([url], {
    heartbeatIntervalInSeconds: HEARTBEAT_S,
    reconnectTimeInSeconds: RECONNECT_S,
    connectionOptions: { clientProperties: { connection_name: name } },
  });
  manager.on('connect', () => logger.log(`Connected to RabbitMQ (${name})`));
  manager.on('disconnect', ({ err }) =>
    logger.warn(`Disconnected from RabbitMQ (${name}): ${err?.message ?? 'closed'}`),
  );
  manager.on('connectFailed', ({ err }) =>
    logger.warn(`Cannot reach RabbitMQ (${name}): ${err?.message ?? 'unknown error'}`),
  );
  return manager;
}

/**
 * The worker's connection for tasks, reconnecting by itself. The task
 * consumer and the result publisher each open their channel on it. Replies
 * to requests never go out on it (see ReplyPublisher): a reply to a direct
 * reply-to address of a node that does not exist makes RabbitMQ close the
 * connection it was published on.
 */
@Injectable()
export class RabbitConnection implements OnApplicationShutdown {
  private readonly logger = new Logger(RabbitConnection.name);
  readonly manager: AmqpConnectionManager;

  constructor(@Inject(WorkerConfig) config: WorkerConfig) {
    this.manager = connectToRabbit(config.rabbit.url, `steam-worker tasks (${config.rabbit.workerQueue})`, this.logger);
  }

  get connected(): boolean {
    return this.manager.isConnected();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.manager.close().catch(() => undefined);
  }
}
