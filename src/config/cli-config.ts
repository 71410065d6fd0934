import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';

import { validateEnvironmentOf } from './environment';

/**
 * What the operator's CLI (src/cli) reads of the worker's configuration: the
 * broker and the queues, and Redis for a task's progress. Nothing else.
 */
export interface CliConfig {
  rabbit: { url: string; workerQueue: string; deadLetterQueue: string };
  redis: { url: string; prefix: string };
}

/** Only these are validated: the CLI talks to neither Steam nor the backend. */
const CLI_VARIABLES = ['RABBITMQ_URL', 'WORKER_QUEUE', 'REDIS_URL', 'REDIS_PREFIX'] as const;

/**
 * Validates the CLI's variables with the worker's own rules and defaults
 * (environment.ts); the worker's other variables, required ones included,
 * are neither needed nor checked. Throws ConfigError naming the variable.
 */
export function loadCliConfig(env: Record<string, string | undefined>): CliConfig {
  const valid = validateEnvironmentOf(env, CLI_VARIABLES);
  return {
    rabbit: {
      url: valid.RABBITMQ_URL,
      workerQueue: valid.WORKER_QUEUE,
      deadLetterQueue: `${valid.WORKER_QUEUE}.dlq`,
    },
    redis: { url: valid.REDIS_URL, prefix: valid.REDIS_PREFIX },
  };
}

/**
 * The environment as the worker reads it (config.module.ts): `.env` in the
 * working directory, if there is one, under the process' own variables (real
 * variables win).
 */
export function cliEnvironment(directory = process.cwd()): Record<string, string | undefined> {
  let file: Record<string, string> = {};
  try {
    file = parseEnv(readFileSync(join(directory, '.env'), 'utf8')) as Record<string, string>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return { ...file, ...process.env };
}
