import { describe, expect, it } from 'vitest';

import { plainLines } from './progress.view';

describe(plainLines.name, () => {
  it('writes a line when the count moves, at most once a second, and always the last pair', () => {
    const lines: string[] = [];
    let now = 0;
    const view = plainLines(
      'apps.fetch t',
      4,
      (line) => lines.push(line),
      1000,
      () => now,
    );

    view.update(0);
    now = 200;
    view.update(1);
    now = 1100;
    view.update(1);
    view.update(2);
    now = 1300;
    view.update(4);
    view.stop();

    expect(lines).toEqual([
      'apps.fetch t: waiting for the reply',
      'apps.fetch t: 0/4 pairs accepted after 0s',
      'apps.fetch t: 1/4 pairs accepted after 1s',
      'apps.fetch t: 4/4 pairs accepted after 1s',
      'apps.fetch t: replied after 1s',
    ]);
  });

  it('writes no progress for a task without pairs', () => {
    const lines: string[] = [];
    const view = plainLines('apps.list t', undefined, (line) => lines.push(line));
    view.update(undefined);
    view.stop();
    expect(lines).toEqual(['apps.list t: waiting for the reply', expect.stringMatching(/^apps.list t: replied after/)]);
  });
});
