import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { getPriority, setPriority } from 'node:os';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { maxInSlidingWindow } from '../support/http-stand-in';
import { waitFor } from '../support/rmq';
import { recordDrill } from './support/drill-report';
import { Drill, DrillWorker } from './support/drill';
import { SHARED_REDIS_URL } from '../support/worker.harness';

type Done = { pattern: string; data: { taskId: string; updated: number[]; failed: unknown[] } };

const RATE_LIMIT = 5;
const RATE_WINDOW_MS = 2000;
const MARGIN_MS = 100;
const APP_IDS = Array.from({ length: 20 }, (_, i) => 9001 + i);
const COUNTRIES = ['DE', 'US'];

/** The worker and the busy loop share this CPU; the test process (stand-ins, arrival times) has the other. */
const STARVED_CPU = '0';
const FREE_CPU = '1';
/** How long the busy loop holds the worker's CPU each time: three margins. */
const STALL_MS = 300;
/** At most one stall in this long (more than L spacings), so that the requests after a late one leave on time. */
const STALL_EVERY_MS = 3000;
/** The busy loop ends by itself after this long, whatever becomes of the test process. */
const STARVER_LIFETIME_MS = 90_000;
/** The test process' main thread (the stand-ins' event loop), ahead of whatever else runs on the free CPU. */
const STAND_IN_NICE = -5;
const LATE_DEPARTURE = 'reached its socket late; passed the gate again';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The busy loop (node -e): a SCHED_FIFO process on the worker's CPU that
 * watches Redis (MONITOR) for the moment a request of the worker passes the
 * departure gate (its ZADD to the egress' departure log, run by the limiter's
 * Lua) and then spins for STALL_MS. A real-time process takes the CPU from
 * the worker at once: the worker is starved right between the gate and its
 * socket, as a long GC pause or a busy host would, only at the worst moment.
 * argv: Redis port, departure log key, stall ms, ms between stalls, lifetime ms.
 */
const STARVER = `
const net = require('node:net');
const [port, key, stallMs, everyMs, lifetimeMs] = process.argv.slice(1);
const needle = Buffer.from('"ZADD" "' + key + '"');
const end = Date.now() + Number(lifetimeMs);
setTimeout(() => process.exit(0), Number(lifetimeMs)).unref();
let last = 0;
let tail = Buffer.alloc(0);
const socket = net.connect(Number(port), '127.0.0.1', () => socket.write('MONITOR\\r\\n'));
socket.on('error', () => process.exit(1));
socket.once('data', () => process.stdout.write('ready\\n'));
socket.on('data', (chunk) => {
  const seen = Buffer.concat([tail, chunk]);
  tail = seen.subarray(Math.max(0, seen.length - needle.length + 1));
  if (Date.now() > end) process.exit(0);
  if (!seen.includes(needle) || Date.now() - last < Number(everyMs)) return;
  const from = Date.now();
  while (Date.now() - from < Number(stallMs)) {}
  last = Date.now();
  process.stdout.write('stall ' + (last - from) + '\\n');
});
`;

/** This process' CPU affinity mask (as `taskset -p` prints it), so that it can be given back. */
function affinityOf(pid: number): string {
  return execFileSync('taskset', ['-p', String(pid)], { encoding: 'utf8' })
    .trim()
    .split(' ')
    .at(-1)!;
}

/** Pins every thread of `pid` to `cpus` (a list such as "1", or with `mask`, a hex mask). */
function pin(pid: number, cpus: string, mask = false): void {
  execFileSync('taskset', ['-a', '-p', ...(mask ? [] : ['-c']), cpus, String(pid)], { stdio: 'ignore' });
}

/** A built worker (`node dist/main.js`) pinned to the starved CPU (`taskset` execs: the child is the worker). */
function spawnPinnedWorker(drill: Drill, extra: Record<string, string>): Promise<DrillWorker> {
  return drill.spawn(extra, true, ['taskset', '-c', STARVED_CPU]);
}

interface Starver {
  child: ChildProcess;
  /** How long each stall held the CPU, ms. */
  stalls: number[];
}

