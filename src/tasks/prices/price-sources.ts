import type { PriceSource as PriceSourceName } from '../../config/price-source';
import type { PriceQuote } from '../../steam/steam-request';
import type { SteamRequestQueue } from '../../steam/steam-request.queue';
import type { CountryCurrencies } from './country-currencies';

/**
 * What one answer says of each app asked: its quote, or `steam_error` for an
 * app that failed by itself (its currency could not be learned). An app the
 * answer lacks or garbles is absent: it is asked again.
 */
export type ChunkAnswer = Map<number, PriceQuote | 'steam_error'>;

/** Where prices come from (STEAM_PRICE_SOURCE, docs/contract.md#prices): one Steam request per `ask`. */
export interface PriceSource {
  readonly name: PriceSourceName;
  /** Rejects with Steam's failure (a SteamError), or with what stopped it (the signal, Redis). */
  ask(appIds: number[], country: string, signal: AbortSignal): Promise<ChunkAnswer>;
}

/** The store's appdetails with `filters=price_overview`: prices in the country's currency. */
export class AppDetailsPrices implements PriceSource {
  readonly name = 'appdetails';

  constructor(private readonly steam: SteamRequestQueue) {}

  async ask(appIds: number[], country: string, signal: AbortSignal): Promise<ChunkAnswer> {
    const { quotes } = await this.steam.request({ kind: 'appprices', appIds, country }, signal);
    const answer: ChunkAnswer = new Map();
    appIds.forEach((appId, position) => {
      const quote = quotes[position];
      if (quote) answer.set(appId, quote);
    });
    return answer;
  }
}

/**
 * The Web API's IStoreBrowseService/GetItems: more apps per request, on the
 * Web API's budget, but without a currency; the country's is looked up (or
 * learned) for the apps it priced.
 */
export class StoreBrowsePrices implements PriceSource {
  readonly name = 'storebrowse';

  constructor(
    private readonly steam: SteamRequestQueue,
    private readonly currencies: CountryCurrencies,
  ) {}

  async ask(appIds: number[], country: string, signal: AbortSignal): Promise<ChunkAnswer> {
    const { quotes } = await this.steam.request({ kind: 'storeitems', appIds, country }, signal);
    const priced = appIds.filter((_, position) => quotes[position]?.price);
    const currency = priced.length > 0 ? await this.currencies.of(country, priced, signal) : undefined;
    const answer: ChunkAnswer = new Map();
    appIds.forEach((appId, position) => {
      const quote = quotes[position];
      if (!quote) return;
      const { price } = quote;
      if (!price) answer.set(appId, { ...quote, price: null });
      else answer.set(appId, currency ? { ...quote, price: { currency, ...price } } : 'steam_error');
    });
    return answer;
  }
}
