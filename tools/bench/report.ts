/** One line of the bench's table: what steam-worker achieved, what it is compared with, the target. */
export interface Row {
  part: string;
  measure: string;
  worker: string;
  comparison: string;
  target: string;
  /** `undefined` when the row has no target (reported only). */
  ok?: boolean;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function fixed(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

export function whole(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a';
}

export function megabytes(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : 'n/a';
}

/** A plain-text table with aligned columns. */
export function formatTable(rows: readonly Row[]): string {
  const header = ['part', 'measure', 'steam-worker', 'comparison', 'target', 'ok'];
  const cells = rows.map((row) => [
    row.part,
    row.measure,
    row.worker,
    row.comparison,
    row.target,
    row.ok === undefined ? '-' : row.ok ? 'PASS' : 'FAIL',
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((line) => line[column]!.length)));
  const line = (values: string[]) => `| ${values.map((value, column) => value.padEnd(widths[column]!)).join(' | ')} |`;
  const rule = `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`;
  return [line(header), rule, ...cells.map(line)].join('\n');
}

/** Rows that say a part could not be measured, so the table still prints. */
export function failedPart(part: string, error: unknown): Row[] {
  const message = error instanceof Error ? error.message : String(error);
  return [
    { part, measure: 'part failed to run', worker: message.slice(0, 100), comparison: '-', target: '-', ok: false },
  ];
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Runs `total` calls of `call(i)` with at most `concurrency` in flight; resolves with the elapsed ms. */
export async function runPool(
  total: number,
  concurrency: number,
  call: (index: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < total) await call(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, lane));
  return performance.now() - started;
}

/** Durations (ms) of `total` calls made one at a time. */
export async function sequentialTimes(total: number, call: (index: number) => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let index = 0; index < total; index++) {
    const started = performance.now();
    await call(index);
    times.push(performance.now() - started);
  }
  return times;
}
