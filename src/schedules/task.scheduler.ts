import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';

import { sleep } from '../common/sleep';
import type { ScheduleConfig } from '../config/schedules';
import { WorkerConfig } from '../config/worker-config';
import { TaskPublisher } from '../rabbit/task.publisher';
import { TaskNotQueuedError } from '../rabbit/rabbit.errors';
import { cronSchedule, NextTick } from './cron-expression';
import { ScheduleClaims } from './schedule.claims';
import { scheduledTaskId } from './schedule-tick';

/**
 * A tick more than this late (a process that was suspended, an event loop
 * blocked for minutes) is skipped: it passed while this worker was not
 * running. Claims outlive it by far (CLAIM_TTL_S).
 */
export const MAX_LATENESS_MS = 5 * 60_000;
/** Longest single timer: a long wait is cut in slices, so a changed clock is noticed. */
const MAX_SLEEP_MS = 60_000;
/** Pause before asking Redis for a claim again, or publishing a task the broker returned. */
const RETRY_MS = 1000;
/** How long shutdown waits for ticks being published. */
const STOP_WAIT_MS = 2000;

interface Schedule extends ScheduleConfig {
  next: NextTick;
}

/**
 * Publishes each schedule's task at every tick of its cron (docs/contract.md#scheduled-tasks).
 * Every process runs every schedule; at a tick each claims it in Redis and only
 * the one that got it publishes, with a confirm: one task per tick however
 * many processes run. Ticks are computed from now on start, so ticks that
 * passed while no worker ran are skipped, not caught up; a tick whose claimer
 * dies before publishing is lost. Timers are unref'd: they never keep a
 * stopping process alive. Stopped before the broker connection closes.
 */
@Injectable()
export class TaskScheduler implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(TaskScheduler.name);
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly firing = new Set<Promise<void>>();
  private readonly stopped = new AbortController();

  constructor(
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
    private readonly claims: ScheduleClaims,
    private readonly publisher: TaskPublisher,
  ) {}

  onApplicationBootstrap(): void {
    const now = Date.now();
    for (const config of this.config.schedules) {
      const schedule = { ...config, next: cronSchedule(config.cron) };
      this.arm(schedule, schedule.next(now));
    }
    if (this.timers.size > 0) this.logger.log(`Running ${this.timers.size} schedule(s)`);
  }

  /** Shutdown: no further tick; a tick being published gets a moment to be confirmed. */
  async onModuleDestroy(): Promise<void> {
    this.stopped.abort(new Error('the worker is stopping'));
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    if (this.firing.size === 0) return;
    const pause = new AbortController();
    await Promise.race([Promise.allSettled(this.firing), sleep(STOP_WAIT_MS, pause.signal).catch(() => undefined)]);
    pause.abort();
  }

  private arm(schedule: Schedule, tickMs: number): void {
    if (this.stopped.signal.aborted) return;
    const delay = Math.min(Math.max(0, tickMs - Date.now()), MAX_SLEEP_MS);
    this.timers.set(schedule.name, setTimeout(() => this.wake(schedule, tickMs), delay).unref());
  }

  private wake(schedule: Schedule, tickMs: number): void {
    const now = Date.now();
    // A slice of a long wait, or the clock went back: not yet.
    if (now < tickMs) return this.arm(schedule, tickMs);
    // The next tick after now, before this one is published: a slow publish
    // never delays it, and ticks missed meanwhile are skipped.
    this.arm(schedule, schedule.next(now));
    const taskId = scheduledTaskId(schedule.name, tickMs);
    if (now - tickMs > MAX_LATENESS_MS) {
      this.logger.warn(`Skipping scheduled task ${taskId}: this worker was not running at its tick`);
      return;
    }
    const firing = this.fire(schedule, tickMs, taskId).finally(() => this.firing.delete(firing));
    this.firing.add(firing);
  }

  /** Claims the tick and, if this process got it, publishes its task; never throws. */
  private async fire(schedule: Schedule, tickMs: number, taskId: string): Promise<void> {
    const deadline = tickMs + MAX_LATENESS_MS;
    try {
      if (!(await this.claim(schedule.name, tickMs, deadline))) {
        this.logger.debug(`Scheduled task ${taskId} is another process's`);
        return;
      }
      await this.publish(schedule, taskId, deadline);
      this.logger.log(`Published scheduled task ${taskId} (${schedule.pattern})`);
    } catch (error) {
      const why = (error as Error)?.message ?? String(error);
      if (this.stopped.signal.aborted) this.logger.warn(`Scheduled task ${taskId} not published: ${why}`);
      else this.logger.error(`Scheduled task ${taskId} lost: ${why}`);
    }
  }

  /**
   * Asks Redis until it answers (an outage), up to `deadline`. A claim under
   * way is not abandoned at shutdown: the tick it gets can still be published.
   */
  private async claim(name: string, tickMs: number, deadline: number): Promise<boolean> {
    for (;;) {
      try {
        return await this.claims.claim(name, tickMs);
      } catch (error) {
        if (this.stopped.signal.aborted || Date.now() + RETRY_MS > deadline) throw error;
        await sleep(RETRY_MS, this.stopped.signal);
      }
    }
  }

  /**
   * Publishes `{pattern, data: {...data, taskId}}`, waiting for RabbitMQ up to
   * `deadline`. Sent again only when it is certainly not in the queue: at most
   * one task per tick.
   */
  private async publish(schedule: Schedule, taskId: string, deadline: number): Promise<void> {
    const data = { ...schedule.data, taskId };
    for (;;) {
      try {
        const waitMs = Math.max(1, deadline - Date.now());
        return await this.publisher.publishTask(schedule.pattern, data, { waitMs, signal: this.stopped.signal });
      } catch (error) {
        const retry = error instanceof TaskNotQueuedError && Date.now() + RETRY_MS < deadline;
        if (!retry || this.stopped.signal.aborted) throw error;
        await sleep(RETRY_MS, this.stopped.signal);
      }
    }
  }
}
