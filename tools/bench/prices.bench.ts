import { Redis } from 'ioredis';

import { AuthStandIn } from '../../test/support/auth.stand-in';
import type { RecordedRequest, Reply } from '../../test/support/http-stand-in';
import { ReceivedMessage, waitFor } from '../../test/support/rmq';
import { isolatedNames, testEnvironment, watchQueues } from '../../test/support/worker.harness';
import { LeanBackendStandIn, LeanSteamStandIn } from './lean-stand-ins';
import { deleteKeysUnder, REDIS_URL } from './redis-keys';
import { fixed, megabytes, Row, whole } from './report';
import { imageWorker } from './worker-child';

export const PRICES = {
  apps: 2000,
  countries: ['US', 'DE', 'GB', 'JP', 'BR', 'PL', 'FR', 'CA', 'AU', 'KR'],
  /** Seven-digit ids, as most of today's apps have: GetItems' chunks are bounded by the URL's length. */
  firstAppId: 1_000_000,
  /** The projection: 10,000 apps × 50 countries on one egress at the default budgets. */
  projection: { apps: 10_000, countries: 50, limit: 40, windowMs: 60_000, margin: 0.02 },
  /** The memory run: one apps.prices task of 10,000 apps × 10 countries. */
  memoryApps: 10_000,
  egressConcurrency: 64,
  timeoutMs: 150_000,
} as const;

const MB = 1024 * 1024;
type Budget = 'store' | 'api';

/** Where a Steam request goes: the paths the stand-in serves, and the budget each one counts against. */
function kindOf(request: RecordedRequest): { kind: string; budget: Budget } {
  const { pathname, searchParams } = request.url;
  if (pathname === '/api/appdetails') {
    return { kind: searchParams.has('filters') ? 'appdetails prices' : 'appdetails', budget: 'store' };
  }
  if (pathname === '/IStoreBrowseService/GetItems/v1/') return { kind: 'GetItems', budget: 'api' };
  return { kind: pathname, budget: 'api' };
}

/** The lean Steam stand-in, counting every request it answers by kind and by budget. */
class CountingSteamStandIn extends LeanSteamStandIn {
  readonly byKind = new Map<string, number>();
  readonly byBudget: Record<Budget, number> = { store: 0, api: 0 };
  total = 0;

  protected override handle(request: RecordedRequest): Reply {
    const { kind, budget } = kindOf(request);
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
    this.byBudget[budget]++;
    this.total++;
    return super.handle(request);
  }
}

interface Run {
  label: string;
  pairs: number;
  steam: CountingSteamStandIn;
  pushes: number;
  /** Accepted pushes per second, first to last push. */
  pushRate: number;
  elapsedS: number;
  complete: boolean;
  outcome: string;
  rss: number;
  hwm: number;
}

interface TaskResult {
  pattern: string;
  data: { taskId: string; updated?: number[]; failed?: unknown[] };
}

/**
 * One task through the built worker (`node dist/main.js`, the image's flags)
 * with the limit lifted, against stand-ins in this process; counts Steam's
 * requests and the backend's pushes, samples the worker's RSS. Removes its
 * queues and Redis keys at the end.
 */
