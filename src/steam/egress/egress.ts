import type { ClientRequest, Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';

/**
 * A way out to Steam with its own rate limit: the host's own IP, or a forward
 * proxy. `label` is safe to log: it never holds a password.
 */
export interface Egress {
  readonly id: string;
  readonly label: string;
  readonly isProxy: boolean;
  readonly httpAgent?: HttpAgent;
  readonly httpsAgent?: HttpsAgent;
  /** Whether the proxy refused to open the tunnel of this request (CONNECT not 200). */
  tunnelRefused?(request: ClientRequest | undefined): boolean;
}

export const DIRECT_EGRESS: Egress = { id: 'direct', label: 'direct', isProxy: false };
