import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { AdminCredentials } from '../config/worker-config';

/** The protection space named in every challenge (RFC 7617). */
export const ADMIN_REALM = 'steam-worker';

/** Connect-style, as Nest's MiddlewareConsumer takes it on Express. */
type Middleware = (request: IncomingMessage, response: ServerResponse, next: () => void) => void;

/**
 * HTTP basic auth (RFC 7617) in front of the queue dashboard: a request
 * without the configured user and password gets 401 and a challenge, and
 * never reaches Bull Board. Both parts are compared as SHA-256 digests with
 * `timingSafeEqual`, so neither the time taken nor an early length mismatch
 * tells how much of a guess was right; both are always compared.
 */
export function basicAuth(credentials: AdminCredentials): Middleware {
  const expected = { user: digest(credentials.user), password: digest(credentials.password) };
  return (request, response, next) => {
    const given = parseBasic(request.headers.authorization);
    const userMatches = timingSafeEqual(digest(given?.user ?? ''), expected.user);
    const passwordMatches = timingSafeEqual(digest(given?.password ?? ''), expected.password);
    if (given && userMatches && passwordMatches) return next();
    response
      .writeHead(401, {
        'WWW-Authenticate': `Basic realm="${ADMIN_REALM}"`,
        'Cache-Control': 'no-store',
        'Content-Type': 'text/plain; charset=utf-8',
      })
      .end('Unauthorized');
  };
}

/** `Basic base64(user:password)`, the user being everything before the first colon; anything else is undefined. */
export function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
