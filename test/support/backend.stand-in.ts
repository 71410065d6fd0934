import type { AuthStandIn } from './auth.stand-in';
import { HttpStandIn, RecordedRequest, Reply } from './http-stand-in';

export interface StoredRecord {
  appId: number;
  country: string;
  available: boolean;
  details: unknown;
  fetchedAt: string;
}

/** A price push's body as the backend keeps it (docs/contract.md#price-push). */
export interface StoredPrice {
  appId: number;
  country: string;
  available: boolean;
  isFree: boolean | null;
  price: Record<string, unknown> | null;
  source: string;
  fetchedAt: string;
}

export interface PushCall {
  appId: number;
  country: string;
  /** What is pushed: the app's details, or (apps.prices) its price. */
  kind: 'details' | 'price';
  request: RecordedRequest;
}

const PUSH_PATH = /^\/apps\/(\d+)\/countries\/([A-Z]{2})(\/price)?$/;

/**
 * Stands in for the backend API: `PUT /apps/:appId/countries/:country` (details)
 * and `PUT /apps/:appId/countries/:country/price`, with a bearer token the auth
 * stand-in issued and that has not expired (else 401). Stores what it accepts
 * (`stored`, `storedPrices`); `script` overrides an answer for the tests.
 */
export class BackendStandIn extends HttpStandIn {
  readonly stored = new Map<string, StoredRecord>();
  readonly storedPrices = new Map<string, StoredPrice>();
  /** Arrival time of every accepted push. */
  readonly acceptedAt: number[] = [];
  script?: (call: PushCall) => Reply | undefined;

  constructor(private readonly auth: AuthStandIn) {
    super();
  }

  /** The price pushes that arrived (accepted or not), in order. */
  get pricePushes(): RecordedRequest[] {
    return this.requests.filter((request) => request.method === 'PUT' && request.url.pathname.endsWith('/price'));
  }

  protected handle(request: RecordedRequest): Reply {
    const match = PUSH_PATH.exec(request.url.pathname);
    if (request.method !== 'PUT' || !match) return { status: 404, body: { error: 'not found' } };
    const token = String(request.headers.authorization ?? '').replace(/^Bearer /, '');
    if (!this.auth.valid(token)) return { status: 401, body: { error: 'invalid_token' } };
    const appId = Number(match[1]);
    const country = match[2]!;
    const kind = match[3] ? 'price' : 'details';
    const scripted = this.script?.({ appId, country, kind, request });
    if (scripted) return scripted;
    const record = JSON.parse(request.body) as StoredRecord & StoredPrice;
    if (record.appId !== appId || record.country !== country || typeof record.available !== 'boolean') {
      return { status: 422, body: { error: 'record does not match its URL' } };
    }
    if (kind === 'price' && !['appdetails', 'storebrowse'].includes(record.source)) {
      return { status: 422, body: { error: 'unknown price source' } };
    }
    if (kind === 'price') this.storedPrices.set(`${appId}/${country}`, record);
    else this.stored.set(`${appId}/${country}`, record);
    this.acceptedAt.push(request.at);
    return { status: 200, body: { stored: true } };
  }
}
