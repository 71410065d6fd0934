import type { ClientRequest } from 'node:http';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';

import type { ProxyConfig } from '../../config/proxies';
import type { Egress } from './egress';

/**
 * A forward proxy as an egress: https targets are tunnelled with CONNECT,
 * http targets sent as absolute-URI requests. The agents take the credentials
 * from the URL; nothing else here ever sees them.
 */
export function proxyEgress(proxy: ProxyConfig): Egress {
  const httpsAgent = new HttpsProxyAgent(proxy.url, { keepAlive: true });
  const httpAgent = new HttpProxyAgent(proxy.url, { keepAlive: true });
  const refusedTunnels = new WeakSet<ClientRequest>();
  // The agent replays a refused CONNECT's answer as if it were Steam's; this
  // is how a 407 or 502 from the proxy itself is told apart.
  httpsAgent.on('proxyConnect', (connect: { statusCode: number }, request: ClientRequest) => {
    if (connect.statusCode !== 200) refusedTunnels.add(request);
  });
  return {
    id: proxy.id,
    label: proxy.label,
    isProxy: true,
    httpAgent,
    httpsAgent,
    tunnelRefused: (request) => request !== undefined && refusedTunnels.has(request),
  };
}
