import pino, { LoggerOptions } from 'pino';

import type { LogLevel } from '../config/environment';
import { capStrings, capText } from './log-cap';
import { currentTaskLogFields } from './task-log.context';

/** What a redacted value is replaced with. */
export const REDACTED = '[redacted]';

/**
 * Field names that hold secrets. The code never logs them (messages are
 * written secret-free); redaction is the second line of defence, for an
 * object that carries one by mistake (a request config, headers, options).
 */
const SECRET_FIELDS = [
  'authorization',
  'Authorization',
  'password',
  'client_secret',
  'clientSecret',
  'access_token',
  'accessToken',
  'refresh_token',
  'token',
  'secret',
  'key',
  'apiKey',
  'api_key',
  'STEAM_API_KEY',
  'AUTH_CLIENT_SECRET',
  'ADMIN_PASSWORD',
];

/** Each secret field at the top of a line and up to three levels below it. */
export const REDACTED_PATHS = SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`, `*.*.*.${field}`]);

/**
 * The worker's pino options (docs/contract.md#logs): JSON lines whose `level`
 * is the LOG_LEVEL name, `message` and `timestamp` as Nest's console logger
 * wrote them, the task's `taskId` and `pattern` on every line written in its
 * async context, secrets redacted, every string capped at 8 KiB.
 */
export function workerLogOptions(level: LogLevel): LoggerOptions {
  return {
    level,
    messageKey: 'message',
    timestamp: () => `,"timestamp":${Date.now()}`,
    formatters: { level: (label) => ({ level: label }) },
    mixin: currentTaskLogFields,
    redact: { paths: REDACTED_PATHS, censor: REDACTED },
    serializers: { err: (error: Error) => capStrings({ ...pino.stdSerializers.err(error) }) },
    hooks: {
      logMethod(args, method) {
        method.apply(this, capArguments(args) as Parameters<typeof method>);
      },
    },
  };
}

/**
 * The arguments of a log call with their strings capped. An Error alone is
 * logged as `err` with its message as the line's (pino would take the
 * message whole); the `err` serializer caps the error itself.
 */
function capArguments(args: unknown[]): unknown[] {
  const [first, ...rest] = args;
  if (first instanceof Error && rest.length === 0) return [{ err: first }, capText(first.message)];
  return args.map((arg) => (arg instanceof Error ? arg : capStrings(arg)));
}
