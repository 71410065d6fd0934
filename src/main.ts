import 'reflect-metadata';

import { NestFactory } from '@nestjs/core';
import { existsSync } from 'node:fs';

import { AppModule } from './app.module';
import { jsonLogger, startWorker } from './bootstrap';
import { ConfigError } from './config/config.error';
import { validateEnvironment } from './config/environment';

async function main(): Promise<void> {
  // An optional .env beside the process; real environment variables win.
  if (existsSync('.env')) process.loadEnvFile('.env');
  let logLevel;
  try {
    logLevel = validateEnvironment(process.env).LOG_LEVEL;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // One line naming the variable, never its value (CONTRACT.md §6).
    process.stderr.write(`Invalid configuration: ${error.message}\n`);
    process.exit(1);
  }
  const app = await NestFactory.create(AppModule.forRoot(process.env), { logger: jsonLogger(logLevel) });
  await startWorker(app);
}

void main().catch((error: unknown) => {
  process.stderr.write(`steam-worker failed to start: ${(error as Error)?.message ?? String(error)}\n`);
  process.exit(1);
});
