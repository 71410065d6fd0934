import { ChildProcess, spawn } from 'node:child_process';
import { createConnection } from 'node:net';

import { freePort } from './free-port';
import { waitFor } from './rmq';

/**
 * A redis-server of a test's own on a free port, with nothing kept on disk:
 * every key and channel on it is the test's, and killing it takes a worker's
 * Redis away without touching the one the other tests share. `start()` after
 * `kill()` brings it back, empty, on the same port.
 */
export class RedisServer {
  port = 0;
  private process?: ChildProcess;

  /** `redis://127.0.0.1:<port>[/db]`. */
  url(db?: number): string {
    return `redis://127.0.0.1:${this.port}${db === undefined ? '' : `/${db}`}`;
  }

  async start(): Promise<this> {
    this.port ||= await freePort();
    this.process = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    await waitFor(() => this.ping(), 10_000, `redis-server on port ${this.port}`);
    return this;
  }

  /** SIGKILL: the server vanishes mid-conversation, as in a crash. */
  async kill(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  private async ping(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = createConnection(this.port, '127.0.0.1');
      let answer = '';
      socket.setTimeout(500, () => socket.destroy());
      socket.on('error', () => resolve(false));
      socket.on('close', () => resolve(answer.startsWith('+PONG')));
      socket.on('data', (chunk) => {
        answer += chunk.toString();
        if (answer.includes('\r\n')) socket.end();
      });
      socket.write('PING\r\n');
    });
  }
}
