import { ConsoleLogger, INestApplication, LogLevel as NestLogLevel } from '@nestjs/common';
import { MicroserviceOptions } from '@nestjs/microservices';

import { CappedLogger } from './common/capped.logger';
import type { LogLevel } from './config/environment';
import { WorkerConfig } from './config/worker-config';
import { TaskServer } from './rabbit/task.server';

const NEST_LEVELS: Record<LogLevel, NestLogLevel[]> = {
  fatal: ['fatal'],
  error: ['fatal', 'error'],
  warn: ['fatal', 'error', 'warn'],
  info: ['fatal', 'error', 'warn', 'log'],
  debug: ['fatal', 'error', 'warn', 'log', 'debug'],
  trace: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
};

/** JSON lines on stdout at LOG_LEVEL (docs/contract.md#logs), each string capped at 8 KiB. */
export function jsonLogger(level: LogLevel): ConsoleLogger {
  return new CappedLogger({ json: true, logLevels: NEST_LEVELS[level], colors: false });
}

/**
 * Wires the hybrid app: the task consumer on RabbitMQ and the health endpoints
 * on HTTP. The consumer is started without waiting for the broker, so the
 * probes answer (503) while RabbitMQ is still away.
 */
export async function startWorker(app: INestApplication, options: { port?: number } = {}): Promise<void> {
  const config = app.get(WorkerConfig);
  app.connectMicroservice<MicroserviceOptions>({ strategy: app.get(TaskServer) }, { inheritAppConfig: true });
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  await app.startAllMicroservices();
  await app.listen(options.port ?? config.http.port, config.http.host);
}
