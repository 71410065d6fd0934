import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { ConfigError } from './config.errors';
import { parseSchedules } from './schedules';
import { loadWorkerConfig } from './worker-config';

const LIMITS = { maxBatchApps: 10 };
const DAILY_PRICES = {
  name: 'daily-prices',
  cron: '5 18 * * *',
  pattern: 'apps.fetch',
  data: { appIds: [620, 730], countries: ['us', 'DE'] },
};
const json = (value: unknown) => JSON.stringify(value);

/** The ConfigError that parsing `value` throws. */
function configError(value: string, readFile?: (path: string) => string): ConfigError {
  try {
    parseSchedules(value, LIMITS, readFile);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe(parseSchedules.name, () => {
  const directory = mkdtempSync(join(tmpdir(), 'schedules-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('has no schedules when SCHEDULES is unset, empty or blank', () => {
    expect(parseSchedules(undefined, LIMITS)).toEqual([]);
    expect(parseSchedules('', LIMITS)).toEqual([]);
    expect(parseSchedules('  ', LIMITS)).toEqual([]);
    expect(parseSchedules('[]', LIMITS)).toEqual([]);
  });

  it('reads a JSON array of schedules, keeping their data as written', () => {
    const apps = { name: 'changes.hourly_1', cron: '0 * * * *', pattern: 'apps.changed', data: {} };
    expect(parseSchedules(json([DAILY_PRICES, apps]), LIMITS)).toEqual([DAILY_PRICES, apps]);
  });

  it('takes a schedule without data as one with empty data', () => {
    expect(parseSchedules(json([{ name: 'list', cron: '0 3 * * 1', pattern: 'apps.list' }]), LIMITS)).toEqual([
      { name: 'list', cron: '0 3 * * 1', pattern: 'apps.list', data: {} },
    ]);
  });

  it('reads the file that @<path> names', () => {
    const path = join(directory, 'schedules.json');
    writeFileSync(path, json([DAILY_PRICES]));
    expect(parseSchedules(`@${path}`, LIMITS)).toEqual([DAILY_PRICES]);
  });

  it('names the problem of a file that cannot be read by its error code, not its path', () => {
    const error = configError(`@${join(directory, 'missing.json')}`);
    expect(error.message).toBe('SCHEDULES names a file that cannot be read (ENOENT)');
  });

  it('refuses a file that holds no valid JSON', () => {
    expect(configError('@schedules.json', () => '[{"name": ').message).toBe('SCHEDULES is not valid JSON');
  });

  it.each([
    ['malformed JSON', '[{"name": "x", "cron": '],
    ['JSON that is not an array', json(DAILY_PRICES)],
  ])('refuses %s', (_what, value) => {
    expect(configError(value).variable).toBe('SCHEDULES');
  });

  it.each([
    ['an entry that is not an object', ['daily'], 'entry 1 is not a JSON object'],
    ['a name that is missing', [{ ...DAILY_PRICES, name: undefined }], 'entry 1 name must be'],
    ['an empty name', [{ ...DAILY_PRICES, name: '' }], 'entry 1 name must be'],
    ['a name with a space', [{ ...DAILY_PRICES, name: 'daily prices' }], 'entry 1 name must be'],
    ['a name with a colon', [{ ...DAILY_PRICES, name: 'daily:prices' }], 'entry 1 name must be'],
    ['a name of 101 characters', [{ ...DAILY_PRICES, name: 'n'.repeat(101) }], 'entry 1 name must be'],
    ['a cron of six fields', [{ ...DAILY_PRICES, cron: '0 5 18 * * *' }], 'entry 1 (daily-prices) cron must have five'],
    ['a cron out of range', [{ ...DAILY_PRICES, cron: '5 25 * * *' }], 'entry 1 (daily-prices) cron is not a valid'],
    ['a cron that is no string', [{ ...DAILY_PRICES, cron: 5 }], 'entry 1 (daily-prices) cron must be a string'],
    ['an unknown pattern', [{ ...DAILY_PRICES, pattern: 'apps.delete' }], 'entry 1 (daily-prices) pattern is not'],
    ['data that is no object', [{ ...DAILY_PRICES, data: [620] }], 'entry 1 (daily-prices) data must be a JSON'],
    ['a field that is not known', [{ ...DAILY_PRICES, crontab: '* * * * *' }], 'entry 1 (daily-prices) has fields'],
  ])('refuses %s, naming the entry', (_what, list, message) => {
    expect(configError(json(list)).message).toContain(`SCHEDULES ${message}`);
  });

  it.each([
    ['a country that is no ISO code', { appIds: [620], countries: ['XX'] }, 'countries'],
    ['no appIds', { countries: ['US'] }, 'appIds'],
    [
      'more appIds than MAX_BATCH_APPS',
      { appIds: Array.from({ length: 11 }, (_, i) => i + 1), countries: ['US'] },
      'appIds',
    ],
  ])('refuses data invalid for its pattern (%s), naming the field', (_what, data, field) => {
    const error = configError(json([{ ...DAILY_PRICES }, { ...DAILY_PRICES, name: 'second', data }]));
    expect(error.message).toContain('SCHEDULES entry 2 (second) data is invalid for apps.fetch');
    expect(error.message).toContain(field);
  });

  it('checks since of apps.changed as a task would', () => {
    const entry = { name: 'changes', cron: '*/10 * * * *', pattern: 'apps.changed', data: { since: -1 } };
    expect(configError(json([entry])).message).toContain('entry 1 (changes) data is invalid for apps.changed: since');
  });

  it('refuses two schedules of the same name: their taskIds and claims would be one', () => {
    expect(configError(json([DAILY_PRICES, DAILY_PRICES])).message).toBe('SCHEDULES names the same schedule twice');
  });

  it('never prints what an entry holds', () => {
    const secretish = 'do-not-print-me';
    const values = [
      [{ ...DAILY_PRICES, cron: `${secretish} * * * *` }],
      [{ ...DAILY_PRICES, pattern: secretish }],
      [{ ...DAILY_PRICES, data: { appIds: [secretish], countries: ['US'] } }],
      [{ ...DAILY_PRICES, name: secretish.repeat(20) }],
    ];
    for (const list of values) expect(configError(json(list)).message).not.toContain(secretish);
    expect(configError(`[${json(secretish)}`).message).not.toContain(secretish);
  });
});

describe('SCHEDULES in loadWorkerConfig', () => {
  const REQUIRED = {
    BACKEND_URL: 'http://backend.internal:8080/',
    AUTH_URL: 'http://auth.internal/oauth/token',
    AUTH_CLIENT_ID: 'worker',
    AUTH_CLIENT_SECRET: 's3cret-value',
  };

  it('is validated with the other variables into config.schedules', () => {
    expect(loadWorkerConfig({ ...REQUIRED, SCHEDULES: json([DAILY_PRICES]) }).schedules).toEqual([DAILY_PRICES]);
    expect(loadWorkerConfig(REQUIRED).schedules).toEqual([]);
  });

  it('checks appIds against MAX_BATCH_APPS as configured', () => {
    const data = { appIds: [1, 2, 3], countries: ['US'] };
    const env = { ...REQUIRED, MAX_BATCH_APPS: '2', SCHEDULES: json([{ ...DAILY_PRICES, data }]) };
    expect(() => loadWorkerConfig(env)).toThrow(ConfigError);
  });

  it('stops the start with a ConfigError naming SCHEDULES', () => {
    expect(() => loadWorkerConfig({ ...REQUIRED, SCHEDULES: 'not json' })).toThrow(
      expect.objectContaining({ variable: 'SCHEDULES' }),
    );
  });
});
