import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

import { ReceivedMessage, waitFor } from '../support/rmq';
import { bodyOf, sleep } from '../support/shapes';
import { recordDrill } from './support/drill-report';
import { DrillWorker } from './support/drill';
import { owesTaskFailed, PoisonMaker } from './support/poison-maker';
import { seededRandom } from './support/random';
import { useDrill } from './support/use-drill';

const SEED = 7;
const ROUND = 1000;
const WARM_UP = 250;
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
  const drill = useDrill('poison');
  const maker = new PoisonMaker(seededRandom(SEED));
  let worker: DrillWorker;
  let pid: number;

  beforeAll(async () => {
    // As in the Dockerfile: two malloc arenas keep RSS from drifting with thread-local fragmentation.
    worker = await drill.spawn({ LOG_LEVEL: 'info', NODE_OPTIONS: '--inspect=127.0.0.1:0', MALLOC_ARENA_MAX: '2' });
    pid = worker.child.pid!;
  });

  const stillRunning = () => worker.running();

  /** Sends a round of poison; returns once every message of it is in the DLQ, with the worker's memory then. */
  async function sendRound(count: number): Promise<RoundFigures> {
    const deadSince = drill.deadLetters.length;
    const resultsSince = drill.results.length;
    const poisons = maker.round(count);
    for (const poison of poisons) drill.publish(poison.content, poison.options ?? {});
    const owed = poisons.filter((poison) => owesTaskFailed(poison.content)).length;

    const taskFailedSince = () => drill.results.slice(resultsSince).filter((m) => bodyOf(m).pattern === 'task.failed');
    await waitFor(
      () => drill.deadLetters.length - deadSince >= count && taskFailedSince().length >= owed,
      50_000,
      `${count} dead letters and ${owed} task.failed`,
    );
    await sleep(500);

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
      const pattern = bodyOf(result).data?.pattern;
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
    expect(drill.resultsFor('after-poison').map((m) => m.body)).toEqual([
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
    drill.publish(
      Buffer.from(`{"pattern":"app.fetch","data":{"taskId":"deep-extra","appId":620,"country":"US","extra":${deep}}}`),
    );
    await waitFor(() => drill.resultsFor('deep-extra').length >= 1, 30_000, 'the result of the deep task');
    expect(drill.resultsFor('deep-extra').map((m) => m.body)).toEqual([
      { pattern: 'app.fetch.done', data: { taskId: 'deep-extra', updated: [620], failed: [] } },
    ]);
    expect(stillRunning()).toBe(true);
  });
});
