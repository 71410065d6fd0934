import type { Logger } from '@nestjs/common';
import { describe, expect, it, vi } from 'vitest';

import { loggedCall } from './call.log';

describe(loggedCall.name, () => {
  const logger = () => ({ debug: vi.fn() });

  it('resolves with the answer and writes one debug line with the subject, the fields, its status and duration', async () => {
    const log = logger();
    const answer = { status: 429, data: 'slow down' };

    await expect(
      loggedCall(
        log as unknown as Logger,
        'Steam appdetails 620/US via direct',
        { egress: 'direct' },
        Promise.resolve(answer),
      ),
    ).resolves.toBe(answer);

    expect(log.debug).toHaveBeenCalledTimes(1);
    expect(log.debug).toHaveBeenCalledWith({
      message: expect.stringMatching(/^Steam appdetails 620\/US via direct: 429 in [\d.]+ ms$/),
      egress: 'direct',
      status: 429,
      durationMs: expect.any(Number),
    });
  });

  it("rejects with the call's own error and names only its class and code, never its message or request", async () => {
    const log = logger();
    const failure = Object.assign(new Error('connect ECONNREFUSED, Authorization: Bearer secret-token'), {
      name: 'AxiosError',
      code: 'ECONNREFUSED',
      config: { headers: { Authorization: 'Bearer secret-token' } },
    });

    await expect(
      loggedCall(log as unknown as Logger, 'Push /apps/1/countries/US', { push: 'details' }, Promise.reject(failure)),
    ).rejects.toBe(failure);

    expect(log.debug).toHaveBeenCalledWith(
      expect.objectContaining({ push: 'details', error: 'AxiosError ECONNREFUSED' }),
    );
    expect(JSON.stringify(log.debug.mock.calls)).not.toContain('secret-token');
  });
});
