import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

import { projectRoot } from '../support/project-root';
import { promtoolPath } from './support/ops-tools';

const DEPLOY = join(projectRoot(), 'deploy');
const RULES_DIR = join(DEPLOY, 'prometheus');

/** Runs promtool in deploy/prometheus (the unit tests name their rule file relative to it). */
function promtool(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync(promtoolPath(), args, { cwd: RULES_DIR, encoding: 'utf8', timeout: 30_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

interface Dashboard {
  panels: { targets?: { expr: string }[] }[];
  templating: { list: { type: string; query?: string | { query: string } }[] };
}

/**
 * The dashboard's queries as plain PromQL: Grafana's interval becomes 5m, a
 * variable standing for a number becomes one (variables inside label matchers
 * stay: `"$job"` is a valid regular expression), label_values(expr, label) its expr.
 */
function dashboardPromQL(): string[] {
  const dashboard = JSON.parse(
    readFileSync(join(DEPLOY, 'grafana', 'steam-worker.dashboard.json'), 'utf8'),
  ) as Dashboard;
  const panels = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
  const variables = dashboard.templating.list
    .filter((variable) => variable.type === 'query')
    .map((variable) => (typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '')))
    .map((query) => query.replace(/^label_values\((.+),\s*\w+\)$/, '$1'));
  return [...panels, ...variables].map((expr) =>
    expr.replaceAll('$__rate_interval', '5m').replace(/vector\(\$\w+\)/g, 'vector(40)'),
  );
}

describe('the Prometheus alerting rules in deploy/prometheus', () => {
  it('pass promtool check rules', () => {
    const { status, output } = promtool('check', 'rules', 'steam-worker.rules.yml');

    expect(output).toContain('SUCCESS');
    expect(status, output).toBe(0);
  });

  it('pass their promtool unit tests, each alert firing and not firing', () => {
    const { status, output } = promtool('test', 'rules', 'steam-worker.rules.test.yml');

    expect(status, output).toBe(0);
  });
});

describe('the Grafana dashboard in deploy/grafana', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'steam-worker-dashboard-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('asks only queries that Prometheus parses (checked as recording rules by promtool)', () => {
    const queries = dashboardPromQL();
    const rules = queries.map((expr, i) => ({ record: `dashboard_query_${i + 1}`, expr }));
    const file = join(scratch, 'dashboard.rules.yml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));

    const { status, output } = promtool('check', 'rules', file);

    expect(queries.length).toBeGreaterThan(20);
    expect(output).toContain(`SUCCESS: ${queries.length} rules found`);
    expect(status, output).toBe(0);
  });
});
