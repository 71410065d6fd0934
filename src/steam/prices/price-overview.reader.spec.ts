import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { SteamTransientError } from '../steam.errors';
import { readPriceOverviews } from './price-overview.reader';

/** Steam's real answer to appids=620,570,1174180,323180,999999999&cc=cz&filters=price_overview. */
const REAL_BATCH: unknown = JSON.parse(
  readFileSync(
    join(__dirname, '..', '..', '..', 'test', 'fixtures', 'steam', 'appdetails_multi_price_overview_cc-cz.json'),
    'utf8',
  ),
);

describe(readPriceOverviews.name, () => {
  it("reads Steam's real multi-app answer: priced, free, discounted, free, unknown, in the order asked", () => {
    const { quotes } = readPriceOverviews(REAL_BATCH, [620, 570, 1174180, 323180, 999999999]);

    expect(quotes).toEqual([
      {
        available: true,
        isFree: false,
        price: {
          currency: 'EUR',
          initial: 975,
          final: 975,
          discountPercent: 0,
          initialFormatted: '',
          finalFormatted: '9,75€',
        },
      },
      { available: true, isFree: null, price: null },
      {
        available: true,
        isFree: false,
        price: {
          currency: 'EUR',
          initial: 5999,
          final: 1499,
          discountPercent: 75,
          initialFormatted: '59,99€',
          finalFormatted: '14,99€',
        },
      },
      { available: true, isFree: null, price: null },
      { available: false, isFree: false, price: null },
    ]);
  });

  it('maps the answer by app id, whatever order Steam writes it in', () => {
    expect(readPriceOverviews(REAL_BATCH, [999999999, 620]).quotes.map((quote) => quote?.available)).toEqual([
      false,
      true,
    ]);
  });

  it('reads an empty data object as unpriced too, like the empty array', () => {
    expect(readPriceOverviews({ 7: { success: true, data: {} } }, [7]).quotes).toEqual([
      { available: true, isFree: null, price: null },
    ]);
  });

  it('fills what a price may lack: no initial is the final price, no discount is 0, no text is ""', () => {
    const body = { 7: { success: true, data: { price_overview: { currency: 'USD', final: 999 } } } };
    expect(readPriceOverviews(body, [7]).quotes[0]!.price).toEqual({
      currency: 'USD',
      initial: 999,
      final: 999,
      discountPercent: 0,
      initialFormatted: '',
      finalFormatted: '',
    });
  });

  it.each([
    ['no entry', {}],
    ['an entry that is no object', { 7: 'yes' }],
    ['no success flag', { 7: { data: [] } }],
    ['a price without a currency', { 7: { success: true, data: { price_overview: { final: 999 } } } }],
    ['a price without a final amount', { 7: { success: true, data: { price_overview: { currency: 'EUR' } } } }],
    ['a negative amount', { 7: { success: true, data: { price_overview: { currency: 'EUR', final: -1 } } } }],
    ['data that is a string', { 7: { success: true, data: 'price' } }],
  ])('answers null for an app with %s: that app alone is asked again', (_what, body) => {
    const { quotes } = readPriceOverviews({ ...body, 8: { success: false } }, [7, 8]);
    expect(quotes).toEqual([null, { available: false, isFree: false, price: null }]);
  });

  it.each([
    ['an array', []],
    ['a string', 'null'],
  ])('calls a body that is %s transient: it says nothing of any app', (_what, body) => {
    expect(() => readPriceOverviews(body, [7])).toThrow(SteamTransientError);
  });
});
