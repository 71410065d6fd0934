import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { jsonLogger } from '../bootstrap';
import { capText, CappedLogger, MAX_LOGGED_CHARS } from './capped.logger';

const ONE_MIB = 1024 * 1024;
/**
 * Nest itself replaces a JSON record's strings past ~1,000,000 characters with
 * "[Truncated]", which would hide a missing cap: half a MiB it prints whole.
 */
const HALF_MIB = ONE_MIB / 2;
/** The cap plus room for the record's own fields (level, pid, timestamp, context). */
const MAX_LINE_BYTES = 9 * 1024;

describe(capText.name, () => {
  it('leaves a string of the cap or less as it is', () => {
    const text = 'x'.repeat(MAX_LOGGED_CHARS);
    expect(capText(text)).toBe(text);
  });

  it('keeps the start of a longer string within the cap and says how much it left out', () => {
    const capped = capText('a'.repeat(100) + 'b'.repeat(ONE_MIB));
    expect(capped.length).toBeLessThanOrEqual(MAX_LOGGED_CHARS);
    expect(capped.startsWith('a'.repeat(100) + 'b')).toBe(true);
    const [, dropped] = /… \[truncated (\d+) chars\]$/.exec(capped) ?? [];
    expect(capped.length - `… [truncated ${dropped} chars]`.length + Number(dropped)).toBe(100 + ONE_MIB);
  });

  it('changes nothing when applied twice', () => {
    const once = capText('x'.repeat(ONE_MIB));
    expect(capText(once)).toBe(once);
  });

  it('never cuts an emoji in half', () => {
    for (const prefix of ['', 'x']) {
      const capped = capText(prefix + '😀'.repeat(ONE_MIB / 2));
      const loneHighSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/;
      expect(capped).not.toMatch(loneHighSurrogate);
    }
  });
});

describe(CappedLogger.name, () => {
  let lines: string[];

  beforeEach(() => {
    lines = [];
    const keep = (chunk: unknown) => {
      lines.push(String(chunk));
      return true;
    };
    for (const stream of [process.stdout, process.stderr]) {
      vi.spyOn(stream, 'write').mockImplementation(keep as typeof stream.write);
    }
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  const record = (line: string | undefined) => JSON.parse(line ?? 'null') as Record<string, unknown>;

  it.each([
    ['log', ONE_MIB],
    ['error', ONE_MIB],
    ['warn', ONE_MIB],
    ['debug', ONE_MIB],
    ['verbose', ONE_MIB],
    ['fatal', ONE_MIB],
    ['warn', HALF_MIB],
  ] as const)(
    'prints a message at level %s of %i characters as one line under 9 KiB that keeps the level and the start',
    (level, size) => {
      const logger = jsonLogger('trace');
      const message = `Task t (${'p'.repeat(size)}) failed`;

      logger[level](message, 'TaskRunner');

      expect(lines).toHaveLength(1);
      const [line] = lines;
      expect(Buffer.byteLength(line!)).toBeLessThan(MAX_LINE_BYTES);
      expect(line!.endsWith('\n')).toBe(true);
      expect(record(line)).toMatchObject({
        level,
        context: 'TaskRunner',
        message: expect.stringMatching(/^Task t \(p+/),
      });
      expect(record(line).message).toMatch(/… \[truncated \d+ chars\]$/);
    },
  );

  it('prints a short message whole', () => {
    jsonLogger('info').warn('Dead-lettering a task: unknown pattern');
    expect(record(lines[0])).toMatchObject({ level: 'warn', message: 'Dead-lettering a task: unknown pattern' });
  });

  it('caps an error given as the message, its message and stack included', () => {
    jsonLogger('info').error(new Error('x'.repeat(HALF_MIB)));
    expect(lines).toHaveLength(1);
    expect(Buffer.byteLength(lines[0]!)).toBeLessThan(3 * MAX_LINE_BYTES);
    expect(record(lines[0])).toMatchObject({ level: 'error', error: { name: 'Error' } });
  });

  it('caps a stack given next to the message and strings in structured params', () => {
    const logger = jsonLogger('info');
    logger.error('failed', `Error: boom\n    at x (file.ts:1:1)${'y'.repeat(HALF_MIB)}`);
    logger.warn('failed', { detail: 'z'.repeat(HALF_MIB) });
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(Buffer.byteLength(line)).toBeLessThan(MAX_LINE_BYTES);
  });

  it('caps what a lazy message returns', () => {
    jsonLogger('info').log(() => 'l'.repeat(HALF_MIB));
    expect(Buffer.byteLength(lines[0]!)).toBeLessThan(MAX_LINE_BYTES);
  });

  it('prints nothing, and builds no lazy message, below its level', () => {
    const lazy = vi.fn(() => 'never');
    jsonLogger('warn').debug(lazy);
    expect(lines).toEqual([]);
    expect(lazy).not.toHaveBeenCalled();
  });
});
