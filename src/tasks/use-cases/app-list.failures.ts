import { SteamError, SteamKeyRefusedError } from '../../steam/steam.errors';
import { TaskFailedError } from '../task.errors';

/**
 * What a GetAppList page that could not be had means for its task as a whole
 * (docs/contract.md#task-failure-codes), for every task that pages through the
 * app list: a refused key is `not_configured`; Steam's own failure, after its
 * retries, `steam_error`. Anything else (an abort, Redis) is returned as it is,
 * for the runner to give the task back.
 */
export function appListTaskError(error: unknown, signal: AbortSignal, what: string): unknown {
  if (error instanceof SteamKeyRefusedError) {
    return new TaskFailedError('not_configured', 'Steam refused STEAM_API_KEY (403)', { cause: error });
  }
  if (error instanceof SteamError && !signal.aborted) {
    return new TaskFailedError('steam_error', `${what} unavailable: ${error.message}`, { cause: error });
  }
  return error;
}

/** Steam's keyless app list is gone: without STEAM_API_KEY the task fails without a Steam request. */
export function missingApiKey(task: string): TaskFailedError {
  return new TaskFailedError('not_configured', `STEAM_API_KEY is not set: ${task} needs a Steam Web API key`);
}
