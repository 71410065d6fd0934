import type { AuthStandIn } from './auth.stand-in';
import { HttpStandIn, RecordedRequest, Reply } from './http-stand-in';

export interface StoredRecord {
  appId: number;
  country: string;
  available: boolean;
  details: unknown;
  fetchedAt: string;
}

export interface PushCall {
  appId: number;
  country: string;
  request: RecordedRequest;
}

/**
 * Stands in for the backend API: `PUT /apps/:appId/countries/:country` with a
 * bearer token the auth stand-in issued and that has not expired (else 401).
 * Stores what it accepts; `script` overrides an answer for the tests.
 */
export class BackendStandIn extends HttpStandIn {
  readonly stored = new Map<string, StoredRecord>();
  /** Arrival time of every accepted push. */
  readonly acceptedAt: number[] = [];
  script?: (call: PushCall) => Reply | undefined;

  constructor(private readonly auth: AuthStandIn) {
    super();
  }

  protected handle(request: RecordedRequest): Reply {
    const match = /^\/apps\/(\d+)\/countries\/([A-Z]{2})$/.exec(request.url.pathname);
    if (request.method !== 'PUT' || !match) return { status: 404, body: { error: 'not found' } };
    const token = String(request.headers.authorization ?? '').replace(/^Bearer /, '');
    if (!this.auth.valid(token)) return { status: 401, body: { error: 'invalid_token' } };
    const appId = Number(match[1]);
    const country = match[2]!;
    const scripted = this.script?.({ appId, country, request });
    if (scripted) return scripted;
    const record = JSON.parse(request.body) as StoredRecord;
    if (record.appId !== appId || record.country !== country || typeof record.available !== 'boolean') {
      return { status: 422, body: { error: 'record does not match its URL' } };
    }
    this.stored.set(`${appId}/${country}`, record);
    this.acceptedAt.push(request.at);
    return { status: 200, body: { stored: true } };
  }
}
