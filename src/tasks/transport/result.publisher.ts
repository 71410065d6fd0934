import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { ChannelWrapper } from 'amqp-connection-manager';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { randomUUID } from 'node:crypto';

import { WorkerConfig } from '../../config/worker-config';
import { RabbitConnection } from './rabbit.connection';

/** A result the broker did not confirm, or returned as unroutable: the task goes back. */
export class ResultNotConfirmedError extends Error {
  override readonly name = 'ResultNotConfirmedError';
}

/** How long a result may wait for the broker's confirm before the task is given back. */
const PUBLISH_TIMEOUT_MS = 15_000;

/**
 * Publishes on a confirm channel: results to ORCHESTRATOR_QUEUE (persistent,
 * mandatory, resolved only once the broker confirmed and did not return them)
 * and replies to a request's `reply_to` (confirmed, never mandatory: a direct
 * reply-to address returns mandatory messages even when it delivers them).
 */
@Injectable()
export class ResultPublisher implements OnModuleInit {
  private readonly logger = new Logger(ResultPublisher.name);
  private readonly returned = new Set<string>();
  private channel!: ChannelWrapper;

  constructor(
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
    private readonly connection: RabbitConnection,
  ) {}

  onModuleInit(): void {
    this.channel = this.connection.manager.createChannel({
      json: false,
      confirm: true,
      publishTimeout: PUBLISH_TIMEOUT_MS,
      setup: async (channel: ConfirmChannel) => {
        channel.on('error', (error: Error) => this.logger.warn(`Result channel error: ${error.message}`));
        // basic.return arrives before the basic.ack of the same message.
        channel.on('return', (message: ConsumeMessage) => {
          if (message.properties.messageId) this.returned.add(String(message.properties.messageId));
        });
        await channel.assertQueue(this.config.rabbit.orchestratorQueue, { durable: true });
      },
    });
    this.channel.on('error', (error: Error) => this.logger.warn(`Result channel setup failed: ${error.message}`));
  }

  /** Resolves once the broker confirmed the event; throws {@link ResultNotConfirmedError} otherwise. */
  async publishEvent(pattern: string, data: unknown): Promise<void> {
    const messageId = randomUUID();
    const body = Buffer.from(JSON.stringify({ pattern, data }));
    try {
      await this.channel.publish('', this.config.rabbit.orchestratorQueue, body, {
        persistent: true,
        mandatory: true,
        messageId,
        contentType: 'application/json',
      });
    } catch (error) {
      this.returned.delete(messageId);
      throw new ResultNotConfirmedError(`Result ${pattern} not confirmed: ${(error as Error).message}`);
    }
    if (this.returned.delete(messageId)) {
      throw new ResultNotConfirmedError(`Result ${pattern} returned as unroutable`);
    }
  }

  /**
   * Sends Nest's reply format to a request's caller. Best effort by contract:
   * a reply that cannot be delivered never gives the task back, so failures
   * are logged, not thrown.
   */
  async reply(replyTo: string, correlationId: string | undefined, body: object): Promise<void> {
    try {
      await this.channel.publish('', replyTo, Buffer.from(JSON.stringify({ ...body, isDisposed: true })), {
        correlationId,
        contentType: 'application/json',
      });
    } catch (error) {
      this.logger.warn(`Reply to a request not delivered: ${(error as Error).message}`);
    }
  }
}
