import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it, vi } from 'vitest';

import { basicAuth, parseBasic } from './basic-auth.middleware';

const CREDENTIALS = { user: 'operator', password: 'pa55:word-ü' };
const header = (credentials: string) => `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;

/** Runs the middleware on a request with `authorization`: whether it passed, and what it answered if not. */
function run(authorization: string | undefined) {
  const next = vi.fn();
  const end = vi.fn();
  const writeHead = vi.fn(() => ({ end }));
  const request = { headers: authorization === undefined ? {} : { authorization } } as IncomingMessage;
  basicAuth(CREDENTIALS)(request, { writeHead } as unknown as ServerResponse, next);
  return { passed: next.mock.calls.length === 1, writeHead };
}

describe(basicAuth.name, () => {
  it('lets the configured user and password through', () => {
    expect(run(header('operator:pa55:word-ü')).passed).toBe(true);
  });

  it.each([
    ['no header', undefined],
    ['a wrong password', header('operator:pa55:word')],
    ['a wrong user', header('Operator:pa55:word-ü')],
    ['the right password with a longer user', header('operator2:pa55:word-ü')],
    ['an empty header', ''],
    ['a Bearer token', 'Bearer pa55:word-ü'],
    ['no colon', header('operator')],
    ['text that is no base64', 'Basic not base64!'],
  ])('answers 401 with a challenge to %s, without calling the board', (_case, authorization) => {
    const { passed, writeHead } = run(authorization);
    expect(passed).toBe(false);
    expect(writeHead).toHaveBeenCalledWith(
      401,
      expect.objectContaining({ 'WWW-Authenticate': 'Basic realm="steam-worker"' }),
    );
  });
});

describe(parseBasic.name, () => {
  it('splits at the first colon: a password may hold colons, a user may not', () => {
    expect(parseBasic(header('a:b:c'))).toEqual({ user: 'a', password: 'b:c' });
  });

  it('reads the scheme without regard to case, as RFC 7617 says', () => {
    expect(parseBasic(`basic ${Buffer.from('a:b').toString('base64')}`)).toEqual({ user: 'a', password: 'b' });
  });
});
