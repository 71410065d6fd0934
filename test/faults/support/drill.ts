import { monitorEventLoopDelay } from 'node:perf_hooks';

import { TEST_CLIENT_SECRET } from '../../support/auth.stand-in';
import { resultsFor } from '../../support/shapes';
import { workerFixture, WorkerFixture } from '../../support/worker.harness';
import { ChildWorker } from '../../support/worker.process';
import { recordSecretScan } from './drill-report';

/** A drill's worker: the built worker as a child process, on a port of its own. */
export type DrillWorker = ChildWorker;

/**
 * One fault drill's world: stand-ins, queues and a REDIS_PREFIX of its own (a
 * {@link workerFixture} without in-process workers), and built workers
 * (`node dist/main.js`) started as real child processes, at LOG_LEVEL=debug
 * unless told otherwise.
 */
export class Drill {
  private readonly world: WorkerFixture;

  constructor(label: string) {
    this.world = workerFixture(`drill-${label}`, undefined, { workers: 0 });
  }

  get names() {
    return this.world.names;
  }

  get standIns() {
    return this.world.standIns;
  }

  get rabbit() {
    return this.world.rabbit;
  }

  get results() {
    return this.world.results;
  }

  get deadLetters() {
    return this.world.deadLetters;
  }

  get workers(): readonly DrillWorker[] {
    return this.world.children;
  }

  async start(): Promise<this> {
    await this.world.start();
    return this;
  }

  /**
   * Starts a built worker and waits until it is ready (unless `waitReady` is
   * false), through `launcher` when given (say `taskset -c 0`).
   */
  spawn(extra: Record<string, string> = {}, waitReady = true, launcher: string[] = []): Promise<DrillWorker> {
    return this.world.spawn({ LOG_LEVEL: 'debug', ...extra }, { waitReady, launcher });
  }

  publish(task: unknown, options = {}): void {
    this.world.publish(task, options);
  }

  /** Results (any pattern) whose data.taskId is `taskId`. */
  resultsFor(taskId: string) {
    return resultsFor(this.results, taskId);
  }

  /** Everything every worker of this drill printed. */
  logs(): string {
    return this.workers.map((worker) => worker.output()).join('\n');
  }

  /**
   * Drill 9 for this drill: none of the secrets the workers knew appears in
   * anything they printed. Runs at every drill's end; the table's row sums up.
   */
  secretsFound(extraSecrets: string[] = []): string[] {
    const secrets = [
      TEST_CLIENT_SECRET,
      this.standIns.steam.apiKey,
      this.world.env.ADMIN_PASSWORD ?? '',
      ...this.standIns.auth.issued,
      ...extraSecrets,
    ];
    const logs = this.logs();
    const leaked = secrets.filter((secret) => secret && logs.includes(secret));
    if (leaked.length === 0) recordSecretScan(logs.length);
    return leaked;
  }

  /** Kills the workers, scans what they printed for secrets, then removes the drill's queues, Redis keys and stand-ins. */
  async stop(extraSecrets: string[] = []): Promise<void> {
    await this.world.killChildren();
    const leaked = this.world.started ? this.secretsFound(extraSecrets) : [];
    await this.world.stop();
    if (leaked.length > 0) throw new Error(`${leaked.length} secret(s) appeared in the workers' output`);
  }
}

/**
 * The stand-ins run in this process and time-stamp a request when its handler
 * runs, which is late by as much as this event loop is held up (on a busy
 * 2-core machine, tens of ms). N arrivals stamped within W − lag therefore
 * really arrived within W: that window is the one checked against the limit.
 */
export function watchStandInLag(): { stop(): number } {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  return {
    stop: () => {
      delay.disable();
      return delay.max / 1e6 + 1;
    },
  };
}
