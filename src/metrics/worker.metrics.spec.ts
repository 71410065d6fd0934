import { describe, expect, it } from 'vitest';

import type { Reservation } from '../steam/egress/reservation';
import { SteamRateLimitedError, SteamRequestCancelledError } from '../steam/steam.errors';
import { TaskFailedError } from '../tasks/task.errors';
import { METRIC_PREFIX, METRICS } from './metric.catalogue';
import { WorkerMetrics } from './worker.metrics';

/** The value of one sample of the text exposition, or undefined when it is not there. */
async function sample(metrics: WorkerMetrics, name: string, labels: Record<string, string> = {}) {
  const family = name.replace(/_(count|sum|bucket)$/, '');
  const metric = await (metrics.registry.getSingleMetric(name) ?? metrics.registry.getSingleMetric(family))?.get();
  const found = metric?.values.find(
    (value) =>
      ((value as { metricName?: string }).metricName ?? metric.name) === name &&
      Object.entries(labels).every(([key, wanted]) => String(value.labels[key]) === wanted),
  );
  return found?.value;
}

const reservation = { egress: { label: 'direct' }, budget: 'store' } as Reservation;
const job = (attemptsMade: number) => ({
  data: { kind: 'appdetails' as const, appId: 10, country: 'US' },
  timestamp: Date.now() - 2000,
  attemptsMade,
});

describe(WorkerMetrics.name, () => {
  it('registers every family of its own (besides the scrape-time gauges) and Node process metrics under the prefix', async () => {
    const metrics = new WorkerMetrics();
    const names = (await metrics.registry.getMetricsAsJSON()).map((metric) => metric.name);
    const scrapeTime = [METRICS.steamJobs, METRICS.egressState, METRICS.ready].map((family) => family.name);
    for (const family of Object.values(METRICS)) {
      if (!scrapeTime.includes(family.name)) expect(names).toContain(family.name);
    }
    expect(names).toContain(`${METRIC_PREFIX}process_cpu_seconds_total`);
    expect(names.every((name) => name.startsWith(METRIC_PREFIX))).toBe(true);
  });

  it('keeps the counts of two apps in one process apart', async () => {
    const [one, two] = [new WorkerMetrics(), new WorkerMetrics()];
    one.taskStarted('apps.fetch').settled('ack');
    expect(await sample(one, METRICS.tasks.name, { pattern: 'apps.fetch', outcome: 'done' })).toBe(1);
    expect(await sample(two, METRICS.tasks.name, { pattern: 'apps.fetch', outcome: 'done' })).toBe(0);
  });

  it('counts a delivery once, in flight until it settles, and its dead letter by reason', async () => {
    const metrics = new WorkerMetrics();
    const meter = metrics.taskStarted('apps.fetch');
    expect(await sample(metrics, METRICS.tasksInFlight.name, { pattern: 'apps.fetch' })).toBe(1);
    meter.settled('dead-letter', new TaskFailedError('too_many_deliveries', 'crash loop'));
    meter.settled('requeue');
    expect(await sample(metrics, METRICS.tasksInFlight.name, { pattern: 'apps.fetch' })).toBe(0);
    expect(await sample(metrics, METRICS.tasks.name, { pattern: 'apps.fetch', outcome: 'failed' })).toBe(1);
    expect(await sample(metrics, METRICS.tasks.name, { pattern: 'apps.fetch', outcome: 'requeued' })).toBe(0);
    expect(await sample(metrics, METRICS.deadLetters.name, { reason: 'too_many_deliveries' })).toBe(1);
    expect(
      await sample(metrics, `${METRICS.taskDuration.name}_count`, { pattern: 'apps.fetch', outcome: 'failed' }),
    ).toBe(1);
  });

  it('labels a delivery of no known task type invalid, never with the string it carried', async () => {
    const metrics = new WorkerMetrics();
    metrics.taskStarted('drop table tasks').settled('dead-letter');
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('drop table');
    expect(await sample(metrics, METRICS.tasks.name, { pattern: 'invalid', outcome: 'invalid' })).toBe(1);
    expect(await sample(metrics, METRICS.deadLetters.name, { reason: 'poison' })).toBe(1);
  });

  it('counts pairs under the pattern of their task', async () => {
    const metrics = new WorkerMetrics();
    const meter = metrics.taskStarted('apps.prices');
    meter.pairSettled('updated');
    meter.pairSettled('backend_rejected');
    expect(await sample(metrics, METRICS.pairs.name, { pattern: 'apps.prices', outcome: 'updated' })).toBe(1);
    expect(await sample(metrics, METRICS.pairs.name, { pattern: 'apps.prices', outcome: 'backend_rejected' })).toBe(1);
  });

  it('counts Steam answers by egress, budget and outcome, and the slot wait of a first run only', async () => {
    const metrics = new WorkerMetrics();
    await metrics.steamCall(job(0), reservation, Promise.resolve('answer'));
    await expect(
      metrics.steamCall(job(1), reservation, Promise.reject(new SteamRateLimitedError('429', undefined))),
    ).rejects.toThrow('429');
    await expect(
      metrics.steamCall(job(2), reservation, Promise.reject(new SteamRequestCancelledError())),
    ).rejects.toThrow();
    const labels = { egress: 'direct', budget: 'store' };
    expect(await sample(metrics, METRICS.steamRequests.name, { ...labels, outcome: 'ok' })).toBe(1);
    expect(await sample(metrics, METRICS.steamRequests.name, { ...labels, outcome: 'rate_limited' })).toBe(1);
    expect(await sample(metrics, `${METRICS.steamRequestDuration.name}_count`, { budget: 'store' })).toBe(2);
    expect(await sample(metrics, `${METRICS.steamSlotWait.name}_count`, { budget: 'store' })).toBe(1);
    expect(await sample(metrics, `${METRICS.steamSlotWait.name}_sum`, { budget: 'store' })).toBeGreaterThanOrEqual(2);
  });
});
