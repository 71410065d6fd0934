import type { MessageProperties, Options } from 'amqplib';

import { isPlainObject } from '../rabbit/task-envelope';
import { isValidTaskId } from '../tasks/dto/validate-task';

/** What a dead letter's body and headers say about it, for `dlq list`, `peek` and `replay --task`. */
export interface DeadLetter {
  /** As the worker names the task (docs/contract.md#queues-and-envelopes): `data.taskId`, else `message_id`; none for a body it cannot read. */
  taskId?: string;
  pattern?: string;
  /** Why and when RabbitMQ dead-lettered it last, from its `x-death` header. */
  death?: { reason: string; queue: string; count: number; at?: Date };
}

/** What the CLI needs of a message it got from the DLQ. */
export interface RawLetter {
  content: Buffer;
  properties: Pick<MessageProperties, 'messageId' | 'headers'>;
}

export function readDeadLetter(message: RawLetter): DeadLetter {
  const envelope = parseEnvelope(message.content);
  const data = isPlainObject(envelope?.data) ? envelope.data : undefined;
  const messageId: unknown = message.properties.messageId;
  const taskId = isValidTaskId(data?.taskId)
    ? (data.taskId as string)
    : isValidTaskId(messageId)
      ? (messageId as string)
      : undefined;
  const pattern = typeof envelope?.pattern === 'string' ? envelope.pattern : undefined;
  return { taskId, pattern, death: lastDeath(message.properties.headers) };
}

function parseEnvelope(content: Buffer): Record<string, unknown> | undefined {
  try {
    const envelope: unknown = JSON.parse(content.toString('utf8'));
    return isPlainObject(envelope) ? envelope : undefined;
  } catch {
    return undefined;
  }
}

/** RabbitMQ keeps the latest death first in `x-death`; amqplib reads its `time` as `{'!': 'timestamp', value: seconds}`. */
function lastDeath(headers: Record<string, unknown> | undefined): DeadLetter['death'] {
  const deaths = headers?.['x-death'];
  const latest: unknown = Array.isArray(deaths) ? deaths[0] : undefined;
  if (!isPlainObject(latest)) return undefined;
  const time = isPlainObject(latest.time) ? latest.time.value : latest.time;
  return {
    reason: String(latest.reason ?? 'unknown'),
    queue: String(latest.queue ?? 'unknown'),
    count: Number(latest.count ?? 1),
    ...(typeof time === 'number' ? { at: new Date(time * 1000) } : {}),
  };
}

/** One line of `dlq list`: taskId, pattern, why it died (and how often from where), how long ago. */
export function deadLetterRow(letter: DeadLetter, now: Date): string[] {
  const { death } = letter;
  return [
    letter.taskId ?? '(none)',
    letter.pattern ?? '(unreadable)',
    death ? `${death.reason} from ${death.queue} (${death.count}×)` : '(no x-death)',
    death?.at ? age(now.getTime() - death.at.getTime()) : '?',
  ];
}

/** `95_000` → `1m 35s`: the largest two units. */
export function age(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const units: [string, number][] = [
    ['d', Math.floor(seconds / 86_400)],
    ['h', Math.floor(seconds / 3600) % 24],
    ['m', Math.floor(seconds / 60) % 60],
    ['s', seconds % 60],
  ];
  const first = units.findIndex(([, value]) => value > 0);
  if (first < 0) return '0s';
  return units
    .slice(first, first + 2)
    .filter(([, value]) => value > 0)
    .map(([unit, value]) => `${value}${unit}`)
    .join(' ');
}

/** Headers RabbitMQ writes when it dead-letters a message; a replayed task starts without them. */
const DEATH_HEADERS = [
  'x-death',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-first-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
  'x-last-death-exchange',
];

/** A direct reply-to address lives as long as the channel that asked for it: long gone by the time of a replay. */
const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

/**
 * The properties a dead letter is published back to WORKER_QUEUE with. Kept:
 * `message_id` (the taskId of a task without `data.taskId`), content type and
 * encoding, `correlation_id`, `reply_to` of a named queue, `type`, `app_id`,
 * `timestamp`, priority, the application's own headers; published persistent.
 * Dropped: the death headers (the broker's death count starts afresh; the
 * worker's own crash-loop count is in Redis and ignores them), `expiration`
 * (a replayed task should not expire again), `reply_to` of a direct reply-to
 * address (its requester is gone), `user_id` (the broker refuses one that is
 * not the publishing user).
 */
export function replayProperties(properties: MessageProperties): Options.Publish {
  const headers = Object.fromEntries(
    Object.entries((properties.headers ?? {}) as Record<string, unknown>).filter(
      ([name]) => !DEATH_HEADERS.includes(name) && name !== 'x-delivery-count',
    ),
  );
  const replyTo = typeof properties.replyTo === 'string' ? properties.replyTo : undefined;
  const kept: Options.Publish = {
    persistent: true,
    headers,
    messageId: properties.messageId as string | undefined,
    contentType: properties.contentType as string | undefined,
    contentEncoding: properties.contentEncoding as string | undefined,
    correlationId: properties.correlationId as string | undefined,
    replyTo: replyTo && !replyTo.startsWith(DIRECT_REPLY_TO) ? replyTo : undefined,
    type: properties.type as string | undefined,
    appId: properties.appId as string | undefined,
    timestamp: properties.timestamp as number | undefined,
    priority: properties.priority as number | undefined,
  };
  return Object.fromEntries(Object.entries(kept).filter(([, value]) => value !== undefined)) as Options.Publish;
}

/** Which dead letters a `--task` filter picks (every one without a filter). */
export function selects(letter: DeadLetter, taskId: string | undefined): boolean {
  return taskId === undefined || letter.taskId === taskId;
}
