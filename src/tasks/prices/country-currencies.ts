import { SteamError } from '../../steam/steam.errors';
import type { SteamRequestQueue } from '../../steam/steam-request.queue';
import type { CountryCurrencyStore } from './country-currency.store';

/** Apps of one chunk asked for the country's currency before its priced apps fail. */
export const CURRENCY_TEACHERS = 3;

/**
 * The currency of a country's prices for sources that name none (GetItems).
 * Known from Redis, else learned with one appdetails price request for an app
 * that was priced there (up to {@link CURRENCY_TEACHERS} apps), and remembered
 * for every process. In this process one country is learned once at a time:
 * chunks that need it meanwhile wait for that lesson instead of asking too.
 */
export class CountryCurrencies {
  private readonly lessons = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly store: CountryCurrencyStore,
    private readonly steam: SteamRequestQueue,
  ) {}

  /**
   * Resolves with the currency, or undefined when Steam would not name it for
   * any of `pricedAppIds` (their prices cannot be pushed). Rejects with what
   * is not Steam's (Redis, the signal, a request withdrawn by the circuit).
   */
  async of(country: string, pricedAppIds: readonly number[], signal: AbortSignal): Promise<string | undefined> {
    const known = await this.store.known(country);
    if (known) return known;
    const lesson = this.lessons.get(country);
    // Another chunk's lesson that failed or stopped leaves this chunk to try with its own apps.
    const taught = lesson && (await lesson.catch(() => undefined));
    if (taught) return taught;
    const own = this.learn(country, pricedAppIds, signal);
    this.lessons.set(country, own);
    try {
      return await own;
    } finally {
      if (this.lessons.get(country) === own) this.lessons.delete(country);
    }
  }

  private async learn(country: string, appIds: readonly number[], signal: AbortSignal): Promise<string | undefined> {
    for (const appId of appIds.slice(0, CURRENCY_TEACHERS)) {
      let currency: string | undefined;
      try {
        const { quotes } = await this.steam.request({ kind: 'appprices', appIds: [appId], country }, signal);
        currency = quotes[0]?.price?.currency;
      } catch (error) {
        if (!(error instanceof SteamError) || signal.aborted) throw error;
      }
      if (currency) {
        await this.store.remember(country, currency);
        return currency;
      }
    }
    return undefined;
  }
}
