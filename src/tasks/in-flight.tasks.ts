import { Injectable, Logger } from '@nestjs/common';
import type { Channel, ConsumeMessage } from 'amqplib';
import { setMaxListeners } from 'node:events';

import { TaskAbandonedError } from './task.errors';

/** How long abandoned tasks get to requeue themselves after the grace period. */
const ABANDON_WAIT_MS = 2000;

export interface TaskInFlight {
  readonly message: ConsumeMessage;
  readonly channel: Channel;
  readonly signal: AbortSignal;
  settled: boolean;
}

/**
 * The deliveries this process is working on. A task stops at once when the
 * channel that carried it closes (its redelivery does the work), and is
 * abandoned when the shutdown grace period runs out.
 */
@Injectable()
export class InFlightTasks {
  private readonly logger = new Logger(InFlightTasks.name);
  private readonly tasks = new Map<TaskInFlight, AbortController>();
  private readonly watched = new WeakSet<Channel>();
  private drained?: () => void;

  start(message: ConsumeMessage, channel: Channel): TaskInFlight {
    const controller = new AbortController();
    // Every pair in flight listens to it (Steam wait, push, backoff) and lets go when it settles.
    setMaxListeners(0, controller.signal);
    const task: TaskInFlight = { message, channel, signal: controller.signal, settled: false };
    this.tasks.set(task, controller);
    this.watch(channel);
    return task;
  }

  finish(task: TaskInFlight): void {
    this.tasks.delete(task);
    if (this.tasks.size === 0) this.drained?.();
  }

  /** Shutdown, phase 2: waits up to `graceMs` for the tasks in flight, then abandons the rest. */
  async drain(graceMs: number): Promise<void> {
    if (this.tasks.size > 0) {
      this.logger.log(`Waiting up to ${graceMs} ms for ${this.tasks.size} task(s) in flight`);
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        setTimeout(resolve, graceMs).unref();
      });
    }
    const left = [...this.tasks.keys()];
    if (left.length === 0) return;
    this.logger.warn(`Giving ${left.length} unfinished task(s) back to the queue`);
    for (const task of left) this.tasks.get(task)?.abort(new TaskAbandonedError('shutdown'));
    // Each abandoned task requeues itself on its way out, once the pushes it
    // already sent have answered; the process exits within grace + 5 s anyway.
    await new Promise<void>((resolve) => {
      this.drained = resolve;
      if (this.tasks.size === 0) resolve();
      setTimeout(resolve, ABANDON_WAIT_MS).unref();
    });
  }

  private watch(channel: Channel): void {
    if (this.watched.has(channel)) return;
    this.watched.add(channel);
    channel.once('close', () => {
      for (const [task, controller] of this.tasks) {
        if (task.channel === channel) controller.abort(new TaskAbandonedError('channel_lost'));
      }
    });
  }
}
