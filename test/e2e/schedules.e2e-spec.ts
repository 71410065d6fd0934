import { describe, expect, it } from 'vitest';

import type { ReceivedMessage } from '../support/rmq';
import { waitFor } from '../support/rmq';
import { sleep, taskIdOf } from '../support/shapes';
import { useWorld } from '../support/vitest-world';
import type { ChildWorker } from '../support/worker.process';

const PROCESSES = 3;
const MINUTE = 60_000;
/** Two schedules ticking every minute: one task without data, one whose data (and its own taskId) is spread. */
const SCHEDULES = [
  { name: 'every-minute.list', cron: '* * * * *', pattern: 'apps.list', data: {} },
  {
    name: 'every-minute.fetch',
    cron: '* * * * *',
    pattern: 'app.fetch',
    data: { appId: 620, country: 'us', taskId: 'x' },
  },
];
/** Boots (~20 s), up to a minute to the first tick that all three saw, a minute to the next, results and a margin. */
const TEST_TIMEOUT_MS = 240_000;

/** The tick of a `<name>@<tick>` taskId, in ms, or undefined for another taskId. */
function tickOf(taskId: unknown, name: string): number | undefined {
  if (typeof taskId !== 'string' || !taskId.startsWith(`${name}@`)) return undefined;
  const tick = taskId.slice(name.length + 1);
  expect(tick).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00Z$/);
  return Date.parse(tick);
}

/** The ticks of `name` that the results name, in order, once each. */
function ticksIn(results: readonly ReceivedMessage[], name: string): number[] {
  const ticks = results.map((message) => tickOf(taskIdOf(message), name)).filter((tick) => tick !== undefined);
  return [...new Set(ticks)].sort((a, b) => a - b);
}

/** The lines in which a worker logged that it published `taskId`. */
function publishedLines(workers: readonly ChildWorker[], taskId: string): string[] {
  return workers.flatMap((worker) =>
    worker
      .output()
      .split('\n')
      .filter((line) => line.includes(`Published scheduled task ${taskId} `)),
  );
}

describe('steam-worker running scheduled tasks (SCHEDULES)', () => {
  const world = useWorld('schedules', () => ({ SCHEDULES: JSON.stringify(SCHEDULES) }), { workers: 0 });

  it(
    'publishes exactly one task per tick to WORKER_QUEUE, however many worker processes run',
    async () => {
      const workers = await Promise.all(Array.from({ length: PROCESSES }, () => world.spawn()));
      // Only ticks after every process was up count: all three then claimed them.
      const allUp = Date.now();
      const [list, fetch] = SCHEDULES.map((schedule) => schedule.name) as [string, string];
      const ticksAfterAllUp = (name: string) => ticksIn(world.results, name).filter((tick) => tick > allUp);

      const [first, second] = await waitFor(
        () => {
          const ticks = ticksAfterAllUp(list);
          return ticks.length >= 2 && ticksAfterAllUp(fetch).length >= 2 ? ticks : undefined;
        },
        3 * MINUTE,
        'the results of two ticks after every process was up',
      );
      // A second publication of a tick would be a moment behind the first.
      await sleep(5_000);

      expect(second! - first!).toBe(MINUTE);
      for (const tick of [first!, second!]) {
        const at = new Date(tick).toISOString().replace('.000Z', 'Z');
        expect(world.resultsFor(`${list}@${at}`).map((message) => message.body)).toEqual([
          { pattern: 'apps.list.done', data: { taskId: `${list}@${at}`, appIds: [], count: 0 } },
        ]);
        expect(world.resultsFor(`${fetch}@${at}`).map((message) => message.body)).toEqual([
          { pattern: 'app.fetch.done', data: { taskId: `${fetch}@${at}`, updated: [620], failed: [] } },
        ]);
        // One process published each task; the others found the tick claimed.
        expect(publishedLines(workers, `${list}@${at}`)).toHaveLength(1);
        expect(publishedLines(workers, `${fetch}@${at}`)).toHaveLength(1);
      }
      // Never more than one result for any tick, those before every process was up included.
      const taskIds = world.results.map(taskIdOf);
      expect(new Set(taskIds).size).toBe(taskIds.length);
      expect(world.deadLetters).toEqual([]);
      expect(workers.every((worker) => worker.running())).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );
});
