import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';

import { loadWorkerConfig, WorkerConfig } from './worker-config';

/** Where ConfigService keeps the validated configuration. */
const WORKER_CONFIG = 'worker';

/**
 * The one validated configuration, read with @nestjs/config: `.env` beside the
 * process (real variables win) and the environment, validated once by
 * `loadWorkerConfig` in ConfigModule's `validate` hook, and provided as
 * {@link WorkerConfig}. `load()` runs before Nest starts, so main.ts also has
 * the configuration for its logger and exit backstop, and a bad value stops
 * the process before anything else (docs/contract.md#start).
 */
@Module({})
export class WorkerConfigModule {
  /** `env`: a test's own variables, read instead of `.env` and `process.env`. */
  static async load(
    env?: Record<string, string | undefined>,
  ): Promise<{ module: DynamicModule; config: WorkerConfig }> {
    let config: WorkerConfig | undefined;
    const configModule = await ConfigModule.forRoot({
      ignoreEnvFile: env !== undefined,
      ignoreEnvVars: env !== undefined,
      validate: (raw) => ({ [WORKER_CONFIG]: (config = loadWorkerConfig(env ?? raw)) }),
    });
    const module: DynamicModule = {
      module: WorkerConfigModule,
      global: true,
      imports: [configModule],
      providers: [
        {
          provide: WorkerConfig,
          inject: [ConfigService],
          useFactory: (configService: ConfigService) => configService.getOrThrow<WorkerConfig>(WORKER_CONFIG),
        },
      ],
      exports: [WorkerConfig],
    };
    return { module, config: config! };
  }
}
