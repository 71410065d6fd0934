/**
 * A tick as the contract writes it, `YYYY-MM-DDTHH:MM:00Z` (UTC): a cron
 * ticks on whole minutes, so seconds are always 0 and milliseconds are dropped
 * (docs/contract.md#scheduled-tasks).
 */
export function formatTick(tickMs: number): string {
  return `${new Date(tickMs).toISOString().slice(0, 16)}:00Z`;
}

/**
 * The taskId of a schedule's task at a tick, `<name>@<tick>`: the same in
 * every process, so that the tick is claimed once and the orchestrator can
 * tell the runs apart. At most 100 + 1 + 20 code points, within a taskId's 128.
 */
export function scheduledTaskId(name: string, tickMs: number): string {
  return `${name}@${formatTick(tickMs)}`;
}
