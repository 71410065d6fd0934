import { describe, expect, it } from 'vitest';

import { SteamTransientError } from '../steam.errors';
import { readStoreItems } from './store-items.reader';

const answer = (...items: unknown[]) => ({ response: { store_items: items } });
const priced = (appid: number, option: Record<string, unknown>) => ({
  item_type: 0,
  id: appid,
  success: 1,
  visible: true,
  appid,
  best_purchase_option: option,
});

describe(readStoreItems.name, () => {
  it('reads a discounted item: amounts sent as strings, the earliest end of its active discounts', () => {
    const item = priced(1174180, {
      final_price_in_cents: '1499',
      original_price_in_cents: '5999',
      discount_pct: 75,
      formatted_final_price: '14,99€',
      formatted_original_price: '59,99€',
      active_discounts: [{ discount_end_date: 1767283200 }, { discount_end_date: 1767196800 }],
    });

    expect(readStoreItems(answer(item), [1174180]).quotes).toEqual([
      {
        available: true,
        isFree: false,
        price: {
          initial: 5999,
          final: 1499,
          discountPercent: 75,
          initialFormatted: '59,99€',
          finalFormatted: '14,99€',
          discountEndsAt: '2025-12-31T16:00:00.000Z',
        },
      },
    ]);
  });

  it('fills what an option may lack: no original is the final price, no discount_pct is 0, no end date', () => {
    const item = priced(620, { final_price_in_cents: '975', formatted_final_price: '9,75€' });
    expect(readStoreItems(answer(item), [620]).quotes[0]!.price).toEqual({
      initial: 975,
      final: 975,
      discountPercent: 0,
      initialFormatted: '',
      finalFormatted: '9,75€',
    });
  });

  it('reads a final price of 0 as a price, not as free', () => {
    const item = priced(7, { final_price_in_cents: '0', original_price_in_cents: '1999', discount_pct: 100 });
    expect(readStoreItems(answer(item), [7]).quotes[0]).toMatchObject({ isFree: false, price: { final: 0 } });
  });

  it('maps items by position: an app Steam does not list comes back with appid 0 and is not available', () => {
    const items = answer(
      priced(620, { final_price_in_cents: '975' }),
      { appid: 0, success: 2 },
      {
        appid: 570,
        success: 1,
        visible: true,
        is_free: true,
      },
    );

    expect(readStoreItems(items, [620, 999999999, 570]).quotes).toEqual([
      expect.objectContaining({ available: true, price: expect.objectContaining({ final: 975 }) }),
      { available: false, isFree: false, price: null },
      { available: true, isFree: true, price: null },
    ]);
  });

  it.each([
    ['success other than 1', { appid: 7, success: 2 }],
    ['visible: false', { appid: 7, success: 1, visible: false, best_purchase_option: { final_price_in_cents: '1' } }],
  ])('reads an item with %s as not available', (_what, item) => {
    expect(readStoreItems(answer(item), [7]).quotes).toEqual([{ available: false, isFree: false, price: null }]);
  });

  it('reads an item without a purchase option as available without a price', () => {
    expect(readStoreItems(answer({ appid: 7, success: 1 }), [7]).quotes).toEqual([
      { available: true, isFree: false, price: null },
    ]);
  });

  it.each([
    ['missing from the list', answer()],
    ['not an object', answer(7)],
    ['naming another app at its position', answer({ appid: 8, success: 1 })],
    ['with an option that has no final price', answer(priced(7, { formatted_final_price: '9,75€' }))],
  ])('answers null for an item %s: that app alone is asked again', (_what, body) => {
    expect(readStoreItems(body, [7]).quotes).toEqual([null]);
  });

  it.each([
    ['no response', {}],
    ['no store_items list', { response: {} }],
  ])('calls an answer with %s transient: it says nothing of any app', (_what, body) => {
    expect(() => readStoreItems(body, [7])).toThrow(SteamTransientError);
  });
});
