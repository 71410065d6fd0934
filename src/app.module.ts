import { DynamicModule, Module } from '@nestjs/common';

import { BackendModule } from './backend/backend.module';
import { HealthModule } from './health/health.module';
import { LoggingModule } from './logging/logging.module';
import { RabbitModule } from './rabbit/rabbit.module';
import { RedisModule } from './redis/redis.module';
import { SchedulesModule } from './schedules/schedules.module';
import { SteamModule } from './steam/steam.module';
import { TasksModule } from './tasks/tasks.module';

@Module({})
export class AppModule {
  /** `configModule`: the validated configuration, from `WorkerConfigModule.load()`. */
  static forRoot(configModule: DynamicModule): DynamicModule {
    return {
      module: AppModule,
      imports: [
        configModule,
        LoggingModule,
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
