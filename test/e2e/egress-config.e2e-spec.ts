import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { useWorld } from '../support/vitest-world';

const built = existsSync(join(__dirname, '..', '..', 'dist', 'main.js'));
const SECRET = 'Entry2S3cret';

/**
 * STEAM_PROXIES and STEAM_DIRECT checked at start by the built worker: one
 * line naming the variable (and the bad entry's position), never the entry,
 * which may hold a password.
 */
describe.runIf(built)('Steam egress configuration errors', () => {
  const world = useWorld('egress-config', undefined, { workers: 0 });
  /** A built worker that is expected to stop at once. */
  const spawn = (extra: Record<string, string>) => world.spawn(extra, { waitReady: false });

  it.for([
    ['a SOCKS proxy', `socks5://steam:${SECRET}@127.0.0.1:1080`],
    ['an https proxy', `https://steam:${SECRET}@127.0.0.1:3129`],
    ['a proxy without a port', `http://steam:${SECRET}@127.0.0.1`],
    ['a proxy with a path', `http://steam:${SECRET}@127.0.0.1:3129/squid`],
    ['text that is no URL', `${SECRET} proxy`],
  ])(
    'stops with exit code 1 and one line naming STEAM_PROXIES entry 2 for %s, never its text or password',
    async ([, entry]) => {
      const worker = await spawn({ STEAM_PROXIES: `http://127.0.0.1:3128,${entry}` });

      expect(await worker.exited).toBe(1);
      const lines = worker.output().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/STEAM_PROXIES\D*\b2\b/);
      expect(worker.output()).not.toContain(SECRET);
      expect(worker.output()).not.toContain('127.0.0.1:3128');
    },
  );

  it('stops with exit code 1 and one line naming STEAM_DIRECT when it is false and there is no proxy', async () => {
    const worker = await spawn({ STEAM_DIRECT: 'false' });

    expect(await worker.exited).toBe(1);
    const lines = worker.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('STEAM_DIRECT');
  });
});
