import type { GetMessage, Options } from 'amqplib';

import { CliError } from './cli.errors';
import { DeadLetter, readDeadLetter, replayProperties, selects } from './dead-letter';

/** What the DLQ tools need of the broker (CliRabbit in the CLI, a fake in unit specs). */
export interface DeadLetterChannel {
  /** Ready messages of `queue`; undefined when it does not exist. */
  messageCount(queue: string): Promise<number | undefined>;
  /** The next message, left unacknowledged. */
  get(queue: string): Promise<GetMessage | undefined>;
  /** Published, confirmed and not returned, or it throws. */
  publish(queue: string, content: Buffer, properties: Options.Publish): Promise<void>;
  ack(message: GetMessage): void;
  /** Gives back every message still unacknowledged on the channel (basic.nack, tag 0, multiple, requeue). */
  requeueAll(): void;
  purge(queue: string): Promise<number>;
}

export interface HeldLetter {
  letter: DeadLetter;
  message: GetMessage;
}

/**
 * Looks at, moves and deletes the messages of `<WORKER_QUEUE>.dlq`. Reading
 * is a walk of `basic.get` without ack: every message stays unacknowledged
 * (invisible to another get, so each is seen once) until the walk ends, then
 * all are given back at once with `basic.nack(multiple, requeue)`, which puts
 * them back where they were (in a classic queue, as the DLQ is declared). A walk never reads more than the queue held when
 * it began, so a message dead-lettered meanwhile (a replayed task that fails
 * again) is not taken twice. If the CLI dies in the middle, the broker gives
 * back whatever it held with the connection: nothing is lost.
 */
export class DeadLetterQueue {
  constructor(
    private readonly channel: DeadLetterChannel,
    readonly name: string,
    private readonly workerQueue: string,
  ) {}

  /** How many messages it holds; throws when it does not exist. */
  async count(): Promise<number> {
    const count = await this.channel.messageCount(this.name);
    if (count === undefined) {
      throw new CliError(`${this.name} does not exist (no worker declared it: is WORKER_QUEUE right?)`);
    }
    return count;
  }

  /** Up to `limit` messages from the head, `taskId`'s only when given; left in place. */
  async peek(limit: number, taskId?: string): Promise<{ total: number; held: HeldLetter[] }> {
    const total = await this.nonEmptyCount();
    const held: HeldLetter[] = [];
    await this.walk(total, (each) => {
      if (selects(each.letter, taskId)) held.push(each);
      return held.length < limit;
    });
    if (taskId !== undefined && held.length === 0) throw this.unknownTask(taskId);
    return { total, held };
  }

  /**
   * Moves every message (or `taskId`'s) back to WORKER_QUEUE, one at a time:
   * published with {@link replayProperties} and confirmed, then its DLQ copy
   * acked. A copy is never acked before its replay is confirmed; if a publish
   * fails, it and the rest stay in the DLQ.
   */
  async replay(taskId?: string): Promise<DeadLetter[]> {
    const total = await this.nonEmptyCount();
    const replayed: DeadLetter[] = [];
    await this.walk(total, async ({ letter, message }) => {
      if (!selects(letter, taskId)) return true;
      await this.channel.publish(this.workerQueue, message.content, replayProperties(message.properties));
      this.channel.ack(message);
      replayed.push(letter);
      return true;
    });
    if (taskId !== undefined && replayed.length === 0) throw this.unknownTask(taskId);
    return replayed;
  }

  /** Deletes every message; answers how many. */
  async purge(): Promise<number> {
    await this.nonEmptyCount();
    return this.channel.purge(this.name);
  }

  private async nonEmptyCount(): Promise<number> {
    const total = await this.count();
    if (total === 0) throw new CliError(`${this.name} is empty`);
    return total;
  }

  /** Gets up to `total` messages while `visit` says go on, then gives back every one not acked. */
  private async walk(total: number, visit: (held: HeldLetter) => boolean | Promise<boolean>): Promise<void> {
    let got = false;
    try {
      for (let seen = 0; seen < total; seen++) {
        const message = await this.channel.get(this.name);
        if (!message) break;
        got = true;
        if (!(await visit({ letter: readDeadLetter(message), message }))) break;
      }
    } finally {
      if (got) this.channel.requeueAll();
    }
  }

  private unknownTask(taskId: string): CliError {
    return new CliError(`no message with taskId ${taskId} in ${this.name}`);
  }
}
