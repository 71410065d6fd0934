import type { ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';

import { INVALID_TASK_PATTERN } from '../tasks/task-patterns';
import { toTaskPacket } from './task-envelope';

function delivery(content: Buffer | string | object, properties: Record<string, unknown> = {}): ConsumeMessage {
  const body = Buffer.isBuffer(content)
    ? content
    : Buffer.from(typeof content === 'string' ? content : JSON.stringify(content));
  return { content: body, fields: {}, properties: { headers: {}, ...properties } } as unknown as ConsumeMessage;
}

describe(toTaskPacket.name, () => {
  it('routes a known pattern with its data', () => {
    const packet = toTaskPacket(delivery({ pattern: 'app.fetch', data: { appId: 620, country: 'DE' } }));
    expect(packet).toEqual({ pattern: 'app.fetch', data: { appId: 620, country: 'DE' }, reply: undefined });
  });

  it.each([
    ['invalid JSON', '{"pattern":'],
    ['a JSON array', '[1,2]'],
    ['a JSON string', '"app.fetch"'],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])],
  ])('sends %s to the invalid-task handler without a body to report', (_what, content) => {
    const packet = toTaskPacket(delivery(content));
    expect(packet.pattern).toBe(INVALID_TASK_PATTERN);
    expect((packet.data as { body?: unknown }).body).toBeUndefined();
  });

  it('sends an unknown or missing pattern to the invalid-task handler with the body, so it gets a task.failed', () => {
    for (const envelope of [{ pattern: 'app.delete', data: {} }, { data: { taskId: 'x' } }, { pattern: 7 }]) {
      const packet = toTaskPacket(delivery(envelope));
      expect(packet.pattern).toBe(INVALID_TASK_PATTERN);
      expect((packet.data as { body?: unknown }).body).toEqual(envelope);
    }
  });

  it('refuses a huge body without parsing it', () => {
    const packet = toTaskPacket(delivery(Buffer.alloc(5 * 1024 * 1024, 0x20)));
    expect(packet.pattern).toBe(INVALID_TASK_PATTERN);
  });

  it('treats a message as a request only when it has both an envelope id and reply_to, and says where to reply', () => {
    const properties = { replyTo: 'amq.rabbitmq.reply-to', correlationId: 'c-1' };
    const request = delivery({ pattern: 'apps.list', data: {}, id: 'abc' }, properties);
    const noReplyTo = delivery({ pattern: 'apps.list', data: {}, id: 'abc' });
    const event = delivery({ pattern: 'apps.list', data: {} }, properties);
    const unknown = delivery({ pattern: 'apps.delete', data: {}, id: 'abc' }, properties);

    expect(toTaskPacket(request).reply).toEqual({ to: 'amq.rabbitmq.reply-to', correlationId: 'c-1' });
    expect(toTaskPacket(noReplyTo).reply).toBeUndefined();
    expect(toTaskPacket(event).reply).toBeUndefined();
    // A request is answered whatever becomes of it, an unknown pattern included.
    expect(toTaskPacket(unknown).reply).toEqual({ to: 'amq.rabbitmq.reply-to', correlationId: 'c-1' });
  });
});
