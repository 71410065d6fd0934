import { DynamicModule, Global, Module } from '@nestjs/common';
import { ConfigModule, ConfigService, registerAs } from '@nestjs/config';

import { validateEnvironment } from './environment';
import { toWorkerConfig, WorkerConfig } from './worker-config';

const WORKER_CONFIG = 'worker';

/**
 * Validates the environment once, when the module is built (so a bad value
 * fails the start, not the first message), and provides it as {@link WorkerConfig}.
 * Tests pass their own variables instead of touching `process.env`.
 */
@Global()
@Module({})
export class WorkerConfigModule {
  static forRoot(env: Record<string, string | undefined> = process.env): DynamicModule {
    const config = toWorkerConfig(validateEnvironment(env));
    return {
      module: WorkerConfigModule,
      imports: [
        ConfigModule.forRoot({
          ignoreEnvFile: true,
          skipProcessEnv: true,
          load: [registerAs(WORKER_CONFIG, () => config)],
        }),
      ],
      providers: [
        {
          provide: WorkerConfig,
          inject: [ConfigService],
          useFactory: (configService: ConfigService) => configService.getOrThrow<WorkerConfig>(WORKER_CONFIG),
        },
      ],
      exports: [WorkerConfig],
    };
  }
}
