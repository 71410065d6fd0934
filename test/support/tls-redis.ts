import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis, { RedisOptions } from 'ioredis';

import { freePort } from './free-port';
import { waitFor } from './rmq';
import { makeThrowawayCa, ThrowawayCa } from './tls-steam';

/** A line redis-server logs for a connection whose TLS handshake failed (a plaintext client, say). */
const HANDSHAKE_FAILED = /Error accepting a client connection/;

/**
 * A private redis-server that speaks TLS only (`--port 0`), with a throwaway
 * CA's certificate for 127.0.0.1 and localhost: a client that does not speak
 * TLS cannot use it, and each such attempt leaves a line in its log.
 */
export class TlsRedisServer {
  readonly ca: ThrowawayCa;
  port = 0;
  private process?: ChildProcess;
  private log = '';
  private admins: Redis[] = [];

  constructor() {
    this.ca = makeThrowawayCa();
  }

  /** PEM of the CA, for NODE_EXTRA_CA_CERTS. */
  get caPath(): string {
    return this.ca.caPath;
  }

  /** `rediss://localhost:<port>[/db]`. */
  url(db?: number): string {
    return `rediss://localhost:${this.port}${db === undefined ? '' : `/${db}`}`;
  }

  async start(): Promise<this> {
    this.port = await freePort();
    const file = (name: string) => join(this.ca.dir, name);
    this.process = spawn(
      'redis-server',
      [
        '--port',
        '0',
        '--tls-port',
        String(this.port),
        '--tls-cert-file',
        file('server.pem'),
        '--tls-key-file',
        file('server.key'),
        '--tls-ca-cert-file',
        this.caPath,
        // Clients show no certificate of their own (the worker has none).
        '--tls-auth-clients',
        'no',
        '--bind',
        '127.0.0.1',
        '-::1',
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.process.stdout!.on('data', (chunk: Buffer) => (this.log += chunk.toString()));
    this.process.stderr!.on('data', (chunk: Buffer) => (this.log += chunk.toString()));
    const admin = await waitFor(
      async () => {
        const client = this.client({ lazyConnect: true, retryStrategy: () => null });
        return client.connect().then(
          () => client,
          () => {
            client.disconnect();
            return undefined;
          },
        );
      },
      10_000,
      'the private TLS redis-server',
    );
    admin.disconnect();
    return this;
  }

  /** A client of the test's own, over TLS, trusting the throwaway CA (closed by {@link stop}). */
  client(options: RedisOptions = {}): Redis {
    const client = new Redis({
      host: 'localhost',
      port: this.port,
      tls: { ca: readFileSync(this.caPath) },
      maxRetriesPerRequest: 1,
      ...options,
    });
    client.on('error', () => undefined);
    this.admins.push(client);
    return client;
  }

  /** Lines of its log about connections whose TLS handshake failed. */
  failedHandshakes(): string[] {
    return this.log.split('\n').filter((line) => HANDSHAKE_FAILED.test(line));
  }

  output(): string {
    return this.log;
  }

  async stop(): Promise<void> {
    for (const client of this.admins) client.disconnect();
    if (this.process && this.process.exitCode === null && this.process.signalCode === null) {
      const exited = new Promise((resolve) => this.process!.once('exit', resolve));
      this.process.kill('SIGKILL');
      await exited;
    }
    this.ca.remove();
  }
}
