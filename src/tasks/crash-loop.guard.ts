import { Inject, Injectable, Logger } from '@nestjs/common';

import { WorkerConfig } from '../config/worker-config';
import { RedisClient, RedisScript, ScriptCall } from '../redis/redis.module';

/**
 * KEYS: the task's count of deliveries that ended with the process gone.
 * ARGV: MAX_DELIVERIES, TTL s. Returns -1 when MAX_DELIVERIES such
 * deliveries came before this one (the count is cleared: a replay from the
 * DLQ starts afresh), else counts this delivery as open and returns the count
 * before it.
 */
const OPEN_DELIVERY: RedisScript = {
  name: 'steamWorkerOpenDelivery',
  keys: 1,
  lua: `
local deliveries = KEYS[1]
local ended = tonumber(redis.call('GET', deliveries) or '0')
if ended >= tonumber(ARGV[1]) then
  redis.call('DEL', deliveries)
  return -1
end
redis.call('INCR', deliveries)
redis.call('EXPIRE', deliveries, ARGV[2])
return ended
`,
};

/** KEYS: as above. The process ended this delivery itself, so it does not count. */
const CLOSE_DELIVERY: RedisScript = {
  name: 'steamWorkerCloseDelivery',
  keys: 1,
  lua: `
local deliveries = KEYS[1]
if tonumber(redis.call('GET', deliveries) or '0') > 0 then redis.call('DECR', deliveries) end
`,
};

/** KEYS: as above. ARGV: TTL s. A new pair was accepted: only this open delivery counts. */
const DELIVERY_PROGRESSED: RedisScript = {
  name: 'steamWorkerDeliveryProgressed',
  keys: 1,
  lua: `
local deliveries = KEYS[1]
redis.call('SET', deliveries, 1, 'EX', ARGV[1])
`,
};

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

  private readonly scripts: Record<'open' | 'close' | 'progressed', ScriptCall<number | null>>;

  constructor(
    private readonly redis: RedisClient,
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
  ) {
    this.scripts = {
      open: redis.script(OPEN_DELIVERY),
      close: redis.script(CLOSE_DELIVERY),
      progressed: redis.script(DELIVERY_PROGRESSED),
    };
  }

  /** Opens a delivery of the task named `key`, or answers `'too_many'` (then dead-letter it). */
  async open(key: string): Promise<DeliveryRecord | 'too_many'> {
    const counter = this.redis.key('task', key, 'deliveries');
    const { maxDeliveries } = this.config.tasks;
    const ttlS = this.config.redis.taskStateTtlS;
    let before: number;
    try {
      before = (await this.scripts.open([counter], maxDeliveries, ttlS)) ?? 0;
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
        void this.scripts.progressed([counter], ttlS).catch(() => undefined);
      },
      close: () => void this.scripts.close([counter]).catch(() => undefined),
    };
  }
}
