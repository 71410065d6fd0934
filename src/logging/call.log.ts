import type { Logger } from '@nestjs/common';

/** How an outside HTTP call ended: the answer's status, or the class (and code) of its error. */
export interface CallOutcome {
  status?: number;
  error?: string;
  durationMs: number;
}

/**
 * Resolves or rejects as `call` does. Once it has settled, writes one debug
 * line (docs/contract.md#logs): `subject`, `fields`, the HTTP status or the
 * error's class, and the call's duration in ms. Never the request or the
 * error itself, which may carry headers with credentials.
 */
export function loggedCall<T extends { status: number }>(
  logger: Logger,
  subject: string,
  fields: Record<string, unknown>,
  call: Promise<T>,
): Promise<T> {
  const started = performance.now();
  const write = (ended: { status: number } | { error: string }) => {
    const outcome: CallOutcome = { ...ended, durationMs: Math.round((performance.now() - started) * 10) / 10 };
    const result = 'status' in ended ? ended.status : ended.error;
    logger.debug({ message: `${subject}: ${result} in ${outcome.durationMs} ms`, ...fields, ...outcome });
  };
  return call.then(
    (answer) => {
      write({ status: answer.status });
      return answer;
    },
    (error: unknown) => {
      write({ error: errorClass(error) });
      throw error;
    },
  );
}

/** `AxiosError ECONNREFUSED`, `CanceledError`, `SteamTransientError`: what failed, without its message. */
function errorClass(error: unknown): string {
  const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown };
  const kind = typeof name === 'string' && name ? name : 'Error';
  return typeof code === 'string' ? `${kind} ${code}` : kind;
}
