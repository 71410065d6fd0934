import type { CliConfig } from '../config/cli-config';
import type { DeadLetterCommand } from './cli.args';
import { CliError } from './cli.errors';
import type { CliOutput } from './cli.output';
import { CliRabbit } from './cli.rabbit';
import { table } from './cli.table';
import { deadLetterRow } from './dead-letter';
import { DeadLetterQueue, HeldLetter } from './dead-letter.queue';

/**
 * `dlq list | peek | replay | purge` on `<WORKER_QUEUE>.dlq`. Returns the
 * exit code; an empty DLQ is an error (1) for every command but `list`,
 * for which it is the good news.
 */
export async function runDeadLetterCommand(
  command: DeadLetterCommand,
  config: CliConfig,
  output: CliOutput,
  now: () => Date = () => new Date(),
): Promise<number> {
  const rabbit = await CliRabbit.connect(config.rabbit);
  const queue = new DeadLetterQueue(rabbit, config.rabbit.deadLetterQueue, config.rabbit.workerQueue);
  try {
    switch (command.kind) {
      case 'dlq list':
        return await list(queue, command.limit, output, now());
      case 'dlq peek': {
        const { total, held } = await queue.peek(command.limit, command.taskId);
        output.info(`${queue.name}: ${total} message(s); showing ${held.length}, left in place`);
        for (const each of held) output.print(JSON.stringify(peeked(each, now())));
        return 0;
      }
      case 'dlq replay': {
        // Published mandatory, a replay to a missing queue would come back; say so before moving anything.
        if ((await rabbit.messageCount(config.rabbit.workerQueue)) === undefined) {
          throw new CliError(`${config.rabbit.workerQueue} does not exist: start a worker first`);
        }
        const replayed = await queue.replay(command.taskId);
        for (const letter of replayed) {
          output.print(
            `replayed ${letter.taskId ?? '(no taskId)'} ${letter.pattern ?? '(unreadable)'} to ${config.rabbit.workerQueue}`,
          );
        }
        output.info(`${replayed.length} message(s) moved from ${queue.name} to ${config.rabbit.workerQueue}`);
        return 0;
      }
      case 'dlq purge': {
        const count = await queue.count();
        if (count === 0) throw new CliError(`${queue.name} is empty`);
        if (!command.yes)
          throw new CliError(`dlq purge would delete ${count} message(s) from ${queue.name}: add --yes`);
        output.print(`purged ${await queue.purge()} message(s) from ${queue.name}`);
        return 0;
      }
    }
  } finally {
    await rabbit.close();
  }
}

async function list(queue: DeadLetterQueue, limit: number, output: CliOutput, now: Date): Promise<number> {
  const total = await queue.count();
  if (total === 0) {
    output.print(`${queue.name} is empty`);
    return 0;
  }
  const { held } = await queue.peek(limit);
  output.print(`${queue.name}: ${total} message(s)`);
  const rows = held.map(({ letter }) => deadLetterRow(letter, now));
  for (const line of table([['TASK ID', 'PATTERN', 'DEAD-LETTERED', 'AGE'], ...rows])) output.print(line);
  if (total > held.length) output.print(`… ${total - held.length} more (--limit)`);
  return 0;
}

/** One message of `dlq peek` as a JSON line: what it is, its properties and its body (parsed when it is JSON). */
function peeked({ letter, message }: HeldLetter, now: Date) {
  const text = message.content.toString('utf8');
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* printed as the text it is */
  }
  const [, , deadLettered, age] = deadLetterRow(letter, now);
  return {
    taskId: letter.taskId ?? null,
    pattern: letter.pattern ?? null,
    deadLettered,
    age,
    properties: message.properties,
    body,
  };
}
