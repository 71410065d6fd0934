import { describe, expect, it } from 'vitest';

import { BackendError } from '../backend/backend.errors';
import {
  SteamBadRequestError,
  SteamEgressError,
  SteamError,
  SteamKeyRefusedError,
  SteamPermanentError,
  SteamRateLimitedError,
  SteamTransientError,
} from '../steam/steam.errors';
import type { Settlement } from '../tasks/delivery.decision';
import { TaskFailedError } from '../tasks/task.errors';
import {
  backendPushOutcome,
  deadLetterReason,
  steamRequestOutcome,
  taskOutcome,
  taskPatternLabel,
} from './metric.outcomes';

describe('metric outcomes', () => {
  describe(taskPatternLabel.name, () => {
    it.each(['apps.list', 'app.fetch', 'apps.fetch', 'apps.prices', 'apps.changed'])('keeps %s', (pattern) => {
      expect(taskPatternLabel(pattern)).toBe(pattern);
    });

    it.each([null, 'apps.delete', 'app.fetch ', 'steam-worker.invalid-task', 'x'.repeat(300)])(
      'turns %j, which is no task type, into invalid',
      (pattern) => expect(taskPatternLabel(pattern)).toBe('invalid'),
    );
  });

  describe(taskOutcome.name, () => {
    it.each<[Settlement, unknown, string]>([
      ['ack', undefined, 'done'],
      ['dead-letter', new TaskFailedError('steam_error', 'GetAppList kept failing'), 'failed'],
      ['dead-letter', new TaskFailedError('not_configured', 'no key'), 'failed'],
      ['dead-letter', new TaskFailedError('too_many_deliveries', 'crash loop'), 'failed'],
      ['dead-letter', new TaskFailedError('invalid_task', 'appIds must be an array'), 'invalid'],
      ['dead-letter', undefined, 'invalid'],
      ['requeue', new Error('Connection is closed.'), 'requeued'],
      ['drop', undefined, 'requeued'],
    ])('counts a delivery settled by %s after %s as %s', (settlement, error, outcome) => {
      expect(taskOutcome(settlement, error)).toBe(outcome);
    });
  });

  describe(deadLetterReason.name, () => {
    it('names the task.failed code, or poison when there was none to send', () => {
      expect(deadLetterReason(new TaskFailedError('too_many_deliveries', 'x'))).toBe('too_many_deliveries');
      expect(deadLetterReason(new TaskFailedError('invalid_task', 'x'))).toBe('invalid_task');
      expect(deadLetterReason(undefined)).toBe('poison');
    });
  });

  describe(steamRequestOutcome.name, () => {
    it.each<[SteamError | undefined, string]>([
      [undefined, 'ok'],
      [new SteamRateLimitedError('429', 1000), 'rate_limited'],
      [new SteamRateLimitedError('store 403', undefined), 'rate_limited'],
      [new SteamTransientError('503'), 'transient'],
      [new SteamEgressError('proxy refused'), 'egress_error'],
      [new SteamPermanentError('404'), 'permanent'],
      [new SteamBadRequestError('400'), 'permanent'],
      [new SteamKeyRefusedError('403'), 'permanent'],
    ])('maps %s to %s', (error, outcome) => {
      expect(steamRequestOutcome(error)).toBe(outcome);
    });
  });

  describe(backendPushOutcome.name, () => {
    it.each<[unknown, string | undefined]>([
      [undefined, 'accepted'],
      [BackendError.rejected('422'), 'rejected'],
      [BackendError.transient('503'), 'error'],
      [BackendError.failed('second 401'), 'error'],
      [BackendError.auth('auth server answered 500', true), undefined],
      [new Error('aborted'), undefined],
    ])('maps %s to %s (undefined: no PUT to count)', (error, outcome) => {
      expect(backendPushOutcome(error)).toBe(outcome);
    });
  });
});
