import amqplib, { ChannelModel, ConfirmChannel, GetMessage, Options } from 'amqplib';

import type { CliConfig } from '../config/cli-config';
import { publishConfirmed } from '../rabbit/confirm-channel.keeper';
import { brokerAddress, brokerError, CliError } from './cli.errors';
import type { DeadLetterChannel } from './dead-letter.queue';

/** How long connecting may take before the broker counts as not answering. */
const CONNECT_TIMEOUT_MS = 10_000;
/** How long a publish may wait for the broker's confirm. */
const CONFIRM_TIMEOUT_MS = 15_000;

/**
 * The CLI's one connection to RabbitMQ: plain amqplib, no reconnects (an
 * operator's command fails at once and says why, where the worker would wait),
 * one confirm channel. Named `steam-worker cli (<WORKER_QUEUE>)` in the
 * broker's connection list.
 */
export class CliRabbit implements DeadLetterChannel {
  private returned = false;

  private constructor(
    private readonly connection: ChannelModel,
    readonly channel: ConfirmChannel,
    private readonly url: string,
  ) {
    // basic.return comes before the confirm of the same publish, and the CLI publishes one at a time.
    channel.on('return', () => (this.returned = true));
  }

  static async connect(config: CliConfig['rabbit']): Promise<CliRabbit> {
    let connection: ChannelModel;
    try {
      connection = await amqplib.connect(config.url, {
        timeout: CONNECT_TIMEOUT_MS,
        clientProperties: { connection_name: `steam-worker cli (${config.workerQueue})` },
      });
    } catch (error) {
      throw brokerError(config.url, error);
    }
    // A closed channel or connection fails whatever awaits it; no listener would crash the process instead.
    connection.on('error', () => undefined);
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    return new CliRabbit(connection, channel, config.url);
  }

  /** The number of ready messages in `queue`, or undefined when it does not exist (asked on a channel of its own: a 404 closes it). */
  async messageCount(queue: string): Promise<number | undefined> {
    const probe = await this.connection.createChannel();
    probe.on('error', () => undefined);
    try {
      return (await probe.checkQueue(queue)).messageCount;
    } catch (error) {
      if (/NOT_FOUND|404/.test((error as Error).message)) return undefined;
      throw brokerError(this.url, error);
    } finally {
      await probe.close().catch(() => undefined);
    }
  }

  /**
   * Publishes to `queue` through the default exchange, `mandatory`, and
   * resolves once the broker confirmed it and did not return it.
   */
  async publish(queue: string, content: Buffer, properties: Options.Publish): Promise<void> {
    this.returned = false;
    try {
      await publishConfirmed(this.channel, '', queue, content, { ...properties, mandatory: true }, CONFIRM_TIMEOUT_MS);
    } catch (error) {
      throw new CliError(`RabbitMQ at ${brokerAddress(this.url)} did not confirm the message to ${queue}`, 1, {
        cause: error,
      });
    }
    if (this.returned) throw new CliError(`RabbitMQ returned the message: ${queue} does not exist`);
  }

  /** The next message of `queue`, left unacknowledged, or undefined when there is none. */
  async get(queue: string): Promise<GetMessage | undefined> {
    const message = await this.channel.get(queue, { noAck: false });
    return message === false ? undefined : message;
  }

  ack(message: GetMessage): void {
    this.channel.ack(message);
  }

  requeueAll(): void {
    this.channel.nackAll(true);
  }

  async purge(queue: string): Promise<number> {
    return (await this.channel.purgeQueue(queue)).messageCount;
  }

  /**
   * Closes the channel first, and waits for the broker's close-ok: amqplib
   * may write a connection's close before the channel frames still in its
   * buffer, so acks sent just before would be lost and their messages
   * requeued (seen with amqplib 2.3 on RabbitMQ 3.10).
   */
  async close(): Promise<void> {
    await this.channel.close().catch(() => undefined);
    await this.connection.close().catch(() => undefined);
  }
}
