import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

import type { Reservation } from '../steam/egress/reservation';
import { budgetOf, STEAM_BUDGETS } from '../steam/steam-budget';
import { SteamError } from '../steam/steam.errors';
import type { SteamRequest } from '../steam/steam-request';
import type { Settlement } from '../tasks/delivery.decision';
import { TASK_PATTERNS } from '../tasks/task-patterns';
import { METRIC_PREFIX, METRICS, MetricFamily } from './metric.catalogue';
import {
  BACKEND_PUSH_KINDS,
  BACKEND_PUSH_OUTCOMES,
  BackendPushKind,
  backendPushOutcome,
  DEAD_LETTER_REASONS,
  deadLetterReason,
  PAIR_OUTCOMES,
  PairOutcome,
  STEAM_REQUEST_OUTCOMES,
  steamRequestOutcome,
  TASK_OUTCOMES,
  TOKEN_RENEWAL_OUTCOMES,
  taskOutcome,
  taskPatternLabel,
} from './metric.outcomes';

/** What the runner holds for one delivery: its pattern label, its start, whether it was counted. */
export interface TaskMeter {
  /** Counts the delivery once, as `settlement` of a task that ended with `error`. */
  settled(settlement: Settlement, error?: unknown): void;
  /** Counts a batch pair of this task as it settles. */
  pairSettled(outcome: PairOutcome): void;
}

/** A Steam job, as much of it as the slot-wait histogram reads. */
interface SteamJobTimes {
  data: SteamRequest;
  /** Bull's creation time of the job (ms). */
  timestamp: number;
  /** Runs of the job that ended in a failure (retries, hand-backs): 0 on its first run. */
  attemptsMade: number;
}

export const MISNAMED_DEFAULT_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

const TASK_BUCKETS_S = [0.05, 0.25, 1, 5, 15, 60, 300, 900, 3600, 3 * 3600, 12 * 3600];
const REQUEST_BUCKETS_S = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const SLOT_WAIT_BUCKETS_S = [0.01, 0.05, 0.25, 1, 5, 15, 60, 300, 900, 3600];

/**
 * The worker's Prometheus instruments (docs/operating/metrics.md), each
 * family exactly as metric.catalogue.ts names it, in a registry of this app's
 * own: tests run several workers in one process, and prom-client's global
 * registry would mix their counts (or refuse the second one's families).
 * Node's process metrics are collected into it once, under the same prefix.
 * Callers report what happened in their own words (a settlement, a typed
 * error); the mapping to label values is metric.outcomes.ts.
 */
