import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

import { METRICS } from '../../src/metrics/metric.catalogue';
import { scrape, valueOf } from '../support/prometheus-text';
import { waitFor } from '../support/rmq';
import { useWorld } from '../support/vitest-world';
import { promtoolPath } from './support/ops-tools';

/**
 * `promtool check metrics` (Prometheus' own linter of the text format and its
 * naming conventions) accepts what GET /metrics answers after a small task:
 * exit 0, no problem printed. The scrape is kept as test-artifacts/metrics.prom.
 */
describe('GET /metrics under promtool', () => {
  const world = useWorld('metrics-ops', () => ({}), { workers: 1 });

  it('passes `promtool check metrics` with no lint problem', async () => {
    const promtool = promtoolPath();
    world.standIns.backend.script = ({ appId }) => (appId === 52002 ? { status: 422, body: {} } : undefined);
    world.publishTask('apps.fetch', { taskId: 'metrics-ops-1', appIds: [52001, 52002], countries: ['DE', 'US'] });
    await world.resultOf('metrics-ops-1');
    const metrics = await waitFor(async () => {
      const scraped = await scrape(world.worker.url);
      return valueOf(scraped, METRICS.tasks.name, { outcome: 'done' }) === 1 && scraped;
    });

    // Kept for a look at what a scrape holds (git-ignored).
    const artifacts = resolve(__dirname, '../../test-artifacts');
    mkdirSync(artifacts, { recursive: true });
    writeFileSync(resolve(artifacts, 'metrics.prom'), metrics.text);

    const check = spawnSync(promtool, ['check', 'metrics'], { input: metrics.text, encoding: 'utf8' });

    expect({ status: check.status, problems: `${check.stdout}${check.stderr}`.trim() }).toEqual({
      status: 0,
      problems: '',
    });
  });
});
