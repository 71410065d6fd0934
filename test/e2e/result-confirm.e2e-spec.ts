import { describe, expect, it } from 'vitest';

import { RabbitConnection } from '../../src/rabbit/rabbit.connection';
import { ResultNotConfirmedError } from '../../src/rabbit/rabbit.errors';
import { ResultPublisher } from '../../src/rabbit/result.publisher';
import { waitFor } from '../support/rmq';
import { sleep, waitReady } from '../support/shapes';
import { TcpProxy } from '../support/tcp-proxy';
import { taskFailed, useWorld } from '../support/vitest-world';

/** Long enough for a result re-sent after the reconnect, or a second run of the task, to show up. */
const QUIET_MS = 4000;

/**
 * The connection is lost between a result's publish and its confirm: the
 * publish never reaches the broker, the task's delivery goes with the channel,
 * and the redelivery does the work again. The lost publish must not be sent
 * again after the reconnect, or the orchestrator gets two results.
 */
describe('steam-worker losing its connection while a result waits for its confirm', () => {
  const rabbitProxy = new TcpProxy('127.0.0.1', 5672);
  let disconnects = 0;
  const world = useWorld(
    'result-confirm',
    () => ({ RABBITMQ_URL: `amqp://guest:guest@127.0.0.1:${rabbitProxy.port}` }),
    {
      onWorker: (worker) => worker.app.get(RabbitConnection).manager.on('disconnect', () => disconnects++),
      setUp: () => rabbitProxy.start(),
      tearDown: () => rabbitProxy.stop(),
    },
  );
  const { resultsFor } = world;

  /**
   * Publishes `task` and drops the worker's connection as it publishes the
   * `pattern` result of it; waits until the worker noticed, a result of the
   * redelivered task came, and then a while for a second one.
   */
  async function dropAsResultIsPublished(pattern: string, task: { taskId: string } & Record<string, unknown>) {
    const before = disconnects;
    // The start of the result's body as the worker publishes it (only the worker sends it towards the broker).
    const dropped = rabbitProxy.dropWhenClientSends(`{"pattern":"${pattern}","data":{"taskId":"${task.taskId}"`);
    world.publishTask('app.fetch', task);

    await dropped;
    await waitFor(() => disconnects > before, 15_000, 'the worker to notice the dropped connection');
    await waitFor(() => resultsFor(task.taskId).length >= 1, 30_000, `the ${pattern} of the redelivered task`);
  }

  it('publishes one app.fetch.done when the connection drops as the result is published', async () => {
    await dropAsResultIsPublished('app.fetch.done', { taskId: 'rc-once', appId: 910, country: 'US' });
    await sleep(QUIET_MS);

    expect(resultsFor('rc-once').map((m) => m.body)).toEqual([
      { pattern: 'app.fetch.done', data: { taskId: 'rc-once', updated: [910], failed: [] } },
    ]);
    expect(world.deadLetters).toEqual([]);
    // The worker works on: the next task gets its result.
    world.publishTask('app.fetch', { taskId: 'rc-after', appId: 911, country: 'US' });
    await waitFor(() => resultsFor('rc-after').length === 1, 15_000, 'the next task');
  });

  it('publishes one task.failed and dead-letters once when the connection drops as the task.failed is published', async () => {
    const deadBefore = world.deadLetters.length;
    await dropAsResultIsPublished('task.failed', { taskId: 'rc-invalid', appId: 0, country: 'US' });
    await waitFor(() => world.deadLetters.length > deadBefore, 15_000, 'the dead letter');
    await sleep(QUIET_MS);

    expect(resultsFor('rc-invalid').map((m) => m.body)).toEqual([taskFailed('rc-invalid', 'app.fetch')]);
    expect(world.deadLetters.length - deadBefore).toBe(1);
  });

  it('publishes nothing for a result due while its connection is down, not even after the reconnect', async () => {
    const { worker } = world;
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
    await waitReady(worker.url, 20_000, 'ready again');

    expect(await outcome).toBeInstanceOf(ResultNotConfirmedError);
    await sleep(QUIET_MS);
    expect(resultsFor('rc-while-down')).toEqual([]);
  });
});
