import { Logger } from '@nestjs/common';
import type { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import type { ConfirmChannel, Options } from 'amqplib';

import { NotConfirmedError } from './rabbit.errors';

/** Pause before replacing a channel the broker closed, so a refused setup cannot spin. */
const REOPEN_DELAY_MS = 1000;

/**
 * Keeps one raw amqplib confirm channel open on a reconnecting connection and
 * hands it out as it is: whoever publishes on it sees the channel's fate. It
 * never queues or re-sends anything (a ChannelWrapper's own publish does both
 * across reconnects). amqp-connection-manager opens a new channel on each new
 * connection; a channel the broker closes while the connection stays up is
 * replaced here.
 */
export class ConfirmChannelKeeper {
  private wrapper?: ChannelWrapper;
  private current?: ConfirmChannel;
  /** Counts the wrappers opened: a channel of an older one closing is no news. */
  private generation = 0;
  private readonly waiting = new Set<(channel: ConfirmChannel | undefined) => void>();
  private closed = false;

  constructor(
    private readonly manager: AmqpConnectionManager,
    private readonly name: string,
    private readonly logger: Logger,
    private readonly setup: (channel: ConfirmChannel) => Promise<void> = () => Promise.resolve(),
  ) {}

  /** The open channel, set up; undefined while there is none. */
  get channel(): ConfirmChannel | undefined {
    return this.current;
  }

  open(): void {
    if (this.closed) return;
    const generation = ++this.generation;
    const wrapper = this.manager.createChannel({
      name: this.name,
      json: false,
      confirm: true,
      setup: (channel: ConfirmChannel) => this.setUp(channel, generation),
    });
    wrapper.on('error', (error: Error) => this.logger.warn(`Cannot set up the ${this.name} channel: ${error.message}`));
    this.wrapper = wrapper;
  }

  /** The open channel, waiting up to `timeoutMs` for one; undefined if none came. */
  waitForChannel(timeoutMs: number): Promise<ConfirmChannel | undefined> {
    if (this.current || this.closed || timeoutMs <= 0) return Promise.resolve(this.current);
    return new Promise((resolve) => {
      const done = (channel: ConfirmChannel | undefined) => {
        clearTimeout(timer);
        this.waiting.delete(done);
        resolve(channel);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.waiting.add(done);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const done of [...this.waiting]) done(undefined);
    this.current = undefined;
    await this.wrapper?.close().catch(() => undefined);
  }

  private async setUp(channel: ConfirmChannel, generation: number): Promise<void> {
    channel.on('error', (error: Error) => this.logger.warn(`The ${this.name} channel failed: ${error.message}`));
    channel.once('close', () => this.onClosed(channel, generation));
    await this.setup(channel);
    if (this.closed || generation !== this.generation) return;
    this.current = channel;
    for (const done of [...this.waiting]) done(channel);
  }

  private onClosed(channel: ConfirmChannel, generation: number): void {
    if (this.current === channel) this.current = undefined;
    if (this.closed || generation !== this.generation) return;
    setTimeout(() => {
      // A lost connection takes its channels along: the wrapper opens the next
      // channel when the connection is back. A channel the broker closed on a
      // connection that is still up is not reopened by amqp-connection-manager.
      if (this.closed || this.current || generation !== this.generation) return;
      if (this.manager.connection?.connection !== channel.connection) return;
      this.logger.warn(`The ${this.name} channel was closed; opening a new one`);
      const stale = this.wrapper;
      this.open();
      void stale?.close().catch(() => undefined);
    }, REOPEN_DELAY_MS).unref();
  }
}

/**
 * Publishes once on `channel` and resolves when the broker confirms it. Rejects
 * with {@link NotConfirmedError} when the broker nacks it, when the channel
 * (or its connection) closes first, or when no confirm came within
 * `timeoutMs`. The message is never published again: if it is to go out once
 * more, that is the caller's decision.
 */
export function publishConfirmed(
  channel: ConfirmChannel,
  exchange: string,
  routingKey: string,
  content: Buffer,
  options: Options.Publish,
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error instanceof NotConfirmedError ? error : new NotConfirmedError(error.message));
      else resolve();
    };
    const timer = setTimeout(() => settle(new NotConfirmedError(`no confirm within ${timeoutMs} ms`)), timeoutMs);
    try {
      // amqplib calls back with an error for a nack and, from the channel's
      // own 'close' listener, for every publish still unconfirmed when the
      // channel or its connection closes. A closed channel throws at once.
      channel.publish(exchange, routingKey, content, options, (error) => settle(error ?? undefined));
    } catch (error) {
      settle(error as Error);
    }
  });
}
