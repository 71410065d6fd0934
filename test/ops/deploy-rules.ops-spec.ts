import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { projectRoot } from '../support/project-root';
import { promtoolPath } from './support/ops-tools';

const RULES_DIR = join(projectRoot(), 'deploy', 'prometheus');

/** Runs promtool in deploy/prometheus (the unit tests name their rule file relative to it). */
function promtool(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync(promtoolPath(), args, { cwd: RULES_DIR, encoding: 'utf8', timeout: 30_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
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
