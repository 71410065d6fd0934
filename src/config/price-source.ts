/** Where `apps.prices` reads prices from (docs/contract.md#prices). */
export const PRICE_SOURCES = ['appdetails', 'storebrowse'] as const;
export type PriceSource = (typeof PRICE_SOURCES)[number];

/**
 * STEAM_PRICE_BATCH per source: its default and its most. appdetails takes up
 * to 1000 ids per request; GetItems 400, and its URL bounds a chunk further.
 */
export const PRICE_BATCH: Readonly<Record<PriceSource, { default: number; max: number }>> = {
  appdetails: { default: 100, max: 1000 },
  storebrowse: { default: 400, max: 400 },
};
