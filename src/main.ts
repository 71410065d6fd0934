import 'reflect-metadata';

import { NestFactory } from '@nestjs/core';

import { AppModule } from './app.module';
import { startWorker } from './bootstrap';
import { ConfigError } from './config/config.errors';
import { WorkerConfigModule } from './config/config.module';
import { workerLogger } from './logging/worker.logger';

/** After the grace period, what closing may take at most (the contract allows 5 s). */
const EXIT_BACKSTOP_MS = 4500;

async function main(): Promise<void> {
  let loaded: Awaited<ReturnType<typeof WorkerConfigModule.load>>;
  try {
    // The environment and an optional .env beside the process (real variables win).
    loaded = await WorkerConfigModule.load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // One line naming the variable, never its value (docs/contract.md#start).
    process.stderr.write(`Invalid configuration: ${error.message}\n`);
    process.exit(1);
  }
  const { module: configModule, config } = loaded;
  armExitBackstop(config.shutdownGraceMs);
  const app = await NestFactory.create(AppModule.forRoot(configModule, config), {
    logger: workerLogger(config.logLevel),
  });
  await startWorker(app);
}

void main().catch((error: unknown) => {
  process.stderr.write(`steam-worker failed to start: ${(error as Error)?.message ?? String(error)}\n`);
  process.exit(1);
});

/**
 * The promise that a stopped worker is gone within SHUTDOWN_GRACE_MS + 5 s,
 * whatever Steam, the backend or a connection do: the graceful path (drain,
 * hand back, close) normally ends well before; if it hangs, the process exits
 * 0 anyway. Its unacknowledged tasks go back to the queue with the connection.
 */
function armExitBackstop(graceMs: number): void {
  const exit = (signal: NodeJS.Signals) => {
    // Before Nest listens (still starting), nothing is in flight: go at once.
    if (process.listenerCount(signal) === 0) process.exit(0);
    setTimeout(() => process.exit(0), graceMs + EXIT_BACKSTOP_MS).unref();
  };
  process.once('SIGTERM', exit).once('SIGINT', exit);
}