async function runTask(
  label: string,
  pattern: 'apps.fetch' | 'apps.prices',
  extra: Record<string, string>,
  apps: number,
  progress: (line: string) => void,
): Promise<Run> {
  const names = isolatedNames(`bench-prices-${label.replace(/\W+/g, '-')}`);
  const steam = await new CountingSteamStandIn().start();
  const auth = await new AuthStandIn().start();
  const backend = await new LeanBackendStandIn(auth).start();
  const pushTimes: number[] = [];
  const accept = backend.script!;
  backend.script = (call) => {
    pushTimes.push(call.request.at);
    return accept(call);
  };
  const standIns = {
    steam,
    auth,
    backend,
    stop: async () => void (await Promise.all([steam.stop(), auth.stop(), backend.stop()])),
  };
  const redis = new Redis(REDIS_URL);
  const queues = await watchQueues(names);
  const { worker, ready } = await imageWorker({
    ...testEnvironment(standIns, names),
    STEAM_EGRESS_CONCURRENCY: String(PRICES.egressConcurrency),
    LOG_LEVEL: 'fatal',
    ...extra,
  });
  let rss = 0;
  const sampler = setInterval(
    () =>
      void worker.status('VmRSS').then(
        (bytes) => (rss = Math.max(rss, bytes)),
        () => undefined,
      ),
    100,
  );
  try {
    await ready();
    const taskId = `bench-${label.replace(/\W+/g, '-')}`;
    const appIds = Array.from({ length: apps }, (_, index) => PRICES.firstAppId + index);
    const pairs = apps * PRICES.countries.length;
    progress(`(f) ${label}: ${pattern} of ${whole(apps)} apps x ${PRICES.countries.length} countries`);
    const started = performance.now();
    queues.rabbit.publish(names.WORKER_QUEUE, { pattern, data: { taskId, appIds, countries: PRICES.countries } });
    let found: ReceivedMessage | undefined;
    try {
      found = await waitFor(
        () => {
          if (worker.child.exitCode !== null) throw new Error(`the worker exited during the task: ${worker.stderr}`);
          return queues.results.find((message) => (message.body as TaskResult).data?.taskId === taskId);
        },
        PRICES.timeoutMs,
        `the result of ${label}`,
      );
    } catch (error) {
      if (worker.child.exitCode !== null) throw error;
      progress(`(f) ${label}: no result within ${PRICES.timeoutMs / 1000} s; reporting what was counted`);
    }
    const elapsedS = (performance.now() - started) / 1000;
    const hwm = await worker.status('VmHWM').catch(() => Number.NaN);
    const result = found?.body as TaskResult | undefined;
    const complete =
      result?.pattern === `${pattern}.done` &&
      result.data.updated?.length === apps &&
      result.data.failed?.length === 0 &&
      backend.accepted === pairs;
    const outcome = !result
      ? `no result after ${elapsedS.toFixed(0)} s`
      : `${result.data.updated?.length} updated, ${result.data.failed?.length} failed, ${whole(backend.accepted)} pairs pushed`;
    const spanS = pushTimes.length > 1 ? (pushTimes.at(-1)! - pushTimes[0]!) / 1000 : Number.NaN;
    progress(`(f) ${label}: ${whole(steam.total)} Steam requests, ${outcome} in ${elapsedS.toFixed(1)} s`);
    return {
      label,
      pairs,
      steam,
      pushes: pushTimes.length,
      pushRate: (pushTimes.length - 1) / spanS,
      elapsedS,
      complete,
      outcome,
      rss,
      hwm,
    };
  } finally {
    clearInterval(sampler);
    await worker.stop();
    await queues.rabbit.deleteQueues(names.WORKER_QUEUE, `${names.WORKER_QUEUE}.dlq`, names.ORCHESTRATOR_QUEUE);
    await queues.rabbit.close();
    await standIns.stop();
    await deleteKeysUnder(redis, names.REDIS_PREFIX);
    redis.disconnect();
  }
}

const perPair = (run: Run) => run.steam.total / run.pairs;

const kinds = (run: Run) =>
  [...run.steam.byKind]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, count]) => `${whole(count)} ${kind}`)
    .join(' + ');

/**
 * Minutes for 10,000 × 50 pairs on one egress at the default budgets (40 per
 * 60 s each, plus the 2 % margin): each budget's requests per pair × pairs,
 * the two budgets running side by side. Currency look-ups (one per country)
 * scale with the pairs here, an overestimate.
 */
function projectedMinutes(run: Run): { minutes: number; requests: number; store: number; api: number } {
  const { apps, countries, limit, windowMs, margin } = PRICES.projection;
  const pairs = apps * countries;
  const minutesOf = (requests: number) => ((requests / limit) * windowMs * (1 + margin)) / 60_000;
  const store = (run.steam.byBudget.store / run.pairs) * pairs;
  const api = (run.steam.byBudget.api / run.pairs) * pairs;
  return { minutes: Math.max(minutesOf(store), minutesOf(api)), requests: store + api, store, api };
}

