/** Task types the orchestrator sends (docs/contract.md#tasks). */
export const TASK_PATTERNS = ['apps.list', 'app.fetch', 'apps.fetch', 'apps.prices', 'apps.changed'] as const;
export type TaskPattern = (typeof TASK_PATTERNS)[number];

/**
 * Where the task server routes whatever matches no task type: invalid UTF-8 or
 * JSON, a body that is no envelope, an unknown pattern. Not a wire pattern.
 */
export const INVALID_TASK_PATTERN = 'steam-worker.invalid-task';

export function isTaskPattern(pattern: unknown): pattern is TaskPattern {
  return (TASK_PATTERNS as readonly unknown[]).includes(pattern);
}
