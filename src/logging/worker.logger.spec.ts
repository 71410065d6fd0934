import { ConsoleLogger, Logger } from '@nestjs/common';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import type { LogLevel } from '../config/environment';
import { workerLogger } from './worker.logger';

const ONE_MIB = 1024 * 1024;
const MAX_LINE_BYTES = 9 * 1024;

describe(workerLogger.name, () => {
  let stdout: string[];
  let stderr: string[];

  beforeEach(() => {
    stdout = [];
    stderr = [];
    const keep = (into: string[]) => ((chunk: unknown) => into.push(String(chunk)) > 0) as typeof process.stdout.write;
    vi.spyOn(process.stdout, 'write').mockImplementation(keep(stdout));
    vi.spyOn(process.stderr, 'write').mockImplementation(keep(stderr));
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  afterAll(() => Logger.overrideLogger(new ConsoleLogger()));

  /** Nest's own `Logger`, as every class of the worker uses it, writing through the worker's logger. */
  const classLogger = (level: LogLevel) => {
    Logger.overrideLogger(workerLogger(level));
    return new Logger('TaskRunner');
  };
  const records = () => stdout.map((line) => JSON.parse(line) as Record<string, unknown>);

  it.each([
    ['verbose', 'trace'],
    ['debug', 'debug'],
    ['log', 'info'],
    ['warn', 'warn'],
    ['error', 'error'],
    ['fatal', 'fatal'],
  ] as const)("writes Nest's %s as one JSON line on stdout at level %s, with its class as context", (method, level) => {
    classLogger('trace')[method]('Task t started');
    expect(stderr).toEqual([]);
    expect(stdout).toHaveLength(1);
    expect(stdout[0]!.endsWith('\n')).toBe(true);
    expect(records()[0]).toMatchObject({ level, context: 'TaskRunner', message: 'Task t started' });
  });

  it('writes nothing below LOG_LEVEL', () => {
    const logger = classLogger('warn');
    logger.log('quiet');
    logger.debug('quieter');
    expect(stdout).toEqual([]);
  });

  it('caps a message of a MiB at 8 KiB, keeping its start', () => {
    classLogger('info').warn(`Dead-lettering a task: unknown pattern ${'p'.repeat(ONE_MIB)}`);
    expect(Buffer.byteLength(stdout[0]!)).toBeLessThan(MAX_LINE_BYTES);
    expect(records()[0]!.message).toMatch(/^Dead-lettering a task: unknown pattern p+… \[truncated \d+ chars\]$/);
  });

  it("keeps the stack Nest's exception handlers pass next to the message, capped", () => {
    classLogger('info').error('failed', `Error: boom\n    at x (file.ts:1:1)${'y'.repeat(ONE_MIB)}`);
    expect(Buffer.byteLength(stdout[0]!)).toBeLessThan(2 * MAX_LINE_BYTES);
    expect(records()[0]).toMatchObject({ level: 'error', message: 'failed', err: { stack: expect.any(String) } });
  });

  it('writes structured fields given as the message object', () => {
    classLogger('debug').debug({ message: 'Steam /api/appdetails: 200 in 3 ms', egress: 'direct', status: 200 });
    expect(records()[0]).toMatchObject({ level: 'debug', context: 'TaskRunner', egress: 'direct', status: 200 });
  });
});
