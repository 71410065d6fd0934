import type { ClassConstructor } from 'class-transformer';

import type { TaskPattern } from '../task-patterns';
import { AppFetchDto, AppsChangedDto, AppsFetchDto, AppsListDto, TaskDto } from './task.dto';

/**
 * The DTO each task type's data must fit, as its handler in tasks.controller.ts
 * names it: for data that is checked before it becomes a task (SCHEDULES).
 * Typed by every pattern, so a new task type cannot be forgotten here.
 */
export const TASK_DTOS: Record<TaskPattern, ClassConstructor<TaskDto>> = {
  'apps.list': AppsListDto,
  'app.fetch': AppFetchDto,
  'apps.fetch': AppsFetchDto,
  'apps.prices': AppsFetchDto,
  'apps.changed': AppsChangedDto,
};
