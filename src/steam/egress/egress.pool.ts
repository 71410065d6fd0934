import { Inject, Injectable } from '@nestjs/common';

import { WorkerConfig } from '../../config/worker-config';
import { DIRECT_EGRESS, Egress } from './egress';
import { proxyEgress } from './proxy.egress';

/**
 * The egresses this deployment may use, in a fixed order shared by every
 * replica: the host's own IP (unless STEAM_DIRECT=false), then STEAM_PROXIES.
 */
@Injectable()
export class EgressPool {
  readonly egresses: readonly Egress[];

  constructor(@Inject(WorkerConfig) config: WorkerConfig) {
    this.egresses = [...(config.steam.direct ? [DIRECT_EGRESS] : []), ...config.steam.proxies.map(proxyEgress)];
  }
}
