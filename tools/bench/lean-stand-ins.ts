import type { Server } from 'node:http';

import { AuthStandIn } from '../../test/support/auth.stand-in';
import { BackendStandIn } from '../../test/support/backend.stand-in';
import type { HttpStandIn, RecordedRequest, Reply } from '../../test/support/http-stand-in';
import { appDetailsEntry, SteamStandIn } from '../../test/support/steam.stand-in';
import type { StandIns } from '../../test/support/worker.harness';

/**
 * The stand-ins' servers close idle connections after 1 s and announce
 * `Keep-Alive: timeout=1`; Node's agent keeps a 1 s margin below that hint,
 * so it never reuses a connection to them and every request opens a new one.
 * The bench gives them the Node default instead, as a real server would.
 */
function keepConnectionsAlive(standIn: HttpStandIn): void {
  const server = (standIn as unknown as { server?: Server }).server;
  if (server) server.keepAliveTimeout = 5000;
}

/** Where the Steam stand-in lists its arrival times, as epoch ms (comparable across processes). */
export const ARRIVALS_PATH = '/bench/arrivals';

/** A performance.now() of this process as epoch milliseconds (fractional). */
export const epochMs = (at: number) => performance.timeOrigin + at;

/** Stand-in app ids that appear nowhere else in an answer; the free one ends in 0. */
const MARKER = { free: 876543210, priced: 876543211 } as const;

/**
 * The Steam stand-in for the bench: the same answers, but served from a
 * template per (free or priced, country) instead of being built and
 * serialised per request (~28 KB for a priced app), and without the request
 * log that a 50,000-pair batch would pile up. Counts what it answered, and
 * records arrival times (performance.now()) when asked to.
 */
export class LeanSteamStandIn extends SteamStandIn {
  answered = 0;
  readonly arrivals: number[] = [];
  recordArrivals = false;
  private readonly templates = new Map<string, string[]>();

  override async start(): Promise<this> {
    await super.start();
    keepConnectionsAlive(this);
    return this;
  }

  protected override handle(request: RecordedRequest): Reply {
    this.requests.length = 0;
    // Read by the bench when this stand-in runs in a process of its own (steam-server.ts).
    if (request.url.pathname === ARRIVALS_PATH) return { status: 200, body: this.arrivals.map(epochMs) };
    // Price requests (`filters=price_overview`) are not full details: the stand-in answers them itself.
    const details = request.url.pathname === '/api/appdetails' && !request.url.searchParams.has('filters');
    if (!details || this.script) return super.handle(request);
    this.answered++;
    if (this.recordArrivals) this.arrivals.push(request.at);
    const appId = Number(request.url.searchParams.get('appids'));
    const country = request.url.searchParams.get('cc') ?? '';
    const template = Number.isInteger(appId) && appId > 0 && appId < 900_000_000 && this.template(appId, country);
    if (!template) return super.handle(request);
    return { status: 200, text: template.join(String(appId)), headers: { 'Content-Type': 'application/json' } };
  }

  /** The answer split where the app id goes, checked once against the stand-in's own answer. */
  private template(appId: number, country: string): string[] | undefined {
    if (!/^[A-Z]{2}$/.test(country)) return undefined;
    const marker = appId % 10 === 0 ? MARKER.free : MARKER.priced;
    const key = `${marker}/${country}`;
    let parts = this.templates.get(key);
    if (!parts) {
      parts = JSON.stringify({ [marker]: appDetailsEntry(marker, country) }).split(String(marker));
      if (parts.join(String(appId)) !== JSON.stringify({ [appId]: appDetailsEntry(appId, country) })) {
        throw new Error(`the appdetails template for ${key} differs from the stand-in's answer`);
      }
      this.templates.set(key, parts);
    }
    return parts;
  }
}

/**
 * A backend stand-in that checks the bearer token as usual but keeps nothing
 * (each push carries Steam's full details, ~28 KB for a priced app); it
 * counts the distinct (app, country) pairs it accepted.
 */
export class LeanBackendStandIn extends BackendStandIn {
  readonly pairs = new Set<string>();

  constructor(auth: AuthStandIn) {
    super(auth);
    this.script = ({ appId, country }) => {
      this.pairs.add(`${appId}/${country}`);
      return { status: 200, body: { stored: true } };
    };
  }

  get accepted(): number {
    return this.pairs.size;
  }

  override async start(): Promise<this> {
    await super.start();
    keepConnectionsAlive(this);
    return this;
  }

  protected override handle(request: RecordedRequest): Reply {
    this.requests.length = 0;
    return super.handle(request);
  }
}

export interface LeanStandIns extends StandIns {
  steam: LeanSteamStandIn;
  backend: LeanBackendStandIn;
}

export async function startLeanStandIns(): Promise<LeanStandIns> {
  const steam = await new LeanSteamStandIn().start();
  const auth = await new AuthStandIn().start();
  keepConnectionsAlive(auth);
  const backend = await new LeanBackendStandIn(auth).start();
  return {
    steam,
    auth,
    backend,
    stop: async () => {
      await Promise.all([steam.stop(), auth.stop(), backend.stop()]);
    },
  };
}
