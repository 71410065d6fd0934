import axios from 'axios';
import Bull from 'bull';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';

import { STEAM_JOB_OPTIONS } from '../../src/steam/steam-queue.constants';
import { SteamRequestQueue } from '../../src/steam/steam-request.queue';
import { RabbitProbe, waitFor } from '../../test/support/rmq';
import { isolatedNames, startTestWorker, testEnvironment } from '../../test/support/worker.harness';
import { startLeanStandIns } from './lean-stand-ins';
import { deleteKeysUnder, REDIS_URL } from './redis-keys';
import { fixed, median, Row, runPool, sequentialTimes, whole } from './report';

export const OVERHEAD = {
  calls: 2000,
  concurrency: 64,
  sequentialCalls: 300,
  /** Throughput rounds per contender; the best counts (the machine is shared). */
  rounds: 2,
} as const;

/** App ids as the stand-in answers them: one in ten free (3 KB), the rest priced (28 KB). */
const appIdFor = (index: number) => 1 + (index % 5000);

type Call = (index: number) => Promise<unknown>;

/**
 * A bare Bull round trip on the same Redis: `add` → processor → completion,
 * with the same job options as the Steam queue and one `global:completed`
 * listener for every waiting caller (as SteamRequestQueue does). No limiter, no
 * HTTP: the floor of any Bull-based design.
 */
async function bareBull(prefix: string) {
  const queue = new Bull('bare', { redis: REDIS_URL, prefix });
  const waiters = new Map<string, () => void>();
  queue.on('global:completed', (jobId: string) => waiters.get(jobId)?.());
  void queue.process('*', OVERHEAD.concurrency, async (job: Bull.Job<{ appId: number }>) => ({ ok: true, value: job.data.appId }));
  await queue.isReady();
  const call: Call = async (index) => {
    const jobId = randomUUID();
    const done = new Promise<void>((resolve) => waiters.set(jobId, resolve));
    try {
      await queue.add('bare', { appId: appIdFor(index) }, { ...STEAM_JOB_OPTIONS, jobId });
      await done;
    } finally {
      waiters.delete(jobId);
    }
  };
  return { call, close: () => queue.close() };
}

async function bestRate(call: Call): Promise<number> {
  let best = 0;
  for (let round = 0; round < OVERHEAD.rounds; round++) {
    const elapsedMs = await runPool(OVERHEAD.calls, OVERHEAD.concurrency, call);
    best = Math.max(best, (OVERHEAD.calls * 1000) / elapsedMs);
  }
  return best;
}

/** Part (b): what the queue and the limiter cost per Steam call when the limit is lifted. */
export async function overheadBench(progress: (line: string) => void): Promise<Row[]> {
  const names = isolatedNames('bench-cost');
  const bareNames = isolatedNames('bench-bare');
  const standIns = await startLeanStandIns();
  const env = {
    ...testEnvironment(standIns, names),
    STEAM_RATE_LIMIT: '1000000',
    STEAM_RATE_WINDOW_MS: '1000',
    STEAM_EGRESS_CONCURRENCY: String(OVERHEAD.concurrency),
  };
  const worker = await startTestWorker(env);
  const bare = await bareBull(bareNames.REDIS_PREFIX);
  try {
    await waitFor(async () => (await fetch(`${worker.url}/health/ready`)).status === 200, 20_000, 'readiness');
    const steamQueue = worker.app.get(SteamRequestQueue);
    const http = axios.create({ timeout: 5000 });
    const contenders: Record<'pipeline' | 'direct' | 'bare', Call> = {
      pipeline: (index) => steamQueue.request({ kind: 'appdetails', appId: appIdFor(index), country: 'US' }),
      direct: (index) =>
        http.get(`${standIns.steam.url}/api/appdetails`, {
          params: { appids: appIdFor(index), cc: 'US', l: 'english' },
          responseType: 'json',
        }),
      bare: bare.call,
    };

    progress('(b) warming up');
    for (const call of Object.values(contenders)) await runPool(300, OVERHEAD.concurrency, call);

    progress(`(b) throughput: ${OVERHEAD.calls} calls with ${OVERHEAD.concurrency} in flight, best of ${OVERHEAD.rounds}`);
    const rate = {
      direct: await bestRate(contenders.direct),
      bare: await bestRate(contenders.bare),
      pipeline: await bestRate(contenders.pipeline),
    };

    progress(`(b) latency: ${OVERHEAD.sequentialCalls} sequential calls each, interleaved in rounds`);
    const latency = { direct: [] as number[], bare: [] as number[], pipeline: [] as number[] };
    const perRound = OVERHEAD.sequentialCalls / 3;
    for (let round = 0; round < 3; round++) {
      for (const name of ['direct', 'bare', 'pipeline'] as const) {
        latency[name].push(...(await sequentialTimes(perRound, (index) => contenders[name](round * perRound + index))));
      }
    }
    const medians = {
      direct: median(latency.direct),
      bare: median(latency.bare),
      pipeline: median(latency.pipeline),
    };
    const addedMs = medians.pipeline - medians.direct;
    const part = '(b)';
    return [
      {
        part,
        measure: `Steam calls/s through the queue, ${OVERHEAD.concurrency} in flight, limit lifted`,
        worker: `${whole(rate.pipeline)}/s`,
        comparison: `bare Bull ${whole(rate.bare)}/s, direct HTTP ${whole(rate.direct)}/s`,
        target: `>= 0.5 x bare Bull (${whole(rate.bare / 2)}/s)`,
        ok: rate.pipeline >= rate.bare / 2,
      },
      {
        part,
        measure: 'median added latency per call, one at a time',
        worker: `${fixed(addedMs)} ms (call ${fixed(medians.pipeline)} ms)`,
        comparison: `direct HTTP ${fixed(medians.direct)} ms, bare Bull ${fixed(medians.bare)} ms`,
        target: '<= 3 ms over direct',
        ok: addedMs <= 3,
      },
    ];
  } finally {
    await worker.close().catch(() => undefined);
    await bare.close().catch(() => undefined);
    await standIns.stop();
    const redis = new Redis(REDIS_URL);
    await deleteKeysUnder(redis, names.REDIS_PREFIX);
    await deleteKeysUnder(redis, bareNames.REDIS_PREFIX);
    redis.disconnect();
    // The in-process worker declared its RabbitMQ queues: remove them.
    const rabbit = await RabbitProbe.connect();
    await rabbit.deleteQueues(names.WORKER_QUEUE, `${names.WORKER_QUEUE}.dlq`, names.ORCHESTRATOR_QUEUE);
    await rabbit.close();
  }
}
