import type { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';

/**
 * A way out to Steam with its own rate limit: the host's own IP, or a proxy
 * (the egress pool issue adds those). `label` is safe to log: it never holds
 * a password.
 */
export interface Egress {
  readonly id: string;
  readonly label: string;
  readonly httpAgent?: HttpAgent;
  readonly httpsAgent?: HttpsAgent;
}

export const DIRECT_EGRESS: Egress = { id: 'direct', label: 'direct' };
