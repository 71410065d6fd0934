/** A `.done` result of a fetch task as the orchestrator receives it (CONTRACT.md §2). */
export interface FetchDone {
  pattern: string;
  data: { taskId: string; updated: number[]; failed: { appId: number; countries: string[]; reason: string }[] };
}

/** One egress in the details of `GET /health` (CONTRACT.md §3, §5). */
export interface EgressHealth {
  status: string;
  state: string;
  until?: string;
}

/** `count` consecutive integers from `from`. */
export const range = (from: number, count: number) => Array.from({ length: count }, (_, index) => from + index);
