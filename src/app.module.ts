import { DynamicModule, Module } from '@nestjs/common';

import { AdminModule } from './admin/admin.module';
import { BackendModule } from './backend/backend.module';
import { WorkerConfig } from './config/worker-config';
import { HealthModule } from './health/health.module';
import { MetricsModule } from './metrics/metrics.module';
import { LoggingModule } from './logging/logging.module';
import { RabbitModule } from './rabbit/rabbit.module';
import { RedisModule } from './redis/redis.module';
import { SchedulesModule } from './schedules/schedules.module';
import { SteamModule } from './steam/steam.module';
import { TasksModule } from './tasks/tasks.module';

@Module({})
export class AppModule {
  /**
   * `configModule` and `config`: the validated configuration, from `WorkerConfigModule.load()`;
   * `config` decides which optional modules exist at all (the queue dashboard).
   */
  static forRoot(configModule: DynamicModule, config: WorkerConfig): DynamicModule {
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
        MetricsModule,
        SchedulesModule,
        AdminModule.forRoot(config.admin),
      ],
    };
  }
}
