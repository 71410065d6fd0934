import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

import { projectRoot } from './project-root';

const MAIN = join(projectRoot(), 'dist', 'main.js');

export interface WorkerProcess {
  child: ChildProcess;
  /** Everything it printed so far, stdout and stderr together. */
  output(): string;
  /** Resolves with its exit code (or the signal that ended it). */
  exited: Promise<number | string>;
}

/** Starts the built worker (`node dist/main.js`, built by `npm run build`) as a child process. */
export function spawnWorker(env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  return { child, output: () => output, exited };
}
