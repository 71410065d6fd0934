import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';

import { WorkerConfig } from '../../config/worker-config';
import { RedisClient } from '../../redis/redis.module';

/**
 * Which (app, country) pairs of one batch the backend has accepted, so that a
 * redelivered task (SIGTERM, crash, consumer timeout, replay from the DLQ)
 * fetches and pushes only the rest (CONTRACT.md §6).
 *
 * One bit per pair in a Redis bitmap, pair i = appIndex × countries + countryIndex
 * over the task's sorted, de-duplicated lists: a 10,000 × 50 batch takes 62.5 KB.
 * A second key holds a fingerprint of those lists, so a taskId reused for
 * another batch starts afresh. Both expire TASK_STATE_TTL_S after the last write.
 */
@Injectable()
export class TaskProgressStore {
  constructor(
    private readonly redis: RedisClient,
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
  ) {}

  async open(taskId: string, appIds: readonly number[], countries: readonly string[]): Promise<BatchProgress> {
    const accepted = this.redis.key('task', taskId, 'accepted');
    const shape = this.redis.key('task', taskId, 'shape');
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([appIds, countries]))
      .digest('base64url');
    const [[, storedShape], [, bitmap]] = (await this.redis.redis.pipeline().get(shape).getBuffer(accepted).exec()) as [
      [unknown, string | null],
      [unknown, Buffer | null],
    ];
    const ttl = this.config.redis.taskStateTtlS;
    if (storedShape !== fingerprint) {
      await this.redis.redis.multi().del(accepted).set(shape, fingerprint, 'EX', ttl).exec();
      return new BatchProgress(this.redis, accepted, shape, ttl, Buffer.alloc(0));
    }
    return new BatchProgress(this.redis, accepted, shape, ttl, bitmap ?? Buffer.alloc(0));
  }
}

export class BatchProgress {
  private readonly logger = new Logger(BatchProgress.name);

  constructor(
    private readonly redis: RedisClient,
    private readonly acceptedKey: string,
    private readonly shapeKey: string,
    private readonly ttlS: number,
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
      await this.redis.redis
        .multi()
        .setbit(this.acceptedKey, pair, 1)
        .expire(this.acceptedKey, this.ttlS)
        .expire(this.shapeKey, this.ttlS)
        .exec();
    } catch (error) {
      this.logger.warn(`Could not record an accepted pair: ${(error as Error).message}`);
    }
  }
}
