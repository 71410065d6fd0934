import { Inject, Injectable } from '@nestjs/common';

import { WorkerConfig } from '../../config/worker-config';
import { DIRECT_EGRESS, Egress } from './egress';

/** The egresses this deployment may use, in a fixed order shared by every replica. */
@Injectable()
export class EgressPool {
  readonly egresses: readonly Egress[];

  constructor(@Inject(WorkerConfig) config: WorkerConfig) {
    this.egresses = config.steam.direct ? [DIRECT_EGRESS] : [];
  }

  byId(id: string): Egress {
    const egress = this.egresses.find((candidate) => candidate.id === id);
    if (!egress) throw new Error(`Unknown egress ${id}`);
    return egress;
  }
}
