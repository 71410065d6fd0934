import type { Redis } from 'ioredis';

import type { CliConfig } from '../config/cli-config';
import { createRedisClient } from '../redis/redis-connection';
import { batchFingerprint } from '../tasks/progress/batch-fingerprint';

/**
 * KEYS: a task's accepted bitmap, its shape. ARGV: the batch's fingerprint.
 * Returns how many pairs are marked accepted, or 0 while the shape is another
 * batch's (the worker has not opened this one yet). Reads only.
 */
const COUNT_ACCEPTED = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
return redis.call('BITCOUNT', KEYS[1])
`;
const COMMAND = 'steamWorkerCliCountAccepted';

/** The batch a progress bar follows: the lists as the worker sorts them, and what it pushes per pair. */
export interface FollowedBatch {
  taskId: string;
  appIds: readonly number[];
  countries: readonly string[];
  pushes: 'details' | 'prices';
}

/**
 * Reads a batch's resume state (docs/contract.md#resuming), the bitmap of
 * pairs the backend accepted, for the CLI's progress bar. Best effort: while
 * Redis is away the bar stands still, the task is followed to its reply all
 * the same.
 */
export class TaskProgressReader {
  private constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  static open(config: CliConfig['redis']): TaskProgressReader {
    const redis = createRedisClient(config.url, {
      maxRetriesPerRequest: 1,
      connectionName: `${config.prefix}:cli`,
      lazyConnect: false,
    });
    redis.on('error', () => undefined);
    redis.defineCommand(COMMAND, { numberOfKeys: 2, lua: COUNT_ACCEPTED });
    return new TaskProgressReader(redis, config.prefix);
  }

  /** Pairs accepted so far, or undefined when Redis does not answer. */
  async accepted(batch: FollowedBatch): Promise<number | undefined> {
    const key = (part: string) => [this.prefix, 'task', batch.taskId, part].join(':');
    const fingerprint = batchFingerprint(batch.appIds, batch.countries, batch.pushes);
    const count = (this.redis as unknown as Record<string, (...args: string[]) => Promise<number>>)[COMMAND]!;
    try {
      return await count.call(this.redis, key('accepted'), key('shape'), fingerprint);
    } catch {
      return undefined;
    }
  }

  close(): void {
    this.redis.disconnect();
  }
}
