import { Injectable } from '@nestjs/common';

import { RedisClient, RedisScript, ScriptCall } from '../../redis/redis.module';

/** A country's currency is trusted this long: a store region rarely changes currency. */
export const CURRENCY_TTL_S = 86_400;

/** KEYS: the country's currency. ARGV: the currency, TTL s. Remembers it for TTL s from now. */
const LEARNED_CURRENCY: RedisScript = {
  name: 'steamWorkerLearnedCurrency',
  keys: 1,
  lua: `
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
`,
};

/**
 * The currency each country's store prices are in, as appdetails named it,
 * shared by every process under `<REDIS_PREFIX>:currency:<COUNTRY>` for a day
 * (docs/contract.md#prices). GetItems names no currency; this is where its
 * prices get theirs.
 */
@Injectable()
export class CountryCurrencyStore {
  private readonly learnedCurrency: ScriptCall<null>;

  constructor(private readonly redis: RedisClient) {
    this.learnedCurrency = redis.script(LEARNED_CURRENCY);
  }

  async known(country: string): Promise<string | undefined> {
    return (await this.redis.read(this.redis.key('currency', country))) ?? undefined;
  }

  async remember(country: string, currency: string): Promise<void> {
    await this.learnedCurrency([this.redis.key('currency', country)], currency, CURRENCY_TTL_S);
  }
}
