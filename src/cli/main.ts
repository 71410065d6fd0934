#!/usr/bin/env node
import 'reflect-metadata';

import { cliEnvironment, loadCliConfig } from '../config/cli-config';
import { ConfigError } from '../config/config.errors';
import { parseCommand, USAGE } from './cli.args';
import { CliError, UsageError } from './cli.errors';
import { processOutput } from './cli.output';
import { runDeadLetterCommand } from './dlq.command';
import { runTask } from './task.command';

/**
 * The operator's CLI (docs/operating/cli.md): a second entry point beside the
 * worker's main.ts that shares its configuration and queue declarations but
 * never boots the worker. Errors end it with one line on stderr.
 */
async function main(argv: readonly string[]): Promise<number> {
  const output = processOutput();
  const command = parseCommand(argv);
  if (command.kind === 'help') {
    output.print(USAGE);
    return 0;
  }
  const config = loadCliConfig(cliEnvironment());
  return command.kind === 'task' ? runTask(command, config, output) : runDeadLetterCommand(command, config, output);
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`steam-worker: ${error.message} (steam-worker help: usage)\n`);
    } else if (error instanceof CliError) {
      process.stderr.write(`steam-worker: ${error.message}\n`);
    } else if (error instanceof ConfigError) {
      // Names the variable, never its value.
      process.stderr.write(`steam-worker: invalid configuration: ${error.message}\n`);
    } else {
      process.stderr.write(`steam-worker: ${(error as Error)?.message ?? String(error)}\n`);
    }
    process.exitCode = error instanceof CliError ? error.exitCode : 1;
  },
);
