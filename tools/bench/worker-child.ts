import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';

import { waitFor } from '../../test/support/rmq';

/** The checkout's root, from source or from build/tools/bench. */
function projectRoot(from = __dirname): string {
  return existsSync(join(from, 'package.json')) ? from : projectRoot(dirname(from));
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Child processes still running; killed if the bench exits early (deadline, crash). */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Kills `child` when the bench exits, unless it has exited by then. */
export function killOnExit(child: ChildProcess): void {
  running.add(child);
  child.on('exit', () => running.delete(child));
}

/** The built worker (`node dist/main.js`) as a child process, so that its memory is its own. */
export class WorkerChild {
  readonly child: ChildProcess;
  readonly exited: Promise<number | string>;
  private errors = '';

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, [join(projectRoot(), 'dist', 'main.js')], {
      env: { PATH: process.env.PATH ?? '', ...env },
      // Logs are at `fatal`; stderr is kept for the report when it fails to start.
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child.stderr!.on('data', (chunk: Buffer) => (this.errors = (this.errors + chunk.toString()).slice(-2000)));
    killOnExit(this.child);
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  get stderr(): string {
    return this.errors;
  }

  /** Bytes of a `Vm…` line of /proc/<pid>/status (VmRSS: resident now, VmHWM: its peak). */
  async status(field: 'VmRSS' | 'VmHWM'): Promise<number> {
    const text = await readFile(`/proc/${this.pid}/status`, 'utf8');
    const kilobytes = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1];
    return kilobytes ? Number(kilobytes) * 1024 : Number.NaN;
  }

  /** User + system CPU time so far, ms (/proc/<pid>/stat, in clock ticks of 10 ms). */
  async cpuMs(): Promise<number> {
    const stat = await readFile(`/proc/${this.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 10_000): Promise<number | string> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The runtime flags of the Dockerfile's image. */
export const WORKER_NODE_OPTIONS = '--max-old-space-size=128 --max-semi-space-size=8';

/**
 * A built worker as the image runs it (its heap cap and malloc arenas), with
 * both Steam budgets lifted, on a free port. `ready()` waits until it answers
 * readiness, and throws if it exits first.
 */
export async function imageWorker(
  env: Record<string, string>,
): Promise<{ worker: WorkerChild; port: number; ready: () => Promise<void> }> {
  const port = await freePort();
  const worker = new WorkerChild({
    STEAM_RATE_LIMIT: '1000000',
    STEAM_RATE_WINDOW_MS: '1000',
    STEAM_API_RATE_LIMIT: '1000000',
    STEAM_API_RATE_WINDOW_MS: '1000',
    HTTP_PORT: String(port),
    HTTP_HOST: '127.0.0.1',
    // As the Dockerfile runs it (see there): V8 would otherwise let the heap grow lazily.
    NODE_OPTIONS: WORKER_NODE_OPTIONS,
    MALLOC_ARENA_MAX: '2',
    ...env,
  });
  const ready = async () => {
    await waitFor(
      async () => {
        if (worker.child.exitCode !== null) throw new Error(`the worker exited at start: ${worker.stderr.trim()}`);
        return (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined))?.status === 200;
      },
      30_000,
      'the worker process to be ready',
    );
  };
  return { worker, port, ready };
}
