import { createServer, IncomingMessage, request as httpRequest, Server, ServerResponse } from 'node:http';
import { AddressInfo, connect, Socket } from 'node:net';

/** The header a {@link ForwardProxy} adds to what it forwards, naming itself. */
export const EGRESS_HEADER = 'x-egress';

export interface ForwardProxyOptions {
  /** Added as `x-egress: <name>` to every request it forwards. */
  name: string;
  /** Basic auth it demands (407 with `Proxy-Authenticate` when missing or wrong). */
  auth?: { user: string; pass: string };
}

/** What a {@link ForwardProxy} has done so far. */
export interface ForwardProxyCounts {
  /** Absolute-URI requests forwarded to their target. */
  forwarded: number;
  /** CONNECT tunnels opened. */
  tunnels: number;
  /** Requests and CONNECTs refused with 407. */
  authRefused: number;
  /** Requests and CONNECTs answered with `answerStatus` instead of being forwarded. */
  answered: number;
}

/**
 * A small HTTP forward proxy on 127.0.0.1 and a free port, standing in for the
 * proxies of STEAM_PROXIES. It forwards absolute-URI requests
 * (`GET http://host:port/path`) with an added `x-egress: <name>` header, so
 * that the stand-in Steam knows each request's egress, and tunnels `CONNECT
 * host:port` (for https targets), remembering the local port of each tunnel's
 * upstream connection so that a TLS stand-in can tell which proxy a connection
 * came through ({@link ownsTunnelFrom}).
 *
 * Switches a test can flip: `refuse()` / `restore()` (connections refused,
 * then accepted again on the same port) and `answerStatus()` (answer
 * everything itself, e.g. 429 or 502).
 */
export class ForwardProxy {
  readonly name: string;
  readonly counts: ForwardProxyCounts = { forwarded: 0, tunnels: 0, authRefused: 0, answered: 0 };
  /** performance.now() of each request or CONNECT as it arrived (before auth or switches). */
  readonly arrivals: number[] = [];
  /** Local ports of the upstream side of every CONNECT tunnel it opened. */
  readonly tunnelPorts = new Set<number>();
  port = 0;
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  /** Client sides of the open CONNECT tunnels. */
  private readonly tunnels = new Set<Socket>();
  private status?: { status: number; headers: Record<string, string> };

  constructor(private readonly options: ForwardProxyOptions) {
    this.name = options.name;
  }