const duration = (minutes: number) => (minutes >= 600 ? `${fixed(minutes / 60, 0)} h` : `${fixed(minutes, 0)} min`);

/**
 * Part (f): the request economy of prices. Steam requests per (app, country)
 * pair for apps.fetch and for apps.prices from either source, measured on a
 * 2,000 × 10 slice with the limit lifted; the backend's push rate; the time
 * the counts mean for 10,000 × 50 on one egress; the worker's peak RSS on a
 * 10,000 × 10 apps.prices task.
 */
export async function pricesBench(progress: (line: string) => void): Promise<Row[]> {
  const fetchRun = await runTask('apps.fetch', 'apps.fetch', {}, PRICES.apps, progress);
  const appdetails = await runTask(
    'appdetails prices',
    'apps.prices',
    { STEAM_PRICE_SOURCE: 'appdetails' },
    PRICES.apps,
    progress,
  );
  const storebrowse = await runTask(
    'storebrowse prices',
    'apps.prices',
    { STEAM_PRICE_SOURCE: 'storebrowse' },
    PRICES.apps,
    progress,
  );
  const memory = await runTask(
    'memory prices',
    'apps.prices',
    { STEAM_PRICE_SOURCE: 'appdetails' },
    PRICES.memoryApps,
    progress,
  );
  const part = '(f)';
  const slice = `${whole(PRICES.apps)} x ${PRICES.countries.length}`;
  const { apps, countries } = PRICES.projection;
  const projected = { fetch: projectedMinutes(fetchRun), appdetails: projectedMinutes(appdetails) };
  const store = projectedMinutes(storebrowse);
  const requestsRow = (run: Run, measure: string, target: string, ok: boolean): Row => ({
    part,
    measure,
    worker: `${fixed(perPair(run), 4)} (${whole(run.steam.total)} requests)`,
    comparison: `${kinds(run)}; ${run.outcome}`,
    target,
    ok: ok && run.complete,
  });
  return [
    requestsRow(fetchRun, `Steam requests per pair, apps.fetch, ${slice}`, '1.0', perPair(fetchRun) === 1),
    requestsRow(
      appdetails,
      `Steam requests per pair, apps.prices appdetails, ${slice}`,
      '<= 0.011',
      perPair(appdetails) <= 0.011,
    ),
    requestsRow(
      storebrowse,
      `Steam requests per pair, apps.prices storebrowse, ${slice} (7-digit ids)`,
      '<= 0.004',
      perPair(storebrowse) <= 0.004,
    ),
    {
      part,
      measure: 'backend pushes/s, apps.prices, limit lifted',
      worker: `${whole(appdetails.pushRate)}/s appdetails`,
      comparison: `storebrowse ${whole(storebrowse.pushRate)}/s; apps.fetch ${whole(fetchRun.pushRate)}/s`,
      target: 'reported',
    },
    {
      part,
      measure: `${whole(apps)} x ${countries} on one egress, 40 per 60 s per budget`,
      worker: `storebrowse ${duration(store.minutes)} (${whole(store.api)} Web API + ${whole(store.store)} store)`,
      comparison:
        `appdetails prices ${duration(projected.appdetails.minutes)} (${whole(projected.appdetails.requests)}); ` +
        `apps.fetch ${duration(projected.fetch.minutes)} (${whole(projected.fetch.requests)})`,
      target: '< 45 min',
      ok: store.minutes < 45 && perPair(storebrowse) <= 0.004,
    },
    {
      part,
      measure: `peak worker RSS, apps.prices ${whole(PRICES.memoryApps)} x ${PRICES.countries.length} (VmRSS / VmHWM)`,
      worker: megabytes(memory.rss),
      comparison: `VmHWM ${megabytes(memory.hwm)}; ${memory.outcome} in ${memory.elapsedS.toFixed(1)} s`,
      target: '<= 200 MB',
      ok: Math.max(memory.rss, memory.hwm) <= 200 * MB && memory.complete,
    },
  ];
}