/** Starts the busy loop (see STARVER) on the worker's CPU, ahead of the worker (SCHED_FIFO), once it watches Redis. */
async function startStarver(departureLog: string): Promise<Starver> {
  const { port } = new URL(SHARED_REDIS_URL);
  const args = [port, departureLog, STALL_MS, STALL_EVERY_MS, STARVER_LIFETIME_MS].map(String);
  const child = spawn('taskset', ['-c', STARVED_CPU, 'chrt', '-f', '10', process.execPath, '-e', STARVER, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const starver: Starver = { child, stalls: [] };
  let ready = false;
  let buffered = '';
  let problem = '';
  child.on('error', (error) => (problem += error.message));
  child.stderr!.on('data', (chunk: Buffer) => (problem += chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (line === 'ready') ready = true;
      else if (line.startsWith('stall ')) starver.stalls.push(Number(line.slice(6)));
    }
  });
  await waitFor(() => ready || child.exitCode !== null || problem, 10_000, 'the busy loop watching Redis');
  if (!ready) throw new Error(`the busy loop did not start (taskset, chrt, root?): ${problem.trim()}`);
  return starver;
}

async function kill(child: ChildProcess | undefined): Promise<void> {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/**
 * Reads the egress' departure log (a sorted set in Redis: one member per
 * request, scored with the µs of Redis' clock at which it passed the gate)
 * every 50 ms, and once more at the end. A member lasts a window, so none
 * is missed; a request that passed the gate again keeps its member with a
 * new score: `first` is its first passage, `last` the one it left on (ms,
 * sorted).
 */
function watchDepartures(key: string): { stop(): Promise<{ first: number[]; last: number[] }> } {
  const redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  const read = async () => {
    const flat = await redis.zrange(key, 0, -1, 'WITHSCORES').catch(() => [] as string[]);
    for (let i = 0; i < flat.length; i += 2) {
      const ms = Number(flat[i + 1]) / 1000;
      if (!first.has(flat[i]!)) first.set(flat[i]!, ms);
      last.set(flat[i]!, ms);
    }
  };
  let running = true;
  const loop = (async () => {
    while (running) {
      await read();
      await sleep(50);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      // The last request's passage, if the loop had not seen it yet.
      await read();
      redis.disconnect();
      const sorted = (times: Map<string, number>) => [...times.values()].sort((a, b) => a - b);
      return { first: sorted(first), last: sorted(last) };
    },
  };
}

/**
 * The stand-in stamps a request when its handler runs, later than it arrived
 * by as much as this event loop was held up then (the host may take the CPU
 * away for a few hundred ms at times). This ticks every 2 ms; a stamp's slack
 * is the time since the tick before the last one before it: the request
 * cannot have arrived before that loop turn.
 */
function watchStampSlack(): { stop(): void; slack(at: number): number } {
  const ticks: number[] = [];
  const timer = setInterval(() => ticks.push(performance.now()), 2);
  return {
    stop: () => clearInterval(timer),
    slack: (at) => {
      let low = 0;
      let high = ticks.length;
      while (low < high) {
        const middle = (low + high) >> 1;
        if (ticks[middle]! < at) low = middle + 1;
        else high = middle;
      }
      // ticks[low - 1] is the last tick before `at`.
      return low >= 2 ? at - ticks[low - 2]! : Infinity;
    },
  };
}

/**
 * The most requests that may have arrived within one window: a request
 * stamped at a_j counts with the one stamped at a_k ≤ a_j when it may have
 * arrived less than `windowMs` after it (a_j − slack_j − a_k < windowMs).
 */
function busiestPossibleWindow(stamps: number[], slack: (at: number) => number, windowMs: number): number {
  const sorted = [...stamps].sort((a, b) => a - b);
  let best = 0;
  for (let k = 0; k < sorted.length; k++) {
    const count = sorted.slice(k).filter((at) => at - slack(at) - sorted[k]! < windowMs).length;
    best = Math.max(best, count);
  }
  return best;
}

/**
 * How late each request reached Steam after its passage of the gate: the
 * k-th arrival against the k-th departure (the egress carries one request at
 * a time, so both come in the same order). Undefined when the counts differ.
 */
function wireLags(departuresMs: number[], arrivalsMs: number[]): number[] | undefined {
  if (departuresMs.length !== arrivalsMs.length) return undefined;
  return arrivalsMs.map((arrival, k) => arrival - departuresMs[k]!);
}

/**
 * Drill 6b: the limit holds on the wire, not only at the gate. The worker
 * shares its CPU with a busy loop of higher priority that takes the CPU for
 * STALL_MS right after a request passed the departure gate, before it reached
 * its socket; the stand-in Steam counts arrivals on the other CPU.
 */
describe('drill: limit on the wire (worker starved between gate and socket)', () => {
  const drill = new Drill('wire-lag');
  let starver: Starver | undefined;
  const affinity = affinityOf(process.pid);
  const priority = getPriority();

  beforeAll(async () => {
    // Arrival times are taken where the CPU is free.
    pin(process.pid, FREE_CPU);
    setPriority(STAND_IN_NICE);
    await drill.start();
  });

  afterAll(async () => {
    try {
      await kill(starver?.child);
      await drill.stop();
    } finally {
      setPriority(priority);
      pin(process.pid, affinity, true);
    }
  });

  it('never lets more than STEAM_RATE_LIMIT requests reach Steam in any window when they reach their socket late', async () => {
    const worker = await spawnPinnedWorker(drill, {
      STEAM_RATE_LIMIT: String(RATE_LIMIT),
      STEAM_RATE_WINDOW_MS: String(RATE_WINDOW_MS),
      STEAM_RATE_MARGIN_MS: String(MARGIN_MS),
      LOG_LEVEL: 'debug',
    });
    // appdetails: the store budget's departure log of the host's own IP.
    const departureLog = `${drill.names.REDIS_PREFIX}:egress:direct:store:departures`;
    starver = await startStarver(departureLog);
    const departures = watchDepartures(departureLog);
    const stamps = watchStampSlack();
    drill.publish({ pattern: 'apps.fetch', data: { taskId: 'wire-lag', appIds: APP_IDS, countries: COUNTRIES } });
    let logged: { first: number[]; last: number[] };
    try {
      await waitFor(() => drill.resultsFor('wire-lag').length >= 1, 50_000, 'the result of the batch');
    } finally {
      stamps.stop();
      logged = await departures.stop();
      await kill(starver.child);
    }
    expect(drill.resultsFor('wire-lag').map((m) => m.body as Done)).toEqual([
      { pattern: 'apps.fetch.done', data: { taskId: 'wire-lag', updated: APP_IDS, failed: [] } },
    ]);
    const arrivals = drill.standIns.steam.arrivalTimes;
    expect(arrivals).toHaveLength(APP_IDS.length * COUNTRIES.length);

    const busiest = busiestPossibleWindow(arrivals, stamps.slack, RATE_WINDOW_MS);
    const raw = maxInSlidingWindow(arrivals, RATE_WINDOW_MS);
    const slacks = arrivals.map(stamps.slack);
    const regated = worker
      .output()
      .split('\n')
      .filter((line) => line.includes(LATE_DEPARTURE)).length;
    const arrivalsWallMs = arrivals.map((at) => performance.timeOrigin + at).sort((a, b) => a - b);
    const firstPassage = wireLags(logged.first, arrivalsWallMs);
    const lastPassage = wireLags(logged.last, arrivalsWallMs);
    const over = (lags: number[] | undefined) => lags?.filter((lag) => lag > MARGIN_MS).length ?? 'n/a';
    const longest = (lags: number[] | undefined) => (lags ? `${Math.round(Math.max(...lags))} ms` : 'n/a');
    const figure =
      `max ${busiest} in any ${RATE_WINDOW_MS} ms (limit ${RATE_LIMIT}; raw ${raw}, stamp slack ≤ ` +
      `${Math.round(Math.max(...slacks))} ms), ${arrivals.length} requests; ${starver.stalls.length} stalls of ` +
      `${STALL_MS} ms between gate and socket; late departures re-gated: ${regated}; gate to Steam over ` +
      `${MARGIN_MS} ms: ${over(firstPassage)} from the first passage (longest ${longest(firstPassage)}), ` +
      `${over(lastPassage)} from the last (longest ${longest(lastPassage)})`;
    if (busiest > RATE_LIMIT) process.stdout.write(`wire-lag: ${figure}\n`);

    expect(busiest).toBeLessThanOrEqual(RATE_LIMIT);
    // Every request that reached Steam passed the gate: one record each.
    expect(logged.last).toHaveLength(arrivals.length);
    // The fault happened: the busy loop took the CPU after gate passages, and
    // requests reached their socket more than the margin after their first one.
    expect(starver.stalls.length).toBeGreaterThan(0);
    expect(firstPassage!.filter((lag) => lag > MARGIN_MS).length).toBeGreaterThan(0);
    expect(worker.child.exitCode).toBeNull();
    recordDrill({ drill: '6b limit on the wire (late socket)', outcome: 'pass', figure });
  });
});
