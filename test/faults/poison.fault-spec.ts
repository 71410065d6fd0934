import type { Options } from 'amqplib';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ReceivedMessage, waitFor } from '../support/rmq';
import { recordDrill } from './support/drill-report';
import { Drill, DrillWorker } from './support/drill';

type Done = { pattern: string; data: { taskId: string; updated: number[]; failed: unknown[] } };
type Failed = { pattern: string; data: { taskId: string; pattern: unknown; error: { code: string; message: string } } };

/** A small seeded generator (mulberry32): the same seed sends the same poison. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = 7;
const ROUND = 1000;
const WARM_UP = 250;
const MB = 1024 * 1024;
/**
 * The worker dead-letters larger bodies unread (src/tasks/transport/task-envelope.ts),
 * so a JSON object above it gets no task.failed. CONTRACT.md §2 does not name
 * this cap yet (see the drill's report).
 */
const BODY_READ_LIMIT = 4 * MB;
/** Where the replies of poison requests go: nowhere (replies are not mandatory). */
const NOWHERE = 'drill.poison.nowhere';

interface Poison {
  kind: string;
  content: Buffer;
  options?: Options.Publish;
}

/**
 * Poison by construction: each message breaks the contract in its own way
 * (§1 wire format and validation), so that none of them is a task.
 */
class PoisonMaker {
  private serial = 0;

  constructor(private readonly random: () => number) {}

  /** One round: the heavy cases once each, the rest drawn at random, in a shuffled order. */
  round(count: number): Poison[] {
    const poisons = [...this.heavy()];
    while (poisons.length < count) poisons.push(this.light());
    for (let i = poisons.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [poisons[i], poisons[j]] = [poisons[j]!, poisons[i]!];
    }
    return poisons;
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

/** Whether CONTRACT.md §2 owes this body a task.failed: a JSON object (read by the worker). */
function owesTaskFailed(content: Buffer): boolean {
  if (content.length > BODY_READ_LIMIT) return false;
  try {
    const body: unknown = JSON.parse(strictUtf8.decode(content));
    return typeof body === 'object' && body !== null && !Array.isArray(body);
  } catch {
    return false;
  }
}

const digest = (content: Buffer) => createHash('sha1').update(content).digest('hex');

function rssKiB(pid: number): number {
  const line = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!line) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(line[1]);
}

/** A one-shot DevTools client, run as a child: full GCs, then the live heap size in bytes. */
const COLLECT_GARBAGE = `
const ws = new WebSocket(process.argv[1]);
const replies = new Map();
ws.addEventListener('message', (event) => {
  const message = JSON.parse(event.data);
  replies.get(message.id)?.(message.result);
});
await new Promise((resolve, reject) => {
  ws.addEventListener('open', resolve);
  ws.addEventListener('error', reject);
});
let id = 0;
const call = (method) => new Promise((resolve) => {
  replies.set(++id, resolve);
  ws.send(JSON.stringify({ id, method }));
});
await call('HeapProfiler.collectGarbage');
await call('HeapProfiler.collectGarbage');
const { usedSize } = await call('Runtime.getHeapUsage');
process.stdout.write(String(usedSize));
ws.close();
`;

/**
 * Settles the worker's garbage through its inspector, so that RSS measures
 * what it keeps, not when V8 last collected: right after a round, RSS swings
 * by ±20 % with GC timing alone. Returns the live heap in bytes.
 */
async function collectGarbage(worker: DrillWorker): Promise<number> {
  // The worker was started with --inspect=127.0.0.1:0 and printed where it listens.
  const url = /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/\S+)/.exec(worker.output())?.[1];
  if (!url) throw new Error('the worker announced no inspector');
  const flags = typeof WebSocket === 'undefined' ? ['--experimental-websocket'] : [];
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...flags, '--input-type=module', '-e', COLLECT_GARBAGE, url],
    { env: { PATH: process.env.PATH ?? '' }, timeout: 20_000 },
  );
  return Number(stdout);
}

interface RoundFigures {
  sent: number;
  taskFailed: number;
  kinds: Set<string>;
  rssKiB: number;
  heapBytes: number;
}

const MiB = (kib: number) => (kib / 1024).toFixed(0);

