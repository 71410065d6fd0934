import { ClsServiceManager } from 'nestjs-cls';
import pino from 'pino';
import { describe, expect, it } from 'vitest';

import type { LogLevel } from '../config/environment';
import { TaskLogContext } from './task-log.context';
import { REDACTED, workerLogOptions } from './worker-log.options';

const ONE_MIB = 1024 * 1024;
/** The 8 KiB cap plus room for the record's own fields. */
const MAX_LINE_BYTES = 9 * 1024;

/** A pino of the worker's options writing into `lines`. */
function workerPino(level: LogLevel = 'trace') {
  const lines: string[] = [];
  const logger = pino(workerLogOptions(level), { write: (line: string) => void lines.push(line) });
  const records = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, records };
}

describe(workerLogOptions.name, () => {
  it.each(['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const)(
    'names level %s by its LOG_LEVEL name, with message, timestamp and pid',
    (level) => {
      const { logger, records } = workerPino();
      logger[level]('hello');
      expect(records()).toEqual([
        expect.objectContaining({ level, message: 'hello', timestamp: expect.any(Number), pid: process.pid }),
      ]);
    },
  );

  it('writes nothing below its level', () => {
    const { logger, lines } = workerPino('warn');
    logger.info('quiet');
    logger.debug('quieter');
    expect(lines).toEqual([]);
  });

  describe('caps every string of a line at 8 KiB', () => {
    it.each(['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const)(
      'a message of a MiB at %s, keeping its start',
      (level) => {
        const { logger, lines, records } = workerPino();
        logger[level](`Task t (${'p'.repeat(ONE_MIB)}) failed`);
        expect(Buffer.byteLength(lines[0]!)).toBeLessThan(MAX_LINE_BYTES);
        expect(records()[0]!.message).toMatch(/^Task t \(p+… \[truncated \d+ chars\]$/);
      },
    );

    it('strings in the fields of a line', () => {
      const { logger, lines } = workerPino();
      logger.warn({ detail: 'z'.repeat(ONE_MIB), nested: { more: 'y'.repeat(ONE_MIB) } }, 'failed');
      expect(Buffer.byteLength(lines[0]!)).toBeLessThan(2 * MAX_LINE_BYTES);
    });

    it('an error, its message and stack, logged alone or as a field', () => {
      const { logger, lines, records } = workerPino();
      const error = new Error('x'.repeat(ONE_MIB));
      logger.error(error);
      logger.error({ err: error }, 'failed');
      for (const line of lines) expect(Buffer.byteLength(line)).toBeLessThan(3 * MAX_LINE_BYTES);
      expect(records()[0]).toMatchObject({ level: 'error', err: { type: 'Error', message: expect.any(String) } });
    });
  });

  it('redacts secret-named fields at any depth', () => {
    const { logger, lines, records } = workerPino();
    const secrets = {
      authorization: 'Bearer top-level-token',
      headers: { Authorization: 'Bearer header-token' },
      config: { auth: { client_secret: 'the-client-secret', password: 'proxy-password' } },
      access_token: 'access-token-value',
      clientSecret: 'camel-client-secret',
      key: 'steam-api-key',
    };
    logger.info(secrets, 'a request went wrong');
    for (const value of ['top-level-token', 'header-token', 'the-client-secret', 'proxy-password']) {
      expect(lines[0]).not.toContain(value);
    }
    for (const value of ['access-token-value', 'camel-client-secret', 'steam-api-key']) {
      expect(lines[0]).not.toContain(value);
    }
    expect(records()[0]).toMatchObject({
      authorization: REDACTED,
      headers: { Authorization: REDACTED },
      config: { auth: { client_secret: REDACTED, password: REDACTED } },
    });
  });

  it("adds the task's taskId and pattern to every line written in its context, and only there", async () => {
    const { logger, records } = workerPino();
    const taskLog = new TaskLogContext(ClsServiceManager.getClsService());
    logger.info('before');
    await taskLog.run({ taskId: 't-1', pattern: 'apps.fetch' }, async () => {
      logger.info('inside');
      await new Promise((resolve) => setTimeout(resolve, 1));
      logger.debug({ egress: 'direct' }, 'after an await');
    });
    logger.info('after');
    expect(records().map(({ message, taskId, pattern }) => ({ message, taskId, pattern }))).toEqual([
      { message: 'before', taskId: undefined, pattern: undefined },
      { message: 'inside', taskId: 't-1', pattern: 'apps.fetch' },
      { message: 'after an await', taskId: 't-1', pattern: 'apps.fetch' },
      { message: 'after', taskId: undefined, pattern: undefined },
    ]);
  });

  it('writes no taskId in a context entered without one, even inside a task', () => {
    const { logger, records } = workerPino();
    const taskLog = new TaskLogContext(ClsServiceManager.getClsService());
    taskLog.run({ taskId: 't-3', pattern: 'apps.fetch' }, () => taskLog.run({}, () => logger.info('a job of no task')));
    expect(records()[0]).not.toHaveProperty('taskId');
  });

  it('carries at most 200 characters of a pattern as a field (an unknown one may be megabytes)', () => {
    const { logger, records } = workerPino();
    const taskLog = new TaskLogContext(ClsServiceManager.getClsService());
    taskLog.run({ taskId: 't-2', pattern: 'x'.repeat(ONE_MIB) }, () => logger.warn('unknown pattern'));
    expect((records()[0]!.pattern as string).length).toBeLessThanOrEqual(201);
  });
});
