import { randomUUID } from 'node:crypto';

import type { CliConfig } from '../config/cli-config';
import { workerQueueOptions } from '../rabbit/worker-queue';
import { batchLists } from '../tasks/use-cases/batch.feed';
import type { TaskCommand } from './cli.args';
import { CliError } from './cli.errors';
import { CliRabbit } from './cli.rabbit';
import type { CliOutput } from './cli.output';
import { plainLines, ProgressView, terminalBar } from './progress.view';
import { FollowedBatch, TaskProgressReader } from './task-progress.reader';
import { summarise, TaskReply } from './task.summary';

/** RabbitMQ's direct reply-to pseudo queue: the reply comes straight to this channel, no queue to clean up. */
const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';
/** How often the bar reads the task's progress from Redis. */
const POLL_MS = 500;

/**
 * `fetch`, `prices`, `list`, `changed`: publishes the task as a request
 * (Nest's envelope with `id`, `reply_to` the direct reply-to address,
 * `correlation_id`, `message_id` = taskId, persistent, mandatory, confirmed),
 * follows it with a progress bar until its reply comes, and prints the
 * summary. Returns the exit code: 0 when the task replied with a result, 1
 * when it failed as a whole. When the CLI stops waiting (--timeout: 1, Ctrl-C: 130),
 * the task goes on in the worker; its result still reaches ORCHESTRATOR_QUEUE.
 */
export async function runTask(command: TaskCommand, config: CliConfig, output: CliOutput): Promise<number> {
  const rabbit = await CliRabbit.connect(config.rabbit);
  const progress = batchOf(command) && TaskProgressReader.open(config.redis);
  try {
    const { workerQueue, deadLetterQueue } = config.rabbit;
    // Declared as the worker declares them, so that a task sent before any worker started waits in its queue.
    await rabbit.channel.assertQueue(deadLetterQueue, { durable: true });
    await rabbit.channel.assertQueue(workerQueue, workerQueueOptions(deadLetterQueue));
    const correlationId = randomUUID();
    const reply = awaitReply(rabbit, correlationId);
    await reply.listening;
    const envelope = { pattern: command.pattern, data: command.data, id: correlationId };
    await rabbit.publish(workerQueue, Buffer.from(JSON.stringify(envelope)), {
      persistent: true,
      replyTo: DIRECT_REPLY_TO,
      correlationId,
      messageId: command.data.taskId,
      contentType: 'application/json',
    });
    output.info(`Published ${command.pattern} task ${command.data.taskId} to ${workerQueue}`);
    const answer = await follow(command, reply.answer, progress, output);
    if (answer === 'timeout' || answer === 'interrupted') {
      const why = answer === 'timeout' ? 'no reply within the timeout' : 'interrupted';
      throw new CliError(
        `${why}: task ${command.data.taskId} goes on in the worker, and its result still reaches ORCHESTRATOR_QUEUE`,
        answer === 'timeout' ? 1 : 130,
      );
    }
    for (const line of summarise(command.pattern, command.data.taskId, answer)) output.print(line);
    return 'err' in answer ? 1 : 0;
  } finally {
    progress?.close();
    await rabbit.close();
  }
}

/** The batch whose accepted pairs the bar counts, for apps.fetch, app.fetch and apps.prices. */
export function batchOf({ pattern, data }: TaskCommand): FollowedBatch | undefined {
  const pushes = pattern === 'apps.prices' ? 'prices' : 'details';
  if (pattern === 'app.fetch') {
    return { taskId: data.taskId, appIds: [data.appId as number], countries: [data.country as string], pushes };
  }
  if (pattern !== 'apps.fetch' && pattern !== 'apps.prices') return undefined;
  const lists = batchLists({ appIds: data.appIds as number[], countries: data.countries as string[] }, Infinity);
  return { taskId: data.taskId, ...lists, pushes };
}

function awaitReply(rabbit: CliRabbit, correlationId: string) {
  let resolve!: (reply: TaskReply) => void;
  const answer = new Promise<TaskReply>((done) => (resolve = done));
  const listening = rabbit.channel.consume(
    DIRECT_REPLY_TO,
    (message) => {
      if (!message || message.properties.correlationId !== correlationId) return;
      try {
        resolve(JSON.parse(message.content.toString('utf8')) as TaskReply);
      } catch {
        resolve({ err: { code: 'unreadable_reply', message: 'the reply is not JSON' } });
      }
    },
    { noAck: true },
  );
  return { answer, listening };
}

/** Shows progress until the reply comes, the timeout passes or the operator presses Ctrl-C. */
async function follow(
  command: TaskCommand,
  answer: Promise<TaskReply>,
  reader: TaskProgressReader | undefined,
  output: CliOutput,
): Promise<TaskReply | 'timeout' | 'interrupted'> {
  const batch = batchOf(command);
  const total = batch && batch.appIds.length * batch.countries.length;
  const label = `${command.pattern} ${command.data.taskId}`;
  const view: ProgressView = output.terminal
    ? terminalBar(label, total, output.terminal)
    : plainLines(label, total, (line) => output.info(line));
  const poll = setInterval(() => {
    if (!batch || !reader) return view.update(undefined);
    void reader.accepted(batch).then((accepted) => accepted !== undefined && view.update(accepted));
  }, POLL_MS);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'timeout'>((resolve) => {
    if (command.timeoutMs !== undefined) timer = setTimeout(() => resolve('timeout'), command.timeoutMs);
  });
  // Ctrl-C stops the bar (and gives the cursor back) before the CLI exits.
  let interrupt: (() => void) | undefined;
  const interrupted = new Promise<'interrupted'>((resolve) => (interrupt = () => resolve('interrupted')));
  process.once('SIGINT', interrupt!);
  try {
    const reply = await Promise.race([answer, late, interrupted]);
    if (typeof reply === 'object' && batch && reader) {
      const accepted = await reader.accepted(batch);
      if (accepted !== undefined) view.update(accepted);
    }
    return reply;
  } finally {
    process.removeListener('SIGINT', interrupt!);
    clearInterval(poll);
    clearTimeout(timer);
    view.stop();
  }
}
