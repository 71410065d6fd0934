import { Injectable } from '@nestjs/common';

import { RedisClient, RedisScript, ScriptCall } from '../../redis/redis.module';

/**
 * KEYS: the watermark. ARGV: a completed task's until (unix seconds). Keeps
 * the larger of the two, in one step, so that tasks completing in any order,
 * in any process, never move it back. Returns the watermark after the call.
 */
const ADVANCE_WATERMARK: RedisScript = {
  name: 'steamWorkerAdvanceChangeWatermark',
  keys: 1,
  lua: `
local watermark = KEYS[1]
local current = tonumber(redis.call('GET', watermark) or '-1')
local offered = tonumber(ARGV[1])
if offered > current then
  redis.call('SET', watermark, ARGV[1])
  return offered
end
return current
`,
};

/**
 * Where `apps.changed` without `since` continues (docs/contract.md#change-detection):
 * the largest `until` of any apps.changed that completed, in Redis under
 * REDIS_PREFIX, shared by every process and kept without expiry.
 */
@Injectable()
export class ChangeWatermarkStore {
  private readonly advance: ScriptCall<number>;
  private readonly key: string;

  constructor(private readonly redis: RedisClient) {
    this.advance = redis.script(ADVANCE_WATERMARK);
    this.key = redis.key('apps-changed', 'watermark');
  }

  /** The watermark, or undefined before any apps.changed completed. Redis errors are thrown. */
  async current(): Promise<number | undefined> {
    const stored = await this.redis.read(this.key);
    const value = stored === null ? NaN : Number(stored);
    return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  }

  /** Raises the watermark to `until` unless it is already there or beyond; answers the watermark. */
  async offer(until: number): Promise<number> {
    return this.advance([this.key], until);
  }
}
