import { describe, expect, it } from 'vitest';

import { linkedSignal } from './linked-signal';

describe(linkedSignal.name, () => {
  it('aborts with the reason of the first source that aborts', () => {
    const first = new AbortController();
    const second = new AbortController();
    const { signal } = linkedSignal(first.signal, undefined, second.signal);

    second.abort(new Error('second'));
    first.abort(new Error('first'));

    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).message).toBe('second');
  });

  it('is aborted at once when a source already is', () => {
    const done = new AbortController();
    done.abort(new Error('already'));

    expect(linkedSignal(new AbortController().signal, done.signal).signal.aborted).toBe(true);
  });

  it('no longer follows its sources once disposed', () => {
    const source = new AbortController();
    const { signal, dispose } = linkedSignal(source.signal);

    dispose();
    source.abort();

    expect(signal.aborted).toBe(false);
  });
});
