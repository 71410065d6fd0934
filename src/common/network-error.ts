/**
 * A short, secret-free description of a failed HTTP call: the error's code and
 * message only. Axios errors carry the whole request config (headers with the
 * bearer token, URLs with the Steam key), so they are never logged or rethrown
 * as they are.
 */
export function describeNetworkError(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return redactCredentials([code, message].filter(Boolean).join(' ') || 'unknown network error');
}

/** Blanks the `user:pass@` of any URL in `text` (a proxy's, for one). */
export function redactCredentials(text: string): string {
  return text.replace(/\/\/[^/\s@]+@/g, '//***@');
}