/** Drill 7: a thousand malformed messages, twice; the worker dead-letters each and carries on. */
describe('drill: poison and fuzz', () => {
  const drill = new Drill('poison');
  const maker = new PoisonMaker(seededRandom(SEED));
  let worker: DrillWorker;
  let pid: number;

  beforeAll(async () => {
    await drill.start();
    // As in the Dockerfile: two malloc arenas keep RSS from drifting with thread-local fragmentation.
    worker = await drill.spawn({ LOG_LEVEL: 'info', NODE_OPTIONS: '--inspect=127.0.0.1:0', MALLOC_ARENA_MAX: '2' });
    pid = worker.child.pid!;
  });

  afterAll(async () => {
    await drill.stop();
  });

  const stillRunning = () => worker.child.exitCode === null && worker.child.signalCode === null;

  /** Sends a round of poison; returns once every message of it is in the DLQ, with the worker's memory then. */
  async function sendRound(count: number): Promise<RoundFigures> {
    const deadSince = drill.deadLetters.length;
    const resultsSince = drill.results.length;
    const poisons = maker.round(count);
    for (const poison of poisons) drill.rabbit.publish(drill.names.WORKER_QUEUE, poison.content, poison.options ?? {});
    const owed = poisons.filter((poison) => owesTaskFailed(poison.content)).length;

    const taskFailedSince = () =>
      drill.results.slice(resultsSince).filter((m) => (m.body as Failed).pattern === 'task.failed');
    await waitFor(
      () => drill.deadLetters.length - deadSince >= count && taskFailedSince().length >= owed,
      50_000,
      `${count} dead letters and ${owed} task.failed`,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));

    // Every message, exactly as sent, is in the DLQ, rejected from the task queue.
    const arrived: ReceivedMessage[] = drill.deadLetters.slice(deadSince);
    expect(arrived.map((m) => digest(m.raw.content)).sort()).toEqual(poisons.map((p) => digest(p.content)).sort());
    for (const message of arrived) {
      const deaths = message.raw.properties.headers?.['x-death'] as Record<string, unknown>[] | undefined;
      expect(deaths?.[0]).toMatchObject({ queue: drill.names.WORKER_QUEUE, reason: 'rejected' });
    }
    // Each JSON object got its task.failed invalid_task, and nothing else was published.
    const results = drill.results.slice(resultsSince);
    expect(results).toHaveLength(owed);
    for (const result of results) {
      const pattern = (result.body as Failed).data?.pattern;
      expect(result.body).toEqual({
        pattern: 'task.failed',
        data: {
          taskId: expect.any(String),
          pattern: pattern === null ? null : expect.any(String),
          error: { code: 'invalid_task', message: expect.any(String) },
        },
      });
    }
    expect(stillRunning()).toBe(true);
    expect((await fetch(`${worker.url}/health`)).status).toBe(200);
    const heapBytes = await collectGarbage(worker);
    return {
      sent: count,
      taskFailed: owed,
      kinds: new Set(poisons.map((p) => p.kind)),
      rssKiB: rssKiB(pid),
      heapBytes,
    };
  }

  it('dead-letters two rounds of 1,000 poison messages without restarting or growing, then runs a valid task', async () => {
    // A smaller round first, heavy cases included: JIT code and allocator pools
    // settle in before the first figure, so the two rounds compare like with like.
    const warmUp = await sendRound(WARM_UP);
    const first = await sendRound(ROUND);
    const second = await sendRound(ROUND);

    expect(worker.child.pid).toBe(pid);
    expect(stillRunning()).toBe(true);
    expect(second.rssKiB).toBeLessThanOrEqual(first.rssKiB * 1.2);
    expect([...first.kinds]).toEqual(
      expect.arrayContaining([
        'bad JSON',
        'deep array',
        'huge appIds',
        'huge pattern',
        'not UTF-8',
        'unknown pattern',
        'wrong type',
        'missing field',
      ]),
    );

    drill.publish({
      pattern: 'apps.fetch',
      data: { taskId: 'after-poison', appIds: [621, 620], countries: ['us', 'DE'] },
    });
    await waitFor(() => drill.resultsFor('after-poison').length >= 1, 30_000, 'the valid task after the poison');
    expect(drill.resultsFor('after-poison').map((m) => m.body as Done)).toEqual([
      { pattern: 'apps.fetch.done', data: { taskId: 'after-poison', updated: [620, 621], failed: [] } },
    ]);

    const sent = warmUp.sent + first.sent + second.sent;
    const growth = ((second.rssKiB - first.rssKiB) / first.rssKiB) * 100;
    recordDrill({
      drill: '7 poison and fuzz',
      outcome: 'pass',
      figure:
        `${sent}/${sent} in the DLQ, ${warmUp.taskFailed + first.taskFailed + second.taskFailed} task.failed, ` +
        `0 restarts; RSS after GC ${MiB(first.rssKiB)} → ${MiB(second.rssKiB)} MiB (${growth.toFixed(1)} %, ` +
        `limit +20 %), live heap ${MiB(first.heapBytes / 1024)} → ${MiB(second.heapBytes / 1024)} MiB`,
    });
  });

  it('runs a valid task whose unknown field is nested 100,000 levels deep (unknown fields are ignored)', async () => {
    const deep = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
    drill.rabbit.publish(
      drill.names.WORKER_QUEUE,
      Buffer.from(`{"pattern":"app.fetch","data":{"taskId":"deep-extra","appId":620,"country":"US","extra":${deep}}}`),
    );
    await waitFor(() => drill.resultsFor('deep-extra').length >= 1, 30_000, 'the result of the deep task');
    expect(drill.resultsFor('deep-extra').map((m) => m.body)).toEqual([
      { pattern: 'app.fetch.done', data: { taskId: 'deep-extra', updated: [620], failed: [] } },
    ]);
    expect(stillRunning()).toBe(true);
  });
});
