import { ClassConstructor, plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';

import { isPlainObject } from '../transport/task-envelope';
import { TaskFailedError } from '../task.errors';

/**
 * Validates a task's `data` against its DTO; throws an `invalid_task`
 * {@link TaskFailedError} naming the first bad field (never its value).
 */
export async function validateTask<T extends object>(dtoClass: ClassConstructor<T>, data: unknown): Promise<T> {
  if (!isPlainObject(data)) throw new TaskFailedError('invalid_task', 'data must be an object');
  let dto: T;
  let errors;
  try {
    // Only the DTO's own fields are read: unknown ones are ignored, however deep (CONTRACT.md §1).
    dto = plainToInstance(dtoClass, data, { excludeExtraneousValues: true });
    errors = await validate(dto, { stopAtFirstError: true, forbidUnknownValues: false });
  } catch (error) {
    // Pathological input (say, nesting deep enough to exhaust the stack).
    throw new TaskFailedError('invalid_task', 'data cannot be read', { cause: error });
  }
  if (errors.length > 0) {
    const [first] = errors;
    const problem = Object.values(first!.constraints ?? {})[0] ?? `${first!.property} is invalid`;
    throw new TaskFailedError('invalid_task', problem);
  }
  return dto;
}

/** A taskId worth echoing: a string of 1 to 128 characters. */
export function validTaskId(data: unknown): string | undefined {
  const taskId = isPlainObject(data) ? data.taskId : undefined;
  return typeof taskId === 'string' && taskId.length >= 1 && taskId.length <= 128 ? taskId : undefined;
}
