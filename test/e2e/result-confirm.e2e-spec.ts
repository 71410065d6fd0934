import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RabbitConnection } from '../../src/rabbit/rabbit.connection';
import { ResultNotConfirmedError } from '../../src/rabbit/rabbit.errors';
import { ResultPublisher } from '../../src/rabbit/result.publisher';
import { waitFor } from '../support/rmq';
import { TcpProxy } from '../support/tcp-proxy';
import {
  isolatedNames,
  startStandIns,
  startTestWorker,
  StandIns,
  testEnvironment,
  TestWorker,
  watchQueues,
} from '../support/worker.harness';

type Body = { pattern: string; data: { taskId: string; updated?: number[]; failed?: unknown[] } };

/** Long enough for a result re-sent after the reconnect, or a second run of the task, to show up. */
const QUIET_MS = 4000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The connection is lost between a result's publish and its confirm: the
 * publish never reaches the broker, the task's delivery goes with the channel,
 * and the redelivery does the work again. The lost publish must not be sent
 * again after the reconnect, or the orchestrator gets two results.
 */
describe('steam-worker losing its connection while a result waits for its confirm', () => {
  const names = isolatedNames('result-confirm');
  let standIns: StandIns;
  let rabbitProxy: TcpProxy;
  let worker: TestWorker;
  let queues: Awaited<ReturnType<typeof watchQueues>>;
  let disconnects = 0;

  const resultsFor = (taskId: string) => queues.results.filter((m) => (m.body as Body).data?.taskId === taskId);
  /** The start of a result's body as the worker publishes it (only the worker sends it towards the broker). */
  const resultBytes = (pattern: string, taskId: string) => `{"pattern":"${pattern}","data":{"taskId":"${taskId}"`;

  beforeAll(async () => {
    standIns = await startStandIns();
    rabbitProxy = await new TcpProxy('127.0.0.1', 5672).start();
    worker = await startTestWorker({
      ...testEnvironment(standIns, names),
      RABBITMQ_URL: `amqp://guest:guest@127.0.0.1:${rabbitProxy.port}`,
    });
    worker.app.get(RabbitConnection).manager.on('disconnect', () => disconnects++);
    queues = await watchQueues(names);
    await waitFor(async () => (await fetch(`${worker.url}/health/ready`)).status === 200, 20_000, 'readiness');
  });

  afterAll(async () => {
    await worker?.close();
    await queues?.rabbit.deleteQueues(names.WORKER_QUEUE, `${names.WORKER_QUEUE}.dlq`, names.ORCHESTRATOR_QUEUE);
    await queues?.rabbit.close();
    await Promise.all([rabbitProxy?.stop(), standIns?.stop()]);
  });

  it('publishes one app.fetch.done when the connection drops as the result is published', async () => {
    const before = disconnects;
    const dropped = rabbitProxy.dropWhenClientSends(resultBytes('app.fetch.done', 'rc-once'));
    queues.rabbit.publish(names.WORKER_QUEUE, {
      pattern: 'app.fetch',
      data: { taskId: 'rc-once', appId: 910, country: 'US' },
    });

    await dropped;
    await waitFor(() => disconnects > before, 15_000, 'the worker to notice the dropped connection');
    await waitFor(() => resultsFor('rc-once').length >= 1, 30_000, 'the result of the redone task');
    await sleep(QUIET_MS);

    expect(resultsFor('rc-once').map((m) => m.body)).toEqual([
      { pattern: 'app.fetch.done', data: { taskId: 'rc-once', updated: [910], failed: [] } },
    ]);
    expect(queues.deadLetters).toEqual([]);
    // The worker works on: the next task gets its result.
    queues.rabbit.publish(names.WORKER_QUEUE, {
      pattern: 'app.fetch',
      data: { taskId: 'rc-after', appId: 911, country: 'US' },
    });
    await waitFor(() => resultsFor('rc-after').length === 1, 15_000, 'the next task');
  });

  it('publishes one task.failed and dead-letters once when the connection drops as the task.failed is published', async () => {
    const before = disconnects;
    const deadBefore = queues.deadLetters.length;
    const dropped = rabbitProxy.dropWhenClientSends(resultBytes('task.failed', 'rc-invalid'));
    queues.rabbit.publish(names.WORKER_QUEUE, {
      pattern: 'app.fetch',
      data: { taskId: 'rc-invalid', appId: 0, country: 'US' },
    });

    await dropped;
    await waitFor(() => disconnects > before, 15_000, 'the worker to notice the dropped connection');
    await waitFor(() => resultsFor('rc-invalid').length >= 1, 30_000, 'the task.failed of the redelivered task');
    await waitFor(() => queues.deadLetters.length > deadBefore, 15_000, 'the dead letter');
    await sleep(QUIET_MS);

    expect(resultsFor('rc-invalid').map((m) => m.body)).toEqual([
      {
        pattern: 'task.failed',
        data: {
          taskId: 'rc-invalid',
          pattern: 'app.fetch',
          error: { code: 'invalid_task', message: expect.any(String) },
        },
      },
    ]);
    expect(queues.deadLetters.length - deadBefore).toBe(1);
  });

  it('publishes nothing for a result due while its connection is down, not even after the reconnect', async () => {
    const rabbit = worker.app.get(RabbitConnection);
    await rabbitProxy.cut();
    await waitFor(() => !rabbit.connected, 15_000, 'the worker to notice the outage');
    // What the task runner does for a task whose result is due now: its
    // delivery went with the connection, so the redelivery owns the result.
    const outcome = worker.app
      .get(ResultPublisher)
      .publishEvent('app.fetch.done', { taskId: 'rc-while-down', updated: [912], failed: [] })
      .then(
        () => 'confirmed',
        (error: unknown) => error,
      );
    await sleep(500);
    await rabbitProxy.restore();
    await waitFor(async () => (await fetch(`${worker.url}/health/ready`)).status === 200, 20_000, 'ready again');

    expect(await outcome).toBeInstanceOf(ResultNotConfirmedError);
    await sleep(QUIET_MS);
    expect(resultsFor('rc-while-down')).toEqual([]);
  });
});
