/**
 * An AbortSignal that aborts with the first of `signals` to abort, and a
 * `dispose()` that detaches it from them. Unlike `AbortSignal.any`, nothing
 * stays attached to a long-lived signal (a batch's, the backend circuit's)
 * once the short-lived work it guards is over.
 */
export function linkedSignal(...signals: (AbortSignal | undefined)[]): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const sources = signals.filter((signal): signal is AbortSignal => signal !== undefined);
  const aborted = sources.find((signal) => signal.aborted);
  if (aborted) {
    controller.abort(aborted.reason);
    return { signal: controller.signal, dispose: () => undefined };
  }
  const listeners = sources.map((source) => {
    const onAbort = () => controller.abort(source.reason);
    source.addEventListener('abort', onAbort, { once: true });
    return () => source.removeEventListener('abort', onAbort);
  });
  return { signal: controller.signal, dispose: () => listeners.forEach((remove) => remove()) };
}
