import { describe, expect, it } from 'vitest';

import { budgetOf } from './steam-budget';
import type { SteamRequest } from './steam-request';

describe(budgetOf.name, () => {
  it.each<[SteamRequest, string]>([
    [{ kind: 'appdetails', appId: 620, country: 'US' }, 'store'],
    [{ kind: 'appprices', appIds: [620, 570], country: 'DE' }, 'store'],
    [{ kind: 'applist', lastAppId: 0 }, 'api'],
    [{ kind: 'appchanges', lastAppId: 0, ifModifiedSince: 1_700_000_000 }, 'api'],
    [{ kind: 'storeitems', appIds: [620, 570], country: 'DE' }, 'api'],
  ])('puts %o on the %s budget, the one of the host it calls', (request, budget) => {
    expect(budgetOf(request)).toBe(budget);
  });
});
