import { DynamicModule, Module } from '@nestjs/common';

import { BackendModule } from './backend/backend.module';
import { WorkerConfigModule } from './config/config.module';
import { HealthModule } from './health/health.module';
import { RedisModule } from './redis/redis.module';
import { SteamModule } from './steam/steam.module';
import { TasksModule } from './tasks/tasks.module';

@Module({})
export class AppModule {
  /** `env` defaults to `process.env`; tests pass their own variables. */
  static forRoot(env?: Record<string, string | undefined>): DynamicModule {
    return {
      module: AppModule,
      imports: [WorkerConfigModule.forRoot(env), RedisModule, SteamModule, BackendModule, TasksModule, HealthModule],
    };
  }
}
