import { describe, expect, it } from 'vitest';

import { DEFAULT_LIST_LIMIT, DEFAULT_PEEK_LIMIT, parseCommand } from './cli.args';
import { UsageError } from './cli.errors';

function usageError(argv: string[]): UsageError {
  try {
    parseCommand(argv);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error('expected a UsageError');
}

describe(parseCommand.name, () => {
  it('makes fetch of several apps an apps.fetch task with upper-cased countries and the given taskId', () => {
    expect(parseCommand(['fetch', '--apps', '10,20', '--countries', 'us,DE', '--task', 'mine'])).toEqual({
      kind: 'task',
      pattern: 'apps.fetch',
      data: { taskId: 'mine', appIds: [10, 20], countries: ['US', 'DE'] },
    });
  });

  it('makes fetch of one app in one country an app.fetch task', () => {
    expect(parseCommand(['fetch', '--apps', '620', '--countries', 'gb', '--task', 'one'])).toMatchObject({
      pattern: 'app.fetch',
      data: { taskId: 'one', appId: 620, country: 'GB' },
    });
  });

  it('makes prices an apps.prices task even for one pair', () => {
    expect(parseCommand(['prices', '--apps', '620', '--countries', 'US'])).toMatchObject({
      pattern: 'apps.prices',
      data: { appIds: [620], countries: ['US'] },
    });
  });

  it('names a task cli-<uuid> when no --task is given', () => {
    const command = parseCommand(['list']);
    expect(command).toMatchObject({ kind: 'task', pattern: 'apps.list' });
    expect((command as { data: { taskId: string } }).data.taskId).toMatch(/^cli-[0-9a-f-]{36}$/);
  });

  it('reads --since as unix seconds or as an ISO date, and --timeout as seconds', () => {
    expect(parseCommand(['changed', '--since', '1700000000', '--task', 'c'])).toMatchObject({
      pattern: 'apps.changed',
      data: { taskId: 'c', since: 1700000000 },
    });
    expect(parseCommand(['changed', '--since', '2026-11-28T00:00:00Z', '--timeout', '2.5'])).toMatchObject({
      data: { since: 1795824000 },
      timeoutMs: 2500,
    });
    const plain = parseCommand(['changed', '--task', 'c']) as { data: object };
    expect(JSON.parse(JSON.stringify(plain.data))).toEqual({ taskId: 'c' });
  });

  it('reads the dlq commands with their defaults', () => {
    expect(parseCommand(['dlq', 'list'])).toEqual({ kind: 'dlq list', limit: DEFAULT_LIST_LIMIT });
    expect(parseCommand(['dlq', 'peek', '--task', 't', '--limit', '3'])).toEqual({
      kind: 'dlq peek',
      taskId: 't',
      limit: 3,
    });
    expect(parseCommand(['dlq', 'peek'])).toEqual({ kind: 'dlq peek', taskId: undefined, limit: DEFAULT_PEEK_LIMIT });
    expect(parseCommand(['dlq', 'replay', '--all'])).toEqual({ kind: 'dlq replay', taskId: undefined });
    expect(parseCommand(['dlq', 'replay', '--task', 't'])).toEqual({ kind: 'dlq replay', taskId: 't' });
    expect(parseCommand(['dlq', 'purge'])).toEqual({ kind: 'dlq purge', yes: false });
    expect(parseCommand(['dlq', 'purge', '--yes'])).toEqual({ kind: 'dlq purge', yes: true });
  });

  it('answers help for no command, help, --help and -h', () => {
    for (const argv of [[], ['help'], ['--help'], ['-h']]) expect(parseCommand(argv)).toEqual({ kind: 'help' });
  });

  it.each([
    [['launch'], /unknown command "launch"/],
    [['dlq'], /dlq needs list, peek, replay or purge/],
    [['dlq', 'drop'], /unknown command "dlq drop"/],
    [['dlq', 'replay'], /needs --all or --task ID/],
    [['dlq', 'replay', '--all', '--task', 't'], /needs --all or --task ID/],
    [['dlq', 'list', '--task', 't'], /dlq list takes no --task/],
    [['dlq', 'peek', '--limit', '0'], /--limit must be at least 1/],
    [['fetch', '--countries', 'US'], /--apps is required/],
    [['fetch', '--apps', '1,x', '--countries', 'US'], /"x" is not a whole number/],
    [['fetch', '--apps', '1', '--countries', 'XX'], /invalid app.fetch task: country/],
    [['fetch', '--apps', '0,1', '--countries', 'US'], /invalid apps.fetch task: /],
    [['list', '--apps', '1'], /list takes no --apps/],
    [['list', '--bogus'], /Unknown option '--bogus'/],
    [['list', 'extra'], /positional/],
    [['list', '--timeout', '0'], /--timeout must be seconds above 0/],
    [['changed', '--since', 'yesterday'], /--since must be unix seconds or an ISO 8601 date/],
  ])('refuses %j', (argv, message) => {
    const error = usageError(argv);
    expect(error.message).toMatch(message);
    expect(error.exitCode).toBe(2);
  });
});
