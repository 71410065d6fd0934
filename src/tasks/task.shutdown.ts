import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';

import { WorkerConfig } from '../config/worker-config';
import { SteamRequestProcessor } from '../steam/steam-request.processor';
import { InFlightTasks } from './in-flight.tasks';
import { TaskServer } from '../rabbit/task.server';

/**
 * Graceful shutdown, in named phases, before Nest closes the transport, the
 * Bull queues and the connections (which would fail the tasks still running):
 * 1. stop consuming; 2. let the tasks in flight finish for SHUTDOWN_GRACE_MS;
 * 3. give the rest back to the queue; 4. hand the Steam requests still running
 * back to the Steam queue, aborting their calls, so that closing Bull does not
 * wait for a slow Steam. Nest then closes everything.
 */
@Injectable()
export class TaskShutdown implements BeforeApplicationShutdown {
  private readonly logger = new Logger(TaskShutdown.name);

  constructor(
    private readonly server: TaskServer,
    private readonly inFlight: InFlightTasks,
    private readonly steam: SteamRequestProcessor,
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
  ) {}

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.logger.log(`Shutting down (${signal ?? 'close'}): no new tasks`);
    await this.server.stopConsuming();
    await this.inFlight.drain(this.config.shutdownGraceMs);
    await this.steam.stop();
    this.logger.log('Tasks drained, Steam requests handed back');
  }
}
