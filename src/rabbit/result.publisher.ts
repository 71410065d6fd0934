import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { randomUUID } from 'node:crypto';

import { WorkerConfig } from '../config/worker-config';
import { ConfirmChannelKeeper, publishConfirmed } from './confirm-channel.keeper';
import { RabbitConnection } from './rabbit.connection';
import { ResultNotConfirmedError } from './rabbit.errors';
import { ReplyPublisher } from './reply.publisher';

/** How long a result may wait for its channel and the broker's confirm before the task is given back. */
const PUBLISH_TIMEOUT_MS = 15_000;

/**
 * Publishes results to ORCHESTRATOR_QUEUE (persistent, mandatory, resolved
 * only once the broker confirmed and did not return them) on a raw confirm
 * channel of the task connection, and hands replies to a request's `reply_to`
 * to the {@link ReplyPublisher} and its own connection.
 *
 * A result is published once. When its channel or connection is lost before
 * the confirm, it is not sent again after the reconnect (amqp-connection-manager's
 * ChannelWrapper would queue and re-send it): the task's delivery went with the
 * same connection, and its redelivery publishes the result of its own run.
 */
@Injectable()
export class ResultPublisher implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ResultPublisher.name);
  private readonly returned = new Set<string>();
  private readonly replies: ReplyPublisher;
  private channels!: ConfirmChannelKeeper;

  constructor(
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
    private readonly connection: RabbitConnection,
  ) {
    this.replies = new ReplyPublisher(config.rabbit.url, `steam-worker replies (${config.rabbit.workerQueue})`);
  }

  onModuleInit(): void {
    this.channels = new ConfirmChannelKeeper(this.connection.manager, 'result', this.logger, async (channel) => {
      // basic.return arrives before the basic.ack of the same message.
      channel.on('return', (message: ConsumeMessage) => {
        if (message.properties.messageId) this.returned.add(String(message.properties.messageId));
      });
      await channel.assertQueue(this.config.rabbit.orchestratorQueue, { durable: true });
    });
    this.channels.open();
  }

  /** Resolves once the broker confirmed the event; throws {@link ResultNotConfirmedError} otherwise. */
  async publishEvent(pattern: string, data: unknown): Promise<void> {
    const deadline = Date.now() + PUBLISH_TIMEOUT_MS;
    const channel = await this.resultChannel(PUBLISH_TIMEOUT_MS);
    if (!channel) throw new ResultNotConfirmedError(`Result ${pattern} not published: no channel to RabbitMQ`);
    const messageId = randomUUID();
    const body = Buffer.from(JSON.stringify({ pattern, data }));
    try {
      await publishConfirmed(
        channel,
        '',
        this.config.rabbit.orchestratorQueue,
        body,
        { persistent: true, mandatory: true, messageId, contentType: 'application/json' },
        Math.max(1, deadline - Date.now()),
      );
    } catch (error) {
      this.returned.delete(messageId);
      throw new ResultNotConfirmedError(`Result ${pattern} not confirmed: ${(error as Error).message}`);
    }
    if (this.returned.delete(messageId)) {
      throw new ResultNotConfirmedError(`Result ${pattern} returned as unroutable`);
    }
  }

  /**
   * Fire and forget, for informational events (`task.progress`): persistent,
   * not mandatory, sent at once or not at all, its confirm not awaited (a nack
   * is logged at debug). It goes on the result channel, so it reaches
   * ORCHESTRATOR_QUEUE before any result published after it; a non-mandatory
   * publish to that queue cannot make the broker close the channel. Throws when
   * there is no channel right now: the caller drops the event.
   */
  publishUnconfirmed(pattern: string, data: unknown): void {
    const channel = this.channels.channel;
    if (!channel) throw new Error('no channel to RabbitMQ');
    const body = Buffer.from(JSON.stringify({ pattern, data }));
    const options = { persistent: true, mandatory: false, contentType: 'application/json' };
    channel.publish('', this.config.rabbit.orchestratorQueue, body, options, (error) => {
      if (error) this.logger.debug(`Event ${pattern} not confirmed: ${(error as Error)?.message ?? String(error)}`);
    });
  }

  /**
   * Sends Nest's reply format to a request's caller. Best effort by contract:
   * a reply that cannot be delivered never gives the task back, so it never
   * throws; whatever went wrong is logged.
   */
  reply(replyTo: string, correlationId: string | undefined, body: object): Promise<void> {
    return this.replies.send(replyTo, correlationId, Buffer.from(JSON.stringify({ ...body, isDisposed: true })));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.replies.close();
    await this.channels?.close();
  }

  /**
   * The result channel of the task connection as it is now. While that
   * connection is down there is none: the tasks it carried are gone with it,
   * and nothing may be published for them. While it is up and the channel is
   * being set up, waits for that channel (never for one of a later connection).
   */
  private async resultChannel(timeoutMs: number): Promise<ConfirmChannel | undefined> {
    const ready = this.channels.channel;
    if (ready) return ready;
    const connection = this.connection.manager.connection?.connection;
    if (!connection) return undefined;
    const channel = await this.channels.waitForChannel(timeoutMs);
    return channel?.connection === connection ? channel : undefined;
  }
}
