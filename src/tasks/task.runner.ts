import { Injectable, Logger } from '@nestjs/common';
import { ClassConstructor } from 'class-transformer';
import type { ConsumeMessage } from 'amqplib';
import { createHash, randomUUID } from 'node:crypto';

import { sleep } from '../common/sleep';
import { TaskLogContext } from '../logging/task-log.context';
import { TaskMeter, WorkerMetrics } from '../metrics/worker.metrics';
import { ResultPublisher } from '../rabbit/result.publisher';
import type { TaskContext } from '../rabbit/task.context';
import type { InvalidTaskData, ReplyAddress } from '../rabbit/task-envelope';
import { TaskServer } from '../rabbit/task.server';
import { CrashLoopGuard } from './crash-loop.guard';
import { abandonReason, decideDelivery, Settlement } from './delivery.decision';
import { isValidTaskId, validateTask, validTaskId } from './dto/validate-task';
import { InFlightTasks, TaskInFlight } from './in-flight.tasks';
import { TaskFailedError } from './task.errors';
import type { FailureReason } from './use-cases/batch.report';

/** What a use case gets besides its DTO: the task's id and when to stop. */
export interface TaskRun {
  taskId: string;
  signal: AbortSignal;
  /** Whether the taskId names this run across deliveries (given, not generated), so it may resume. */
  resumable: boolean;
  /** A new pair was accepted: this delivery is getting somewhere (see CrashLoopGuard). Counted as `updated`. */
  progressed(): void;
  /** A batch pair failed for good: counted by its reason (the pairs metric, under this task's pattern). */
  pairFailed(reason: FailureReason): void;
}

/** A task type as its handler names it: the DTO its data must fit, and the use case that runs it. */
export interface TaskDefinition<Dto extends object, Result extends object> {
  dto: ClassConstructor<Dto>;
  execute(dto: Dto, run: TaskRun): Promise<Result>;
  /**
   * Runs once the result was confirmed by the broker, before the ack: for
   * state that may only follow a result the orchestrator has (the apps.changed
   * watermark). A failure is logged and changes nothing about the delivery.
   */
  completed?(result: Result): Promise<void>;
}

/** One delivery on its way through the runner. */
interface Delivery {
  task: TaskInFlight;
  pattern: string | null;
  taskId: string;
  reply: ReplyAddress | undefined;
  /** Counts it (tasks, dead letters, pairs) under its pattern once it settles. */
  meter: TaskMeter;
}

/** Pause before giving a task back after a passing fault, so a fault cannot spin. */
const REQUEUE_DELAY_MS = 1000;

/**
 * Runs a delivery from validation to settlement: validates its data, counts
 * it against crash loops, runs its use case, and carries out the decision of
 * {@link decideDelivery} — publish the result or `task.failed` (and the reply
 * of a request), then ack, dead-letter, requeue or leave it to the broker.
 */
@Injectable()
export class TaskRunner {
  private readonly logger = new Logger(TaskRunner.name);

  constructor(
    private readonly publisher: ResultPublisher,
    private readonly server: TaskServer,
    private readonly inFlight: InFlightTasks,
    private readonly crashLoops: CrashLoopGuard,
    private readonly metrics: WorkerMetrics,
    private readonly taskLog: TaskLogContext,
  ) {}

  async run<Dto extends object, Result extends object>(
    context: TaskContext,
    data: unknown,
    definition: TaskDefinition<Dto, Result>,
  ): Promise<void> {
    const message = context.getMessage();
    const named = validTaskId(data) ?? messageId(message);
    const delivery = this.start(context, context.getPattern(), named ?? randomUUID());
    // Every line written until it is settled carries its taskId and pattern (docs/contract.md#logs).
    return this.taskLog.run(delivery, async () => {
      let result: Result | undefined;
      let error: unknown;
      try {
        const dto = await validateTask(definition.dto, data);
        result = await this.execute(definition, dto, delivery, named ?? bodyHash(message), named !== undefined);
      } catch (thrown) {
        error = thrown;
      }
      const completed = result && definition.completed?.bind(definition, result);
      await this.conclude(delivery, error, result, completed);
    });
  }

  /** A delivery that matched no task type (bad UTF-8 or JSON, unknown pattern). */
  async reject(context: TaskContext, invalid: InvalidTaskData): Promise<void> {
    const pattern = typeof invalid.body?.pattern === 'string' ? invalid.body.pattern : null;
    const taskId = validTaskId(invalid.body?.data) ?? messageId(context.getMessage()) ?? randomUUID();
    const delivery = this.start(context, pattern, taskId);
    return this.taskLog.run(delivery, async () => {
      if (invalid.body) return this.conclude(delivery, new TaskFailedError('invalid_task', invalid.problem));
      // No JSON object, so nobody to tell: straight to the dead-letter queue.
      this.logger.warn(`Dead-lettering a task: ${invalid.problem}`);
      this.settle(delivery.task, 'dead-letter');
      delivery.meter.settled('dead-letter');
      this.inFlight.finish(delivery.task);
    });
  }

