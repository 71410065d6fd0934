import { BullAdapter } from '@bull-board/api/bullAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { BullBoardModule } from '@bull-board/nestjs';
import { DynamicModule, Module } from '@nestjs/common';

import type { AdminCredentials } from '../config/worker-config';
import { STEAM_QUEUES } from '../steam/steam-queue.constants';
import { STEAM_BUDGETS } from '../steam/steam-budget';
import { basicAuth } from './basic-auth.middleware';

/** Where the dashboard lives (docs/contract.md#http-endpoints). */
export const ADMIN_ROUTE = '/admin/queues';

/**
 * The queue dashboard: Bull Board over the Steam queues (one per budget) at
 * {@link ADMIN_ROUTE}, every path of it (page, static assets, API) behind
 * HTTP basic auth. Without credentials the module is empty and the route does
 * not exist (404).
 *
 * Read-only: each Steam job is awaited by the task that queued it (its
 * completion settles the task's request), so removing or cleaning a job by
 * hand would leave a task waiting, and retrying one would spend the budget on
 * a request no task asked for. Operators look here; they act through tasks and
 * the DLQ tools (docs/operating/queue-dashboard.md).
 */
@Module({})
export class AdminModule {
  static forRoot(credentials: AdminCredentials | undefined): DynamicModule {
    if (!credentials) return { module: AdminModule };
    return {
      module: AdminModule,
      imports: [
        BullBoardModule.forRoot({
          route: ADMIN_ROUTE,
          adapter: ExpressAdapter,
          middleware: basicAuth(credentials),
          boardOptions: { uiConfig: { boardTitle: 'steam-worker' } },
        }),
        BullBoardModule.forFeature(
          ...STEAM_BUDGETS.map((budget) => ({
            name: STEAM_QUEUES[budget],
            adapter: BullAdapter,
            options: { readOnlyMode: true, description: `Steam requests on the ${budget} budget` },
          })),
        ),
      ],
    };
  }
}
