import { Inject, Injectable, Logger } from '@nestjs/common';
import { ServerRMQ } from '@nestjs/microservices';
import type { ChannelWrapper } from 'amqp-connection-manager';
import type { Channel, ConsumeMessage } from 'amqplib';

import { WorkerConfig } from '../config/worker-config';
import { TASK_PATTERNS, INVALID_TASK_PATTERN } from '../tasks/task-patterns';
import { ConsumerState } from './consumer.state';
import { RabbitConnection } from './rabbit.connection';
import { TaskContext } from './task.context';
import { toTaskPacket } from './task-envelope';
import { workerQueueOptions } from './worker-queue';

const CONSUMER_TAG_PREFIX = 'steam-worker';
/** Pause before opening a replacement channel, so a refused setup cannot spin. */
const REOPEN_DELAY_MS = 1000;

/**
 * Nest's RMQ transport, made to keep consuming: manual acks, the dead-letter
 * queue, every delivery routed to a handler (unknown ones to the invalid-task
 * handler), and a new channel whenever the broker closes ours or cancels our
 * consumer while the connection stays up (amqp-connection-manager only
 * recovers from a lost connection). It subclasses ServerRMQ for Nest's
 * routing (handlers, patterns, contexts) but keeps its channel on the
 * worker's one RabbitConnection instead of ServerRMQ's own client.
 */
@Injectable()
export class TaskServer extends ServerRMQ {
  private readonly log = new Logger(TaskServer.name);
  private readonly closedChannels = new WeakSet<Channel>();
  private consumerChannel?: Channel;
  private consumerTag?: string;
  /** Our own channel wrapper, on the shared connection: ServerRMQ's `server`/`channel` stay unused. */
  private consumerWrapper?: ChannelWrapper;
  private stopping = false;

  constructor(
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
    private readonly connection: RabbitConnection,
    private readonly consumer: ConsumerState,
  ) {
    super({
      urls: [config.rabbit.url],
      queue: config.rabbit.workerQueue,
      queueOptions: workerQueueOptions(config.rabbit.deadLetterQueue),
      noAck: false,
      prefetchCount: config.rabbit.prefetch,
    });
  }

  override start(callback: (error?: unknown) => void): Promise<void> {
    for (const pattern of [...TASK_PATTERNS, INVALID_TASK_PATTERN]) {
      if (!this.getHandlerByPattern(pattern)) {
        callback(new Error(`No handler for task pattern ${pattern}`));
        return Promise.resolve();
      }
    }
    this.consumerWrapper = this.openChannel();
    // Nest waits for this callback; the consumer comes up whenever the broker does.
    callback();
    return Promise.resolve();
  }

  /** True once `channel` is closed: its delivery tags mean nothing any more. */
  isClosed(channel: Channel): boolean {
    return this.closedChannels.has(channel);
  }

  /** Shutdown, phase 1: no new deliveries; the ones in flight keep their channel. */
  async stopConsuming(): Promise<void> {
    this.stopping = true;
    const channel = this.consumerChannel;
    if (channel && this.consumerTag && !this.isClosed(channel)) {
      await channel.cancel(this.consumerTag).catch(() => undefined);
    }
    this.consumer.markDown();
  }

  override async setupChannel(channel: Channel, callback: () => void): Promise<void> {
    const { workerQueue, deadLetterQueue, prefetch } = this.config.rabbit;
    this.consumerChannel = channel;
    channel.on('error', (error: Error) => this.log.warn(`Task channel error: ${error.message}`));
    channel.once('close', () => this.onChannelClosed(channel));
    await channel.assertQueue(deadLetterQueue, { durable: true });
    await channel.assertQueue(workerQueue, this.queueOptions);
    await channel.prefetch(prefetch);
    if (this.stopping) return;
    const consumerTag = `${CONSUMER_TAG_PREFIX}.${process.pid}.${Date.now()}`;
    await channel.consume(
      workerQueue,
      (message) =>
        void this.handleMessage(message as Record<string, unknown> | null, channel).catch((error) =>
          this.handleError(error),
        ),
      { noAck: false, consumerTag },
    );
    this.consumerTag = consumerTag;
    this.consumer.markUp();
    this.log.log(`Consuming ${workerQueue} (prefetch ${prefetch})`);
    callback();
  }

  override async handleMessage(delivery: Record<string, unknown> | null, channel: Channel): Promise<void> {
    if (delivery === null) return this.onConsumerCancelled(channel);
    const message = delivery as unknown as ConsumeMessage;
    const packet = toTaskPacket(message);
    const context = new TaskContext(message, channel, packet.pattern, packet.reply);
    return this.handleEvent(packet.pattern, packet, context);
  }

  /** The connection is RabbitConnection's to close; only our channel is closed here. */
  override async close(): Promise<void> {
    this.stopping = true;
    await this.consumerWrapper?.close().catch(() => undefined);
  }

  private openChannel(): ChannelWrapper {
    const wrapper = this.connection.manager.createChannel({
      json: false,
      confirm: false,
      setup: (channel: Channel) => this.setupChannel(channel, () => undefined),
    });
    // A refused setup (say, the queue re-declared with other arguments) closes
    // the channel; onChannelClosed opens the next one.
    wrapper.on('error', (error: Error) =>
      this.log.warn(`Cannot consume ${this.config.rabbit.workerQueue}: ${error.message}`),
    );
    return wrapper;
  }

  private onConsumerCancelled(channel: Channel): void {
    this.log.warn('RabbitMQ cancelled the task consumer (queue deleted?); opening a new channel');
    // The deliveries of a cancelled consumer are gone with its queue or will be
    // redelivered; a fresh channel re-declares the queue and consumes again.
    void channel.close().catch(() => undefined);
  }

  private onChannelClosed(channel: Channel): void {
    this.closedChannels.add(channel);
    if (channel !== this.consumerChannel) return;
    this.consumer.markDown();
    this.consumerChannel = undefined;
    if (this.stopping) return;
    this.log.warn('Task channel closed; consuming again on a new channel');
    const stale = this.consumerWrapper;
    setTimeout(() => {
      if (this.stopping) return;
      void stale?.close().catch(() => undefined);
      this.consumerWrapper = this.openChannel();
    }, REOPEN_DELAY_MS).unref();
  }
}
