import { ClassConstructor, plainToInstance } from 'class-transformer';
import { validate, validateSync, ValidationError, ValidatorOptions } from 'class-validator';

import { isPlainObject } from '../../rabbit/task-envelope';
import { TaskFailedError } from '../task.errors';

const VALIDATION: ValidatorOptions = { stopAtFirstError: true, forbidUnknownValues: false };

/**
 * Validates a task's `data` against its DTO; throws an `invalid_task`
 * {@link TaskFailedError} naming the first bad field (never its value).
 */
export async function validateTask<T extends object>(dtoClass: ClassConstructor<T>, data: unknown): Promise<T> {
  const dto = readTask(dtoClass, data);
  let errors: ValidationError[];
  try {
    errors = await validate(dto, VALIDATION);
  } catch (error) {
    throw unreadable(error);
  }
  return checked(dto, errors);
}

/**
 * {@link validateTask} without a promise, for data checked while the
 * configuration is read (SCHEDULES), before anything asynchronous runs. The
 * same result: the task DTOs have no asynchronous rules.
 */
export function validateTaskSync<T extends object>(dtoClass: ClassConstructor<T>, data: unknown): T {
  const dto = readTask(dtoClass, data);
  let errors: ValidationError[];
  try {
    errors = validateSync(dto, VALIDATION);
  } catch (error) {
    throw unreadable(error);
  }
  return checked(dto, errors);
}

function readTask<T extends object>(dtoClass: ClassConstructor<T>, data: unknown): T {
  if (!isPlainObject(data)) throw new TaskFailedError('invalid_task', 'data must be an object');
  try {
    // Only the DTO's own fields are read: unknown ones are ignored, however deep (docs/contract.md#queues-and-envelopes).
    return plainToInstance(dtoClass, data, { excludeExtraneousValues: true });
  } catch (error) {
    throw unreadable(error);
  }
}

/** Pathological input (say, nesting deep enough to exhaust the stack). */
function unreadable(error: unknown): TaskFailedError {
  return new TaskFailedError('invalid_task', 'data cannot be read', { cause: error });
}

function checked<T>(dto: T, errors: ValidationError[]): T {
  if (errors.length > 0) {
    const [first] = errors;
    const problem = Object.values(first!.constraints ?? {})[0] ?? `${first!.property} is invalid`;
    throw new TaskFailedError('invalid_task', problem);
  }
  return dto;
}

const MAX_TASK_ID_CODE_POINTS = 128;

/**
 * The taskId rule (docs/contract.md#queues-and-envelopes): a string of 1 to 128 Unicode code points,
 * counted the same way everywhere, so that every taskId the DTO accepts is
 * echoed. `string.length` counts UTF-16 units (an emoji is 2).
 */
export function isValidTaskId(value: unknown): value is string {
  // 128 code points take at most 256 UTF-16 units: a longer string is refused
  // before it is spread into an array of its characters (it may be megabytes).
  if (typeof value !== 'string' || value.length === 0 || value.length > 2 * MAX_TASK_ID_CODE_POINTS) return false;
  return [...value].length <= MAX_TASK_ID_CODE_POINTS;
}

/** The task's own taskId when it is worth echoing. */
export function validTaskId(data: unknown): string | undefined {
  const taskId = isPlainObject(data) ? data.taskId : undefined;
  return isValidTaskId(taskId) ? taskId : undefined;
}
