import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';

import { TASK_DTOS } from '../tasks/dto/task-dtos';
import { validateTaskSync } from '../tasks/dto/validate-task';
import { TaskFailedError } from '../tasks/task.errors';
import type { TaskPattern } from '../tasks/task-patterns';
import { UsageError } from './cli.errors';

/** A task to publish as a request and follow to its reply. */
export interface TaskCommand {
  kind: 'task';
  pattern: TaskPattern;
  /** The task's data as validated by the worker's own rules, `taskId` included. */
  data: { taskId: string } & Record<string, unknown>;
  /** Stop waiting for the reply after this long (the task goes on); undefined waits as long as it takes. */
  timeoutMs?: number;
}

export type DeadLetterCommand =
  | { kind: 'dlq list'; limit: number }
  | { kind: 'dlq peek'; taskId?: string; limit: number }
  /** `taskId` undefined: every message (`--all`). */
  | { kind: 'dlq replay'; taskId?: string }
  | { kind: 'dlq purge'; yes: boolean };

export type CliCommand = TaskCommand | DeadLetterCommand | { kind: 'help' };

/** Messages `dlq list` and `dlq peek` show unless told otherwise. */
export const DEFAULT_LIST_LIMIT = 1000;
export const DEFAULT_PEEK_LIMIT = 10;

export const USAGE = `Usage: steam-worker <command> [options]

Tasks (published as a request to WORKER_QUEUE and followed to the reply):
  fetch   --apps 10,20 --countries US,DE [--task ID] [--timeout S]   apps.fetch (app.fetch for one pair)
  prices  --apps 10,20 --countries US,DE [--task ID] [--timeout S]   apps.prices
  list    [--task ID] [--timeout S]                                  apps.list
  changed [--since UNIX_SECONDS|ISO_DATE] [--task ID] [--timeout S]  apps.changed

Dead-letter queue (<WORKER_QUEUE>.dlq):
  dlq list [--limit N]                one line per message
  dlq peek [--task ID] [--limit N]    full messages, left in place
  dlq replay --all | --task ID        move messages back to WORKER_QUEUE
  dlq purge --yes                     delete every message

Configuration: the worker's own environment (and .env): RABBITMQ_URL,
WORKER_QUEUE, REDIS_URL, REDIS_PREFIX.`;

const TASK_OPTIONS = {
  apps: { type: 'string' },
  countries: { type: 'string' },
  since: { type: 'string' },
  task: { type: 'string' },
  timeout: { type: 'string' },
} as const;

const DLQ_OPTIONS = {
  all: { type: 'boolean' },
  task: { type: 'string' },
  limit: { type: 'string' },
  yes: { type: 'boolean' },
} as const;

/** Which options each command takes: anything else is a usage error. */
const ALLOWED: Record<string, readonly string[]> = {
  fetch: ['apps', 'countries', 'task', 'timeout'],
  prices: ['apps', 'countries', 'task', 'timeout'],
  list: ['task', 'timeout'],
  changed: ['since', 'task', 'timeout'],
  'dlq list': ['limit'],
  'dlq peek': ['task', 'limit'],
  'dlq replay': ['all', 'task'],
  'dlq purge': ['yes'],
};

/** Turns the command line (without `node` and the script) into a command; throws {@link UsageError}. */
export function parseCommand(argv: readonly string[]): CliCommand {
  const [first, ...rest] = argv;
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') return { kind: 'help' };
  if (first === 'dlq') return parseDeadLetterCommand(rest);
  if (!['fetch', 'prices', 'list', 'changed'].includes(first)) throw new UsageError(`unknown command "${first}"`);
  const values = parseOptions(first, rest, TASK_OPTIONS);
  const taskId = values.task ?? `cli-${randomUUID()}`;
  const timeoutMs = values.timeout === undefined ? undefined : seconds('--timeout', values.timeout) * 1000;
  switch (first) {
    case 'fetch':
    case 'prices': {
      const appIds = list('--apps', values.apps).map((item) => integer('--apps', item));
      const countries = list('--countries', values.countries);
      if (first === 'fetch' && appIds.length === 1 && countries.length === 1) {
        return task('app.fetch', { taskId, appId: appIds[0], country: countries[0] }, timeoutMs);
      }
      return task(first === 'fetch' ? 'apps.fetch' : 'apps.prices', { taskId, appIds, countries }, timeoutMs);
    }
    case 'list':
      return task('apps.list', { taskId }, timeoutMs);
    default:
      return task(
        'apps.changed',
        values.since === undefined ? { taskId } : { taskId, since: since(values.since) },
        timeoutMs,
      );
  }
}

