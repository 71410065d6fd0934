import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { EGRESS_HEADER, ForwardProxy } from './forward-proxy';
import type { SteamStandIn } from './steam.stand-in';

const OPENSSL = '/usr/bin/openssl';

export interface ThrowawayCa {
  dir: string;
  /** PEM of the CA, for NODE_EXTRA_CA_CERTS. */
  caPath: string;
  key: Buffer;
  cert: Buffer;
  remove(): void;
}

/**
 * A throwaway CA and a server certificate for 127.0.0.1 and localhost, made
 * with the openssl CLI in a temporary directory (valid for a day).
 */
export function makeThrowawayCa(): ThrowawayCa {
  const dir = mkdtempSync(join(tmpdir(), 'steam-worker-tls-'));
  const path = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync(OPENSSL, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    path('ca.key'),
    '-out',
    path('ca.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=steam-worker test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  openssl('req', ...ec, '-keyout', path('server.key'), '-out', path('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(
    path('server.ext'),
    [
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
    ].join('\n'),
  );
  openssl(
    'x509',
    '-req',
    '-in',
    path('server.csr'),
    '-CA',
    path('ca.pem'),
    '-CAkey',
    path('ca.key'),
    '-CAcreateserial',
    '-out',
    path('server.pem'),
    '-days',
    '1',
    '-extfile',
    path('server.ext'),
  );
  return {
    dir,
    caPath: path('ca.pem'),
    key: readFileSync(path('server.key')),
    cert: readFileSync(path('server.pem')),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TlsRequest {
  path: string;
  /** Remote port of the TLS connection it came on (the proxy tunnel's upstream side). */
  remotePort: number;
  /** Name of the proxy whose tunnel it came through, or `direct`. */
  egress: string;
}

/**
 * An HTTPS front for a (plain HTTP) {@link SteamStandIn}: it terminates TLS
 * with a throwaway CA's certificate and passes every request on to the stand-in,
 * which answers as usual. A request that came through one of `proxies`'
 * CONNECT tunnels (told by the connection's remote port) reaches the stand-in
 * with `x-egress: <proxy name>`, as plain-HTTP proxied requests do.
 */
export class TlsSteam {
  readonly ca: ThrowawayCa;
  readonly requests: TlsRequest[] = [];
  private server?: Server;

  constructor(
    private readonly steam: SteamStandIn,
    private readonly proxies: readonly ForwardProxy[] = [],
  ) {
    this.ca = makeThrowawayCa();
  }

  get caPath(): string {
    return this.ca.caPath;
  }

  get url(): string {
    const { port } = this.server!.address() as AddressInfo;
    return `https://127.0.0.1:${port}`;
  }

  async start(): Promise<this> {
    this.server = createServer({ key: this.ca.key, cert: this.ca.cert }, (req, res) => {
      const remotePort = (req.socket as Socket).remotePort ?? 0;
      const egress = this.proxies.find((proxy) => proxy.ownsTunnelFrom(remotePort))?.name ?? 'direct';
      this.requests.push({ path: req.url ?? '/', remotePort, egress });
      const headers = { ...req.headers };
      delete headers[EGRESS_HEADER];
      if (egress !== 'direct') headers[EGRESS_HEADER] = egress;
      const target = new URL(this.steam.url);
      const upstream = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent: false },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => req.socket.destroy());
      res.on('close', () => upstream.destroy());
      req.pipe(upstream);
    });
    this.server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    if (this.server) {
      this.server.closeAllConnections();
      await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    }
    this.ca.remove();
  }
}
