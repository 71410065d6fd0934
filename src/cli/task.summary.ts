import type { TaskPattern } from '../tasks/task-patterns';
import { table } from './cli.table';

/** A request's reply in Nest's format (docs/contract.md#replies). */
export type TaskReply = { response: Record<string, unknown> } | { err: { code?: unknown; message?: unknown } };

interface Failure {
  appId: number;
  countries: string[];
  reason: string;
}

/** Failed apps listed in full up to this many; the rest are counted. */
const MAX_FAILED_ROWS = 50;

/**
 * What the CLI prints once a task's reply came: the counts, and for a fetch
 * task every failed app with its countries and reason. Throws nothing: a
 * reply of another shape is printed as it came.
 */
export function summarise(pattern: TaskPattern, taskId: string, reply: TaskReply): string[] {
  if ('err' in reply) {
    return table([
      ['task', `${taskId} (${pattern})`],
      ['failed', `${String(reply.err.code)}: ${String(reply.err.message)}`],
    ]);
  }
  const result = reply.response;
  const head = ['task', `${taskId} (${pattern})`];
  switch (pattern) {
    case 'apps.list':
      return table([head, ['apps', String(result.count)]]);
    case 'apps.changed':
      return table([
        head,
        ['changed', `${String(result.count)} app(s)`],
        [
          'window',
          `${when(result.since)} .. ${when(result.until)} (since ${String(result.since)}, until ${String(result.until)})`,
        ],
      ]);
    default:
      return batchSummary(head, result);
  }
}

function batchSummary(head: string[], result: Record<string, unknown>): string[] {
  const updated = Array.isArray(result.updated) ? result.updated : [];
  const failed = (Array.isArray(result.failed) ? result.failed : []) as Failure[];
  const lines = table([head, ['updated', `${updated.length} app(s)`], ['failed', `${failed.length} app(s)`]]);
  if (failed.length === 0) return lines;
  const rows = failed
    .slice(0, MAX_FAILED_ROWS)
    .map((failure) => [String(failure.appId), failure.countries.join(','), failure.reason]);
  lines.push('', ...table([['APP', 'COUNTRIES', 'REASON'], ...rows]));
  if (failed.length > MAX_FAILED_ROWS) lines.push(`… and ${failed.length - MAX_FAILED_ROWS} more failed app(s)`);
  return lines;
}

/** Unix seconds as an ISO date, for the window of apps.changed. */
function when(seconds: unknown): string {
  return typeof seconds === 'number' ? new Date(seconds * 1000).toISOString().replace('.000Z', 'Z') : '?';
}
