import { describe, expect, it } from 'vitest';

import { TaskFailedError } from '../task.errors';
import { AppFetchDto, AppsChangedDto, AppsFetchDto } from './task.dto';
import { isValidTaskId, validateTask, validTaskId } from './validate-task';

/** One code point, two UTF-16 units. */
const EMOJI = '😀';
/** Two code points (U+2764 U+FE0F), which class-validator's @Length counts as one. */
const HEART = '❤️';

async function rejection(promise: Promise<unknown>): Promise<TaskFailedError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(TaskFailedError);
  return error as TaskFailedError;
}

describe(isValidTaskId.name, () => {
  it('accepts 128 emoji, which are 128 code points though 256 UTF-16 units', () => {
    expect(isValidTaskId(EMOJI.repeat(128))).toBe(true);
  });

  it('refuses 129 emoji, one code point too many', () => {
    expect(isValidTaskId(EMOJI.repeat(129))).toBe(false);
  });

  it('refuses an empty string and anything that is not a string', () => {
    expect(isValidTaskId('')).toBe(false);
    expect(isValidTaskId(620)).toBe(false);
    expect(isValidTaskId(undefined)).toBe(false);
    expect(isValidTaskId(['a'])).toBe(false);
  });

  it('counts a variation selector as a code point of its own', () => {
    expect(isValidTaskId(HEART.repeat(64))).toBe(true);
    expect(isValidTaskId(HEART.repeat(64) + 'x')).toBe(false);
  });

  it('refuses a taskId of megabytes', () => {
    expect(isValidTaskId('x'.repeat(4 * 1024 * 1024))).toBe(false);
  });
});

describe(validTaskId.name, () => {
  it('echoes a taskId of 100 emoji', () => {
    const taskId = EMOJI.repeat(100);
    expect(validTaskId({ taskId })).toBe(taskId);
  });

  it('echoes nothing for data that is not an object or carries no valid taskId', () => {
    expect(validTaskId([{ taskId: 'in-array' }])).toBeUndefined();
    expect(validTaskId({ taskId: '' })).toBeUndefined();
    expect(validTaskId({ taskId: 'x'.repeat(129) })).toBeUndefined();
  });
});

describe(validateTask.name, () => {
  const fetchOne = (fields: object) => ({ appId: 620, country: 'US', ...fields });
  const fetchMany = (fields: object) => ({ appIds: [620], countries: ['US'], ...fields });

  it('accepts a taskId of 100 emoji, which is then echoed', async () => {
    const taskId = EMOJI.repeat(100);
    const dto = await validateTask(AppFetchDto, fetchOne({ taskId }));
    expect(dto.taskId).toBe(taskId);
    expect(validTaskId({ taskId })).toBe(dto.taskId);
  });

  it.each([
    ['128 emoji', EMOJI.repeat(128)],
    ['129 emoji', EMOJI.repeat(129)],
    ['64 hearts (128 code points)', HEART.repeat(64)],
    ['100 hearts (200 code points)', HEART.repeat(100)],
    ['128 ASCII characters', 'x'.repeat(128)],
    ['129 ASCII characters', 'x'.repeat(129)],
  ])('accepts a taskId of %s exactly when it would echo it', async (_, taskId) => {
    const accepted = await validateTask(AppFetchDto, fetchOne({ taskId })).then(
      () => true,
      () => false,
    );
    expect(accepted).toBe(validTaskId({ taskId }) !== undefined);
  });

  it('rejects a taskId of 100 hearts, 200 code points, naming the field', async () => {
    const error = await rejection(validateTask(AppFetchDto, fetchOne({ taskId: HEART.repeat(100) })));
    expect(error.code).toBe('invalid_task');
    expect(error.message).toContain('taskId');
  });

  it('upper-cases a country of two ASCII letters', async () => {
    expect((await validateTask(AppFetchDto, fetchOne({ country: 'de' }))).country).toBe('DE');
    expect((await validateTask(AppsFetchDto, fetchMany({ countries: ['de', 'Gb', 'FR'] }))).countries).toEqual([
      'DE',
      'GB',
      'FR',
    ]);
  });

  // ß upper-cases to SS (South Sudan) and ıt to IT: both would pass as assigned codes.
  it.each(['ß', 'ıt', 'XX', 'USA', 'd', 'DÉ', 'dé', ' de'])(
    'rejects the country %s, and the same in a list of countries',
    async (country) => {
      const one = await rejection(validateTask(AppFetchDto, fetchOne({ country })));
      expect(one.code).toBe('invalid_task');
      expect(one.message).toContain('country');
      const many = await rejection(validateTask(AppsFetchDto, fetchMany({ countries: ['US', country] })));
      expect(many.code).toBe('invalid_task');
      expect(many.message).toContain('countries');
    },
  );

  it('takes apps.changed with or without since, 0 included', async () => {
    expect((await validateTask(AppsChangedDto, { since: 1_745_000_000 })).since).toBe(1_745_000_000);
    expect((await validateTask(AppsChangedDto, { since: 0 })).since).toBe(0);
    expect((await validateTask(AppsChangedDto, {})).since).toBeUndefined();
  });

  it.each([
    ['negative', -1],
    ['a fraction', 1.5],
    ['a string of digits', '1745000000'],
    ['beyond 2^53 − 1', 2 ** 53],
    ['a boolean', true],
  ])('rejects a since that is %s, naming the field', async (_what, since) => {
    const error = await rejection(validateTask(AppsChangedDto, { since }));
    expect(error.code).toBe('invalid_task');
    expect(error.message).toContain('since');
  });
});