function parseDeadLetterCommand(argv: readonly string[]): DeadLetterCommand {
  const [sub, ...rest] = argv;
  const name = `dlq ${sub ?? ''}`;
  if (!['list', 'peek', 'replay', 'purge'].includes(sub ?? '')) {
    throw new UsageError(sub === undefined ? 'dlq needs list, peek, replay or purge' : `unknown command "${name}"`);
  }
  const values = parseOptions(name, rest, DLQ_OPTIONS);
  const limit = (fallback: number) => (values.limit === undefined ? fallback : positive('--limit', values.limit));
  switch (sub) {
    case 'list':
      return { kind: 'dlq list', limit: limit(DEFAULT_LIST_LIMIT) };
    case 'peek':
      return { kind: 'dlq peek', taskId: values.task, limit: limit(DEFAULT_PEEK_LIMIT) };
    case 'replay':
      if ((values.all === true) === (values.task !== undefined))
        throw new UsageError('dlq replay needs --all or --task ID');
      return { kind: 'dlq replay', taskId: values.task };
    default:
      return { kind: 'dlq purge', yes: values.yes === true };
  }
}

/** Every option any command takes, as parseArgs reads them. */
interface OptionValues {
  apps?: string;
  countries?: string;
  since?: string;
  task?: string;
  timeout?: string;
  limit?: string;
  all?: boolean;
  yes?: boolean;
}

function parseOptions(
  command: string,
  args: readonly string[],
  options: typeof TASK_OPTIONS | typeof DLQ_OPTIONS,
): OptionValues {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message.split('\n')[0]}`);
  }
  for (const option of Object.keys(parsed.values)) {
    if (!ALLOWED[command]!.includes(option)) throw new UsageError(`${command} takes no --${option}`);
  }
  return parsed.values as OptionValues;
}

/** The data as the worker would validate it, so that a typo fails here and not as a dead letter. */
function task(pattern: TaskPattern, data: TaskCommand['data'], timeoutMs: number | undefined): TaskCommand {
  try {
    const valid = validateTaskSync(TASK_DTOS[pattern], data);
    const normalised = { ...data, ...valid } as TaskCommand['data'];
    return timeoutMs === undefined
      ? { kind: 'task', pattern, data: normalised }
      : { kind: 'task', pattern, data: normalised, timeoutMs };
  } catch (error) {
    if (error instanceof TaskFailedError) throw new UsageError(`invalid ${pattern} task: ${error.message}`);
    throw error;
  }
}

function list(option: string, value: string | undefined): string[] {
  const items = (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  if (items.length === 0) throw new UsageError(`${option} is required: a comma-separated list`);
  return items;
}

function integer(option: string, value: string): number {
  if (!/^\d{1,16}$/.test(value)) throw new UsageError(`${option}: "${value}" is not a whole number`);
  return Number(value);
}

function positive(option: string, value: string): number {
  const number = integer(option, value);
  if (number < 1) throw new UsageError(`${option} must be at least 1`);
  return number;
}

function seconds(option: string, value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0) throw new UsageError(`${option} must be seconds above 0`);
  return Number(value);
}

/** Unix seconds as the contract takes them, or a date (`2026-11-28`, `2026-11-28T12:00:00Z`). */
function since(value: string): number {
  if (/^\d+$/.test(value)) return integer('--since', value);
  const millis = Date.parse(value);
  if (Number.isNaN(millis)) throw new UsageError('--since must be unix seconds or an ISO 8601 date');
  return Math.floor(millis / 1000);
}
