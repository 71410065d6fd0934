import { readFileSync } from 'node:fs';

import { cronSchedule, InvalidCronError } from '../schedules/cron-expression';
import { TASK_DTOS } from '../tasks/dto/task-dtos';
import { validateTaskSync } from '../tasks/dto/validate-task';
import { isTaskPattern, TaskPattern } from '../tasks/task-patterns';
import { TaskFailedError } from '../tasks/task.errors';
import { ConfigError } from './config.errors';

/** One entry of SCHEDULES (docs/contract.md#scheduled-tasks), checked. */
export interface ScheduleConfig {
  /** 1..100 of `A-Z a-z 0-9 . _ -`: part of every taskId and Redis key of the schedule. */
  name: string;
  /** Five fields, UTC. */
  cron: string;
  pattern: TaskPattern;
  /** The task's data as written (its `taskId` is replaced by `<name>@<tick>`). */
  data: Record<string, unknown>;
}

const NAME = /^[A-Za-z0-9._-]{1,100}$/;
const FIELDS = new Set(['name', 'cron', 'pattern', 'data']);

/** Reads a file that `@<path>` names; the default reads from disk. */
export type ReadFile = (path: string) => string;

/**
 * Parses SCHEDULES: a JSON array, or `@<path>` of a file holding one. A bad
 * entry is reported by its 1-based position, and by its name once that is
 * valid; never by its cron, pattern or data, and the file by its error code.
 * Data is checked with the task DTOs, as a task would be, and with
 * MAX_BATCH_APPS, so that a schedule cannot publish a task that will fail.
 */
export function parseSchedules(
  value: string | undefined,
  limits: { maxBatchApps: number },
  readFile: ReadFile = (path) => readFileSync(path, 'utf8'),
): ScheduleConfig[] {
  const text = value?.trim();
  if (!text) return [];
  const list = parseJson(text.startsWith('@') ? readSchedulesFile(text.slice(1).trim(), readFile) : text);
  if (!Array.isArray(list)) throw new ConfigError('SCHEDULES', 'must be a JSON array of schedules');
  const schedules = list.map((entry, index) => parseEntry(entry, index + 1, limits));
  const names = new Set(schedules.map((schedule) => schedule.name));
  if (names.size !== schedules.length) throw new ConfigError('SCHEDULES', 'names the same schedule twice');
  return schedules;
}

function readSchedulesFile(path: string, readFile: ReadFile): string {
  if (!path) throw new ConfigError('SCHEDULES', 'must name a file after @');
  try {
    return readFile(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new ConfigError(
      'SCHEDULES',
      `names a file that cannot be read${typeof code === 'string' ? ` (${code})` : ''}`,
    );
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text around the error.
    throw new ConfigError('SCHEDULES', 'is not valid JSON');
  }
}

function parseEntry(entry: unknown, position: number, limits: { maxBatchApps: number }): ScheduleConfig {
  let at = `entry ${position}`;
  const fail = (problem: string) => new ConfigError('SCHEDULES', `${at} ${problem}`);
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw fail('is not a JSON object');
  const { name, cron, pattern, data = {} } = entry as Record<string, unknown>;
  if (typeof name !== 'string' || !NAME.test(name)) throw fail('name must be 1 to 100 of A-Z a-z 0-9 . _ -');
  at = `entry ${position} (${name})`;
  if (Object.keys(entry).some((field) => !FIELDS.has(field)))
    throw fail('has fields other than name, cron, pattern, data');
  if (typeof cron !== 'string') throw fail('cron must be a string');
  try {
    cronSchedule(cron);
  } catch (error) {
    if (error instanceof InvalidCronError) throw fail(`cron ${error.message}`);
    throw error;
  }
  if (!isTaskPattern(pattern)) throw fail('pattern is not a task type');
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw fail('data must be a JSON object');
  try {
    const dto = validateTaskSync(TASK_DTOS[pattern], data);
    const { appIds } = dto as { appIds?: unknown };
    if (Array.isArray(appIds) && appIds.length > limits.maxBatchApps) {
      throw new TaskFailedError(
        'invalid_task',
        `appIds must have at most ${limits.maxBatchApps} items (MAX_BATCH_APPS)`,
      );
    }
  } catch (error) {
    // Names the field and the rule, as an invalid task's message does, never the value.
    if (error instanceof TaskFailedError) throw fail(`data is invalid for ${pattern}: ${error.message}`);
    throw error;
  }
  return { name, cron, pattern, data: data as Record<string, unknown> };
}
