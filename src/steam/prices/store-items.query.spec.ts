import { describe, expect, it } from 'vitest';

import { encodeQueryValue, storeItemsUrl, storeItemsUrlMeter } from './store-items.query';

const API = 'https://api.steampowered.com';

describe(storeItemsUrl.name, () => {
  it('asks GetItems for the ids in order, in the country and language, with basic info and every purchase option', () => {
    const url = new URL(storeItemsUrl(API, { appIds: [620, 570], country: 'CZ', language: 'english' }));

    expect(url.pathname).toBe('/IStoreBrowseService/GetItems/v1/');
    expect(JSON.parse(url.searchParams.get('input_json')!)).toEqual({
      ids: [{ appid: 620 }, { appid: 570 }],
      context: { language: 'english', country_code: 'CZ', steam_realm: 1 },
      data_request: { include_basic_info: true, include_all_purchase_options: true },
    });
  });

  it('escapes only the quotes of its JSON: 22 characters per seven-digit id', () => {
    const url = storeItemsUrl(API, { appIds: [1234567], country: 'CZ', language: 'english' });
    expect(url).toContain('input_json={%22ids%22:[{%22appid%22:1234567}],');
    expect(url).not.toMatch(/[" ]/);
  });
});

describe(storeItemsUrlMeter.name, () => {
  it('counts a URL at its length or one character above, never below', () => {
    const meter = storeItemsUrlMeter(API, 'BR', 'brazilian');
    for (const appIds of [[10], [620, 570, 1174180], Array.from({ length: 340 }, (_, i) => 1_000_000 + i * 7)]) {
      const counted = appIds.reduce((length, appId) => length + meter.appLength(appId), meter.emptyLength);
      const actual = storeItemsUrl(API, { appIds, country: 'BR', language: 'brazilian' }).length;
      expect(counted - actual).toBe(1);
    }
  });
});

describe(encodeQueryValue.name, () => {
  it('percent-encodes what a query value cannot hold and leaves the rest', () => {
    expect(encodeQueryValue('{"a":[1,2]}')).toBe('{%22a%22:[1,2]}');
    expect(encodeQueryValue("a&b=c+d e#f%'")).toBe('a%26b%3Dc%2Bd%20e%23f%25%27');
    expect(encodeQueryValue('é')).toBe('%C3%A9');
  });
});
