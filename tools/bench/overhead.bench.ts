import axios from 'axios';
import Bull from 'bull';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';

import { STEAM_JOB_OPTIONS } from '../../src/steam/steam-queue.constants';
import { SteamRequestQueue } from '../../src/steam/steam-request.queue';
import { RabbitProbe, waitFor } from '../../test/support/rmq';
import { appDetailsEntry } from '../../test/support/steam.stand-in';
import { isolatedNames, startTestWorker, testEnvironment } from '../../test/support/worker.harness';
import { startLeanStandIns } from './lean-stand-ins';
import { pipelineBreakdown } from './pipeline-breakdown';
import { startRemoteSteam } from './steam-server';
import { deleteKeysUnder, REDIS_URL } from './redis-keys';
import { fixed, median, Row, runPool, sequentialTimes, whole } from './report';

export const OVERHEAD = {
  calls: 2000,
  concurrency: 64,
  sequentialCalls: 300,
  /** Sequential calls timed stage by stage (instances wrapped) after the rest. */
  breakdownCalls: 150,
  /** Throughput rounds per contender; the best counts (the machine is shared). */
  rounds: 2,
} as const;

/** App ids as the stand-in answers them: one in ten free (3 KB), the rest priced (28 KB). */
const appIdFor = (index: number) => 1 + (index % 5000);

type Call = (index: number) => Promise<unknown>;

/** In the order they are measured. */
const CONTENDERS = ['direct', 'bare', 'bareAnswers', 'pipeline'] as const;
type Contender = (typeof CONTENDERS)[number];

/**
 * A bare Bull round trip on the same Redis: `add` → processor → completion,
 * with the same job options as the Steam queue and one `global:completed`
 * listener for every waiting caller (as SteamRequestQueue does). No limiter, no
 * HTTP: the floor of any Bull-based design. With `answers`, the processor
 * returns an answer of the same size as the stand-in Steam's for that app
 * (every Bull design carries Steam's answer back through Redis); without, a
 * number.
 */
async function bareBull(prefix: string, name: string, answers: boolean) {
  const queue = new Bull(name, { redis: REDIS_URL, prefix });
  const waiters = new Map<string, () => void>();
  queue.on('global:completed', (jobId: string) => waiters.get(jobId)?.());
  const free = { available: true, details: appDetailsEntry(10, 'US').data };
  const priced = { available: true, details: appDetailsEntry(11, 'US').data };
  void queue.process('*', OVERHEAD.concurrency, (job: Bull.Job<{ appId: number }>) => {
    if (!answers) return Promise.resolve({ ok: true, value: job.data.appId });
    return Promise.resolve({ ok: true, value: job.data.appId % 10 === 0 ? free : priced });
  });
  await queue.isReady();
  const call: Call = async (index) => {
    const jobId = randomUUID();
    const done = new Promise<void>((resolve) => waiters.set(jobId, resolve));
    try {
      await queue.add(name, { appId: appIdFor(index) }, { ...STEAM_JOB_OPTIONS, jobId });
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
  const steam = await startRemoteSteam();
  const env = {
    ...testEnvironment(standIns, names),
    STEAM_API_URL: steam.url,
    STEAM_STORE_URL: steam.url,
    STEAM_RATE_LIMIT: '1000000',
    STEAM_RATE_WINDOW_MS: '1000',
    STEAM_EGRESS_CONCURRENCY: String(OVERHEAD.concurrency),
    // What a deployment runs: the cost of logging is part of the measured latency.
    LOG_LEVEL: 'info',
  };
  const worker = await startTestWorker(env);
  const bare = await bareBull(bareNames.REDIS_PREFIX, 'bare', false);
  const bareAnswers = await bareBull(bareNames.REDIS_PREFIX, 'bare-answers', true);
  try {
    await waitFor(async () => (await fetch(`${worker.url}/health/ready`)).status === 200, 20_000, 'readiness');
    const steamQueue = worker.app.get(SteamRequestQueue);
    const http = axios.create({ timeout: 5000 });
    const contenders: Record<Contender, Call> = {
      pipeline: (index) => steamQueue.request({ kind: 'appdetails', appId: appIdFor(index), country: 'US' }),
      direct: (index) =>
        http.get(`${steam.url}/api/appdetails`, {
          params: { appids: appIdFor(index), cc: 'US', l: 'english' },
          responseType: 'json',
        }),
      bare: bare.call,
      bareAnswers: bareAnswers.call,
    };

    progress('(b) warming up');
    for (const call of Object.values(contenders)) await runPool(300, OVERHEAD.concurrency, call);

    progress(
      `(b) throughput: ${OVERHEAD.calls} calls with ${OVERHEAD.concurrency} in flight, best of ${OVERHEAD.rounds}`,
    );
    const rate = {} as Record<Contender, number>;
    for (const name of CONTENDERS) rate[name] = await bestRate(contenders[name]);

    progress(`(b) latency: ${OVERHEAD.sequentialCalls} sequential calls each, interleaved in rounds`);
    const latency = Object.fromEntries(CONTENDERS.map((name) => [name, [] as number[]])) as Record<Contender, number[]>;
    const perRound = OVERHEAD.sequentialCalls / 3;
    for (let round = 0; round < 3; round++) {
      for (const name of CONTENDERS) {
        latency[name].push(...(await sequentialTimes(perRound, (index) => contenders[name](round * perRound + index))));
      }
    }
    const medians = Object.fromEntries(CONTENDERS.map((name) => [name, median(latency[name])])) as Record<
      Contender,
      number
    >;
    const addedMs = medians.pipeline - medians.direct;
    progress(`(b) where a sequential pipeline call spends its time: ${OVERHEAD.breakdownCalls} calls`);
    const breakdown = await pipelineBreakdown(worker.app, OVERHEAD.breakdownCalls, appIdFor);
    const part = '(b)';
    return [
      {
        part,
        measure: `Steam calls/s through the queue, ${OVERHEAD.concurrency} in flight, limit lifted`,
        worker: `${whole(rate.pipeline)}/s`,
        comparison:
          `bare Bull ${whole(rate.bareAnswers)}/s (tiny results ${whole(rate.bare)}/s), direct HTTP ${whole(rate.direct)}/s; ` +
          `Bull + HTTP costs added: ${whole(1 / (1 / rate.bareAnswers + 1 / rate.direct))}/s`,
        target: `>= 0.5 x bare Bull (${whole(rate.bareAnswers / 2)}/s)`,
        ok: rate.pipeline >= rate.bareAnswers / 2,
      },
      {
        part,
        measure: 'median added latency per call, one at a time',
        worker: `${fixed(addedMs)} ms (call ${fixed(medians.pipeline)} ms)`,
        comparison: `direct HTTP ${fixed(medians.direct)} ms, bare Bull ${fixed(medians.bareAnswers)} ms (tiny ${fixed(medians.bare)} ms)`,
        target: '<= 3 ms over direct',
        ok: addedMs <= 3,
      },
      {
        part,
        measure: 'where a sequential pipeline call spends its time',
        worker: breakdown.slice(0, breakdown.indexOf(' =')),
        comparison: breakdown.slice(breakdown.indexOf('= ') + 2),
        target: '-',
      },
    ];
  } finally {
    await worker.close().catch(() => undefined);
    await bare.close().catch(() => undefined);
    await bareAnswers.close().catch(() => undefined);
    await standIns.stop();
    await steam.stop();
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
