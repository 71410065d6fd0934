import type { LoggerService } from '@nestjs/common';
import { Logger, PinoLogger } from 'nestjs-pino';

import type { LogLevel } from '../config/environment';
import { workerLogOptions } from './worker-log.options';

/**
 * The worker's Nest logger, built before Nest so that its very first lines
 * are JSON (docs/contract.md#logs): nestjs-pino's `Logger` (the Nest
 * LoggerService over pino; each `new Logger(Class.name)` writes through it with
 * its class as `context`) on a pino of {@link workerLogOptions}, writing to
 * stdout at every level. No HTTP request is logged: nestjs-pino's request
 * middleware (LoggerModule) is not mounted, so health probes stay out of the log.
 */
export function workerLogger(level: LogLevel): LoggerService {
  // Through process.stdout (synchronous for files and pipes), not pino's own fd
  // writer: a line written just before process.exit is not lost, and tests can
  // read in-process workers' lines.
  const pinoLogger = new PinoLogger({ pinoHttp: [workerLogOptions(level), process.stdout] });
  // nestjs-pino keeps one root logger per process (the first one built); an
  // in-process test worker started after another brings its own level, the
  // way Nest's own static logger is the last one set.
  PinoLogger.root.level = level;
  return new Logger(pinoLogger, {});
}
