import type { Options } from 'amqplib';

import { shuffled } from './random';

export const MB = 1024 * 1024;
/**
 * The worker dead-letters larger bodies unread (src/rabbit/task-envelope.ts),
 * so a JSON object above it gets no task.failed (docs/contract.md#ack-and-reject
 * names this cap).
 */
export const BODY_READ_LIMIT = 4 * MB;
/** Where the replies of poison requests go: nowhere (replies are not mandatory). */
const NOWHERE = 'drill.poison.nowhere';

export interface Poison {
  kind: string;
  content: Buffer;
  options?: Options.Publish;
}

/**
 * Poison by construction: each message breaks the contract in its own way
 * (§1 wire format and validation), so that none of them is a task.
 */
export class PoisonMaker {
  private serial = 0;

  constructor(private readonly random: () => number) {}

  /** One round: the heavy cases once each, the rest drawn at random, in a shuffled order. */
  round(count: number): Poison[] {
    const poisons = [...this.heavy()];
    while (poisons.length < count) poisons.push(this.light());
    return shuffled(poisons, this.random);
  }

  private heavy(): Poison[] {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const big = 'x'.repeat(3 * MB);
    return [
      this.json('huge appIds', {
        pattern: 'apps.fetch',
        data: { taskId: this.id(), appIds: this.range(200_000), countries: ['US'] },
      }),
      this.json('huge countries', {
        pattern: 'apps.fetch',
        data: { taskId: this.id(), appIds: [620], countries: Array(200_000).fill('US') },
      }),
      this.json('huge mixed appIds', {
        pattern: 'apps.fetch',
        data: {
          taskId: this.id(),
          appIds: Array.from({ length: 200_000 }, (_, i) => (i % 3 ? i : String(i))),
          countries: ['DE'],
        },
      }),
      this.json('huge taskId', { pattern: 'app.fetch', data: { taskId: big, appId: 620, country: 'US' } }),
      this.json('huge pattern', { pattern: big, data: { taskId: this.id(), appId: 620, country: 'US' } }),
      this.json('huge country', { pattern: 'app.fetch', data: { taskId: this.id(), appId: 620, country: big } }),
      this.json('body over the read limit', {
        pattern: 'app.fetch',
        data: { taskId: this.id(), appId: 620, country: 'US', pad: 'y'.repeat(5 * MB) },
      }),
      this.raw('deep array', deep),
      this.raw('deep array unclosed', '['.repeat(100_000)),
      this.raw(
        'deep appIds',
        `{"pattern":"apps.fetch","data":{"taskId":"${this.id()}","appIds":${deep},"countries":["US"]}}`,
      ),
      this.raw('deep data', `{"pattern":"app.fetch","data":${deep}}`),
      this.raw('deep object', '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000)),
    ];
  }

  private light(): Poison {
    const makers = [
      () => this.badJson(),
      () => this.wrongType(),
      () => this.wrongType(),
      () => this.missingField(),
      () => this.unknownPattern(),
      () => this.notAnObject(),
      () => this.notUtf8(),
      () => this.randomBytes(),
    ];
    const poison = makers[this.int(makers.length)]!();
    // Some arrive with reply_to: those whose envelope has an id are requests, answered too.
    if (this.random() < 0.2) poison.options = { replyTo: NOWHERE, correlationId: this.id() };
    return poison;
  }

  private badJson(): Poison {
    const text = JSON.stringify(this.validEnvelope());
    const breakers = [
      () => text.slice(0, 1 + this.int(text.length - 1)),
      () => `${text}${this.pick(['x', '}', ',', ']', '{}'])}`,
      () => text.replaceAll('"', "'"),
      () => text.replace(/}$/, ',}'),
      () => text.replace(/"(\w+)":/g, '$1:'),
      () => text.replace(/:(\d+)/, ':NaN'),
      () => `/* task */${text}`,
      () => text.replace(/"US"/, '"U\u0000S'),
    ];
    const broken = this.pick(breakers)();
    // A breaker that missed (say, no number to spoil) still leaves valid JSON: spoil its end.
    return this.raw('bad JSON', parses(broken) ? `${broken}}` : broken);
  }

