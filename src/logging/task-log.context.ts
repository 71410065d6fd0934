import { Injectable } from '@nestjs/common';
import { ClsService, ClsServiceManager, ClsStore } from 'nestjs-cls';

/** What every line written for a task carries (docs/contract.md#logs). */
export interface TaskLogFields {
  taskId: string;
  pattern?: string;
}

interface TaskLogStore extends ClsStore, Partial<TaskLogFields> {}

/**
 * Longest pattern a line carries as a field. An unknown pattern may be
 * megabytes; the message that quotes it has its own 8 KiB cap.
 */
const MAX_PATTERN_CHARS = 200;

/**
 * The fields of the task whose async context this code runs in, or none
 * (scheduler, connections, the worker as a whole). Read by the logger's mixin
 * for every line, and by the Steam queue to hand them to its jobs.
 */
export function currentTaskLogFields(): Partial<TaskLogFields> {
  const store = ClsServiceManager.getClsService<TaskLogStore>().get() as TaskLogStore | undefined;
  if (!store?.taskId) return {};
  return store.pattern === undefined ? { taskId: store.taskId } : { taskId: store.taskId, pattern: store.pattern };
}

/**
 * The task's async context, held by nestjs-cls: a delivery runs in one
 * (TaskRunner), and a Steam job re-enters its task's from the job's data
 * (SteamRequestProcessor), so that the lines of its Steam requests carry it.
 */
@Injectable()
export class TaskLogContext {
  constructor(private readonly cls: ClsService<TaskLogStore>) {}

  /**
   * Runs `work` in a context of its own holding `fields`; an empty one without
   * a taskId, so that `work` never writes under the id of whatever ran before.
   */
  run<T>(fields: { taskId?: string; pattern?: string | null }, work: () => T): T {
    const store: TaskLogStore = fields.taskId ? { taskId: fields.taskId } : {};
    if (store.taskId && typeof fields.pattern === 'string') {
      store.pattern =
        fields.pattern.length > MAX_PATTERN_CHARS ? `${fields.pattern.slice(0, MAX_PATTERN_CHARS)}…` : fields.pattern;
    }
    return this.cls.runWith(store, work);
  }
}
