import { Inject, Injectable, Logger } from '@nestjs/common';

import { WorkerConfig } from '../config/worker-config';
import { RedisClient } from '../redis/redis.module';

/**
 * KEYS[1] the task's count of deliveries that ended with the process gone;
 * ARGV[1] MAX_DELIVERIES, ARGV[2] TTL s. Returns -1 when MAX_DELIVERIES such
 * deliveries came before this one (the count is cleared: a replay from the
 * DLQ starts afresh), else counts this delivery as open and returns the count
 * before it.
 */
const OPEN_DELIVERY = `
local ended = tonumber(redis.call('GET', KEYS[1]) or '0')
if ended >= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return -1
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return ended
`;

/** KEYS[1] as above: the process ended this delivery itself, so it does not count. */
const CLOSE_DELIVERY = `
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
`;

/** One delivery as the guard counts it. */
export interface DeliveryRecord {
  /** A new pair was accepted: the deliveries before this one no longer count. */
  progressed(): void;
  /** The process settled or gave back this delivery itself: it does not count either. */
  close(): void;
}

const UNCOUNTED: DeliveryRecord = { progressed: () => undefined, close: () => undefined };

/**
 * Stops a task that keeps killing the process (docs: crash loops). Every
 * delivery is counted as "ended with the process gone" when it starts, and
 * taken back when the process ends it itself (ack, dead-letter, requeue, a
 * channel it saw close, a shutdown) — so only deaths remain. Progress resets
 * the count to this one delivery, so a long batch killed now and then, but
 * moving, is never stopped. Counts live in Redis under the task's key for
 * TASK_STATE_TTL_S. Without Redis a delivery goes uncounted: the work waits
 * for Redis anyway.
 */
@Injectable()
export class CrashLoopGuard {
  private readonly logger = new Logger(CrashLoopGuard.name);

  constructor(
    private readonly redis: RedisClient,
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
  ) {}

  /** Opens a delivery of the task named `key`, or answers `'too_many'` (then dead-letter it). */
  async open(key: string): Promise<DeliveryRecord | 'too_many'> {
    const counter = this.redis.key('task', key, 'deliveries');
    const { maxDeliveries } = this.config.tasks;
    const ttlS = this.config.redis.taskStateTtlS;
    let before: number;
    try {
      before = (await this.redis.redis.eval(OPEN_DELIVERY, 1, counter, maxDeliveries, ttlS)) as number;
    } catch (error) {
      this.logger.warn(`Cannot count the deliveries of a task: ${(error as Error).message}`);
      return UNCOUNTED;
    }
    if (before < 0) return 'too_many';
    let progressed = false;
    return {
      progressed: () => {
        if (progressed) return;
        progressed = true;
        void this.redis.redis.set(counter, 1, 'EX', ttlS).catch(() => undefined);
      },
      close: () => void this.redis.redis.eval(CLOSE_DELIVERY, 1, counter).catch(() => undefined),
    };
  }
}
