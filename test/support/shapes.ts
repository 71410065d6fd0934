import { ReceivedMessage, waitFor } from './rmq';

/** A task or a result as it travels: a pattern and data with a taskId (docs/contract.md). */
export interface Envelope {
  pattern: string;
  data: { taskId: string } & Record<string, unknown>;
}

/** A `.done` result of a fetch task as the orchestrator receives it (docs/contract.md#results). */
export interface FetchDone {
  pattern: string;
  data: { taskId: string; updated: number[]; failed: { appId: number; countries: string[]; reason: string }[] };
}

/** Any result as the orchestrator receives it: a `.done` of any task, or a `task.failed`. */
export interface ResultBody {
  pattern: string;
  data: {
    taskId: string;
    /** The failed task's pattern (`task.failed` only). */
    pattern?: unknown;
    updated?: number[];
    failed?: unknown[];
    error?: { code: string; message: string };
  };
}

/** One egress in the details of `GET /health` (docs/contract.md#http-endpoints), with each of its budgets. */
export interface EgressHealth {
  status: string;
  state: string;
  until?: string;
  store?: BudgetHealth;
  api?: BudgetHealth;
}

/** One budget of an egress in the details of `GET /health`: 'ready' or 'cooling' until a time. */
export interface BudgetHealth {
  state: string;
  until?: string;
}

/** Both budgets of an egress as `/health` shows them when neither cools. */
export const BUDGETS_READY = { store: { state: 'ready' }, api: { state: 'ready' } };

/** `count` consecutive integers from `from`. */
export const range = (from: number, count: number) => Array.from({ length: count }, (_, index) => from + index);

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A received result's body, read as a result. */
export const bodyOf = (message: ReceivedMessage) => message.body as ResultBody;

/** The `data.taskId` of a received message; undefined for a body without one (raw text, say). */
export const taskIdOf = (message: ReceivedMessage): unknown =>
  (message.body as { data?: { taskId?: unknown } } | null)?.data?.taskId;

/** The messages among `messages` whose `data.taskId` is `taskId`. */
export const resultsFor = (messages: readonly ReceivedMessage[], taskId: string) =>
  messages.filter((message) => taskIdOf(message) === taskId);

/** Waits until a message whose `data.taskId` is `taskId` is among `messages` (a list a probe fills), and returns it. */
export function resultOf(
  messages: readonly ReceivedMessage[],
  taskId: string,
  timeoutMs = 30_000,
  what = `result of ${taskId}`,
): Promise<ReceivedMessage> {
  return waitFor(() => messages.find((message) => taskIdOf(message) === taskId), timeoutMs, what);
}

/** Polls `<url>/health/ready` until it answers 200; a worker that does not listen yet is not ready. */
export async function waitReady(url: string, timeoutMs = 20_000, what = 'readiness'): Promise<void> {
  await waitFor(
    async () => (await fetch(`${url}/health/ready`).catch(() => undefined))?.status === 200,
    timeoutMs,
    what,
  );
}
