import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { METRIC_PREFIX, METRICS } from '../../src/metrics/metric.catalogue';
import { MISNAMED_DEFAULT_GAUGES } from '../../src/metrics/worker.metrics';
import { STEAM_BUDGETS } from '../../src/steam/steam-budget';
import type { TaskFailureCode } from '../../src/tasks/task.errors';
import { TASK_PATTERNS } from '../../src/tasks/task-patterns';
import type { FailureReason } from '../../src/tasks/use-cases/batch.report';
import { projectRoot } from '../support/project-root';
import { literalValues, namesIn } from './support/promql-selectors';

const DEPLOY = join(projectRoot(), 'deploy');

/** Labels Prometheus (or prometheus-operator) adds to every scraped series. */
const TARGET_LABELS = ['job', 'instance', 'namespace', 'pod', 'service', 'container', 'endpoint'];

interface ProcessMetric {
  readonly name: string;
  readonly type: string;
  readonly labelNames?: readonly string[];
}

/** Each series name the worker exports, with its label names. */
async function exportedSeries(): Promise<Map<string, readonly string[]>> {
  const series = new Map<string, readonly string[]>();
  for (const family of Object.values(METRICS)) {
    if (family.kind === 'histogram') {
      series.set(`${family.name}_bucket`, [...family.labels, 'le']);
      series.set(`${family.name}_sum`, family.labels);
      series.set(`${family.name}_count`, family.labels);
    } else {
      series.set(family.name, family.labels);
    }
  }
  // prom-client's process metrics, as the worker registers them (same prefix).
  const register = new Registry();
  collectDefaultMetrics({ register, prefix: METRIC_PREFIX });
  for (const name of MISNAMED_DEFAULT_GAUGES) register.removeSingleMetric(`${METRIC_PREFIX}${name}`);
  // At run time these are the metric objects, which keep their configured label names.
  for (const metric of register.getMetricsAsArray() as unknown as ProcessMetric[]) {
    const labels = [...(metric.labelNames ?? [])];
    if (metric.type === 'histogram') {
      series.set(`${metric.name}_bucket`, [...labels, 'le']);
      series.set(`${metric.name}_sum`, labels);
      series.set(`${metric.name}_count`, labels);
    } else {
      series.set(metric.name, labels);
    }
  }
  return series;
}

/**
 * The values a label of the worker's own can take (src/metrics/metric.catalogue.ts):
 * a selector naming another value would never match. Labels not listed (egress) are open.
 */
const TASK_FAILURE_CODES = [
  'invalid_task',
  'steam_error',
  'not_configured',
  'too_many_deliveries',
] as const satisfies readonly TaskFailureCode[];
const FAILURE_REASONS = ['steam_error', 'backend_error', 'backend_rejected'] as const satisfies readonly FailureReason[];
const LABEL_VALUES: Record<string, Record<string, readonly string[]>> = {
  [METRICS.tasks.name]: { outcome: ['done', 'failed', 'invalid', 'requeued'] },
  [METRICS.taskDuration.name]: { outcome: ['done', 'failed', 'invalid', 'requeued'] },
  [METRICS.pairs.name]: { outcome: ['updated', ...FAILURE_REASONS] },
  [METRICS.deadLetters.name]: { reason: [...TASK_FAILURE_CODES, 'poison'] },
  [METRICS.steamRequests.name]: {
    outcome: ['ok', 'not_modified', 'rate_limited', 'transient', 'permanent', 'egress_error'],
  },
  [METRICS.steamJobs.name]: { state: ['waiting', 'active', 'delayed', 'failed', 'completed'] },
  [METRICS.backendPushes.name]: { kind: ['details', 'price'], outcome: ['accepted', 'rejected', 'error'] },
  [METRICS.tokenRenewals.name]: { outcome: ['ok', 'failed'] },
  [METRICS.egressState.name]: { state: ['ready', 'cooling', 'failing'] },
};
const SHARED_VALUES: Record<string, readonly string[]> = {
  pattern: [...TASK_PATTERNS, 'invalid'],
  budget: STEAM_BUDGETS,
};

/** The family a series belongs to: histogram series lose their suffix. */
const familyOf = (series: string): string => series.replace(/_(bucket|sum|count)$/, '');

function knownValues(series: string, label: string): readonly string[] | undefined {
  return LABEL_VALUES[familyOf(series)]?.[label] ?? SHARED_VALUES[label];
}

