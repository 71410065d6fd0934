import { beforeAll, describe, expect, it } from 'vitest';

import { RedisServer } from '../support/redis-server';
import { waitFor } from '../support/rmq';
import { range, sleep } from '../support/shapes';
import { recordDrill, seconds } from './support/drill-report';
import { DrillWorker } from './support/drill';
import { expectReportedOnce, useDrill } from './support/use-drill';

interface Probe {
  at: number;
  status: number | undefined;
}

/** Polls one health endpoint until stopped, recording every answer. */
function pollHealth(url: string): { probes: Probe[]; stop: () => Promise<void> } {
  const probes: Probe[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const status = (await fetch(url, { signal: AbortSignal.timeout(5000) }).catch(() => undefined))?.status;
      probes.push({ at: Date.now(), status });
      await sleep(200);
    }
  })();
  return {
    probes,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/**
 * A drill of this file, with a redis-server of its own (on its own port, with
 * nothing kept on disk) for the workers: killing it takes their Redis away
 * without touching the shared one.
 */
function useRedisDrill(label: string) {
  const redis = new RedisServer();
  const drill = useDrill(label, { tearDown: () => redis.kill() });
  beforeAll(async () => {
    await redis.start();
  });
  return { drill, redis };
}

/** Drill 4: the worker's Redis dies and comes back on the same port. */
describe('drill: Redis down and back', () => {
  const { drill, redis } = useRedisDrill('redis');

  it('turns unready while Redis is away, stays live, recovers without a restart and completes a task sent during the outage', async () => {
    const worker: DrillWorker = await drill.spawn({ REDIS_URL: redis.url() });
    const pid = worker.child.pid;
    const liveness = pollHealth(`${worker.url}/health`);
    const readiness = pollHealth(`${worker.url}/health/ready`);
    const readyStatus = () => readiness.probes.at(-1)?.status;
    /** Waits for the first readiness answer `status` after `since`; returns how long after `since` it came. */
    const readinessAfter = async (since: number, status: number, what: string) => {
      const probe = await waitFor(
        () => readiness.probes.find((answer) => answer.at > since && answer.status === status),
        15_000,
        what,
      );
      return probe.at - since;
    };
    try {
      await waitFor(() => readyStatus() === 200, 10_000, 'readiness 200 before the outage');

      const killedAt = Date.now();
      await redis.kill();
      const unreadyMs = await readinessAfter(killedAt, 503, 'readiness 503');

      const appIds = [6001, 6002, 6003];
      drill.publish({ pattern: 'apps.fetch', data: { taskId: 'during-outage', appIds, countries: ['FR', 'IT'] } });
      // The task reaches the worker while Redis is still away.
      await sleep(3000);
      expect(drill.resultsFor('during-outage')).toEqual([]);

      const backAt = Date.now();
      await redis.start();
      const readyAgainMs = await readinessAfter(backAt, 200, 'readiness 200 after Redis returned');

      await waitFor(() => drill.resultsFor('during-outage').length >= 1, 30_000, 'the task sent during the outage');
      await sleep(1000);
      await liveness.stop();
      await readiness.stop();

      expectReportedOnce(drill, 'during-outage', {
        pattern: 'apps.fetch.done',
        data: { taskId: 'during-outage', updated: appIds, failed: [] },
      });
      const missing = appIds.flatMap((appId) =>
        ['FR', 'IT'].filter((cc) => !drill.standIns.backend.stored.has(`${appId}/${cc}`)),
      );
      expect(missing).toEqual([]);
      expect(drill.deadLetters).toEqual([]);
      // Liveness: a Redis outage is not a reason to restart.
      const outageProbes = liveness.probes.filter((probe) => probe.at > killedAt && probe.at < backAt);
      expect(outageProbes.length).toBeGreaterThan(0);
      expect(liveness.probes.filter((probe) => probe.status !== 200)).toEqual([]);
      expect(worker.child.exitCode).toBeNull();
      expect(worker.child.pid).toBe(pid);

      recordDrill({
        drill: '4 Redis down and back',
        outcome: 'pass',
        figure:
          `ready 503 ${seconds(unreadyMs)} after the kill, 200 ${seconds(readyAgainMs)} after Redis returned; ` +
          `liveness 200 in ${liveness.probes.length} probes; task sent during the outage: results 1, lost 0; same pid`,
      });
    } finally {
      await liveness.stop();
      await readiness.stop();
    }
  });
});

describe('drill: Redis lost under a batch in flight', () => {
  const { drill, redis } = useRedisDrill('redis-batch');

  it('finishes a batch whose Redis died and came back empty in the middle of it, and reports it once', async () => {
    const appIds = range(7000, 40);
    const worker = await drill.spawn({
      REDIS_URL: redis.url(),
      STEAM_RATE_LIMIT: '10',
      STEAM_RATE_WINDOW_MS: '1000',
      STEAM_FEED_WINDOW: '4',
    });
    drill.publish({ pattern: 'apps.fetch', data: { taskId: 'under-way', appIds, countries: ['NL'] } });
    await waitFor(() => drill.standIns.backend.stored.size >= 5, 30_000, 'the batch under way');
    await redis.kill();
    await sleep(2000);
    const backAt = Date.now();
    await redis.start();

    await waitFor(() => drill.resultsFor('under-way').length >= 1, 40_000, 'the batch result');
    const doneMs = Date.now() - backAt;
    await sleep(1000);

    expectReportedOnce(drill, 'under-way', {
      pattern: 'apps.fetch.done',
      data: { taskId: 'under-way', updated: appIds, failed: [] },
    });
    expect(appIds.filter((appId) => !drill.standIns.backend.stored.has(`${appId}/NL`))).toEqual([]);
    expect(worker.child.exitCode).toBeNull();

    recordDrill({
      drill: '4 Redis lost under a batch',
      outcome: 'pass',
      figure: `batch done ${seconds(doneMs)} after Redis returned empty: results 1, lost 0; same pid`,
    });
  });
});
