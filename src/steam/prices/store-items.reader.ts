import type { StoreItemQuote, StoreItems } from '../steam-request';
import { SteamTransientError } from '../steam.errors';
import { isRecord, NOT_AVAILABLE, readAmount, readPercent, readText } from './price-fields';

type ItemPrice = NonNullable<StoreItemQuote['price']>;

/**
 * Reads GetItems' answer `{"response": {"store_items": […]}}`
 * (docs/contract.md#prices): one quote per app asked, mapped by position,
 * since Steam lists the items in the order asked and answers an app it does
 * not list with `appid` 0.
 *
 * - `success` other than 1, `visible: false`, or `appid` 0: not available;
 * - `is_free: true`: free;
 * - else `best_purchase_option`: priced (none: available without a price);
 * - an item missing or garbled, or naming another app than the one asked at
 *   its position: `null`, a transient failure of that app alone.
 */
export function readStoreItems(body: unknown, appIds: readonly number[]): StoreItems {
  const response = isRecord(body) ? body.response : undefined;
  const items = isRecord(response) ? response.store_items : undefined;
  // Without the list the answer says nothing of any app: the whole request is retried.
  if (!Array.isArray(items)) throw new SteamTransientError('Steam GetItems answer has no store_items list');
  return { quotes: appIds.map((appId, position) => readItem(items[position], appId)) };
}

function readItem(item: unknown, appId: number): StoreItemQuote | null {
  if (!isRecord(item)) return null;
  const listedAs = item.appid === undefined ? appId : readAmount(item.appid);
  if (listedAs === 0) return NOT_AVAILABLE;
  if (listedAs !== appId) return null;
  if (item.success !== 1 || item.visible === false) return NOT_AVAILABLE;
  if (item.is_free === true) return { available: true, isFree: true, price: null };
  if (item.best_purchase_option === undefined) return { available: true, isFree: false, price: null };
  const price = readPurchaseOption(item.best_purchase_option);
  return price ? { available: true, isFree: false, price } : null;
}

/** A `best_purchase_option`, or undefined when it has no final price. A final price of 0 is a price. */
function readPurchaseOption(option: unknown): ItemPrice | undefined {
  if (!isRecord(option)) return undefined;
  const final = readAmount(option.final_price_in_cents);
  if (final === undefined) return undefined;
  const initial = readAmount(option.original_price_in_cents) ?? final;
  const endsAt = earliestDiscountEnd(option.active_discounts);
  return {
    initial,
    final,
    discountPercent: readPercent(option.discount_pct) ?? 0,
    initialFormatted: initial !== final ? readText(option.formatted_original_price) : '',
    finalFormatted: readText(option.formatted_final_price),
    ...(endsAt === undefined ? {} : { discountEndsAt: new Date(endsAt * 1000).toISOString() }),
  };
}

/** The earliest `discount_end_date` (unix seconds) of the active discounts, if any names one. */
function earliestDiscountEnd(discounts: unknown): number | undefined {
  if (!Array.isArray(discounts)) return undefined;
  const ends = discounts
    .map((discount) => (isRecord(discount) ? readAmount(discount.discount_end_date) : undefined))
    .filter((end): end is number => end !== undefined && end > 0);
  return ends.length > 0 ? Math.min(...ends) : undefined;
}
