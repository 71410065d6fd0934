import { describe, expect, it } from 'vitest';

import { ResultNotConfirmedError } from '../rabbit/rabbit.errors';
import { abandonReason, decideDelivery, DeliveryDecision } from './delivery.decision';
import { TaskAbandonedError, TaskFailedError } from './task.errors';

const failed = new TaskFailedError('steam_error', 'App list unavailable');
const notConfirmed = new ResultNotConfirmedError('Result apps.fetch.done not confirmed');
const redisGone = new Error('Connection is closed.');
const channelLost = new TaskAbandonedError('channel_lost');
const shutdown = new TaskAbandonedError('shutdown');

describe(decideDelivery.name, () => {
  it.each<{ when: string; error: unknown; abandoned?: TaskAbandonedError; expected: DeliveryDecision }>([
    { when: 'the task produced its result', error: undefined, expected: { publish: 'result', settle: 'ack' } },
    {
      when: 'the task failed as a whole',
      error: failed,
      expected: { publish: 'task.failed', settle: 'dead-letter' },
    },
    { when: 'its result was not confirmed', error: notConfirmed, expected: { settle: 'requeue', pause: true } },
    { when: 'Redis went away under it', error: redisGone, expected: { settle: 'requeue', pause: true } },
    { when: 'something unforeseen was thrown', error: 'a string', expected: { settle: 'requeue', pause: true } },
    {
      when: 'its channel was lost, whatever it ended with',
      error: undefined,
      abandoned: channelLost,
      expected: { settle: 'drop' },
    },
    {
      when: 'its channel was lost while it failed',
      error: failed,
      abandoned: channelLost,
      expected: { settle: 'drop' },
    },
    { when: 'the worker is shutting down', error: redisGone, abandoned: shutdown, expected: { settle: 'requeue' } },
    {
      when: 'the worker is shutting down, its result ready',
      error: undefined,
      abandoned: shutdown,
      expected: { settle: 'requeue' },
    },
  ])('when $when: $expected.settle', ({ error, abandoned, expected }) => {
    expect(decideDelivery(error, abandoned)).toEqual(expected);
  });

  it('never acks or dead-letters without publishing first', () => {
    for (const error of [undefined, failed, notConfirmed, redisGone]) {
      for (const abandoned of [undefined, channelLost, shutdown]) {
        const decision = decideDelivery(error, abandoned);
        if (decision.settle === 'ack') expect(decision.publish).toBe('result');
        if (decision.settle === 'dead-letter') expect(decision.publish).toBe('task.failed');
      }
    }
  });
});

describe(abandonReason.name, () => {
  it('reads the task stop out of an aborted signal, and nothing else', () => {
    const stopped = new AbortController();
    stopped.abort(shutdown);
    const otherwise = new AbortController();
    otherwise.abort(new Error('timeout'));

    expect(abandonReason(stopped.signal)).toBe(shutdown);
    expect(abandonReason(otherwise.signal)).toBeUndefined();
    expect(abandonReason(new AbortController().signal)).toBeUndefined();
  });
});
