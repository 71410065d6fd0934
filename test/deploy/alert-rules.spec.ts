import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { projectRoot } from '../support/project-root';

const ROOT = projectRoot();
const RULES_DIR = join(ROOT, 'deploy', 'prometheus');
const RUNBOOK = 'docs/operating/alerts.md';

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleTests {
  tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}

const rules = (
  parse(readFileSync(join(RULES_DIR, 'steam-worker.rules.yml'), 'utf8')) as { groups: { rules: AlertRule[] }[] }
).groups.flatMap((group) => group.rules);
const ruleTests = (parse(readFileSync(join(RULES_DIR, 'steam-worker.rules.test.yml'), 'utf8')) as RuleTests).tests
  .flatMap((test) => test.alert_rule_test ?? []);
/** GitHub's anchors of the runbook's headings: lower case, punctuation dropped, spaces as dashes. */
const anchors = readFileSync(join(ROOT, RUNBOOK), 'utf8')
  .split('\n')
  .filter((line) => line.startsWith('#'))
  .map((heading) =>
    heading
      .replace(/^#+\s*/, '')
      .toLowerCase()
      .replace(/[^\w\s-]/g, '')
      .replace(/\s/g, '-'),
  );

describe('the alerting rules in deploy/prometheus', () => {
  it('are all alerts, eight of them', () => {
    expect(rules.map((rule) => rule.alert)).toHaveLength(8);
  });

  it.each(rules.map((rule) => [rule.alert, rule] as const))(
    '%s waits, has a severity, a summary, a description and a runbook entry',
    (_alert, rule) => {
      expect(rule.for).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning']).toContain(rule.labels?.severity);
      expect(rule.annotations).toEqual({
        summary: expect.any(String),
        description: expect.any(String),
        runbook_url: `${RUNBOOK}#${rule.alert.toLowerCase()}`,
      });
      expect(anchors).toContain(rule.alert.toLowerCase());
    },
  );

  it.each(rules.map((rule) => rule.alert))('%s has promtool tests that see it fire and stay quiet', (alert) => {
    const cases = ruleTests.filter((test) => test.alertname === alert);

    expect(cases.some((test) => (test.exp_alerts ?? []).length > 0), 'a firing case').toBe(true);
    expect(cases.some((test) => (test.exp_alerts ?? []).length === 0), 'a quiet case').toBe(true);
  });
});
