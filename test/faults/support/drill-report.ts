import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { projectRoot } from '../../support/project-root';

export interface DrillRow {
  drill: string;
  outcome: 'pass' | 'FAIL';
  /** The figure that proves it: "lost 0, duplicates 0", "max 5 in any 1000 ms (limit 5)", "recovered in 3.2 s". */
  figure: string;
}

const REPORT = join(projectRoot(), 'build', 'fault-drills.jsonl');

/** Adds a row to the table `npm run test:faults` prints at the end. */
export function recordDrill(row: DrillRow): void {
  mkdirSync(join(projectRoot(), 'build'), { recursive: true });
  appendFileSync(REPORT, `${JSON.stringify(row)}\n`);
}

export function resetDrillReport(): void {
  rmSync(REPORT, { force: true });
}

export function printDrillReport(): void {
  if (!existsSync(REPORT)) return;
  const rows = readFileSync(REPORT, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as DrillRow);
  const header: DrillRow = { drill: 'drill', outcome: 'outcome' as 'pass', figure: 'figure' };
  const width = (key: keyof DrillRow) => Math.max(...[header, ...rows].map((row) => row[key].length));
  const line = (row: DrillRow) =>
    `| ${row.drill.padEnd(width('drill'))} | ${row.outcome.padEnd(width('outcome'))} | ${row.figure.padEnd(width('figure'))} |`;
  const rule = `|${'-'.repeat(width('drill') + 2)}|${'-'.repeat(width('outcome') + 2)}|${'-'.repeat(width('figure') + 2)}|`;
  process.stdout.write(`\nFault drills\n${[line(header), rule, ...rows.map(line)].join('\n')}\n\n`);
}