  /** `host:port`, what the worker should call this egress (never with a password). */
  get label(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Its URL for STEAM_PROXIES, credentials included when it demands them (or `credentials` instead). */
  url(credentials: { user: string; pass: string } | undefined = this.options.auth): string {
    const userinfo = credentials
      ? `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.pass)}@`
      : '';
    return `http://${userinfo}${this.label}`;
  }

  async start(): Promise<this> {
    await this.listen(0);
    return this;
  }

  /** Closes its listener and every connection: connecting to it is refused until `restore()`. */
  async refuse(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Listens again on the same port. */
  async restore(): Promise<void> {
    if (!this.server) await this.listen(this.port);
  }

  /**
   * Answers every request and CONNECT with `status` itself (JSON `null` body);
   * `undefined` forwards again. Open CONNECT tunnels are closed, so that a
   * client keeping its tunnels alive has to CONNECT again.
   */
  answerStatus(status: number | undefined, headers: Record<string, string> = {}): void {
    this.status = status === undefined ? undefined : { status, headers };
    if (status === undefined) return;
    for (const tunnel of this.tunnels) tunnel.destroy();
    this.tunnels.clear();
  }

  /** Whether a connection whose remote port is `remotePort` came through one of its tunnels. */
  ownsTunnelFrom(remotePort: number): boolean {
    return this.tunnelPorts.has(remotePort);
  }

  async stop(): Promise<void> {
    await this.refuse();
  }

  private async listen(port: number): Promise<void> {
    const server = createServer((req, res) => this.onRequest(req, res));
    server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => this.onConnect(req, socket, head));
    server.on('connection', (socket: Socket) => this.track(socket));
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  /** 407 when auth is required and the request lacks it or has the wrong one. */
  private authorized(req: IncomingMessage): boolean {
    const { auth } = this.options;
    if (!auth) return true;
    const expected = `Basic ${Buffer.from(`${auth.user}:${auth.pass}`).toString('base64')}`;
    return req.headers['proxy-authorization'] === expected;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.arrivals.push(performance.now());
    if (!this.authorized(req)) {
      this.counts.authRefused++;
      res.writeHead(407, { 'Proxy-Authenticate': 'Basic realm="test proxy"', 'Content-Type': 'text/plain' });
      res.end('Proxy authentication required');
      return;
    }
    if (this.status) {
      this.counts.answered++;
      res.writeHead(this.status.status, { 'Content-Type': 'application/json', ...this.status.headers });
      res.end('null');
      return;
    }
    let target: URL;
    try {
      target = new URL(req.url ?? '');
      if (target.protocol !== 'http:') throw new Error('not an absolute http URI');
    } catch {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end('absolute http URI expected');
      return;
    }
    this.counts.forwarded++;
    const headers: Record<string, string | string[] | undefined> = {
      ...req.headers,
      [EGRESS_HEADER]: this.name,
      host: target.host,
    };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    delete headers.connection;
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port || 80,
        method: req.method,
        path: target.pathname + target.search,
        headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end('bad gateway');
    });
    req.pipe(upstream);
  }

  private onConnect(req: IncomingMessage, client: Socket, head: Buffer): void {
    this.arrivals.push(performance.now());
    this.track(client);
    const refuse = (status: number, reason: string, headers: Record<string, string> = {}) => {
      const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
      client.end(`HTTP/1.1 ${status} ${reason}\r\n${lines.join('')}Content-Length: 0\r\n\r\n`);
    };
    if (!this.authorized(req)) {
      this.counts.authRefused++;
      refuse(407, 'Proxy Authentication Required', { 'Proxy-Authenticate': 'Basic realm="test proxy"' });
      return;
    }
    if (this.status) {
      this.counts.answered++;
      refuse(this.status.status, 'Refused by test proxy', this.status.headers);
      return;
    }
    const [host, port] = splitHostPort(req.url ?? '');
    const upstream = connect(port, host);
    this.track(upstream);
    upstream.on('connect', () => {
      this.counts.tunnels++;
      this.tunnelPorts.add(upstream.localPort!);
      this.tunnels.add(client);
      client.once('close', () => this.tunnels.delete(client));
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream).pipe(client);
    });
    let tunnelled = false;
    upstream.once('connect', () => (tunnelled = true));
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    // The target refused: the proxy itself answers 502, as a real one does.
    upstream.on('error', () => (tunnelled ? close() : refuse(502, 'Bad Gateway')));
    upstream.on('close', () => tunnelled && close());
    client.on('close', close);
  }
}

function splitHostPort(authority: string): [string, number] {
  const at = authority.lastIndexOf(':');
  const host = authority.slice(0, at).replace(/^\[|\]$/g, '');
  return [host, Number(authority.slice(at + 1))];
}

/**
 * Groups requests the stand-in Steam received by the egress they came
 * through: the `x-egress` header a {@link ForwardProxy} added, or `direct`.
 */
export function egressOf(request: { headers: Record<string, string | string[] | undefined> }): string {
  const header = request.headers[EGRESS_HEADER];
  return typeof header === 'string' ? header : 'direct';
}

export function groupByEgress<T extends { headers: Record<string, string | string[] | undefined> }>(
  requests: readonly T[],
): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const request of requests) {
    const egress = egressOf(request);
    groups.set(egress, [...(groups.get(egress) ?? []), request]);
  }
  return groups;
}
