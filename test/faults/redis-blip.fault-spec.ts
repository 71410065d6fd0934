import { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';

import { STEAM_QUEUES } from '../../src/steam/steam-queue.constants';

import type { RecordedRequest, Reply } from '../support/http-stand-in';
import { waitFor } from '../support/rmq';
import { TcpProxy } from '../support/tcp-proxy';
import { recordDrill } from './support/drill-report';
import { Drill, DrillWorker } from './support/drill';
import { useDrill } from './support/use-drill';
import { SHARED_REDIS_URL } from '../support/worker.harness';

type Done = { pattern: string; data: { taskId: string; updated: number[]; failed: unknown[] } };
type ListDone = { pattern: string; data: { taskId: string; appIds: number[]; count: number } };

const BLIP_MS = 3000;
const COOLDOWN_MS = 2000;
/** The blip starts this long after the 429, well inside the cooldown. */
const INTO_COOLDOWN_MS = 400;
/** Requests a blip may cost beyond one per pair (or page): an answer whose bookkeeping Redis lost. */
const SPARE_REQUESTS = 3;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The egress' state as the worker's liveness details tell it ('ready', 'cooling', …), if it can tell. */
async function egressState(worker: DrillWorker): Promise<string | undefined> {
  const health = (await fetch(`${worker.url}/health`, { signal: AbortSignal.timeout(2000) })
    .then((response) => response.json())
    .catch(() => undefined)) as { details?: Record<string, { state?: string }> } | undefined;
  return health?.details?.['egress:direct']?.state;
}

/** Steam jobs a worker of `drill` is running (the active lists of Bull's queues, one per budget, read from the shared Redis). */
async function activeSteamJobs(drill: Drill): Promise<number> {
  const redis = new Redis(SHARED_REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    const lists = Object.values(STEAM_QUEUES).map((queue) => `${drill.names.REDIS_PREFIX}:${queue}:active`);
    const lengths = await Promise.all(lists.map((list) => redis.llen(list)));
    return lengths.reduce((sum, length) => sum + length, 0);
  } finally {
    redis.disconnect();
  }
}

/**
 * Once the egress cools after the 429 Steam answered at `tooManyAt` and a Steam
 * job waits for it in the limiter, cuts the worker's Redis link for BLIP_MS.
 * Resolves with when it was cut and restored (performance.now()).
 */
async function cutWhileCooling(
  drill: Drill,
  worker: DrillWorker,
  proxy: TcpProxy,
  tooManyAt: number,
): Promise<{ cutAt: number; restoredAt: number }> {
  await waitFor(async () => (await egressState(worker)) === 'cooling', 2000, 'the egress cooling');
  await waitFor(async () => (await activeSteamJobs(drill)) > 0, 2000, 'a Steam job waiting for the egress');
  await sleep(tooManyAt + INTO_COOLDOWN_MS - performance.now());
  const cutAt = performance.now();
  await proxy.cut();
  await sleep(BLIP_MS);
  await proxy.restore();
  return { cutAt, restoredAt: performance.now() };
}

/** A drill whose workers reach the shared Redis through a proxy the drill can cut. */
function useDrillBehindRedisProxy(label: string): { drill: Drill; proxy: () => TcpProxy } {
  let proxy: TcpProxy | undefined;
  const drill = useDrill(label, { tearDown: () => proxy?.stop() });
  beforeAll(async () => {
    proxy = await new TcpProxy('127.0.0.1', 6379).start();
  });
  return { drill, proxy: () => proxy! };
}

/**
 * Drill 2b: Redis goes away for a few seconds, its data kept (a failover, a
 * network blip), while Steam jobs wait for their egress. Only Steam's own
 * answers make a steam_error (docs/contract.md#guarantees): the jobs wait for Redis without
 * using an attempt, and every pair is fetched once.
 */
describe('drill: Redis blip while the egress cools', () => {
  const { drill, proxy } = useDrillBehindRedisProxy('redis-blip');

  it('waits out a 3 s Redis blip during a cooldown: no steam_error, every pair fetched once, the task done once', async () => {
    const appIds = Array.from({ length: 30 }, (_, i) => 8001 + i);
    const countries = ['DE', 'FR'];
    const pairs = appIds.length * countries.length;
    const worker = await drill.spawn({
      REDIS_URL: `redis://127.0.0.1:${proxy().port}`,
      STEAM_RATE_LIMIT: '10',
      STEAM_RATE_WINDOW_MS: '1000',
      STEAM_COOLDOWN_MS: String(COOLDOWN_MS),
      STEAM_FEED_WINDOW: '8',
      LOG_LEVEL: 'info',
    });
    const steam = drill.standIns.steam;
    // Steam says "too many" once, a little into the batch: the egress cools for STEAM_COOLDOWN_MS.
    let tooManyAt: number | undefined;
    steam.script = ({ request }) => {
      if (tooManyAt !== undefined || steam.appDetailsRequests.length < 15) return undefined;
      tooManyAt = request.at;
      return { status: 429, body: null };
    };

    drill.publish({ pattern: 'apps.fetch', data: { taskId: 'blip', appIds, countries } });
    await waitFor(() => tooManyAt !== undefined, 20_000, 'the 429');
    const { cutAt, restoredAt } = await cutWhileCooling(drill, worker, proxy(), tooManyAt!);

    await waitFor(() => drill.resultsFor('blip').length >= 1, 40_000, 'the result of the batch');
    // A duplicate result (the task run again) would follow within a moment.
    await sleep(1500);

    const results = drill.resultsFor('blip');
    expect(results.map((m) => m.body as Done)).toEqual([
      { pattern: 'apps.fetch.done', data: { taskId: 'blip', updated: appIds, failed: [] } },
    ]);
    expect(drill.results.filter((m) => (m.body as Done).pattern === 'task.failed')).toEqual([]);
    expect(drill.deadLetters).toEqual([]);
    const keys = appIds.flatMap((appId) => countries.map((cc) => `${appId}/${cc}`));
    expect(keys.filter((key) => !drill.standIns.backend.stored.has(key))).toEqual([]);

    // Nothing left for Steam without the limiter, and the blip cost (almost) no request.
    const arrivals = steam.arrivalTimes;
    expect(arrivals.filter((at) => at > cutAt && at < restoredAt)).toEqual([]);
    const requests = steam.appDetailsRequests.length;
    expect(requests).toBeGreaterThanOrEqual(pairs + 1);
    expect(requests).toBeLessThanOrEqual(pairs + 1 + SPARE_REQUESTS);
    const repeated = requests - pairs - 1;
    const pushes = drill.standIns.backend.requests.filter((request) => request.method === 'PUT').length;
    const recoveredMs = Math.min(...arrivals.filter((at) => at >= restoredAt)) - restoredAt;
    // The cut met a job waiting for its egress (the worker says so) …
    const limiterWaits = worker
      .output()
      .split('\n')
      .filter((line) => line.includes('limiter unavailable')).length;
    // … and the process rode it out.
    expect(worker.child.exitCode).toBeNull();

    recordDrill({
      drill: '2b Redis blip while cooling',
      outcome: 'pass',
      figure:
        `Redis cut ${seconds(BLIP_MS)} from ${Math.round(cutAt - tooManyAt!)} ms after a 429 (cooldown ${COOLDOWN_MS} ms): ` +
        `lost 0, duplicate results 0, steam_error 0; ${requests} Steam requests for ${pairs} pairs ` +
        `(1 × 429, ${repeated} repeated, none during the cut), ${pushes} pushes; ` +
        `first request ${seconds(recoveredMs)} after Redis returned; ${limiterWaits} limiter wait(s) logged`,
    });
    steam.script = undefined;
  });
});

/** Drill 2b, the app list: a task of several Steam requests in a row, each needing Redis. */
describe('drill: Redis blip while paging the app list', () => {
  const { drill, proxy } = useDrillBehindRedisProxy('redis-blip-list');

  it('pages on after a 3 s Redis blip during a cooldown: one apps.list.done with every id, no task.failed', async () => {
    const steam = drill.standIns.steam;
    const appIds = Array.from({ length: 40 }, (_, i) => 10 * (i + 1));
    steam.appList = appIds;
    steam.pageSize = 5;
    const pages = appIds.length / steam.pageSize;
    const listRequests = () =>
      steam.requests.filter((request) => request.url.pathname === '/IStoreService/GetAppList/v1/');
    // The stand-in scripts appdetails only: its GetAppList answers are wrapped here,
    // so that the fourth page is answered 429 once and the egress' Web API budget cools.
    const standIn = steam as unknown as { handle(request: RecordedRequest): Reply };
    const answer = standIn.handle.bind(steam);
    let tooManyAt: number | undefined;
    standIn.handle = (request) => {
      if (tooManyAt !== undefined || listRequests().length < 4 || !request.url.pathname.includes('GetAppList')) {
        return answer(request);
      }
      tooManyAt = request.at;
      return { status: 429, body: null };
    };
    const worker = await drill.spawn({
      REDIS_URL: `redis://127.0.0.1:${proxy().port}`,
      // Pages go on the Web API budget: paced at 2 a second, as the drill was written for.
      STEAM_API_RATE_LIMIT: '2',
      STEAM_API_RATE_WINDOW_MS: '1000',
      STEAM_COOLDOWN_MS: String(COOLDOWN_MS),
      LOG_LEVEL: 'info',
    });

    const startedAt = performance.now();
    drill.publish({ pattern: 'apps.list', data: { taskId: 'blip-list' } });
    await waitFor(() => tooManyAt !== undefined, 20_000, 'the 429');
    const { cutAt, restoredAt } = await cutWhileCooling(drill, worker, proxy(), tooManyAt!);

    await waitFor(() => drill.resultsFor('blip-list').length >= 1, 40_000, 'the app list');
    const doneMs = performance.now() - startedAt;
    await sleep(1500);

    expect(drill.resultsFor('blip-list').map((m) => m.body as ListDone)).toEqual([
      { pattern: 'apps.list.done', data: { taskId: 'blip-list', appIds, count: appIds.length } },
    ]);
    expect(drill.deadLetters).toEqual([]);
    const requests = listRequests();
    expect(requests.filter((request) => request.at > cutAt && request.at < restoredAt)).toEqual([]);
    // One request per page, and the one answered 429.
    expect(requests.length).toBeGreaterThanOrEqual(pages + 1);
    expect(requests.length).toBeLessThanOrEqual(pages + 1 + SPARE_REQUESTS);
    const recoveredMs =
      Math.min(...requests.filter((request) => request.at >= restoredAt).map((r) => r.at)) - restoredAt;
    expect(worker.child.exitCode).toBeNull();

    recordDrill({
      drill: '2b Redis blip while paging',
      outcome: 'pass',
      figure:
        `Redis cut ${seconds(BLIP_MS)} while cooling after a 429 on page 4 of ${pages}: 1 apps.list.done with ` +
        `${appIds.length}/${appIds.length} ids, 0 task.failed, ${requests.length} page requests (1 × 429), ` +
        `0 during the cut; next page ${seconds(recoveredMs)} after Redis returned, done in ${seconds(doneMs)}`,
    });
  });
});
