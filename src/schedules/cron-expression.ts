import { CronExpressionParser } from 'cron-parser';

/** Why a schedule's cron expression is refused. Never carries the expression itself. */
export class InvalidCronError extends Error {
  override readonly name = 'InvalidCronError';
}

/** When a cron ticks next, strictly after `afterMs` (ms since the epoch, like the answer). */
export type NextTick = (afterMs: number) => number;

const FIELDS = 5;
/** Month and weekday names (`JAN`, `THU`): letters that are not the hash `H`. */
const NAMES = /[a-z]{3}/gi;

/**
 * Reads a five-field cron expression (minute hour day-of-month month
 * day-of-week), evaluated in UTC (docs/contract.md#scheduled-tasks), with
 * cron-parser. Refused, besides what cron-parser refuses:
 * - any other number of fields: cron-parser would take six as seconds first,
 *   fill in fewer, and read `@daily`;
 * - `H` (a hashed value): cron-parser draws it at random unless seeded, so each
 *   process would tick at other times, each tick claimed once per process.
 */
export function cronSchedule(expression: string): NextTick {
  const fields = expression.trim().split(/\s+/);
  if (expression.trim() === '' || fields.length !== FIELDS) {
    throw new InvalidCronError('must have five fields: minute hour day-of-month month day-of-week');
  }
  if (fields.some((field, index) => /H/.test(index >= 3 ? field.replace(NAMES, '') : field))) {
    throw new InvalidCronError('must not use H: its value would differ between processes');
  }
  const at = (afterMs: number) =>
    CronExpressionParser.parse(expression, { currentDate: new Date(afterMs), tz: 'UTC' })
      .next()
      .getTime();
  try {
    // Parsing checks the fields; one step checks that the expression ever ticks.
    at(Date.now());
  } catch (error) {
    // cron-parser's messages quote the expression: only the fact is passed on.
    throw new InvalidCronError('is not a valid cron expression', { cause: error });
  }
  return at;
}
