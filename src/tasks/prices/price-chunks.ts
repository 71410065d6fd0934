/**
 * How `apps.prices` cuts a country's apps into Steam requests
 * (docs/contract.md#prices): in order, at most STEAM_PRICE_BATCH apps a chunk,
 * and for GetItems, whose ids travel in the URL, no more than keeps the URL
 * under its bound.
 */

/** One app of a chunk, with its pair's bit in the task's progress bitmap. */
export interface ChunkApp {
  appId: number;
  /** appIndex × countries + countryIndex over the task's sorted lists (docs/contract.md#resuming). */
  index: number;
}

export interface ChunkRule {
  /** STEAM_PRICE_BATCH. */
  maxApps: number;
  /**
   * When the request's URL bounds a chunk too: its length with no app, what
   * each app adds, and the length it may reach at most.
   */
  url?: { emptyLength: number; appLength: (appId: number) => number; maxLength: number };
}

/** Cuts `apps`, lazily and in order, into chunks that keep `rule`. Every app is in exactly one. */
export function* chunksOf<App extends { appId: number }>(apps: Iterable<App>, rule: ChunkRule): Generator<App[]> {
  const { url } = rule;
  let chunk: App[] = [];
  let length = url?.emptyLength ?? 0;
  for (const app of apps) {
    const adds = url?.appLength(app.appId) ?? 0;
    const full = chunk.length >= rule.maxApps || (url !== undefined && length + adds > url.maxLength);
    // A chunk always takes its first app, so one app too long for the bound still goes (alone).
    if (full && chunk.length > 0) {
      yield chunk;
      chunk = [];
      length = url?.emptyLength ?? 0;
    }
    chunk.push(app);
    length += adds;
  }
  if (chunk.length > 0) yield chunk;
}

/** A chunk Steam refused as too long, in two halves (the first one app longer when odd). */
export function halves<App>(chunk: readonly App[]): [App[], App[]] {
  const middle = Math.ceil(chunk.length / 2);
  return [chunk.slice(0, middle), chunk.slice(middle)];
}
