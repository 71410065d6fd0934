import { setMaxListeners } from 'node:events';
import pMap from 'p-map';

import { TaskFailedError } from '../task.errors';

/** What a batch task asks for (apps.fetch, apps.prices): every (app, country) pair of the lists. */
export interface BatchRequest {
  appIds: readonly number[];
  countries: readonly string[];
}

/**
 * The lists a batch works on: at most MAX_BATCH_APPS appIds as sent (else the
 * task is invalid), then de-duplicated and sorted, as the result and the
 * resume bitmap read them (docs/contract.md#resuming).
 */
export function batchLists(request: BatchRequest, maxBatchApps: number): { appIds: number[]; countries: string[] } {
  if (request.appIds.length > maxBatchApps) {
    throw new TaskFailedError('invalid_task', `appIds must have at most ${maxBatchApps} items`);
  }
  return {
    appIds: [...new Set(request.appIds)].sort((a, b) => a - b),
    countries: [...new Set(request.countries)].sort(),
  };
}

/**
 * Runs a batch's items through a window of `concurrency` at once, reading
 * them lazily (a batch is never held whole). Stops taking items when the run
 * aborts (channel lost, shutdown) or an item fails the task as a whole (Redis
 * gone); items under way finish, so that what the backend accepted is
 * recorded before the task lets go. Then rejects with the reason it stopped.
 */
export async function feedBatch<Item>(
  items: (signal: AbortSignal) => Iterable<Item>,
  work: (item: Item, signal: AbortSignal) => Promise<void>,
  options: { concurrency: number; signal: AbortSignal },
): Promise<void> {
  const batch = new AbortController();
  setMaxListeners(0, batch.signal);
  const stop = () => batch.abort(options.signal.reason);
  options.signal.addEventListener('abort', stop, { once: true });
  try {
    await pMap(
      items(batch.signal),
      (item) =>
        work(item, batch.signal).catch((error: unknown) => {
          if (!batch.signal.aborted) batch.abort(error);
        }),
      { concurrency: options.concurrency },
    );
  } finally {
    options.signal.removeEventListener('abort', stop);
  }
  if (batch.signal.aborted) throw batch.signal.reason;
}
