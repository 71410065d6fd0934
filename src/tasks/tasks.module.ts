import { Module } from '@nestjs/common';

import { BackendModule } from '../backend/backend.module';
import { SteamModule } from '../steam/steam.module';
import { CrashLoopGuard } from './crash-loop.guard';
import { InFlightTasks } from './in-flight.tasks';
import { TaskProgressStore } from './progress/task-progress.store';
import { TaskRunner } from './task.runner';
import { TaskShutdown } from './task.shutdown';
import { TasksController } from './tasks.controller';
import { ConsumerState } from './transport/consumer.state';
import { RabbitConnection } from './transport/rabbit.connection';
import { ResultPublisher } from './transport/result.publisher';
import { TaskServer } from './transport/task.server';
import { AppListUseCase } from './use-cases/app-list.use-case';
import { BatchFetchUseCase } from './use-cases/batch-fetch.use-case';

@Module({
  imports: [SteamModule, BackendModule],
  controllers: [TasksController],
  providers: [
    RabbitConnection,
    ConsumerState,
    TaskServer,
    ResultPublisher,
    InFlightTasks,
    TaskRunner,
    TaskShutdown,
    AppListUseCase,
    BatchFetchUseCase,
    TaskProgressStore,
    CrashLoopGuard,
  ],
  exports: [TaskServer, RabbitConnection, ConsumerState],
})
export class TasksModule {}
