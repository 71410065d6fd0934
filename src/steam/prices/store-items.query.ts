/**
 * The GetItems request (docs/contract.md#prices): `input_json` in the query
 * string of a GET, no key. Only what a query value cannot carry as is gets
 * percent-encoded (in this JSON, the quotes), so an id costs
 * `{%22appid%22:1234567},`, 22 characters, and about 340 seven-digit ids fit
 * in the 8,000 characters a chunk's URL must stay under.
 */
export const STORE_ITEMS_PATH = '/IStoreBrowseService/GetItems/v1/';

/** A chunk's URL stays under this many characters. */
export const STORE_ITEMS_MAX_URL_LENGTH = 8000;

export interface StoreItemsQuery {
  appIds: readonly number[];
  country: string;
  language: string;
}

export function storeItemsUrl(apiUrl: string, query: StoreItemsQuery): string {
  const input = {
    ids: query.appIds.map((appid) => ({ appid })),
    context: { language: query.language, country_code: query.country, steam_realm: 1 },
    data_request: { include_basic_info: true, include_all_purchase_options: true },
  };
  return `${apiUrl}${STORE_ITEMS_PATH}?input_json=${encodeQueryValue(JSON.stringify(input))}`;
}

/**
 * What a chunk's URL costs: the length with no id, and what each id adds.
 * Each id is counted with a separator, one more than the URL has, so a
 * chunk measured this way is at most one character shorter than counted.
 */
export function storeItemsUrlMeter(apiUrl: string, country: string, language: string) {
  const emptyLength = storeItemsUrl(apiUrl, { appIds: [], country, language }).length;
  return {
    emptyLength,
    appLength: (appId: number) => encodeQueryValue(`{"appid":${appId}},`).length,
  };
}

/**
 * Percent-encodes every character outside the unreserved ones, the
 * sub-delimiters a query value may hold (not `&`, `+`, `=`, `'`) and
 * `: @ / ? { } [ ]`, which browsers send as they are too.
 */
export function encodeQueryValue(value: string): string {
  return value.replace(/[^A-Za-z0-9\-._~!$()*,;:@/?{}[\]]/gu, (character) =>
    character.length === 1 && character.charCodeAt(0) < 0x80
      ? `%${character.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`
      : encodeURIComponent(character),
  );
}
