import { Inject, Injectable, Logger } from '@nestjs/common';

import { WorkerConfig } from '../../config/worker-config';
import { RedisClient, RedisScript, ScriptCall } from '../../redis/redis.module';
import { batchFingerprint } from './batch-fingerprint';

/**
 * Which (app, country) pairs of one batch the backend has accepted, so that a
 * redelivered task (SIGTERM, crash, consumer timeout, replay from the DLQ)
 * fetches and pushes only the rest (docs/contract.md#resuming).
 *
 * One bit per pair in a Redis bitmap, pair i = appIndex × countries + countryIndex
 * over the task's sorted, de-duplicated lists: a 10,000 × 50 batch takes 62.5 KB.
 * A second key holds a fingerprint of those lists, so a taskId reused for
 * another batch starts afresh. Both expire TASK_STATE_TTL_S after the last write.
 */
/**
 * KEYS: the task's accepted bitmap, its shape (fingerprint of the batch).
 * ARGV: the batch's fingerprint, TTL s. Returns the bitmap of an earlier
 * delivery of the same batch, or an empty one: a taskId reused for another
 * batch starts afresh (its old bits are dropped), atomically.
 */
const OPEN_PROGRESS: RedisScript = {
  name: 'steamWorkerOpenProgress',
  keys: 2,
  binary: true,
  lua: `
local accepted, shape = KEYS[1], KEYS[2]
if redis.call('GET', shape) == ARGV[1] then return redis.call('GET', accepted) or '' end
redis.call('DEL', accepted)
redis.call('SET', shape, ARGV[1], 'EX', ARGV[2])
return ''
`,
};

/** KEYS: as above. ARGV: the pair's bit, TTL s. Marks it accepted; both keys live TTL from now. */
const MARK_ACCEPTED: RedisScript = {
  name: 'steamWorkerMarkAccepted',
  keys: 2,
  lua: `
local accepted, shape = KEYS[1], KEYS[2]
redis.call('SETBIT', accepted, ARGV[1], 1)
redis.call('EXPIRE', accepted, ARGV[2])
redis.call('EXPIRE', shape, ARGV[2])
`,
};

@Injectable()
export class TaskProgressStore {
  private readonly openProgress: ScriptCall<Buffer>;
  private readonly markAccepted: ScriptCall<null>;

  constructor(
    private readonly redis: RedisClient,
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
  ) {
    this.openProgress = redis.script(OPEN_PROGRESS);
    this.markAccepted = redis.script(MARK_ACCEPTED);
  }

  /**
   * `pushes` says what the task pushes per pair: a taskId reused for prices
   * after details (or back) starts afresh, never skipping a price because its
   * details were accepted.
   */
  async open(
    taskId: string,
    appIds: readonly number[],
    countries: readonly string[],
    pushes: 'details' | 'prices' = 'details',
  ): Promise<BatchProgress> {
    const keys = [this.redis.key('task', taskId, 'accepted'), this.redis.key('task', taskId, 'shape')];
    const fingerprint = batchFingerprint(appIds, countries, pushes);
    const ttl = this.config.redis.taskStateTtlS;
    const bitmap = await this.openProgress(keys, fingerprint, ttl);
    return new BatchProgress((pair) => this.markAccepted(keys, pair, ttl), bitmap);
  }
}

export class BatchProgress {
  private readonly logger = new Logger(BatchProgress.name);

  constructor(
    private readonly record: (pair: number) => Promise<unknown>,
    /** The bitmap as it was when the task started (Redis orders bits from the most significant). */
    private readonly before: Buffer,
  ) {}

  /** How many pairs were accepted before this delivery. */
  get acceptedBefore(): number {
    let count = 0;
    for (const byte of this.before) for (let bit = byte; bit; bit &= bit - 1) count++;
    return count;
  }

  wasAccepted(pair: number): boolean {
    const byte = this.before[pair >> 3];
    return byte !== undefined && (byte & (0x80 >> (pair & 7))) !== 0;
  }

  /**
   * Records an accepted pair and refreshes the TTL. Losing this write only
   * costs a repeated pair after a restart, so a Redis error is logged, not thrown.
   */
  async markAccepted(pair: number): Promise<void> {
    try {
      await this.record(pair);
    } catch (error) {
      this.logger.warn(`Could not record an accepted pair: ${(error as Error).message}`);
    }
  }
}
