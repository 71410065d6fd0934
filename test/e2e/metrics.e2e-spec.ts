import { describe, expect, it } from 'vitest';

import { METRIC_PREFIX, METRICS } from '../../src/metrics/metric.catalogue';
import { TEST_CLIENT_SECRET } from '../support/auth.stand-in';
import { Scrape, scrape, valueOf } from '../support/prometheus-text';
import { waitFor } from '../support/rmq';
import { range } from '../support/shapes';
import { appDetailsEntry } from '../support/steam.stand-in';
import { useWorld } from '../support/vitest-world';

/**
 * GET /metrics (docs/contract.md#http-endpoints, docs/operating/metrics.md):
 * two workers in one process, each with a registry of its own, scraped
 * before, during and after an apps.fetch batch with a scripted 429 and a
 * backend rejection; the values move, every family of the catalogue is
 * there, and no line carries the task's id, an app id or a secret.
 */

const TASK_ID = 'metrics-batch-7f3a9c';
const APP_IDS = range(48101, 6);
const COUNTRIES = ['DE', 'US', 'FR'];
const RATE_LIMITED = { appId: 48102, country: 'DE' };
const REJECTED = { appId: 48103, country: 'US' };
const SLOW = { appId: 48106, country: 'FR', delayMs: 2500 };

