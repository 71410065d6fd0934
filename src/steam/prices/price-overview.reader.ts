import type { AppPrices, PriceQuote, SteamPrice } from '../steam-request';
import { SteamTransientError } from '../steam.errors';
import { isRecord, NOT_AVAILABLE, readAmount, readPercent, readText } from './price-fields';

/**
 * Reads appdetails' answer to `appids=<id>,<id>,…&filters=price_overview`
 * (docs/contract.md#prices): one quote per app asked, in the order asked.
 *
 * - `{"success": true, "data": {"price_overview": {…}}}`: priced;
 * - `{"success": true, "data": []}` (sometimes `{}`): free or unpriced, which
 *   this answer cannot tell apart (`isFree: null`);
 * - `{"success": false}`: not available in that country;
 * - anything else, or no entry at all: `null`, a transient failure of that
 *   app alone (it is asked again; the others stand).
 */
export function readPriceOverviews(body: unknown, appIds: readonly number[]): AppPrices {
  // A body that is no object at all says nothing of any app: the whole request is retried.
  if (!isRecord(body)) throw new SteamTransientError('Steam appdetails prices answer is not an object');
  return { quotes: appIds.map((appId) => readEntry(body[String(appId)])) };
}

function readEntry(entry: unknown): PriceQuote | null {
  if (!isRecord(entry)) return null;
  if (entry.success === false) return NOT_AVAILABLE;
  if (entry.success !== true) return null;
  const { data } = entry;
  if (data === undefined || Array.isArray(data)) return { available: true, isFree: null, price: null };
  if (!isRecord(data)) return null;
  if (data.price_overview === undefined) return { available: true, isFree: null, price: null };
  const price = readPriceOverview(data.price_overview);
  return price ? { available: true, isFree: false, price } : null;
}

/** A `price_overview`, or undefined when it lacks a currency or a final amount. */
function readPriceOverview(overview: unknown): SteamPrice | undefined {
  if (!isRecord(overview)) return undefined;
  const { currency } = overview;
  const final = readAmount(overview.final);
  if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency) || final === undefined) return undefined;
  const initial = readAmount(overview.initial) ?? final;
  return {
    currency,
    initial,
    final,
    discountPercent: readPercent(overview.discount_percent) ?? 0,
    initialFormatted: initial !== final ? readText(overview.initial_formatted) : '',
    finalFormatted: readText(overview.final_formatted),
  };
}
