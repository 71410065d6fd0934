import { Module } from '@nestjs/common';

import { BackendModule } from '../backend/backend.module';
import { RabbitModule } from '../rabbit/rabbit.module';
import { SteamModule } from '../steam/steam.module';
import { CrashLoopGuard } from './crash-loop.guard';
import { CountryCurrencyStore } from './prices/country-currency.store';
import { InFlightTasks } from './in-flight.tasks';
import { ProgressReporterFactory } from './progress/progress-reporter.factory';
import { TaskProgressStore } from './progress/task-progress.store';
import { TaskRunner } from './task.runner';
import { TaskShutdown } from './task.shutdown';
import { TasksController } from './tasks.controller';
import { ChangeWatermarkStore } from './changes/change-watermark.store';
import { AppListUseCase } from './use-cases/app-list.use-case';
import { AppsChangedUseCase } from './use-cases/apps-changed.use-case';
import { BatchFetchUseCase } from './use-cases/batch-fetch.use-case';
import { PriceRefreshUseCase } from './use-cases/price-refresh.use-case';

@Module({
  imports: [RabbitModule, SteamModule, BackendModule],
  controllers: [TasksController],
  providers: [
    InFlightTasks,
    TaskRunner,
    TaskShutdown,
    AppListUseCase,
    BatchFetchUseCase,
    PriceRefreshUseCase,
    CountryCurrencyStore,
    TaskProgressStore,
    ProgressReporterFactory,
    CrashLoopGuard,
    AppsChangedUseCase,
    ChangeWatermarkStore,
  ],
})
export class TasksModule {}
