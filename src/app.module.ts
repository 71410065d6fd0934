import { DynamicModule, Module } from '@nestjs/common';

import { BackendModule } from './backend/backend.module';
import { WorkerConfigModule } from './config/config.module';
import { WorkerConfig } from './config/worker-config';
import { HealthModule } from './health/health.module';
import { RabbitModule } from './rabbit/rabbit.module';
import { RedisModule } from './redis/redis.module';
import { SchedulesModule } from './schedules/schedules.module';
import { SteamModule } from './steam/steam.module';
import { TasksModule } from './tasks/tasks.module';

@Module({})
export class AppModule {
  /** `config` is validated before Nest starts: see `loadWorkerConfig`. */
  static forRoot(config: WorkerConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        WorkerConfigModule.forRoot(config),
        RedisModule,
        RabbitModule,
        SteamModule,
        BackendModule,
        TasksModule,
        HealthModule,
        SchedulesModule,
      ],
    };
  }
}
