import type { WorkerFixture } from './worker.harness';

/** The queue dashboard's credentials in tests; the password is scanned for in every output. */
export const TEST_ADMIN = { ADMIN_USER: 'operator', ADMIN_PASSWORD: 'test-admin-password-do-not-log' } as const;

/** An `Authorization` header for HTTP basic auth. */
export const basicAuthorization = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

export const ADMIN_AUTHORIZATION = basicAuthorization(TEST_ADMIN.ADMIN_USER, TEST_ADMIN.ADMIN_PASSWORD);

/**
 * Runs a small batch to its result, so both Steam queues hold completed jobs
 * (kept a while after completion): appdetails on the store's, the app list's
 * page on the Web API's.
 */
export async function runSteamJobs(world: WorkerFixture, taskId: string): Promise<void> {
  world.standIns.steam.appList = [10, 20];
  world.publishTask('apps.fetch', { taskId, appIds: [10, 20, 30], countries: ['US'] });
  world.publishTask('apps.list', { taskId: `${taskId}-list` });
  await world.resultOf(taskId);
  await world.resultOf(`${taskId}-list`);
}
