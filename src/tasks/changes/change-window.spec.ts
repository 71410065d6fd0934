import { describe, expect, it } from 'vitest';

import type { ChangedApp } from '../../steam/steam-request';
import { FIRST_LOOKBACK_S, nowSeconds, sinceWithout, untilOf, watermarkAfter } from './change-window';

const NOW_S = 1_780_000_000;
const app = (appId: number, lastModified: number): ChangedApp => ({ appId, lastModified, priceChangeNumber: 1 });

describe('the change window of apps.changed', () => {
  describe(sinceWithout.name, () => {
    it('continues from the watermark when there is one', () => {
      expect(sinceWithout(1_779_000_000, NOW_S)).toBe(1_779_000_000);
    });

    it('continues from a watermark of 0 too', () => {
      expect(sinceWithout(0, NOW_S)).toBe(0);
    });

    it('looks 24 hours back when no apps.changed has completed yet', () => {
      expect(sinceWithout(undefined, NOW_S)).toBe(NOW_S - 86_400);
      expect(FIRST_LOOKBACK_S).toBe(86_400);
    });
  });

  describe(untilOf.name, () => {
    it('is the largest last_modified listed, wherever it is in the list', () => {
      expect(untilOf(100, [app(1, 150), app(2, 400), app(3, 200)])).toBe(400);
    });

    it('is since when nothing changed', () => {
      expect(untilOf(100, [])).toBe(100);
    });

    it('never goes below since, whatever Steam lists', () => {
      expect(untilOf(100, [app(1, 100), app(2, 40)])).toBe(100);
    });
  });

  describe(watermarkAfter.name, () => {
    it("offers the task's until", () => {
      expect(watermarkAfter(NOW_S - 60, NOW_S)).toBe(NOW_S - 60);
    });

    it('never offers a time after now, so that a since in the future cannot hide the changes until then', () => {
      expect(watermarkAfter(NOW_S + 86_400, NOW_S)).toBe(NOW_S);
    });
  });

  it('reads the clock in whole unix seconds', () => {
    expect(nowSeconds(1_780_000_000_999)).toBe(1_780_000_000);
  });
});
