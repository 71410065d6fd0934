import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

import { freePort } from './free-port';
import { projectRoot } from './project-root';
import { waitReady } from './shapes';

const MAIN = join(projectRoot(), 'dist', 'main.js');

export interface WorkerProcess {
  child: ChildProcess;
  /** Everything it printed so far, stdout and stderr together. */
  output(): string;
  /** Resolves with its exit code (or the signal that ended it). */
  exited: Promise<number | string>;
}

/**
 * Starts the built worker (`node dist/main.js`, built by `npm run build`) as a
 * child process, through `launcher` when given (a command that execs the rest,
 * such as `taskset -c 0`: the child is then the worker itself).
 */
export function spawnWorker(env: Record<string, string>, launcher: readonly string[] = []): WorkerProcess {
  const [command, ...args] = [...launcher, process.execPath, MAIN];
  const child = spawn(command!, args, {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    // A launcher that is not installed: no process, no 'exit'.
    child.on('error', (error) => resolve(`spawn failed: ${error.message}`));
  });
  return { child, output: () => output, exited };
}

/** A built worker serving its health endpoints on a port of its own. */
export interface ChildWorker extends WorkerProcess {
  port: number;
  /** Base URL of its health endpoints. */
  url: string;
  /** Sends SIGTERM (or another signal), resolving with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
  /** Whether it has not exited yet. */
  running(): boolean;
  /** Waits until its readiness endpoint answers 200 (a boot takes seconds on a busy machine). */
  ready(): Promise<void>;
}

/** Starts the built worker on a free port of 127.0.0.1 (`HTTP_PORT` and `HTTP_HOST` are set here). */
export async function spawnChildWorker(
  env: Record<string, string>,
  launcher: readonly string[] = [],
): Promise<ChildWorker> {
  const port = await freePort();
  const worker = spawnWorker({ ...env, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port) }, launcher);
  const url = `http://127.0.0.1:${port}`;
  return {
    ...worker,
    port,
    url,
    stop: (signal = 'SIGTERM') => {
      worker.child.kill(signal);
      return worker.exited;
    },
    running: () => worker.child.exitCode === null && worker.child.signalCode === null,
    ready: () => waitReady(url, 45_000, 'worker ready'),
  };
}
