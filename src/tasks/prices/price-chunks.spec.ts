import { describe, expect, it } from 'vitest';

import { storeItemsUrl, storeItemsUrlMeter } from '../../steam/prices/store-items.query';
import { chunksOf, halves } from './price-chunks';

const apps = (...appIds: number[]) => appIds.map((appId, index) => ({ appId, index }));
const ids = (chunks: { appId: number }[][]) => chunks.map((chunk) => chunk.map((app) => app.appId));

describe(chunksOf.name, () => {
  it('cuts the apps in order into chunks of at most maxApps, every app in exactly one', () => {
    expect(ids([...chunksOf(apps(1, 2, 3, 4, 5, 6, 7), { maxApps: 3 })])).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
  });

  it('makes no chunk of no apps', () => {
    expect([...chunksOf([], { maxApps: 3 })]).toEqual([]);
  });

  it('reads the apps lazily: a chunk is cut before the apps after it are read', () => {
    let read = 0;
    const counted = (function* () {
      for (let appId = 1; appId <= 1000; appId++, read++) yield { appId };
    })();
    const first = chunksOf(counted, { maxApps: 10 }).next();
    expect(first.value).toHaveLength(10);
    expect(read).toBeLessThanOrEqual(11);
  });

  it('cuts a GetItems chunk early, so that its URL stays under 8,000 characters: about 340 seven-digit ids', () => {
    const api = 'https://api.steampowered.com';
    const meter = storeItemsUrlMeter(api, 'CZ', 'english');
    const many = apps(...Array.from({ length: 800 }, (_, i) => 1_000_000 + i));

    const chunks = [...chunksOf(many, { maxApps: 400, url: { ...meter, maxLength: 8000 } })];

    expect(chunks.length).toBe(3);
    expect(chunks[0]!.length).toBeGreaterThanOrEqual(330);
    expect(chunks[0]!.length).toBeLessThan(400);
    for (const chunk of chunks) {
      const url = storeItemsUrl(api, { appIds: chunk.map((app) => app.appId), country: 'CZ', language: 'english' });
      expect(url.length).toBeLessThan(8000);
    }
    expect(chunks.flat()).toEqual(many);
  });

  it('still sends an app whose URL alone would be too long, alone', () => {
    const rule = { maxApps: 10, url: { emptyLength: 10, appLength: () => 50, maxLength: 40 } };
    expect(ids([...chunksOf(apps(1, 2), rule)])).toEqual([[1], [2]]);
  });
});

describe(halves.name, () => {
  it('splits a chunk in two, the first half one longer when odd', () => {
    expect(halves([1, 2, 3, 4, 5])).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    expect(halves([1, 2])).toEqual([[1], [2]]);
  });
});
