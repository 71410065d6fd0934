import { Presets, SingleBar } from 'cli-progress';

import { age } from './dead-letter';

/** How a followed task's progress is shown while its reply is awaited. */
export interface ProgressView {
  /** Pairs accepted so far (a batch), or undefined for a task that counts none (apps.list, apps.changed). */
  update(accepted: number | undefined): void;
  stop(): void;
}

/**
 * A cli-progress bar redrawn in place, on a terminal: pairs accepted out of
 * apps × countries for a batch, elapsed time for the others.
 */
export function terminalBar(label: string, total: number | undefined, stream: NodeJS.WriteStream): ProgressView {
  const format =
    total === undefined
      ? `${label} | waiting for the reply | {duration_formatted}`
      : `${label} |{bar}| {value}/{total} pairs accepted | {duration_formatted}`;
  const bar = new SingleBar({ format, stream, hideCursor: true, clearOnComplete: false }, Presets.shades_classic);
  bar.start(total ?? 1, 0);
  return {
    update: (accepted) => bar.update(accepted ?? 0),
    stop: () => bar.stop(),
  };
}

/** Elsewhere (a pipe, CI, a test): no redraws, one plain line whenever the count moves, at most every `everyMs`. */
export function plainLines(
  label: string,
  total: number | undefined,
  write: (line: string) => void,
  everyMs = 1000,
  now: () => number = Date.now,
): ProgressView {
  const started = now();
  let shown: number | undefined;
  let shownAt = -Infinity;
  write(`${label}: waiting for the reply`);
  return {
    update: (accepted) => {
      if (total === undefined || accepted === undefined || accepted === shown) return;
      if (now() - shownAt < everyMs && accepted < total) return;
      shown = accepted;
      shownAt = now();
      write(`${label}: ${accepted}/${total} pairs accepted after ${age(now() - started)}`);
    },
    stop: () => write(`${label}: replied after ${age(now() - started)}`),
  };
}