@Injectable()
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly tasks = this.counter(METRICS.tasks);
  private readonly taskDuration = this.histogram(METRICS.taskDuration, TASK_BUCKETS_S);
  private readonly tasksInFlight = this.gauge(METRICS.tasksInFlight);
  private readonly pairs = this.counter(METRICS.pairs);
  private readonly deadLetters = this.counter(METRICS.deadLetters);
  private readonly steamRequests = this.counter(METRICS.steamRequests);
  private readonly steamRequestDuration = this.histogram(METRICS.steamRequestDuration, REQUEST_BUCKETS_S);
  private readonly steamSlotWait = this.histogram(METRICS.steamSlotWait, SLOT_WAIT_BUCKETS_S);
  private readonly backendPushes = this.counter(METRICS.backendPushes);
  private readonly backendPushDuration = this.histogram(METRICS.backendPushDuration, REQUEST_BUCKETS_S);
  private readonly tokenRenewals = this.counter(METRICS.tokenRenewals);

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
    // Gauges named like counters, which `promtool check metrics` rejects; each
    // is the sum of its family without the suffix (nodejs_active_handles{type}, …).
    for (const name of MISNAMED_DEFAULT_GAUGES) this.registry.removeSingleMetric(`${METRIC_PREFIX}${name}`);
    // Known label sets start at 0, so that rate() sees the first increase of each.
    for (const pattern of [...TASK_PATTERNS, 'invalid']) {
      this.tasksInFlight.set({ pattern }, 0);
      for (const outcome of TASK_OUTCOMES) this.tasks.inc({ pattern, outcome }, 0);
    }
    for (const pattern of ['app.fetch', 'apps.fetch', 'apps.prices']) {
      for (const outcome of PAIR_OUTCOMES) this.pairs.inc({ pattern, outcome }, 0);
    }
    for (const reason of DEAD_LETTER_REASONS) this.deadLetters.inc({ reason }, 0);
    for (const kind of BACKEND_PUSH_KINDS) {
      for (const outcome of BACKEND_PUSH_OUTCOMES) this.backendPushes.inc({ kind, outcome }, 0);
    }
    for (const outcome of TOKEN_RENEWAL_OUTCOMES) this.tokenRenewals.inc({ outcome }, 0);
  }

  /** A delivery starts: it is in flight until its meter says how it settled. */
  taskStarted(rawPattern: string | null): TaskMeter {
    const pattern = taskPatternLabel(rawPattern);
    const stopTimer = this.taskDuration.startTimer({ pattern });
    this.tasksInFlight.inc({ pattern });
    let counted = false;
    return {
      settled: (settlement, error) => {
        if (counted) return;
        counted = true;
        const outcome = taskOutcome(settlement, error);
        this.tasksInFlight.dec({ pattern });
        this.tasks.inc({ pattern, outcome });
        stopTimer({ outcome });
        if (settlement === 'dead-letter') this.deadLetters.inc({ reason: deadLetterReason(error) });
      },
      pairSettled: (outcome) => this.pairs.inc({ pattern, outcome }),
    };
  }

  /** Starts the Steam request counters of these egresses (their labels) at 0. */
  knowEgresses(labels: readonly string[]): void {
    for (const egress of labels) {
      for (const budget of STEAM_BUDGETS) {
        for (const outcome of STEAM_REQUEST_OUTCOMES) this.steamRequests.inc({ egress, budget, outcome }, 0);
      }
    }
  }

  /**
   * One Steam request leaving through `reservation` now: observes how long the
   * job waited for its slot (on its first run only, from its creation: a retry's
   * backoff is no slot wait), then counts and times the call by its outcome.
   * Failures that are no Steam answer (withdrawn, handed back) are not counted.
   */
  async steamCall<T>(job: SteamJobTimes, reservation: Reservation, call: Promise<T>): Promise<T> {
    const budget = budgetOf(job.data);
    if (job.attemptsMade === 0) this.steamSlotWait.observe({ budget }, Math.max(0, Date.now() - job.timestamp) / 1000);
    const stopTimer = this.steamRequestDuration.startTimer({ budget });
    const count = (error?: SteamError) => {
      stopTimer();
      this.steamRequests.inc({ egress: reservation.egress.label, budget, outcome: steamRequestOutcome(error) });
    };
    try {
      const value = await call;
      count();
      return value;
    } catch (error) {
      if (error instanceof SteamError) count(error);
      throw error;
    }
  }

  /** One backend PUT of a `kind` record: counted and timed by its outcome. */
  async backendPush<T>(kind: BackendPushKind, push: Promise<T>): Promise<T> {
    const stopTimer = this.backendPushDuration.startTimer();
    const count = (error?: unknown) => {
      const outcome = backendPushOutcome(error);
      if (!outcome) return;
      stopTimer();
      this.backendPushes.inc({ kind, outcome });
    };
    try {
      const value = await push;
      count();
      return value;
    } catch (error) {
      count(error);
      throw error;
    }
  }

  /** One token renewal (after its own retries): counted as ok or failed. */
  tokenRenewal<T>(renewal: Promise<T>): Promise<T> {
    return renewal.then(
      (value) => {
        this.tokenRenewals.inc({ outcome: 'ok' });
        return value;
      },
      (error: unknown) => {
        this.tokenRenewals.inc({ outcome: 'failed' });
        throw error;
      },
    );
  }

  private counter(family: MetricFamily): Counter<string> {
    return new Counter({ ...this.named(family), registers: [this.registry] });
  }

  private gauge(family: MetricFamily): Gauge<string> {
    return new Gauge({ ...this.named(family), registers: [this.registry] });
  }

  private histogram(family: MetricFamily, buckets: number[]): Histogram<string> {
    return new Histogram({ ...this.named(family), buckets, registers: [this.registry] });
  }

  private named({ name, help, labels }: MetricFamily) {
    return { name, help, labelNames: labels };
  }
}
