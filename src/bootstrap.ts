import { INestApplication } from '@nestjs/common';
import { MicroserviceOptions } from '@nestjs/microservices';

import { WorkerConfig } from './config/worker-config';
import { TaskServer } from './rabbit/task.server';

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
