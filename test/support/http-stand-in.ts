import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: string;
  /** performance.now() when the request arrived. */
  at: number;
}

export interface Reply {
  status: number;
  body?: unknown;
  /** Raw text instead of JSON. */
  text?: string;
  headers?: Record<string, string>;
  /** Answer only after this long. */
  delayMs?: number;
  /** Drop the connection instead of answering. */
  reset?: boolean;
  /**
   * Send the status and headers at once, then the body one byte every this
   * many ms (a body of n bytes takes about n × trickle ms), so that the
   * connection is never idle for long.
   */
  trickle?: number;
}

/**
 * A small HTTP server on 127.0.0.1 and a free port that records every request
 * and answers through `handle`. The stand-ins for Steam, the auth server and
 * the backend build on it.
 */
export abstract class HttpStandIn {
  readonly requests: RecordedRequest[] = [];
  private server?: Server;

  get url(): string {
    const { port } = this.server!.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.onRequest(req, res));
    // Node's default: clients subtract a 1 s margin from the hint, so a shorter one is never reused.
    this.server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  protected abstract handle(request: RecordedRequest): Reply | Promise<Reply>;

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = performance.now();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request: RecordedRequest = {
      method: req.method ?? 'GET',
      url: new URL(req.url ?? '/', 'http://stand-in'),
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
      at,
    };
    this.requests.push(request);
    const reply = await this.handle(request);
    if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    if (reply.reset) {
      req.socket.destroy();
      return;
    }
    const text = reply.text ?? JSON.stringify(reply.body ?? null);
    const bytes = Buffer.from(text, 'utf8');
    res.writeHead(reply.status, {
      'Content-Type': reply.text === undefined ? 'application/json' : 'text/html',
      ...(reply.trickle === undefined ? {} : { 'Content-Length': String(bytes.length) }),
      ...reply.headers,
    });
    if (reply.trickle === undefined) {
      res.end(text);
      return;
    }
    res.flushHeaders();
    for (const byte of bytes) {
      await new Promise((resolve) => setTimeout(resolve, reply.trickle));
      // The client gave up (or stop() closed the connection): stop writing.
      if (res.destroyed) return;
      res.write(Buffer.of(byte));
    }
    res.end();
  }
}

/** The most requests that fall into any window [t, t + windowMs) of these arrival times. */
export function maxInSlidingWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let first = 0, last = 0; last < sorted.length; last++) {
    while (sorted[last]! - sorted[first]! >= windowMs) first++;
    best = Math.max(best, last - first + 1);
  }
  return best;
}
