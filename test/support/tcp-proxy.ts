import { createServer, Server, Socket, connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Transform, TransformCallback } from 'node:stream';

/** A one-shot trap set by {@link TcpProxy.dropWhenClientSends}. */
interface ClientBytesTrap {
  needle: Buffer;
  sprung: () => void;
}

/**
 * A TCP pass-through on 127.0.0.1 that a test can cut: `cut()` drops every
 * connection and refuses new ones, `restore()` listens again on the same port.
 * Lets a test take RabbitMQ or Redis away from one worker without touching
 * the servers the other tests share. `dropWhenClientSends()` drops a single
 * connection at a chosen moment of its conversation (say, as a worker
 * publishes a result) while the proxy keeps accepting new connections.
 */
export class TcpProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private traps: ClientBytesTrap[] = [];
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<this> {
    await this.listen(0);
    return this;
  }

  async cut(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }

  async restore(): Promise<void> {
    await this.listen(this.port);
  }

  async stop(): Promise<void> {
    this.traps = [];
    await this.cut();
  }

  /**
   * Once: the first client connection that sends bytes containing `needle`
   * (also across two reads) is dropped, both ways, before those bytes are
   * forwarded, so the target never sees them. Other connections, and new
   * ones, are left alone. Resolves when it happened.
   */
  dropWhenClientSends(needle: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      const trap: ClientBytesTrap = {
        needle: Buffer.isBuffer(needle) ? needle : Buffer.from(needle, 'utf8'),
        sprung: () => {
          this.traps = this.traps.filter((other) => other !== trap);
          resolve();
        },
      };
      this.traps.push(trap);
    });
  }

  private async listen(port: number): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      this.sockets.add(client).add(upstream);
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.pipe(this.inspector(close)).pipe(upstream).pipe(client);
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Forwards what a client sends, unless a trap's needle is in it: then drops the connection instead. */
  private inspector(drop: () => void): Transform {
    let tail = Buffer.alloc(0);
    let dropped = false;
    return new Transform({
      transform: (chunk: Buffer, _encoding: string, done: TransformCallback) => {
        if (dropped) return done();
        if (this.traps.length > 0) {
          const seen = Buffer.concat([tail, chunk]);
          const trap = this.traps.find((candidate) => seen.includes(candidate.needle));
          if (trap) {
            dropped = true;
            drop();
            trap.sprung();
            return done();
          }
          const keep = Math.max(0, ...this.traps.map((candidate) => candidate.needle.length - 1));
          tail = seen.subarray(Math.max(0, seen.length - keep));
        }
        done(null, chunk);
      },
    });
  }
}
