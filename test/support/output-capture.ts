import { MockInstance, vi } from 'vitest';

/**
 * Keeps everything this process writes (stdout, stderr, console) from now on,
 * for the scans proving that no secret appears in any output; `restore()`
 * puts the streams back.
 */
export class OutputCapture {
  readonly output: string[] = [];
  private readonly spies: MockInstance[] = [];

  start(): this {
    const keep = (...args: unknown[]) => {
      const callback = args.at(-1);
      const text = args.filter((arg) => typeof arg !== 'function');
      this.output.push(
        text
          .map((arg) => (typeof arg === 'string' ? arg : Buffer.isBuffer(arg) ? arg.toString() : String(arg)))
          .join(' '),
      );
      // A stream write's callback still runs, so nothing waits for output that never leaves.
      if (typeof callback === 'function') queueMicrotask(() => (callback as () => void)());
      return true;
    };
    for (const stream of [process.stdout, process.stderr]) {
      this.spies.push(vi.spyOn(stream, 'write').mockImplementation(keep as typeof stream.write));
    }
    for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
      this.spies.push(vi.spyOn(console, method).mockImplementation(keep));
    }
    return this;
  }

  restore(): void {
    for (const spy of this.spies.splice(0)) spy.mockRestore();
  }
}
