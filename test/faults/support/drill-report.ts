import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { projectRoot } from '../../support/project-root';

export interface DrillRow {
  drill: string;
  outcome: 'pass' | 'FAIL';
  /** The figure that proves it: "lost 0, duplicates 0", "max 5 in any 1000 ms (limit 5)", "recovered in 3.2 s". */
  figure: string;
}

/** A duration for a drill's figure: `3.2 s`. */
export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const REPORT = join(projectRoot(), 'build', 'fault-drills.jsonl');

/** Adds a row to the table `npm run test:faults` prints at the end. */
export function recordDrill(row: DrillRow): void {
  mkdirSync(join(projectRoot(), 'build'), { recursive: true });
  appendFileSync(REPORT, `${JSON.stringify(row)}\n`);
}

const SECRET_SCANS = join(projectRoot(), 'build', 'fault-drills-secret-scans.jsonl');

/** Notes that one drill's worker output (this many characters) was scanned for secrets and held none. */
export function recordSecretScan(characters: number): void {
  mkdirSync(join(projectRoot(), 'build'), { recursive: true });
  appendFileSync(SECRET_SCANS, `${characters}\n`);
}

export function resetDrillReport(): void {
  rmSync(REPORT, { force: true });
  rmSync(SECRET_SCANS, { force: true });
}

export function printDrillReport(): void {
  if (!existsSync(REPORT)) return;
  const rows = readFileSync(REPORT, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as DrillRow);
  if (existsSync(SECRET_SCANS)) {
    // Each drill throws at its end if a secret leaked, so a scan recorded here found none.
    const scans = readFileSync(SECRET_SCANS, 'utf8').split('\n').filter(Boolean).map(Number);
    const characters = scans.reduce((sum, n) => sum + n, 0);
    rows.push({
      drill: '9 secrets in logs',
      outcome: 'pass',
      figure: `0 secrets in ${(characters / 1024).toFixed(0)} KiB of worker output from ${scans.length} drill(s)`,
    });
  }
  const header: DrillRow = { drill: 'drill', outcome: 'outcome' as 'pass', figure: 'figure' };
  const width = (key: keyof DrillRow) => Math.max(...[header, ...rows].map((row) => row[key].length));
  const line = (row: DrillRow) =>
    `| ${row.drill.padEnd(width('drill'))} | ${row.outcome.padEnd(width('outcome'))} | ${row.figure.padEnd(width('figure'))} |`;
  const rule = `|${'-'.repeat(width('drill') + 2)}|${'-'.repeat(width('outcome') + 2)}|${'-'.repeat(width('figure') + 2)}|`;
  process.stdout.write(`\nFault drills\n${[line(header), rule, ...rows.map(line)].join('\n')}\n\n`);
}
