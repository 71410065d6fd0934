import { DynamicModule, Global, Module } from '@nestjs/common';

import { WorkerConfig } from './worker-config';

/**
 * Provides the one {@link WorkerConfig}, validated before Nest starts (by
 * `loadWorkerConfig` in main.ts, which also needs it for the logger and the
 * exit backstop; tests build theirs from their own variables).
 */
@Global()
@Module({})
export class WorkerConfigModule {
  static forRoot(config: WorkerConfig): DynamicModule {
    return {
      module: WorkerConfigModule,
      providers: [{ provide: WorkerConfig, useValue: config }],
      exports: [WorkerConfig],
    };
  }
}
