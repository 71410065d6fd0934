/**
 * `npm run demo`: the whole flow on one machine with only RabbitMQ and Redis.
 * Starts stand-ins for Steam (real answers from test/fixtures/steam, each
 * country in its own currency), the auth server and the backend, starts the
 * built worker (`node dist/main.js`), publishes one task of each type as the
 * orchestrator would, prints what the orchestrator receives, what the backend
 * stored and the Steam requests each kind of task took, then stops the worker
 * with SIGTERM and exits.
 */
import Redis from 'ioredis';

import { RabbitProbe, waitFor } from '../test/support/rmq';
import { isolatedNames, startStandIns, testEnvironment } from '../test/support/worker.harness';
import { spawnWorker } from '../test/support/worker.process';

/** Steam's real price batch: priced, free, discounted, free, unknown. */
const PRICE_APPS = [620, 570, 1174180, 323180, 999999999];

const TASKS = [
  { pattern: 'apps.list', data: { taskId: 'demo-list' } },
  { pattern: 'app.fetch', data: { taskId: 'demo-one', appId: 620, country: 'de' } },
  {
    pattern: 'apps.fetch',
    data: { taskId: 'demo-batch', appIds: [620, 323180, 999999999], countries: ['us', 'de', 'jp'] },
  },
  {
    pattern: 'apps.prices',
    data: { taskId: 'demo-prices', appIds: PRICE_APPS, countries: ['us', 'de', 'jp'] },
  },
];

async function main(): Promise<void> {
  const standIns = await startStandIns();
  standIns.steam.appList = [10, 20, 30, 620, 323180, 508530, 1174180];
  standIns.steam.pageSize = 3;
  const names = isolatedNames('demo');
  const port = String(30000 + Math.floor(Math.random() * 20000));
  const worker = spawnWorker({
    ...testEnvironment(standIns, names),
    HTTP_PORT: port,
    HTTP_HOST: '127.0.0.1',
    // A real deployment runs at Steam's 40 a minute per budget; the demo shows the
    // spacing at 5 a second for the store (appdetails) and for the Web API (GetAppList).
    STEAM_RATE_LIMIT: '5',
    STEAM_RATE_WINDOW_MS: '1000',
    STEAM_API_RATE_LIMIT: '5',
    STEAM_API_RATE_WINDOW_MS: '1000',
    LOG_LEVEL: 'warn',
  });
  const rabbit = await RabbitProbe.connect();
  try {
    const results = await rabbit.collect(names.ORCHESTRATOR_QUEUE);
    console.log(`Worker started (pid ${worker.child.pid}); waiting until /health/ready answers 200 …`);
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined))?.status === 200,
      60_000,
      'the worker',
    );
    for (const task of TASKS) {
      console.log(`→ publish to ${names.WORKER_QUEUE}: ${JSON.stringify(task)}`);
      rabbit.publish(names.WORKER_QUEUE, task);
    }
    await waitFor(() => results.length >= TASKS.length, 60_000, 'the results');
    console.log(`\nThe orchestrator received on ${names.ORCHESTRATOR_QUEUE}:`);
    for (const { body } of results) console.log(`← ${JSON.stringify(body)}`);
    console.log('\nThe backend stored:');
    console.table(
      [...standIns.backend.stored.values()].map(({ appId, country, available, details }) => {
        const data = details as {
          name?: string;
          is_free?: boolean;
          price_overview?: { currency: string; final_formatted: string };
        } | null;
        return {
          appId,
          country,
          available,
          name: data?.name ?? '',
          price: data?.is_free ? 'free' : (data?.price_overview?.final_formatted ?? ''),
          currency: data?.price_overview?.currency ?? '',
        };
      }),
    );
    console.log('\nThe backend stored these prices (apps.prices):');
    console.table(
      [...standIns.backend.storedPrices.values()].map(({ appId, country, available, isFree, price }) => ({
        appId,
        country,
        available,
        isFree,
        price: (price?.finalFormatted as string | undefined) ?? '',
        currency: (price?.currency as string | undefined) ?? '',
        discount: price?.discountPercent ? `${price.discountPercent as number} %` : '',
      })),
    );
    const details = standIns.steam.appDetailsRequests.length;
    const prices = standIns.steam.priceRequests().length;
    console.log(
      `Steam requests: app.fetch + apps.fetch took ${details} for ${1 + 3 * 3} pairs (one per pair); ` +
        `apps.prices took ${prices} for ${PRICE_APPS.length * 3} pairs (one per country, many apps each).`,
    );
    const times = standIns.steam.arrivalTimes;
    console.log(
      `Steam saw ${times.length} requests in ${((Math.max(...times) - Math.min(...times)) / 1000).toFixed(1)} s ` +
        `(limit 5 per second for the store and 5 for the Web API, spaced by the shared Redis limiter).`,
    );
  } finally {
    worker.child.kill('SIGTERM');
    console.log(`Worker stopped with exit code ${await worker.exited}.`);
    await rabbit.deleteQueues(names.WORKER_QUEUE, `${names.WORKER_QUEUE}.dlq`, names.ORCHESTRATOR_QUEUE);
    await rabbit.close();
    await removeKeys(names.REDIS_PREFIX);
    await standIns.stop();
  }
}

async function removeKeys(prefix: string): Promise<void> {
  const redis = new Redis('redis://127.0.0.1:6379');
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
