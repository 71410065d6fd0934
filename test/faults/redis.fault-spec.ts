import { ChildProcess, spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { waitFor } from '../support/rmq';
import { recordDrill } from './support/drill-report';
import { Drill, DrillWorker, freePort } from './support/drill';

type Done = { pattern: string; data: { taskId: string; updated: number[]; failed: unknown[] } };

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A redis-server of the drill's own, on its own port, with nothing kept on
 * disk: killing it takes the worker's Redis away without touching the shared one.
 */
class OwnRedis {
  private process?: ChildProcess;

  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    this.process = child;
    await waitFor(() => this.ping(), 10_000, `redis-server on port ${this.port}`);
  }

  /** SIGKILL: the server vanishes mid-conversation, as in a crash. */
  async kill(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  private async ping(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = createConnection(this.port, '127.0.0.1');
      let answer = '';
      socket.setTimeout(500, () => socket.destroy());
      socket.on('error', () => resolve(false));
      socket.on('close', () => resolve(answer.startsWith('+PONG')));
      socket.on('data', (chunk) => {
        answer += chunk.toString();
        if (answer.includes('\r\n')) socket.end();
      });
      socket.write('PING\r\n');
    });
  }
}

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

/** Drill 4: the worker's Redis dies and comes back on the same port. */
describe('drill: Redis down and back', () => {
  const drill = new Drill('redis');
  let redis: OwnRedis;

  beforeAll(async () => {
    await drill.start();
    redis = new OwnRedis(await freePort());
    await redis.start();
  });

  afterAll(async () => {
    try {
      await drill.stop();
    } finally {
      await redis?.kill();
    }
  });

  it('turns unready while Redis is away, stays live, recovers without a restart and completes a task sent during the outage', async () => {
    const worker: DrillWorker = await drill.spawn({ REDIS_URL: redis.url });
    const pid = worker.child.pid;
    const liveness = pollHealth(`${worker.url}/health`);
    const readiness = pollHealth(`${worker.url}/health/ready`);
    const readyStatus = () => readiness.probes.at(-1)?.status;
    try {
      await waitFor(() => readyStatus() === 200, 10_000, 'readiness 200 before the outage');

      const killedAt = Date.now();
      await redis.kill();
      await waitFor(
        () => readiness.probes.some((probe) => probe.at > killedAt && probe.status === 503),
        15_000,
        'readiness 503',
      );
      const unreadyMs = readiness.probes.find((probe) => probe.at > killedAt && probe.status === 503)!.at - killedAt;

      const appIds = [6001, 6002, 6003];
      drill.publish({ pattern: 'apps.fetch', data: { taskId: 'during-outage', appIds, countries: ['FR', 'IT'] } });
      // The task reaches the worker while Redis is still away.
      await sleep(3000);
      expect(drill.resultsFor('during-outage')).toEqual([]);

      const backAt = Date.now();
      await redis.start();
      await waitFor(
        () => readiness.probes.some((probe) => probe.at > backAt && probe.status === 200),
        15_000,
        'readiness 200 after Redis returned',
      );
      const readyAgainMs = readiness.probes.find((probe) => probe.at > backAt && probe.status === 200)!.at - backAt;

      await waitFor(() => drill.resultsFor('during-outage').length >= 1, 30_000, 'the task sent during the outage');
      await sleep(1000);
      await liveness.stop();
      await readiness.stop();

      expect(drill.resultsFor('during-outage')).toHaveLength(1);
      expect(drill.resultsFor('during-outage')[0]!.body as Done).toEqual({
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
  const drill = new Drill('redis-batch');
  let redis: OwnRedis;

  beforeAll(async () => {
    await drill.start();
    redis = new OwnRedis(await freePort());
    await redis.start();
  });

  afterAll(async () => {
    try {
      await drill.stop();
    } finally {
      await redis?.kill();
    }
  });

  it('finishes a batch whose Redis died and came back empty in the middle of it, and reports it once', async () => {
    const appIds = Array.from({ length: 40 }, (_, i) => 7000 + i);
    const worker = await drill.spawn({
      REDIS_URL: redis.url,
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

    expect(drill.resultsFor('under-way')).toHaveLength(1);
    expect(drill.resultsFor('under-way')[0]!.body as Done).toEqual({
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
