import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { ConsumeMessage } from 'amqplib';
import { randomUUID } from 'node:crypto';

import { abortable } from '../common/abortable';
import { WorkerConfig } from '../config/worker-config';
import { ConfirmChannelKeeper, publishConfirmed } from './confirm-channel.keeper';
import { RabbitConnection } from './rabbit.connection';
import { TaskNotConfirmedError, TaskNotQueuedError } from './rabbit.errors';
import { workerQueueOptions } from './worker-queue';

/** How long a published task may wait for the broker's confirm. */
const CONFIRM_TIMEOUT_MS = 15_000;

export interface PublishTaskOptions {
  /** How long to wait for a channel while RabbitMQ is away. */
  waitMs: number;
  /** Stops the wait for a channel (shutdown); a task already sent is not taken back. */
  signal?: AbortSignal;
}

/**
 * Publishes tasks to WORKER_QUEUE, as the orchestrator does (the scheduled
 * tasks of SCHEDULES): Nest's envelope `{pattern, data}`, persistent,
 * mandatory, on a raw confirm channel of its own on the task connection,
 * opened at the first task. Like results, a task is sent at most once: after a
 * reconnect nothing is sent again (amqp-connection-manager's ChannelWrapper
 * would queue and re-send it), and a task whose confirm did not come is never
 * sent again, since it may already be in the queue.
 */
@Injectable()
export class TaskPublisher implements OnApplicationShutdown {
  private readonly logger = new Logger(TaskPublisher.name);
  private readonly returned = new Set<string>();
  private channels?: ConfirmChannelKeeper;

  constructor(
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
    private readonly connection: RabbitConnection,
  ) {}

  /**
   * Resolves once the broker confirmed the task and did not return it. Throws
   * {@link TaskNotQueuedError} when it is certainly not in the queue (no
   * channel within `waitMs`, or returned as unroutable) and
   * {@link TaskNotConfirmedError} when it may be.
   */
  async publishTask(pattern: string, data: object, { waitMs, signal }: PublishTaskOptions): Promise<void> {
    const { workerQueue } = this.config.rabbit;
    const channel = await abortable(this.keeper().waitForChannel(waitMs), signal);
    if (!channel) throw new TaskNotQueuedError(`Task ${pattern} not sent: no channel to RabbitMQ`);
    const messageId = randomUUID();
    const body = Buffer.from(JSON.stringify({ pattern, data }));
    const properties = { persistent: true, mandatory: true, messageId, contentType: 'application/json' };
    try {
      await publishConfirmed(channel, '', workerQueue, body, properties, CONFIRM_TIMEOUT_MS);
    } catch (error) {
      this.returned.delete(messageId);
      throw new TaskNotConfirmedError(`Task ${pattern} not confirmed: ${(error as Error).message}`);
    }
    if (this.returned.delete(messageId)) throw new TaskNotQueuedError(`Task ${pattern} returned as unroutable`);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.channels?.close();
  }

  /** The channel keeper, opened at the first task: a worker without schedules opens no channel for it. */
  private keeper(): ConfirmChannelKeeper {
    if (this.channels) return this.channels;
    const { workerQueue, deadLetterQueue } = this.config.rabbit;
    this.channels = new ConfirmChannelKeeper(
      this.connection.manager,
      'task publisher',
      this.logger,
      async (channel) => {
        // basic.return arrives before the basic.ack of the same message.
        channel.on('return', (message: ConsumeMessage) => {
          if (message.properties.messageId) this.returned.add(String(message.properties.messageId));
        });
        // Declared as the consumer declares them, so that a first task finds its queue.
        await channel.assertQueue(deadLetterQueue, { durable: true });
        await channel.assertQueue(workerQueue, workerQueueOptions(deadLetterQueue));
      },
    );
    this.channels.open();
    return this.channels;
  }
}