describe('GET /metrics', () => {
  const world = useWorld('metrics', () => ({ STEAM_TIMEOUT_MS: '10000' }), { workers: 2 });
  const scrapeAll = () => Promise.all(world.workers.map((worker) => scrape(worker.url)));
  const fetchDone = (scrapes: Scrape[]) =>
    valueOf(scrapes, METRICS.tasks.name, { pattern: 'apps.fetch', outcome: 'done' });

  it('answers in the text format with every family of the catalogue and Node process metrics, open to all', async () => {
    for (const metrics of await scrapeAll()) {
      for (const family of Object.values(METRICS)) expect(metrics.types.get(family.name)).toBe(family.kind);
      expect(metrics.types.get(`${METRIC_PREFIX}process_cpu_seconds_total`)).toBe('counter');
      expect(metrics.types.get(`${METRIC_PREFIX}nodejs_heap_size_used_bytes`)).toBe('gauge');
      expect([...metrics.types.keys()].every((name) => name.startsWith(METRIC_PREFIX))).toBe(true);
      expect(valueOf(metrics, METRICS.ready.name)).toBe(1);
      // Each egress budget is in exactly one state.
      for (const budget of ['store', 'api']) expect(valueOf(metrics, METRICS.egressState.name, { budget })).toBe(1);
    }
  });

  it('moves as a batch runs: tasks, pairs, Steam requests with a 429, slot waits, pushes, token renewals', async () => {
    const { steam, backend, auth } = world.standIns;
    steam.script = ({ appId, country, attempt }) => {
      if (appId === RATE_LIMITED.appId && country === RATE_LIMITED.country && attempt === 1) {
        return { status: 429, text: 'Too Many Requests' };
      }
      if (appId === SLOW.appId && country === SLOW.country) {
        return { status: 200, body: { [appId]: appDetailsEntry(appId, country) }, delayMs: SLOW.delayMs };
      }
      return undefined;
    };
    backend.script = ({ appId, country }) =>
      appId === REJECTED.appId && country === REJECTED.country ? { status: 422, body: { error: 'no' } } : undefined;
    // The workers' cached tokens now fail: the first push of the batch renews one.
    auth.expireAll();
    const before = await scrapeAll();

    world.publishTask('apps.fetch', { taskId: TASK_ID, appIds: APP_IDS, countries: COUNTRIES });

    // During: the slow pair (the last one fed) holds the task open for a while.
    const pairs = APP_IDS.length * COUNTRIES.length;
    const settledPairs = (scrapes: Scrape[]) => valueOf(scrapes, METRICS.pairs.name, { pattern: 'apps.fetch' });
    let during: Scrape[] = before;
    await waitFor(
      async () => {
        during = await scrapeAll();
        const running = valueOf(during, METRICS.tasksInFlight.name, { pattern: 'apps.fetch' }) === 1;
        return running && settledPairs(during) > settledPairs(before);
      },
      15_000,
      'a scrape while the batch runs, some pairs settled',
    );
    expect(settledPairs(during) - settledPairs(before)).toBeLessThan(pairs);
    expect(fetchDone(during)).toBe(fetchDone(before));
    expect(valueOf(during, METRICS.steamRequests.name, { outcome: 'ok' })).toBeGreaterThan(
      valueOf(before, METRICS.steamRequests.name, { outcome: 'ok' }),
    );

    const result = await world.resultOf(TASK_ID);
    expect(result.body).toMatchObject({ pattern: 'apps.fetch.done' });
    // The ack follows the result: wait until the runner counted it.
    let after: Scrape[] = during;
    await waitFor(async () => fetchDone((after = await scrapeAll())) === fetchDone(before) + 1, 5000, 'task counted');

    const moved = (name: string, labels: Record<string, string> = {}) =>
      valueOf(after, name, labels) - valueOf(before, name, labels);
    expect(moved(METRICS.tasksInFlight.name)).toBe(0);
    expect(moved(`${METRICS.taskDuration.name}_count`, { pattern: 'apps.fetch', outcome: 'done' })).toBe(1);
    expect(moved(METRICS.pairs.name, { pattern: 'apps.fetch', outcome: 'updated' })).toBe(pairs - 1);
    expect(moved(METRICS.pairs.name, { pattern: 'apps.fetch', outcome: 'backend_rejected' })).toBe(1);
    const store = { egress: 'direct', budget: 'store' };
    expect(moved(METRICS.steamRequests.name, { ...store, outcome: 'ok' })).toBe(pairs);
    expect(moved(METRICS.steamRequests.name, { ...store, outcome: 'rate_limited' })).toBe(1);
    expect(moved(`${METRICS.steamRequestDuration.name}_count`, { budget: 'store' })).toBe(pairs + 1);
    // One slot wait per job, on its first run (the 429's retry is the same job).
    expect(moved(`${METRICS.steamSlotWait.name}_count`, { budget: 'store' })).toBe(pairs);
    expect(moved(METRICS.backendPushes.name, { kind: 'details', outcome: 'accepted' })).toBe(pairs - 1);
    expect(moved(METRICS.backendPushes.name, { kind: 'details', outcome: 'rejected' })).toBe(1);
    expect(moved(`${METRICS.backendPushDuration.name}_count`)).toBeGreaterThanOrEqual(pairs);
    expect(moved(METRICS.tokenRenewals.name, { outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(moved(METRICS.tokenRenewals.name, { outcome: 'failed' })).toBe(0);
    expect(valueOf(after, METRICS.ready.name)).toBe(2);
    expect(valueOf(after, METRICS.steamJobs.name, { budget: 'store', state: 'completed' })).toBeGreaterThan(0);

    for (const metrics of [...before, ...during, ...after]) expectNothingSecretOrPerTask(metrics);
  });

  it('counts a message that is no task under the pattern `invalid`, with its dead letter', async () => {
    const before = await scrapeAll();
    world.publish({ pattern: 'apps.delete-everything', data: { taskId: 'metrics-unknown-1' } });
    await world.resultOf('metrics-unknown-1');
    let after: Scrape[] = before;
    const invalid = (scrapes: Scrape[]) =>
      valueOf(scrapes, METRICS.tasks.name, { pattern: 'invalid', outcome: 'invalid' });
    await waitFor(async () => invalid((after = await scrapeAll())) === invalid(before) + 1, 5000, 'invalid counted');
    expect(
      valueOf(after, METRICS.deadLetters.name, { reason: 'invalid_task' }) -
        valueOf(before, METRICS.deadLetters.name, { reason: 'invalid_task' }),
    ).toBe(1);
    for (const metrics of after) {
      expect(metrics.text).not.toContain('delete-everything');
      expectNothingSecretOrPerTask(metrics);
    }
  });

  const ours = (name: string) => Object.values(METRICS).some((family) => name.startsWith(family.name));

  /** No task id, no app id as a label value, no secret, anywhere in a scrape. */
  function expectNothingSecretOrPerTask(metrics: Scrape): void {
    const { steam, auth } = world.standIns;
    for (const secret of [TASK_ID, 'metrics-unknown-1', TEST_CLIENT_SECRET, steam.apiKey, ...auth.issued]) {
      expect(metrics.text).not.toContain(secret);
    }
    const appIds = new Set(APP_IDS.map(String));
    for (const sample of metrics.samples) {
      for (const [label, value] of Object.entries(sample.labels)) {
        expect(appIds.has(value), `${sample.name} ${label}="${value}"`).toBe(false);
        // Only a bucket bound may be a number among our own labels (nodejs_version_info has its major, say).
        if (ours(sample.name) && label !== 'le') expect(value, `${sample.name} ${label}`).not.toMatch(/^\d+$/);
      }
    }
  }
});
