import { AuthStandIn } from '../../test/support/auth.stand-in';
import { BackendStandIn } from '../../test/support/backend.stand-in';
import type { RecordedRequest, Reply } from '../../test/support/http-stand-in';
import { SteamStandIn } from '../../test/support/steam.stand-in';
import type { StandIns } from '../../test/support/worker.harness';

/**
 * The Steam stand-in without its request log: a 50,000-pair batch would keep
 * every request in the bench process. Counts what it answered instead.
 */
export class LeanSteamStandIn extends SteamStandIn {
  answered = 0;

  protected override handle(request: RecordedRequest): Reply {
    this.requests.length = 0;
    this.answered++;
    return super.handle(request);
  }
}

/**
 * A backend stand-in that checks the bearer token as usual but keeps nothing
 * (each push carries Steam's full details, ~28 KB for a priced app); it
 * counts the pushes it accepted and the distinct (app, country) pairs.
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
