import amqplib, { Channel, ChannelModel, ConsumeMessage, Options } from 'amqplib';

export const RABBITMQ_URL = 'amqp://guest:guest@127.0.0.1:5672';

export interface ReceivedMessage {
  body: unknown;
  raw: ConsumeMessage;
}

/**
 * The orchestrator's side of RabbitMQ for the tests: publishes raw envelopes
 * (or raw bytes) to the worker's queue and collects what arrives on the result
 * queue and the dead-letter queue.
 */
export class RabbitProbe {
  private constructor(
    private readonly connection: ChannelModel,
    readonly channel: Channel,
  ) {}

  static async connect(): Promise<RabbitProbe> {
    const connection = await amqplib.connect(RABBITMQ_URL);
    const channel = await connection.createChannel();
    // A test may provoke channel errors on purpose (checkQueue on a missing queue).
    connection.on('error', () => undefined);
    channel.on('error', () => undefined);
    return new RabbitProbe(connection, channel);
  }

  publish(queue: string, body: unknown, options: Options.Publish = {}): void {
    const content = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    this.channel.sendToQueue(queue, content, { persistent: true, ...options });
  }

  /** Starts collecting every message of `queue` (declared durable without arguments). */
  async collect(queue: string): Promise<ReceivedMessage[]> {
    const received: ReceivedMessage[] = [];
    await this.channel.assertQueue(queue, { durable: true });
    await this.channel.consume(
      queue,
      (message) => {
        if (!message) return;
        let body: unknown = message.content.toString('utf8');
        try {
          body = JSON.parse(body as string);
        } catch {
          /* keep the raw text */
        }
        received.push({ body, raw: message });
      },
      { noAck: true },
    );
    return received;
  }

  async deleteQueues(...queues: string[]): Promise<void> {
    for (const queue of queues) await this.channel.deleteQueue(queue).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.connection.close().catch(() => undefined);
  }
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes (tests only). */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<Exclude<T, undefined | null | false | 0 | ''>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Exclude<T, undefined | null | false | 0 | ''>;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
