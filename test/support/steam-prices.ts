import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { RecordedRequest } from './http-stand-in';
import { projectRoot } from './project-root';

/**
 * What the stand-in Steam says of an app's price in a country, for both price
 * sources (docs/contract.md#prices), in the shapes of Steam's real answers:
 * appdetails' `price_overview` as in test/fixtures/steam, GetItems' items as
 * Steam describes them. Every country is answered in its own currency.
 */

/** Steam's real answer to appids=620,570,1174180,323180,999999999&cc=cz&filters=price_overview. */
export const REAL_PRICE_BATCH = JSON.parse(
  readFileSync(join(projectRoot(), 'test', 'fixtures', 'steam', 'appdetails_multi_price_overview_cc-cz.json'), 'utf8'),
) as Record<string, { success: boolean; data?: unknown }>;

export type PriceKind = 'unknown' | 'free' | 'unpriced' | 'regular' | 'discounted';

/**
 * The apps of the real batch are what Steam said of them (620 regular,
 * 1174180 discounted, 570 and 323180 free, 999999999 unknown); otherwise ids
 * from 900,000,000 are unknown, ids ending in 0 free, in 99 unpriced, in 5
 * discounted (75 %), and the rest at a regular price.
 */
export function priceKindOf(appId: number): PriceKind {
  const real = REAL_PRICE_BATCH[appId];
  if (real) {
    if (!real.success) return 'unknown';
    const overview = (real.data as { price_overview?: { discount_percent: number } }).price_overview;
    if (!overview) return 'free';
    return overview.discount_percent > 0 ? 'discounted' : 'regular';
  }
  if (appId >= 900_000_000) return 'unknown';
  if (appId % 10 === 0) return 'free';
  if (appId % 100 === 99) return 'unpriced';
  return appId % 10 === 5 ? 'discounted' : 'regular';
}

interface Region {
  currency: string;
  regular: number;
  /** Before and after a 75 % discount. */
  discounted: [number, number];
  format: (minor: number) => string;
}

const comma = (minor: number) => `${Math.floor(minor / 100)},${String(minor % 100).padStart(2, '0')}`;
const dot = (minor: number) => `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`;
/** Steam counts yen in hundredths too, and shows whole yen. */
const yen = (minor: number) => `¥ ${Math.floor(minor / 100).toLocaleString('en-US')}`;
const EUR: Region = { currency: 'EUR', regular: 975, discounted: [5999, 1499], format: (m) => `${comma(m)}€` };
/** Portal 2 and a 75 % deal as a store region prices them; unlisted countries pay in euros. */
const REGIONS: Record<string, Region> = {
  US: { currency: 'USD', regular: 999, discounted: [5999, 1499], format: (m) => `$${dot(m)}` },
  GB: { currency: 'GBP', regular: 799, discounted: [4999, 1249], format: (m) => `£${dot(m)}` },
  JP: { currency: 'JPY', regular: 105000, discounted: [798000, 199500], format: yen },
  PL: { currency: 'PLN', regular: 3699, discounted: [24999, 6249], format: (m) => `${comma(m)}zł` },
  BR: { currency: 'BRL', regular: 3299, discounted: [19999, 4999], format: (m) => `R$ ${comma(m)}` },
};
export const regionOf = (country: string): Region => REGIONS[country] ?? EUR;

/** When the stand-in's discounts end, as GetItems names it (unix seconds): 2027-01-01T00:00:00Z. */
export const DISCOUNT_ENDS = 1_798_761_600;

/** The `price_overview` of a priced app, as appdetails writes it. */
export function priceOverview(kind: 'regular' | 'discounted', country: string) {
  const region = regionOf(country);
  const [initial, final] = kind === 'discounted' ? region.discounted : [region.regular, region.regular];
  return {
    currency: region.currency,
    initial,
    final,
    discount_percent: kind === 'discounted' ? 75 : 0,
    initial_formatted: kind === 'discounted' ? region.format(initial) : '',
    final_formatted: region.format(final),
  };
}

/** appdetails' entry for an app under `filters=price_overview`. */
export function priceOverviewEntry(appId: number, country: string): { success: boolean; data?: unknown } {
  const kind = priceKindOf(appId);
  if (kind === 'unknown') return { success: false };
  if (kind === 'free') return { success: true, data: [] };
  if (kind === 'unpriced') return { success: true, data: {} };
  return { success: true, data: { price_overview: priceOverview(kind, country) } };
}

/** GetItems' item for an app: in order asked, `appid` 0 for an app Steam does not list. */
export function storeItem(appId: number, country: string): Record<string, unknown> {
  const kind = priceKindOf(appId);
  if (kind === 'unknown') return { item_type: 0, id: 0, success: 2, appid: 0 };
  const item = { item_type: 0, id: appId, success: 1, visible: true, name: `App ${appId}`, appid: appId, type: 0 };
  if (kind === 'free') return { ...item, is_free: true };
  if (kind === 'unpriced') return item;
  const overview = priceOverview(kind, country);
  const option = {
    packageid: appId * 10,
    purchase_option_name: `Buy App ${appId}`,
    final_price_in_cents: String(overview.final),
    formatted_final_price: overview.final_formatted,
    user_can_purchase_as_gift: true,
  };
  if (kind === 'regular') return { ...item, best_purchase_option: option };
  const discount = {
    discount_amount: String(overview.initial - overview.final),
    discount_description: 'Weeklong deal',
    discount_end_date: DISCOUNT_ENDS,
  };
  return {
    ...item,
    best_purchase_option: {
      ...option,
      original_price_in_cents: String(overview.initial),
      formatted_original_price: overview.initial_formatted,
      discount_pct: 75,
      active_discounts: [discount],
    },
  };
}

/**
 * The body the worker should push for an app's price (docs/contract.md#price-push),
 * without `fetchedAt`: what the stand-in said, in the contract's words.
 */
export function expectedPriceBody(appId: number, country: string, source: 'appdetails' | 'storebrowse') {
  const kind = priceKindOf(appId);
  const base = { appId, country, source };
  if (kind === 'unknown') return { ...base, available: false, isFree: false, price: null };
  if (kind === 'free') return { ...base, available: true, isFree: source === 'storebrowse' ? true : null, price: null };
  if (kind === 'unpriced')
    return { ...base, available: true, isFree: source === 'storebrowse' ? false : null, price: null };
  const overview = priceOverview(kind, country);
  const price = {
    currency: overview.currency,
    initial: overview.initial,
    final: overview.final,
    discountPercent: overview.discount_percent,
    initialFormatted: overview.initial_formatted,
    finalFormatted: overview.final_formatted,
  };
  const endsAt =
    kind === 'discounted' && source === 'storebrowse' ? new Date(DISCOUNT_ENDS * 1000).toISOString() : undefined;
  return { ...base, available: true, isFree: false, price: endsAt ? { ...price, discountEndsAt: endsAt } : price };
}

/** The ids and country of a GetItems request, from its `input_json`. */
export function readStoreItemsInput(request: RecordedRequest): { appIds: number[]; country: string } {
  try {
    const input = JSON.parse(request.url.searchParams.get('input_json') ?? '') as {
      ids?: { appid?: unknown }[];
      context?: { country_code?: unknown };
    };
    return {
      appIds: (input.ids ?? []).map(({ appid }) => Number(appid)),
      country: String(input.context?.country_code),
    };
  } catch {
    return { appIds: [], country: '' };
  }
}
