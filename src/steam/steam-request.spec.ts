import { describe, expect, it } from 'vitest';

import { budgetOf, SteamRequest } from './steam-request';

describe(budgetOf.name, () => {
  it.each<[SteamRequest, 'store' | 'api']>([
    [{ kind: 'appdetails', appId: 620, country: 'DE' }, 'store'],
    [{ kind: 'appprices', appIds: [620, 570], country: 'DE' }, 'store'],
    [{ kind: 'applist', lastAppId: 0 }, 'api'],
    [{ kind: 'storeitems', appIds: [620, 570], country: 'DE' }, 'api'],
  ])('spends the budget of the host it calls: %o → %s', (request, budget) => {
    expect(budgetOf(request)).toBe(budget);
  });
});
