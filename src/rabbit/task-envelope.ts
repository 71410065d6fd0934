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

/** Where a request's reply goes (docs/contract.md#replies). */
export interface ReplyAddress {
  to: string;
  correlationId?: string;
}

export interface TaskPacket {
  pattern: string;
  data: unknown;
  /**
   * Set for a request, which expects a reply: its envelope has `id` and its
   * properties `reply_to` (what `ClientProxy.send()` makes). Absent for an event.
   */
  reply?: ReplyAddress;
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
  const reply = replyAddress(id, message);
  if (!isTaskPattern(pattern)) {
    return { ...invalid(typeof pattern === 'string' ? `unknown pattern` : 'pattern is missing', envelope), reply };
  }
  return { pattern, data, reply };
}

function replyAddress(id: unknown, message: ConsumeMessage): ReplyAddress | undefined {
  const { replyTo, correlationId } = message.properties as { replyTo?: unknown; correlationId?: unknown };
  if (id === undefined || id === null || typeof replyTo !== 'string' || !replyTo) return undefined;
  return typeof correlationId === 'string' ? { to: replyTo, correlationId } : { to: replyTo };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