  private start(context: TaskContext, pattern: string | null, taskId: string): Delivery {
    const task = this.inFlight.start(context.getMessage(), context.getChannelRef());
    return { task, pattern, taskId, reply: context.reply, meter: this.metrics.taskStarted(pattern) };
  }

  /** Runs the use case as one counted delivery of the task named `crashKey`. */
  private async execute<Dto extends object, Result extends object>(
    definition: TaskDefinition<Dto, Result>,
    dto: Dto,
    { task, taskId, meter }: Delivery,
    crashKey: string,
    resumable: boolean,
  ): Promise<Result> {
    const counted = await this.crashLoops.open(crashKey);
    if (counted === 'too_many') {
      throw new TaskFailedError(
        'too_many_deliveries',
        'the worker died during each of its last deliveries without getting further (MAX_DELIVERIES)',
      );
    }
    try {
      const progressed = () => {
        counted.progressed();
        meter.pairSettled('updated');
      };
      const run = { taskId, signal: task.signal, resumable, progressed, pairFailed: meter.pairSettled };
      return await definition.execute(dto, run);
    } finally {
      counted.close();
    }
  }

  /**
   * Carries out the decision for what the task ended with; a failed publish
   * decides again. `completed` runs only when the result went out confirmed.
   */
  private async conclude(
    delivery: Delivery,
    error: unknown,
    result?: object,
    completed?: () => Promise<void>,
  ): Promise<void> {
    const { task, taskId, pattern } = delivery;
    try {
      let decision = decideDelivery(error, abandonReason(task.signal));
      if (error instanceof TaskFailedError && decision.publish) {
        this.logger.warn(`Task ${taskId} (${pattern}) failed: ${error.code}: ${error.message}`);
      }
      if (decision.publish) {
        try {
          await this.publish(delivery, decision.publish === 'result' ? { result } : { error });
        } catch (publishError) {
          error = publishError;
          decision = decideDelivery(publishError, abandonReason(task.signal));
        }
      }
      if (decision.settle === 'ack' && completed) await this.afterResult(delivery, completed);
      if (decision.pause) {
        this.logger.warn(`Giving task ${taskId} back to the queue: ${(error as Error)?.message ?? String(error)}`);
        await sleep(REQUEUE_DELAY_MS, task.signal).catch(() => undefined);
      }
      this.settle(task, decision.settle);
      delivery.meter.settled(decision.settle, error);
    } finally {
      this.inFlight.finish(task);
    }
  }

  /** Runs a task's `completed` step; the result stands whatever happens to it. */
  private async afterResult({ taskId, pattern }: Delivery, completed: () => Promise<void>): Promise<void> {
    try {
      await completed();
    } catch (error) {
      this.logger.warn(`Task ${taskId} (${pattern}): after its result: ${(error as Error)?.message ?? String(error)}`);
    }
  }

  /** Publishes the result event (or `task.failed`) and confirms it, then replies to a request. */
  private async publish(
    { task, taskId, pattern, reply }: Delivery,
    outcome: { result?: object } | { error: unknown },
  ): Promise<void> {
    // A task whose channel is gone publishes nothing: its redelivery does the work.
    task.signal.throwIfAborted();
    if ('error' in outcome) {
      const { code, message } = outcome.error as TaskFailedError;
      await this.publisher.publishEvent('task.failed', { taskId, pattern, error: { code, message } });
      if (reply) await this.publisher.reply(reply.to, reply.correlationId, { err: { code, message } });
      return;
    }
    const data = { taskId, ...outcome.result };
    await this.publisher.publishEvent(`${pattern}.done`, data);
    if (reply) await this.publisher.reply(reply.to, reply.correlationId, { response: data });
  }

  /**
   * Acks, dead-letters or requeues once, on the channel the delivery came on,
   * and only while that channel is open: a stale or repeated tag would make the
   * broker close the channel. `drop` leaves the delivery to the broker.
   */
  private settle(task: TaskInFlight, settlement: Settlement): void {
    if (settlement === 'drop' || task.settled || this.server.isClosed(task.channel)) return;
    task.settled = true;
    try {
      if (settlement === 'ack') task.channel.ack(task.message);
      else task.channel.nack(task.message, false, settlement === 'requeue');
    } catch (error) {
      this.logger.warn(`Could not ${settlement} a delivery: ${(error as Error).message}`);
    }
  }
}

function messageId(message: ConsumeMessage): string | undefined {
  const id = message.properties.messageId as unknown;
  return isValidTaskId(id) ? id : undefined;
}

/** What names a task that carries no id across its deliveries: its body. */
function bodyHash(message: ConsumeMessage): string {
  return `body-${createHash('sha256').update(message.content).digest('base64url')}`;
}