  private wrongType(): Poison {
    const envelope = this.validEnvelope();
    const data = envelope.data as Record<string, unknown>;
    const wrong: Record<string, unknown[]> = {
      appId: ['620', true, null, [620], {}, 1.5, -1, 0, 2 ** 31, 1e308, '', 'NaN'],
      country: [123, 'XX', 'USA', '', null, ['US'], {}, 'u', 'U S', true],
      appIds: ['620', 620, {}, [], ['620'], [1.5], [0], [null], [[620]], [620, -5], null],
      countries: ['US', [], ['XX'], [1], [null], ['US', 'USA'], {}, null, [['US']]],
      taskId: [123, '', 'x'.repeat(129), {}, [], true],
    };
    const fields = Object.keys(data).filter((field) => field in wrong);
    const field = this.pick(fields);
    if (envelope.pattern === 'apps.list' || this.random() < 0.1) {
      // apps.list has no field but taskId to get wrong; or data itself is not an object.
      return this.random() < 0.5
        ? this.json('wrong type', { ...envelope, data: { ...data, taskId: this.pick(wrong.taskId!) } })
        : this.json('wrong type', { ...envelope, data: this.pick(['apps', 620, [], null, true, [data]]) });
    }
    return this.json('wrong type', { ...envelope, data: { ...data, [field]: this.pick(wrong[field]!) } });
  }

  private missingField(): Poison {
    const envelope = this.validEnvelope();
    const data = { ...(envelope.data as Record<string, unknown>) };
    if (envelope.pattern === 'apps.list' || this.random() < 0.15) {
      const { pattern, data: kept } = envelope;
      return this.json('missing field', this.random() < 0.5 ? { pattern } : { data: kept });
    }
    const required = Object.keys(data).filter((field) => field !== 'taskId');
    delete data[this.pick(required)];
    return this.json('missing field', { ...envelope, data });
  }

  private unknownPattern(): Poison {
    const { data } = this.validEnvelope();
    const letters = 'abcdefghijklmnopqrstuvwxyz.';
    const randomName = Array.from({ length: 1 + this.int(20) }, () => letters[this.int(letters.length)]).join('');
    const pattern = this.pick<unknown>([
      randomName,
      'APP.FETCH',
      'apps.fetch ',
      'app.fetch.done',
      'task.failed',
      '',
      42,
      null,
      { cmd: 'apps.fetch' },
      ['apps.fetch'],
      true,
    ]);
    return this.json('unknown pattern', { pattern, data, id: this.id() });
  }

  private notAnObject(): Poison {
    return this.raw(
      'not an object',
      this.pick([
        '620',
        '"apps.fetch"',
        'null',
        'true',
        'false',
        '[]',
        '[{"pattern":"apps.list","data":{}}]',
        '-0',
        '1e400',
      ]),
    );
  }

  private notUtf8(): Poison {
    const text = JSON.stringify(this.validEnvelope());
    const at = 1 + this.int(text.length - 2);
    const bad = this.pick([
      [0xff],
      [0xfe, 0xff],
      [0xc0, 0x80],
      [0xed, 0xa0, 0x80],
      [0xe2, 0x82],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
      [0x80],
    ]);
    return {
      kind: 'not UTF-8',
      content: Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(bad), Buffer.from(text.slice(at))]),
    };
  }

  private randomBytes(): Poison {
    const bytes = Buffer.alloc(this.int(2000));
    for (let i = 0; i < bytes.length; i++) bytes[i] = this.int(256);
    // Never a valid task: the chance that random bytes are one is nil, and it starts with a byte no JSON starts with.
    if (bytes.length > 0) bytes[0] = 0xff;
    return { kind: 'random bytes', content: bytes };
  }

  /** A task that would be valid, for the makers to break. */
  private validEnvelope(): { pattern: unknown; data: unknown; id?: string } {
    switch (this.int(3)) {
      case 0:
        return { pattern: 'apps.list', data: { taskId: this.id() }, ...this.requestId() };
      case 1:
        return {
          pattern: 'app.fetch',
          data: { taskId: this.id(), appId: 1 + this.int(1_000_000), country: 'US' },
          ...this.requestId(),
        };
      default:
        return {
          pattern: 'apps.fetch',
          data: { taskId: this.id(), appIds: this.range(1 + this.int(5)), countries: ['US', 'DE'] },
          ...this.requestId(),
        };
    }
  }

  /** Half the envelopes carry an id, as ClientProxy.send() makes them. */
  private requestId(): { id?: string } {
    return this.random() < 0.5 ? { id: `request-${this.serial}` } : {};
  }

  private json(kind: string, body: unknown): Poison {
    return { kind, content: Buffer.from(JSON.stringify(body)) };
  }

  private raw(kind: string, text: string): Poison {
    return { kind, content: Buffer.from(text) };
  }

  private id(): string {
    return `poison-${++this.serial}`;
  }

  private range(count: number): number[] {
    return Array.from({ length: count }, (_, i) => 1 + i);
  }

  private int(below: number): number {
    return Math.floor(this.random() * below);
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Whether docs/contract.md#ack-and-reject owes this body a task.failed: a JSON object (read by the worker). */
export function owesTaskFailed(content: Buffer): boolean {
  if (content.length > BODY_READ_LIMIT) return false;
  try {
    const body: unknown = JSON.parse(strictUtf8.decode(content));
    return typeof body === 'object' && body !== null && !Array.isArray(body);
  } catch {
    return false;
  }
}
