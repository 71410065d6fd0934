import { Controller } from '@nestjs/common';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';

import { AppFetchDto, AppsChangedDto, AppsFetchDto, AppsListDto } from './dto/task.dto';
import { INVALID_TASK_PATTERN } from './task-patterns';
import { TaskRunner } from './task.runner';
import type { TaskContext } from '../rabbit/task.context';
import type { InvalidTaskData } from '../rabbit/task-envelope';
import { AppListUseCase } from './use-cases/app-list.use-case';
import { AppsChangedUseCase } from './use-cases/apps-changed.use-case';
import { BatchFetchUseCase } from './use-cases/batch-fetch.use-case';
import { PriceRefreshUseCase } from './use-cases/price-refresh.use-case';

/**
 * One handler per task type. Each names its DTO and use case; the runner
 * validates, runs it and turns the outcome into ack, dead-letter or requeue.
 */
@Controller()
export class TasksController {
  constructor(
    private readonly runner: TaskRunner,
    private readonly appList: AppListUseCase,
    private readonly batch: BatchFetchUseCase,
    private readonly prices: PriceRefreshUseCase,
    private readonly changes: AppsChangedUseCase,
  ) {}

  @MessagePattern('apps.list')
  appsList(@Payload() data: unknown, @Ctx() context: TaskContext): Promise<void> {
    return this.runner.run(context, data, { dto: AppsListDto, execute: (_dto, run) => this.appList.execute(run) });
  }

  @MessagePattern('app.fetch')
  appFetch(@Payload() data: unknown, @Ctx() context: TaskContext): Promise<void> {
    return this.runner.run(context, data, {
      dto: AppFetchDto,
      execute: (dto, run) => this.batch.execute({ appIds: [dto.appId], countries: [dto.country] }, run),
    });
  }

  @MessagePattern('apps.fetch')
  appsFetch(@Payload() data: unknown, @Ctx() context: TaskContext): Promise<void> {
    return this.runner.run(context, data, { dto: AppsFetchDto, execute: (dto, run) => this.batch.execute(dto, run) });
  }

  /** Validated like apps.fetch: the same lists, the same bounds. */
  @MessagePattern('apps.prices')
  appsPrices(@Payload() data: unknown, @Ctx() context: TaskContext): Promise<void> {
    return this.runner.run(context, data, { dto: AppsFetchDto, execute: (dto, run) => this.prices.execute(dto, run) });
  }

  /** The watermark moves only once the result is confirmed (docs/contract.md#change-detection). */
  @MessagePattern('apps.changed')
  appsChanged(@Payload() data: unknown, @Ctx() context: TaskContext): Promise<void> {
    return this.runner.run(context, data, {
      dto: AppsChangedDto,
      execute: (dto, run) => this.changes.execute(dto, run),
      completed: (result) => this.changes.completed(result),
    });
  }

  @MessagePattern(INVALID_TASK_PATTERN)
  invalid(@Payload() data: InvalidTaskData, @Ctx() context: TaskContext): Promise<void> {
    return this.runner.reject(context, data);
  }
}
