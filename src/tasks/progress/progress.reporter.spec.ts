import { ConsoleLogger, Logger } from '@nestjs/common';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

import type { TaskRun } from '../task.runner';
import { ProgressReporter, TaskProgress } from './progress.reporter';

const INTERVAL_MS = 1000;

function reporter(
  options: {
    intervalMs?: number;
    doneBefore?: number;
    send?: (progress: TaskProgress) => void;
    signal?: AbortSignal;
  } = {},
) {
  const sent: TaskProgress[] = [];
  const signal = options.signal ?? new AbortController().signal;
  const run: TaskRun = { taskId: 't-1', signal, resumable: true, progressed: vi.fn(), pairFailed: vi.fn() };
  const subject = new ProgressReporter({
    run,
    pattern: 'apps.fetch',
    total: 10,
    doneBefore: options.doneBefore ?? 0,
    intervalMs: options.intervalMs ?? INTERVAL_MS,
    send: options.send ?? ((progress) => void sent.push(progress)),
  });
  return { subject, sent, run };
}

describe(ProgressReporter.name, () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(new ConsoleLogger()));
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('sends the settled pairs at most once per interval, counting those accepted before', () => {
    const { subject, sent } = reporter({ doneBefore: 3 });

    subject.run.progressed();
    vi.advanceTimersByTime(INTERVAL_MS - 1);
    expect(sent).toEqual([]);
    subject.run.pairFailed('steam_error');
    vi.advanceTimersByTime(1);
    subject.run.progressed();
    vi.advanceTimersByTime(INTERVAL_MS - 1);

    expect(sent).toEqual([{ taskId: 't-1', pattern: 'apps.fetch', done: 5, failed: 1, total: 10 }]);
    vi.advanceTimersByTime(1);
    expect(sent.map(({ done, failed }) => [done, failed])).toEqual([
      [5, 1],
      [6, 1],
    ]);
  });

  it('still tells the task it got somewhere when a pair is accepted, and why a pair failed', () => {
    const { subject, run } = reporter();

    subject.run.progressed();
    subject.run.pairFailed('backend_error');

    expect(run.progressed).toHaveBeenCalledTimes(1);
    expect(run.pairFailed).toHaveBeenCalledWith('backend_error');
  });

  it('sends its first event even when nothing settled yet, then only when something changed', () => {
    const { subject, sent } = reporter({ doneBefore: 4 });

    vi.advanceTimersByTime(3 * INTERVAL_MS);
    subject.run.pairFailed('steam_error');
    vi.advanceTimersByTime(3 * INTERVAL_MS);

    expect(sent.map(({ done, failed }) => [done, failed])).toEqual([
      [4, 0],
      [5, 1],
    ]);
  });

  it('sends nothing after it was stopped', () => {
    const { subject, sent } = reporter();

    subject.run.progressed();
    subject.stop();
    subject.run.pairFailed('steam_error');
    vi.advanceTimersByTime(10 * INTERVAL_MS);

    expect(sent).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('sends nothing once its delivery was given up (channel lost, shutdown)', () => {
    const delivery = new AbortController();
    const { subject, sent } = reporter({ signal: delivery.signal });

    subject.run.progressed();
    delivery.abort(new Error('channel lost'));
    vi.advanceTimersByTime(10 * INTERVAL_MS);

    expect(sent).toEqual([]);
    subject.stop();
  });

  it('sends nothing and keeps no timer at an interval of 0 (off)', () => {
    const { subject, sent } = reporter({ intervalMs: 0 });

    expect(vi.getTimerCount()).toBe(0);
    subject.run.progressed();
    vi.advanceTimersByTime(10 * INTERVAL_MS);
    expect(sent).toEqual([]);
  });

  it('swallows a failed send and sends the newest counts at the next interval', () => {
    const send = vi.fn<(progress: TaskProgress) => void>().mockImplementationOnce(() => {
      throw new Error('no channel to RabbitMQ');
    });
    const { subject } = reporter({ send });

    subject.run.progressed();
    expect(() => vi.advanceTimersByTime(INTERVAL_MS)).not.toThrow();
    vi.advanceTimersByTime(INTERVAL_MS);

    expect(send).toHaveBeenCalledTimes(2);
    expect(send.mock.calls[1]![0]).toMatchObject({ done: 1, failed: 0 });
    subject.stop();
  });
});
