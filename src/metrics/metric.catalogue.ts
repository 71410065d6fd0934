/**
 * Every metric family the worker exports at GET /metrics, besides Node's
 * process metrics (prom-client's defaults, under the same prefix). The alert
 * rules and the Grafana dashboard in deploy/ may use only these names (a test
 * checks it). Labels are bounded: a pattern is one of the worker's own (or
 * `invalid`), an egress one of the configured ones; never an app id, a task id
 * or a secret.
 */
export const METRIC_PREFIX = 'steam_worker_';

export type MetricKind = 'counter' | 'gauge' | 'histogram';

export interface MetricFamily {
  readonly name: string;
  readonly kind: MetricKind;
  readonly help: string;
  readonly labels: readonly string[];
}

const family = (name: string, kind: MetricKind, labels: readonly string[], help: string): MetricFamily => ({
  name: `${METRIC_PREFIX}${name}`,
  kind,
  labels,
  help,
});

export const METRICS = {
  /** outcome: done | failed (task.failed, to the DLQ) | invalid (dead-lettered unread) | requeued. */
  tasks: family('tasks_total', 'counter', ['pattern', 'outcome'], 'Tasks settled, by pattern and outcome'),
  taskDuration: family(
    'task_duration_seconds',
    'histogram',
    ['pattern', 'outcome'],
    'Time from a task delivery to its settlement',
  ),
  tasksInFlight: family('tasks_in_flight', 'gauge', ['pattern'], 'Tasks this process is working on'),
  /** outcome: updated | steam_error | backend_error | backend_rejected (the Failure reasons). */
  pairs: family('pairs_total', 'counter', ['pattern', 'outcome'], '(app, country) pairs of batch tasks settled'),
  /** Every message this process rejected to the dead-letter queue; reason: a task.failed code, or poison. */
  deadLetters: family('dead_letters_total', 'counter', ['reason'], 'Messages rejected to the dead-letter queue'),
  /** outcome: ok | not_modified | rate_limited (429, 403 on the store) | transient | permanent | egress_error. */
  steamRequests: family(
    'steam_requests_total',
    'counter',
    ['egress', 'budget', 'outcome'],
    'Steam HTTP requests made, by egress, budget and outcome',
  ),
  steamRequestDuration: family(
    'steam_request_duration_seconds',
    'histogram',
    ['budget'],
    'Duration of one Steam HTTP request',
  ),
  steamSlotWait: family(
    'steam_slot_wait_seconds',
    'histogram',
    ['budget'],
    'Time from a Steam job being queued until its first request left (queue and egress slot)',
  ),
  /** state: waiting | active | delayed | failed | completed (Bull's counts, read at scrape). */
  steamJobs: family('steam_jobs', 'gauge', ['budget', 'state'], 'Steam jobs in the shared queue, by state'),
  /** kind: details | price; outcome: accepted | rejected (4xx) | error (5xx, timeout, network). */
  backendPushes: family(
    'backend_pushes_total',
    'counter',
    ['kind', 'outcome'],
    'Backend PUT attempts, by record kind and outcome',
  ),
  backendPushDuration: family('backend_push_duration_seconds', 'histogram', [], 'Duration of one backend PUT'),
  /** outcome: ok | failed; one per renewal, after its own retries. */
  tokenRenewals: family('token_renewals_total', 'counter', ['outcome'], 'Backend OAuth2 token renewals, by outcome'),
  /** 1 for the state each (egress, budget) is in, 0 for the others; state: ready | cooling | failing. */
  egressState: family('egress_state', 'gauge', ['egress', 'budget', 'state'], 'State of each egress budget'),
  /** 1 while RabbitMQ and Redis are connected and the consumer is up (/health/ready, from cached states). */
  ready: family('ready', 'gauge', [], 'Whether this process is ready'),
} as const satisfies Record<string, MetricFamily>;
