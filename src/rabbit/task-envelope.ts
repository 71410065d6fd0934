import type { ConsumeMessage } from 'amqplib';

import { INVALID_TASK_PATTERN, isTaskPattern } from '../tasks/task-patterns';

/** Larger bodies are refused unread: a full batch of 10,000 apps is ~120 KB. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** What the task server hands to the invalid-task handler. */
export interface InvalidTaskData {
  problem: string;
  /** The body, when it is a JSON object (it then gets a `task.failed`). */
  body?: Record<string, unknown>;
}

export interface TaskPacket {
  pattern: string;
  data: unknown;
}

const requests = new WeakSet<ConsumeMessage>();

/**
 * A request expects a reply: its envelope has `id` and its properties
 * `reply_to` (what `ClientProxy.send()` makes). Anything else is an event.
 */
export function isRequest(message: ConsumeMessage): boolean {
  return requests.has(message);
}

/**
 * Turns a delivery into the packet Nest routes. Nest's own reply path is
 * bypassed (no `id` on the packet): the worker replies itself, confirmed and
 * before the ack. Whatever is not a valid envelope of a known task type goes
 * to {@link INVALID_TASK_PATTERN}.
 */
export function toTaskPacket(message: ConsumeMessage): TaskPacket {
  const invalid = (problem: string, body?: Record<string, unknown>): TaskPacket => ({
    pattern: INVALID_TASK_PATTERN,
    data: { problem, body } satisfies InvalidTaskData,
  });
  if (message.content.length > MAX_BODY_BYTES) return invalid(`body larger than ${MAX_BODY_BYTES} bytes`);
  let envelope: unknown;
  try {
    envelope = JSON.parse(strictUtf8.decode(message.content));
  } catch {
    return invalid('body is not UTF-8 JSON');
  }
  if (!isPlainObject(envelope)) return invalid('body is not a JSON object');
  const { pattern, data, id } = envelope;
  // A request is answered whatever becomes of it, an unknown pattern included.
  if (id !== undefined && id !== null && message.properties.replyTo) requests.add(message);
  if (!isTaskPattern(pattern)) {
    return invalid(typeof pattern === 'string' ? `unknown pattern` : 'pattern is missing', envelope);
  }
  return { pattern, data };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
