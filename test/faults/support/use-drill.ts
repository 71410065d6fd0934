import { afterAll, beforeAll, expect } from 'vitest';

import { Drill } from './drill';

/**
 * A {@link Drill} for the enclosing describe block: started in its `beforeAll`,
 * stopped in its `afterAll` (workers killed, secrets scanned, queues, Redis keys
 * and stand-ins removed), then `tearDown`, whether or not stopping went well.
 * Vitest only.
 */
export function useDrill(label: string, { tearDown }: { tearDown?: () => unknown } = {}): Drill {
  const drill = new Drill(label);
  beforeAll(async () => {
    await drill.start();
  });
  afterAll(async () => {
    try {
      await drill.stop();
    } finally {
      await tearDown?.();
    }
  });
  return drill;
}

/** The drill received exactly one result for `taskId`, and it is `body`. */
export function expectReportedOnce(drill: Drill, taskId: string, body: unknown): void {
  const results = drill.resultsFor(taskId);
  expect(results).toHaveLength(1);
  expect(results[0]!.body).toEqual(body);
}
