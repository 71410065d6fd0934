import { HttpModule } from '@nestjs/axios';
import { Module } from '@nestjs/common';

import { WorkerConfig } from '../config/worker-config';
import { AuthInterceptor } from './auth/auth.interceptor';
import { TokenProvider } from './auth/token.provider';
import { BackendCircuit } from './backend.circuit';
import { BackendClient } from './backend.client';

@Module({
  imports: [
    HttpModule.registerAsync({
      inject: [WorkerConfig],
      useFactory: (config: WorkerConfig) => ({ timeout: config.backend.timeoutMs, proxy: false }),
    }),
  ],
  providers: [TokenProvider, AuthInterceptor, BackendClient, BackendCircuit],
  exports: [BackendClient, BackendCircuit],
})
export class BackendModule {}
