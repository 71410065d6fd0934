import { describe, expect, it } from 'vitest';

import { TEST_CLIENT_SECRET } from '../support/auth.stand-in';
import { ForwardProxy } from '../support/forward-proxy';
import { OutputCapture } from '../support/output-capture';
import { range } from '../support/shapes';
import { useWorld } from '../support/vitest-world';

const PROXY_PASSWORD = 'pr0xy-S3cret-pw';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

interface LogLine {
  level: string;
  message: string;
  context?: string;
  taskId?: string;
  pattern?: string;
  egress?: string;
  budget?: string;
  push?: string;
  status?: number;
  error?: string;
  durationMs?: number;
  timestamp: number;
}

/**
 * A task's log lines as an operator follows them (docs/contract.md#logs): the
 * real worker at LOG_LEVEL=debug with a proxy egress beside the direct one,
 * its stdout read back line by line.
 */
describe('task logs', () => {
  const proxy = new ForwardProxy({ name: 'proxy-logs', auth: { user: 'steam', pass: PROXY_PASSWORD } });
  /** Everything the worker wrote while this file ran. */
  const capture = new OutputCapture();
  const world = useWorld(
    'task-logs',
    () => ({ LOG_LEVEL: 'debug', STEAM_PROXIES: proxy.url(), STEAM_RATE_LIMIT: '20', STEAM_RATE_WINDOW_MS: '1000' }),
    { capture, setUp: () => proxy.start(), tearDown: () => proxy.stop() },
  );

  /** Every line written so far, each parsed (a line that is not JSON fails the test). */
  const lines = (): LogLine[] =>
    capture.output
      .flatMap((chunk) => chunk.split('\n'))
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as LogLine);

  /** Runs a task and returns the lines written from its delivery to its result, and what Steam and the backend saw meanwhile. */
  async function runTask(pattern: string, data: { taskId: string } & Record<string, unknown>) {
    const { steam, backend } = world.standIns;
    const [linesBefore, steamBefore, backendBefore] = [lines().length, steam.requests.length, backend.requests.length];
    world.publishTask(pattern, data);
    const result = await world.resultOf(data.taskId);
    return {
      result: result.body,
      lines: lines().slice(linesBefore),
      steamRequests: steam.requests.slice(steamBefore),
      puts: backend.requests.slice(backendBefore).filter((request) => request.method === 'PUT'),
    };
  }

  it('tags every line of a batch with its taskId and pattern, with one debug line per Steam request and per push', async () => {
    const appIds = range(4101, 4);
    const countries = ['US', 'DE', 'PL'];

    const run = await runTask('apps.fetch', { taskId: 'logs-batch', appIds, countries });

    expect(run.result).toEqual({
      pattern: 'apps.fetch.done',
      data: { taskId: 'logs-batch', updated: appIds, failed: [] },
    });
    const steamLines = run.lines.filter((line) => line.context === 'SteamClient');
    const pushLines = run.lines.filter((line) => line.context === 'BackendClient');
    // One line per HTTP request that reached Steam, and per PUT that reached the backend.
    expect(steamLines).toHaveLength(run.steamRequests.length);
    expect(run.steamRequests.length).toBeGreaterThanOrEqual(appIds.length * countries.length);
    expect(pushLines).toHaveLength(run.puts.length);
    expect(run.puts).toHaveLength(appIds.length * countries.length);
    for (const line of steamLines) {
      expect(line).toMatchObject({
        level: 'debug',
        egress: expect.stringMatching(new RegExp(`^(direct|${proxy.label})$`)),
        budget: 'store',
        status: 200,
        durationMs: expect.any(Number),
      });
    }
    // Both egresses took part, so the proxy's lines are among them.
    expect(new Set(steamLines.map((line) => line.egress)).size).toBe(2);
    for (const line of pushLines) {
      expect(line).toMatchObject({ level: 'debug', push: 'details', status: 200, durationMs: expect.any(Number) });
    }
    // Every line about the task: its Steam requests, its pushes, its runner and use case.
    const aboutTheTask = run.lines.filter(
      (line) =>
        ['SteamClient', 'BackendClient', 'TaskRunner', 'BatchFetchUseCase', 'SteamRequestProcessor'].includes(
          line.context ?? '',
        ) || line.message.includes('logs-batch'),
    );
    expect(aboutTheTask.length).toBeGreaterThan(steamLines.length + pushLines.length);
    for (const line of aboutTheTask)
      expect(line, line.message).toMatchObject({ taskId: 'logs-batch', pattern: 'apps.fetch' });
  });

  it('names the Web API budget on the lines of an app list, and the task on them', async () => {
    world.standIns.steam.appList = range(10, 30);

    const run = await runTask('apps.list', { taskId: 'logs-list' });

    expect(run.result).toMatchObject({ pattern: 'apps.list.done', data: { taskId: 'logs-list' } });
    const steamLines = run.lines.filter((line) => line.context === 'SteamClient');
    expect(steamLines).toHaveLength(run.steamRequests.length);
    for (const line of steamLines) {
      expect(line).toMatchObject({ budget: 'api', status: 200, taskId: 'logs-list', pattern: 'apps.list' });
    }
  });

  it('writes JSON lines whose level is a LOG_LEVEL name, and no secret', () => {
    const all = lines();
    const { auth, steam } = world.standIns;
    const text = capture.output.join('');
    expect(all.length).toBeGreaterThan(0);
    for (const line of all) expect(LOG_LEVELS).toContain(line.level);
    const secrets = [
      TEST_CLIENT_SECRET,
      PROXY_PASSWORD,
      Buffer.from(`steam:${PROXY_PASSWORD}`).toString('base64'),
      steam.apiKey,
      ...auth.issued,
    ];
    expect(auth.issued.length).toBeGreaterThan(0);
    for (const secret of secrets) expect(text).not.toContain(secret);
  });
});
