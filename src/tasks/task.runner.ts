import { Injectable, Logger } from '@nestjs/common';
import { RmqContext } from '@nestjs/microservices';
import type { Channel, ConsumeMessage } from 'amqplib';
import { ClassConstructor } from 'class-transformer';
import { createHash, randomUUID } from 'node:crypto';

import { sleep } from '../common/sleep';
import { CrashLoopGuard } from './crash-loop.guard';
import { isValidTaskId, validateTask, validTaskId } from './dto/validate-task';
import { TaskAbandonedError, TaskFailedError } from './task.errors';
import { TaskPattern } from './task-patterns';
import { InFlightTasks, TaskInFlight } from './in-flight.tasks';
import { isRequest, InvalidTaskData } from '../rabbit/task-envelope';
import { ResultNotConfirmedError } from '../rabbit/rabbit.errors';
import { ResultPublisher } from '../rabbit/result.publisher';
import { TaskServer } from '../rabbit/task.server';

/** What a use case gets besides its DTO: the task's id and when to stop. */
export interface TaskRun {
  taskId: string;
  signal: AbortSignal;
  /** Whether the taskId names this run across deliveries (given, not generated), so it may resume. */
  resumable: boolean;
  /** A new pair was accepted: this delivery is getting somewhere (see CrashLoopGuard). */
  progressed(): void;
}

/** Pause before giving a task back after a passing fault, so a fault cannot spin. */
const REQUEUE_DELAY_MS = 1000;

/**
 * The ack / dead-letter / requeue decision, in one place. At-least-once:
 * a delivery is acknowledged only after its result was confirmed by the
 * broker, dead-lettered only after its `task.failed` was confirmed, and
 * otherwise given back (or left to the broker when its channel is gone).
 */
@Injectable()
export class TaskRunner {
  private readonly logger = new Logger(TaskRunner.name);

  constructor(
    private readonly publisher: ResultPublisher,
    private readonly server: TaskServer,
    private readonly inFlight: InFlightTasks,
    private readonly crashLoops: CrashLoopGuard,
  ) {}

  async run<Dto extends object, Result extends object>(
    context: RmqContext,
    pattern: TaskPattern,
    data: unknown,
    dtoClass: ClassConstructor<Dto>,
    useCase: (dto: Dto, run: TaskRun) => Promise<Result>,
  ): Promise<void> {
    const message = context.getMessage() as ConsumeMessage;
    const task = this.inFlight.start(message, context.getChannelRef() as Channel);
    let taskId = validTaskId(data) ?? randomUUID();
    try {
      const dto = await validateTask(dtoClass, data);
      const namedTaskId = validTaskId(data) ?? messageId(message);
      taskId = namedTaskId ?? taskId;
      const delivery = await this.crashLoops.open(namedTaskId ?? bodyHash(message));
      if (delivery === 'too_many') {
        throw new TaskFailedError(
          'too_many_deliveries',
          'the worker died during each of its last deliveries without getting further (MAX_DELIVERIES)',
        );
      }
      try {
        const run = {
          taskId,
          signal: task.signal,
          resumable: namedTaskId !== undefined,
          progressed: delivery.progressed,
        };
        const result = await useCase(dto, run);
        await this.settle(task, `${pattern}.done`, { taskId, ...result }, { response: { taskId, ...result } }, 'ack');
      } finally {
        delivery.close();
      }
    } catch (error) {
      await this.onError(task, pattern, taskId, error);
    } finally {
      this.inFlight.finish(task);
    }
  }

  /** A delivery that matched no task type (bad UTF-8 or JSON, unknown pattern). */
  async reject(context: RmqContext, invalid: InvalidTaskData): Promise<void> {
    const message = context.getMessage() as ConsumeMessage;
    const task = this.inFlight.start(message, context.getChannelRef() as Channel);
    try {
      if (!invalid.body) {
        this.logger.warn(`Dead-lettering a task: ${invalid.problem}`);
        return this.settleAck(task, 'dead-letter');
      }
      const pattern = typeof invalid.body.pattern === 'string' ? invalid.body.pattern : null;
      const taskId = validTaskId(invalid.body.data) ?? randomUUID();
      await this.onError(task, pattern, taskId, new TaskFailedError('invalid_task', invalid.problem));
    } finally {
      this.inFlight.finish(task);
    }
  }

  private async onError(task: TaskInFlight, pattern: string | null, taskId: string, error: unknown): Promise<void> {
    if (task.signal.aborted) {
      // Channel gone: publish nothing, the broker redelivers. Shutdown: give it back.
      const reason = task.signal.reason as TaskAbandonedError;
      return reason.why === 'shutdown' ? this.settleAck(task, 'requeue') : undefined;
    }
    if (error instanceof TaskFailedError) {
      this.logger.warn(`Task ${taskId} (${pattern}) failed: ${error.code}: ${error.message}`);
      const failure = { code: error.code, message: error.message };
      try {
        await this.settle(task, 'task.failed', { taskId, pattern, error: failure }, { err: failure }, 'dead-letter');
      } catch (publishError) {
        await this.giveBack(task, publishError);
      }
      return;
    }
    await this.giveBack(task, error);
  }

  /** Publishes the result event, then the reply of a request, then settles the delivery. */
  private async settle(
    task: TaskInFlight,
    event: string,
    data: object,
    reply: object,
    outcome: 'ack' | 'dead-letter',
  ): Promise<void> {
    // A task whose channel is gone publishes nothing: its redelivery does the work.
    task.signal.throwIfAborted();
    await this.publisher.publishEvent(event, data);
    const { replyTo, correlationId } = task.message.properties;
    if (isRequest(task.message))
      await this.publisher.reply(String(replyTo), correlationId as string | undefined, reply);
    this.settleAck(task, outcome);
  }

  private async giveBack(task: TaskInFlight, error: unknown): Promise<void> {
    const why = error instanceof ResultNotConfirmedError ? error.message : `unexpected: ${(error as Error)?.message}`;
    this.logger.warn(`Giving a task back to the queue: ${why}`);
    await sleep(REQUEUE_DELAY_MS, task.signal).catch(() => undefined);
    this.settleAck(task, 'requeue');
  }

  /**
   * Acks, dead-letters or requeues once, on the channel the delivery came on,
   * and only while that channel is open: a stale or repeated tag would make the
   * broker close the channel.
   */
  private settleAck(task: TaskInFlight, outcome: 'ack' | 'dead-letter' | 'requeue'): void {
    if (task.settled || this.server.isClosed(task.channel)) return;
    task.settled = true;
    try {
      if (outcome === 'ack') task.channel.ack(task.message);
      else task.channel.nack(task.message, false, outcome === 'requeue');
    } catch (error) {
      this.logger.warn(`Could not ${outcome} a delivery: ${(error as Error).message}`);
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
