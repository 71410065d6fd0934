/**
 * A short, secret-free description of a failed HTTP call: the error's code and
 * message only. Axios errors carry the whole request config (headers with the
 * bearer token, URLs with the Steam key), so they are never logged or rethrown
 * as they are.
 */
export function describeNetworkError(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return [code, message].filter(Boolean).join(' ') || 'unknown network error';
}
