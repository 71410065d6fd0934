import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

import { RedisClient, RedisScript, ScriptCall } from '../redis/redis.module';
import { formatTick } from './schedule-tick';

/**
 * How long a tick's claim is kept. It must outlast every process's attempt at
 * that tick: they give up MAX_LATENESS_MS (5 minutes) after it, so an hour
 * leaves 55 minutes for clocks that disagree; a minute's schedule keeps 60
 * claims at most.
 */
export const CLAIM_TTL_S = 60 * 60;

/**
 * KEYS: the claim of one tick of one schedule. ARGV: the claimer (one per
 * process), TTL s. SET NX: of every process that claims a tick, exactly one
 * gets it. The claimer that already holds it gets it again, so that a claim
 * whose answer was lost to a reconnect can be asked once more. Returns 1 when
 * the caller holds the claim, else 0.
 */
const CLAIM_TICK: RedisScript = {
  name: 'steamWorkerClaimScheduleTick',
  keys: 1,
  lua: `
local claim = KEYS[1]
if redis.call('SET', claim, ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
if redis.call('GET', claim) == ARGV[1] then return 1 end
return 0
`,
};

/**
 * Who publishes a schedule's tick, decided in Redis (under REDIS_PREFIX) among
 * every process that shares it: `schedule:<name>:<tick>` (docs/contract.md#scheduled-tasks).
 */
@Injectable()
export class ScheduleClaims {
  /** Names this process in its claims (for someone reading Redis); unique across restarts. */
  private readonly claimer = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly claimTick: ScriptCall<number>;

  constructor(private readonly redis: RedisClient) {
    this.claimTick = redis.script(CLAIM_TICK);
  }

  /** Whether this process got the tick (false: another one did). Redis errors are thrown. */
  async claim(name: string, tickMs: number): Promise<boolean> {
    const key = this.redis.key('schedule', name, formatTick(tickMs));
    return (await this.claimTick([key], this.claimer, CLAIM_TTL_S)) === 1;
  }
}
