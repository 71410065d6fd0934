import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import amqp, { AmqpConnectionManager } from 'amqp-connection-manager';

import { WorkerConfig } from '../../config/worker-config';

/** Heartbeats notice a silent broker within two intervals. */
const HEARTBEAT_S = 5;
const RECONNECT_S = 1;

/**
 * The worker's one connection to RabbitMQ, reconnecting by itself. The task
 * consumer and the result publisher each open their channel on it.
 */
@Injectable()
export class RabbitConnection implements OnApplicationShutdown {
  private readonly logger = new Logger(RabbitConnection.name);
  readonly manager: AmqpConnectionManager;

  constructor(@Inject(WorkerConfig) config: WorkerConfig) {
    this.manager = amqp.connect([config.rabbit.url], {
      heartbeatIntervalInSeconds: HEARTBEAT_S,
      reconnectTimeInSeconds: RECONNECT_S,
    });
    this.manager.on('connect', () => this.logger.log('Connected to RabbitMQ'));
    this.manager.on('disconnect', ({ err }) =>
      this.logger.warn(`Disconnected from RabbitMQ: ${err?.message ?? 'closed'}`),
    );
    this.manager.on('connectFailed', ({ err }) =>
      this.logger.warn(`Cannot reach RabbitMQ: ${err?.message ?? 'unknown error'}`),
    );
  }

  get connected(): boolean {
    return this.manager.isConnected();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.manager.close().catch(() => undefined);
  }
}
