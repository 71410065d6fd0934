import type { GetMessage, Options } from 'amqplib';
import { describe, expect, it } from 'vitest';

import { CliError } from './cli.errors';
import { DeadLetterChannel, DeadLetterQueue } from './dead-letter.queue';

const DLQ = 'tasks.dlq';
const WORKER_QUEUE = 'tasks';

/**
 * A classic queue as RabbitMQ keeps one: `get` hands out the head
 * unacknowledged, `requeueAll` puts every unacknowledged message back at its
 * original place.
 */
class FakeBroker implements DeadLetterChannel {
  private sequence = 0;
  ready: { seq: number; message: GetMessage }[] = [];
  readonly unacked = new Map<number, { seq: number; message: GetMessage }>();
  readonly published: { queue: string; body: string; properties: Options.Publish }[] = [];
  /** Publishes that fail, counted from the first. */
  failPublishAt = Number.POSITIVE_INFINITY;
  exists = true;

  constructor(...taskIds: (string | undefined)[]) {
    for (const taskId of taskIds) this.deadLetter(taskId);
  }

  deadLetter(taskId: string | undefined): void {
    const body = JSON.stringify({ pattern: 'apps.list', data: taskId ? { taskId } : {} });
    const message = {
      content: Buffer.from(body),
      fields: { deliveryTag: 0 },
      properties: { headers: { 'x-death': [{ reason: 'rejected', queue: WORKER_QUEUE, count: 1 }] } },
    } as unknown as GetMessage;
    this.ready.push({ seq: this.sequence++, message });
  }

  get order(): string[] {
    return this.ready.map(({ message }) => message.content.toString());
  }

  messageCount = (queue: string) => Promise.resolve(this.exists && queue === DLQ ? this.ready.length : undefined);

  get = (queue: string) => {
    expect(queue).toBe(DLQ);
    const head = this.ready.shift();
    if (!head) return Promise.resolve(undefined);
    const tag = this.unacked.size + this.published.length + 1 + head.seq * 1000;
    const message = { ...head.message, fields: { deliveryTag: tag } } as GetMessage;
    this.unacked.set(tag, { seq: head.seq, message: head.message });
    return Promise.resolve(message);
  };

  publish = (queue: string, content: Buffer, properties: Options.Publish) => {
    if (this.published.length >= this.failPublishAt) return Promise.reject(new CliError('not confirmed'));
    this.published.push({ queue, body: content.toString(), properties });
    return Promise.resolve();
  };

  ack = (message: GetMessage) => {
    if (!this.unacked.delete(message.fields.deliveryTag)) throw new Error('unknown delivery tag');
  };

  requeueAll = () => {
    this.ready.push(...this.unacked.values());
    this.ready.sort((a, b) => a.seq - b.seq);
    this.unacked.clear();
  };

  purge = () => {
    const count = this.ready.length;
    this.ready = [];
    return Promise.resolve(count);
  };
}

const queueOn = (broker: FakeBroker) => new DeadLetterQueue(broker, DLQ, WORKER_QUEUE);

describe(DeadLetterQueue.name, () => {
  it('peeks at the head up to the limit and leaves every message in place, in order', async () => {
    const broker = new FakeBroker('a', 'b', 'c');
    const before = broker.order;

    const { total, held } = await queueOn(broker).peek(2);

    expect(total).toBe(3);
    expect(held.map(({ letter }) => letter.taskId)).toEqual(['a', 'b']);
    expect(broker.order).toEqual(before);
    expect(broker.unacked.size).toBe(0);
  });

  it('peeks at one task only, looking past the others, and leaves all in place', async () => {
    const broker = new FakeBroker('a', 'b', 'a', undefined);
    const before = broker.order;

    const { held } = await queueOn(broker).peek(10, 'a');

    expect(held).toHaveLength(2);
    expect(broker.order).toEqual(before);
  });

  it('replays only the named task, acks its DLQ copies and keeps the others in their order', async () => {
    const broker = new FakeBroker('a', 'b', 'c', 'b');

    const replayed = await queueOn(broker).replay('b');

    expect(replayed.map((letter) => letter.taskId)).toEqual(['b', 'b']);
    expect(broker.published.map(({ queue }) => queue)).toEqual([WORKER_QUEUE, WORKER_QUEUE]);
    expect(broker.published[0]!.properties).toEqual({ persistent: true, headers: {} });
    expect(broker.order.map((body) => JSON.parse(body).data.taskId)).toEqual(['a', 'c']);
  });

  it('replays everything the DLQ held when it started, and not what is dead-lettered meanwhile', async () => {
    const broker = new FakeBroker('a', 'b');
    const publish = broker.publish;
    // Each replayed task fails again at once and comes back to the DLQ.
    broker.publish = async (queue, content, properties) => {
      await publish(queue, content, properties);
      broker.deadLetter(JSON.parse(content.toString()).data.taskId);
    };

    const replayed = await queueOn(broker).replay();

    expect(replayed.map((letter) => letter.taskId)).toEqual(['a', 'b']);
    expect(broker.ready).toHaveLength(2);
  });

  it('keeps a message whose replay was not confirmed, and every one after it, in the DLQ', async () => {
    const broker = new FakeBroker('a', 'b', 'c');
    broker.failPublishAt = 1;

    await expect(queueOn(broker).replay()).rejects.toThrow('not confirmed');

    expect(broker.published).toHaveLength(1);
    expect(broker.order.map((body) => JSON.parse(body).data.taskId)).toEqual(['b', 'c']);
    expect(broker.unacked.size).toBe(0);
  });

  it('says when the task is not there, and leaves the others', async () => {
    const broker = new FakeBroker('a', 'b');

    await expect(queueOn(broker).replay('x')).rejects.toThrow(`no message with taskId x in ${DLQ}`);
    await expect(queueOn(broker).peek(5, 'x')).rejects.toThrow(`no message with taskId x in ${DLQ}`);
    expect(broker.ready).toHaveLength(2);
  });

  it('says when the DLQ is empty or does not exist', async () => {
    const broker = new FakeBroker();
    await expect(queueOn(broker).replay()).rejects.toThrow(`${DLQ} is empty`);
    await expect(queueOn(broker).peek(1)).rejects.toThrow(`${DLQ} is empty`);
    await expect(queueOn(broker).purge()).rejects.toThrow(`${DLQ} is empty`);
    broker.exists = false;
    await expect(queueOn(broker).count()).rejects.toThrow(`${DLQ} does not exist`);
  });
});