/** Every problem with the names one expression uses, as readable lines (none: all good). */
function problemsOf(expr: string, series: Map<string, readonly string[]>): string[] {
  const problems: string[] = [];
  const { selectors, groupingLabels } = namesIn(expr);
  const usable = new Set(TARGET_LABELS);
  for (const { metric, matchers } of selectors) {
    const labels = series.get(metric);
    if (!labels) {
      problems.push(`${metric} is not a metric the worker exports`);
      continue;
    }
    labels.forEach((label) => usable.add(label));
    for (const matcher of matchers) {
      if (!labels.includes(matcher.label) && !TARGET_LABELS.includes(matcher.label)) {
        problems.push(`${metric} has no label ${matcher.label}`);
      }
      const known = knownValues(metric, matcher.label);
      for (const value of known ? literalValues(matcher) : []) {
        if (!known?.includes(value)) problems.push(`${metric}{${matcher.label}} is never "${value}"`);
      }
    }
  }
  for (const label of groupingLabels) {
    if (!usable.has(label)) problems.push(`groups by ${label}, a label none of its metrics has`);
  }
  return problems;
}

interface Dashboard {
  panels: { title: string; targets?: { refId: string; expr: string }[] }[];
  templating: { list: { name: string; type: string; query?: string | { query: string } }[] };
}

/** Each query of the dashboard, named by where it sits; label_values(expr, label) checked as expr{label}. */
function dashboardQueries(): [string, string][] {
  const dashboard = JSON.parse(readFileSync(join(DEPLOY, 'grafana', 'steam-worker.dashboard.json'), 'utf8')) as Dashboard;
  const panels = dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((target): [string, string] => [`panel "${panel.title}" ${target.refId}`, target.expr]),
  );
  const variables = dashboard.templating.list
    .filter((variable) => variable.type === 'query')
    .map((variable): [string, string] => {
      const query = typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '');
      const [, expr, label] = /^label_values\((.+),\s*(\w+)\)$/.exec(query) ?? [];
      if (!expr) throw new Error(`variable ${variable.name}: only label_values(expr, label) is checked`);
      return [`variable ${variable.name}`, `count by (${label}) (${expr})`];
    });
  return [...panels, ...variables];
}

function ruleQueries(): [string, string][] {
  const file = parse(readFileSync(join(DEPLOY, 'prometheus', 'steam-worker.rules.yml'), 'utf8')) as {
    groups: { rules: { alert: string; expr: string }[] }[];
  };
  return file.groups.flatMap((group) => group.rules.map((rule): [string, string] => [`alert ${rule.alert}`, rule.expr]));
}

describe('the metric names used in deploy/', () => {
  it('are checked against the catalogue, histogram series and prom-client’s process metrics', async () => {
    const series = await exportedSeries();

    expect(series.get('steam_worker_task_duration_seconds_bucket')).toEqual(['pattern', 'outcome', 'le']);
    expect(series.has('steam_worker_process_resident_memory_bytes')).toBe(true);
    expect(series.has('steam_worker_nodejs_eventloop_lag_p99_seconds')).toBe(true);
  });

  it('catch a metric, a label or a label value the worker does not export', async () => {
    const series = await exportedSeries();

    expect(problemsOf('rate(steam_worker_tasks_total{outcome="failed"}[5m])', series)).toEqual([]);
    expect(problemsOf('steam_worker_task_duration_seconds', series)).toEqual([
      'steam_worker_task_duration_seconds is not a metric the worker exports',
    ]);
    expect(problemsOf('steam_worker_ready{pattern="apps.fetch"}', series)).toEqual([
      'steam_worker_ready has no label pattern',
    ]);
    expect(problemsOf('steam_worker_egress_state{state=~"cooling|down"}', series)).toEqual([
      'steam_worker_egress_state{state} is never "down"',
    ]);
    expect(problemsOf('sum by (egress) (steam_worker_tasks_in_flight)', series)).toEqual([
      'groups by egress, a label none of its metrics has',
    ]);
  });

  it.each(ruleQueries())('in the alert rules: %s', async (_where, expr) => {
    expect(problemsOf(expr, await exportedSeries())).toEqual([]);
  });

  it.each(dashboardQueries())('in the Grafana dashboard: %s', async (_where, expr) => {
    expect(problemsOf(expr, await exportedSeries())).toEqual([]);
  });
});
