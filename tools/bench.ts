import 'reflect-metadata';

import { cpus } from 'node:os';

import { EGRESS, egressBench } from './bench/egress.bench';
import { BATCH, memoryBench } from './bench/memory.bench';
import { WORKER_NODE_OPTIONS } from './bench/worker-child';
import { OVERHEAD, overheadBench } from './bench/overhead.bench';
import { PRICES, pricesBench } from './bench/prices.bench';
import { RATE, rateLimitBench } from './bench/rate-limit.bench';
import { failedPart, formatTable, Row } from './bench/report';

/**
 * `npm run bench`: measures, in one run, (a) how closely the Steam rate limit
 * is kept with two worker instances, beside Bull's own limiter, (b) what the
 * queue costs per Steam call with the limit lifted, beside direct HTTP and a
 * bare Bull round trip, (c) the worker's and Redis' memory during a
 * 10,000 × 5 batch, (d) the egress pool's throughput with 1, 2 and 4 proxies,
 * (e) the resume state's size (run with (d)) and (f) the Steam requests per
 * pair of apps.fetch and apps.prices. Prints one table (read it
 * with docs/benchmarks.md); exits 1 only when a part could not run.
 *
 * Needs the local RabbitMQ (127.0.0.1:5672) and Redis (127.0.0.1:6379); every
 * part uses its own queues and REDIS_PREFIX and removes them at the end.
 * `BENCH_PARTS=a,b` runs some parts only; `BENCH_DEBUG=1` also prints the
 * gaps between Steam arrivals of part (a).
 */

/** The whole run ends by itself even if a part hangs. */
const DEADLINE_MS = 9 * 60_000;

const PARTS: [string, (progress: (line: string) => void) => Promise<Row[]>][] = [
  ['(a)', rateLimitBench],
  ['(b)', overheadBench],
  ['(c)', memoryBench],
  ['(d)', egressBench],
  ['(f)', pricesBench],
];

function progress(line: string): void {
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${seconds} s] ${line}\n`);
}

function settings(): string {
  return [
    `Settings (node ${process.version}, ${cpus().length} CPUs, shared RabbitMQ and Redis on 127.0.0.1):`,
    `  (a) L=${RATE.limit} per W=${RATE.windowMs} ms, n=${RATE.requests} appdetails requests per workload.`,
    '      steam-worker: 2 worker processes (node dist/main.js), one REDIS_PREFIX and task queue,',
    '      STEAM_EGRESS_CONCURRENCY=1, STEAM_RATE_MARGIN_MS default (2 % of W = 40 ms);',
    '      steady = 6 apps.fetch tasks of 10 pairs published at once; burst = 1 app.fetch, then 59 pairs',
    '      (6 tasks) published 0.9 W after its request reached Steam.',
    '      Bull limiter: 2 Queue instances with limiter {max: L, duration: W}, processor concurrency 5 each,',
    '      calling the stand-in Steam over HTTP; the same two workloads as jobs (run alongside).',
    '      Each side has a stand-in Steam in a process of its own, which takes the arrival times.',
    '      utilisation = (n-1)*W/L / (last arrival - first arrival); above 1 means bursts.',
    `  (b) STEAM_RATE_LIMIT=1000000 per 1000 ms, STEAM_EGRESS_CONCURRENCY=${OVERHEAD.concurrency}; one in-process app,`,
    `      SteamRequestQueue.request(): ${OVERHEAD.calls} calls with ${OVERHEAD.concurrency} in flight (best of ${OVERHEAD.rounds}),`,
    `      ${OVERHEAD.sequentialCalls} sequential calls for latency (medians). Direct = axios GET to the same stand-in.`,
    '      Bare Bull = add -> processor -> global:completed on the same Redis, Steam job options, no limiter,',
    '      no HTTP; its processor returns an answer of the same size as the stand-in (tiny: a number).',
    '      Answers: 1 app in 10 free (3 KB), the rest priced (28 KB), from the stand-in Steam running in a',
    "      process of its own (serving them is Steam's cost, not the pipeline's).",
    `  (c) node dist/main.js with NODE_OPTIONS=${WORKER_NODE_OPTIONS} MALLOC_ARENA_MAX=2 (the Dockerfile's), limit lifted,`,
    `      STEAM_EGRESS_CONCURRENCY=64, STEAM_FEED_WINDOW=${BATCH.feedWindow},`,
    `      BACKEND_CONCURRENCY default; one apps.fetch of ${BATCH.apps} apps x ${BATCH.countries.join(',')};`,
    `      sampled every ${BATCH.sampleEveryMs} ms (prefix weighed every ${BATCH.weighEvery} samples). Stand-ins run in the bench process.`,
    `  (d) N forward proxies (test/support), STEAM_DIRECT=false, L=${EGRESS.limit} per W=${EGRESS.windowMs} ms each,`,
    `      ${EGRESS.windowsPerRun} windows of requests per egress; ratio = ideal time / actual time.`,
    '  (e) TaskProgressStore of a 10,000 x 50 batch, Redis MEMORY USAGE of its bitmap.',
    `  (f) node dist/main.js as in (c), both budgets lifted (1000000 per 1000 ms), STEAM_EGRESS_CONCURRENCY=${PRICES.egressConcurrency},`,
    `      one task each: apps.fetch, apps.prices appdetails, apps.prices storebrowse, ${PRICES.apps} apps (ids from`,
    `      ${PRICES.firstAppId}) x ${PRICES.countries.join(',')}; Steam requests counted by the stand-in. Projection:`,
    `      ${PRICES.projection.apps} x ${PRICES.projection.countries} at ${PRICES.projection.limit} per ${PRICES.projection.windowMs / 1000} s per budget + 2 % margin, budgets side by side.`,
    `      Memory: one apps.prices appdetails task of ${PRICES.memoryApps} x ${PRICES.countries.length}, VmRSS every 100 ms.`,
    '  Stand-ins keep idle connections 5 s (test/support closes them after 1 s, which Node clients never reuse).',
  ].join('\n');
}

const startedAt = performance.now();

async function main(): Promise<void> {
  const rows: Row[] = [];
  let crashed = false;
  const print = () => {
    process.stdout.write(`\n${settings()}\n\n${formatTable(rows)}\n`);
    const measured = rows.filter((row) => row.ok !== undefined);
    process.stdout.write(
      `\n${measured.filter((row) => row.ok).length} of ${measured.length} targets met; ` +
        `total ${((performance.now() - startedAt) / 1000).toFixed(0)} s.\n`,
    );
  };
  setTimeout(() => {
    progress(`deadline of ${DEADLINE_MS / 1000} s reached; printing what was measured`);
    rows.push(...failedPart('-', new Error('bench deadline reached')));
    print();
    process.exit(1);
  }, DEADLINE_MS).unref();

  // BENCH_PARTS=a,c runs only those parts (all by default).
  const only = process.env.BENCH_PARTS?.split(',').map((name) => `(${name.trim()})`);
  for (const [part, run] of PARTS.filter(([name]) => !only || only.includes(name))) {
    try {
      rows.push(...(await run(progress)));
    } catch (error) {
      crashed = true;
      progress(`${part} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      rows.push(...failedPart(part, error));
    }
  }
  print();
  // Bull and amqplib may keep sockets a moment longer; everything of ours is closed.
  process.exit(crashed ? 1 : 0);
}

void main();
