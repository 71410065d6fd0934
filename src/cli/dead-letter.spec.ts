import type { MessageProperties } from 'amqplib';
import { describe, expect, it } from 'vitest';

import { age, deadLetterRow, readDeadLetter, replayProperties, selects } from './dead-letter';

const DEATH = {
  'x-death': [
    {
      count: 2,
      reason: 'rejected',
      queue: 'steam-worker.tasks',
      time: { '!': 'timestamp', value: 1_795_000_000 },
      exchange: '',
      'routing-keys': ['steam-worker.tasks'],
    },
  ],
  'x-first-death-queue': 'steam-worker.tasks',
  'x-first-death-reason': 'rejected',
  'x-first-death-exchange': '',
};

const letter = (body: string, properties: Partial<MessageProperties> = {}) => ({
  content: Buffer.from(body),
  properties: { headers: DEATH, ...properties } as MessageProperties,
});

describe(readDeadLetter.name, () => {
  it('names the task by data.taskId before message_id, as the worker does', () => {
    const read = readDeadLetter(letter('{"pattern":"apps.list","data":{"taskId":"own"}}', { messageId: 'other' }));
    expect(read).toEqual({
      taskId: 'own',
      pattern: 'apps.list',
      death: { reason: 'rejected', queue: 'steam-worker.tasks', count: 2, at: new Date(1_795_000_000_000) },
    });
  });

  it('falls back on message_id when data has no valid taskId, and on nothing for an unreadable body', () => {
    expect(readDeadLetter(letter('{"pattern":"app.fetch","data":{"taskId":""}}', { messageId: 'mid' }))).toMatchObject({
      taskId: 'mid',
      pattern: 'app.fetch',
    });
    expect(readDeadLetter(letter('not json', { messageId: 'mid' }))).toMatchObject({
      taskId: 'mid',
      pattern: undefined,
    });
    expect(readDeadLetter(letter('[1]'))).toMatchObject({ taskId: undefined, pattern: undefined });
  });

  it('has no death for a message without x-death', () => {
    expect(readDeadLetter({ content: Buffer.from('{}'), properties: { headers: {} } as MessageProperties }).death).toBe(
      undefined,
    );
  });
});

describe(deadLetterRow.name, () => {
  it('shows taskId, pattern, why, from where, how often and how long ago', () => {
    const read = readDeadLetter(letter('{"pattern":"apps.list","data":{"taskId":"t"}}'));
    expect(deadLetterRow(read, new Date(1_795_000_095_000))).toEqual([
      't',
      'apps.list',
      'rejected from steam-worker.tasks (2×)',
      '1m 35s',
    ]);
    expect(deadLetterRow({}, new Date())).toEqual(['(none)', '(unreadable)', '(no x-death)', '?']);
  });
});

describe(age.name, () => {
  it.each([
    [0, '0s'],
    [59_999, '59s'],
    [3_600_000, '1h'],
    [3_661_000, '1h 1m'],
    [90_061_000, '1d 1h'],
  ])('writes %d ms as %s', (ms, text) => expect(age(ms)).toBe(text));
});

describe(replayProperties.name, () => {
  it('keeps the message_id, the headers of the application and the rest, drops the death headers, expiration and user_id', () => {
    const properties = {
      headers: { ...DEATH, 'x-delivery-count': 3, traceparent: '00-abc' },
      messageId: 'task-1',
      contentType: 'application/json',
      correlationId: 'corr',
      replyTo: 'orchestrator.replies',
      expiration: '60000',
      userId: 'someone',
      deliveryMode: 1,
      timestamp: 1_795_000_000,
    } as unknown as MessageProperties;

    expect(replayProperties(properties)).toEqual({
      persistent: true,
      headers: { traceparent: '00-abc' },
      messageId: 'task-1',
      contentType: 'application/json',
      correlationId: 'corr',
      replyTo: 'orchestrator.replies',
      timestamp: 1_795_000_000,
    });
  });

  it('drops a direct reply-to address, whose requester is gone', () => {
    const properties = { headers: {}, replyTo: 'amq.rabbitmq.reply-to.g1h2AA.abc' } as unknown as MessageProperties;
    expect(replayProperties(properties)).toEqual({ persistent: true, headers: {} });
  });
});

describe(selects.name, () => {
  it('picks every letter without a filter and only the named task with one', () => {
    expect(selects({ taskId: 'a' }, undefined)).toBe(true);
    expect(selects({}, undefined)).toBe(true);
    expect(selects({ taskId: 'a' }, 'a')).toBe(true);
    expect(selects({ taskId: 'a' }, 'b')).toBe(false);
    expect(selects({}, 'b')).toBe(false);
  });
});
