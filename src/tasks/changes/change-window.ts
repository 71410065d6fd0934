import type { ChangedApp } from '../../steam/steam-request';

/** How far back `apps.changed` looks when it has neither `since` nor a watermark. */
export const FIRST_LOOKBACK_S = 24 * 60 * 60;

/** The worker's clock in unix seconds. */
export const nowSeconds = (nowMs = Date.now()): number => Math.floor(nowMs / 1000);

/**
 * Where an `apps.changed` without `since` starts (docs/contract.md#change-detection):
 * the watermark left by the apps.changed tasks that completed, or 24 hours ago.
 */
export function sinceWithout(watermark: number | undefined, nowS: number): number {
  return watermark ?? Math.max(0, nowS - FIRST_LOOKBACK_S);
}

/**
 * The `until` of a result: the largest `last_modified` listed, or `since` when
 * nothing changed. Never below `since`, so that passing it on as the next
 * `since` can never go back in time, whatever Steam lists.
 */
export function untilOf(since: number, apps: readonly ChangedApp[]): number {
  let until = since;
  for (const app of apps) if (app.lastModified > until) until = app.lastModified;
  return until;
}

/**
 * What a completed task offers the watermark: its `until`, but never later
 * than now. A `since` in the future (a mistake) would otherwise move the
 * watermark there, and every later `apps.changed` without `since` would miss
 * the changes until then.
 */
export function watermarkAfter(until: number, nowS: number): number {
  return Math.min(until, nowS);
}
