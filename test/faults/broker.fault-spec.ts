import amqplib, { ChannelModel } from 'amqplib';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

import { RABBITMQ_URL, waitFor } from '../support/rmq';
import { range, sleep, waitReady } from '../support/shapes';
import { recordDrill, seconds } from './support/drill-report';
import { Drill, DrillWorker } from './support/drill';
import { expectReportedOnce, useDrill } from './support/use-drill';

const run = promisify(execFile);

/** `rabbitmqctl -q <args>`, without table headers where the command lists. */
async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', ['-q', ...args], { timeout: 30_000 });
  return stdout;
}

/** Local ports of `pid`'s established connections to the broker (RabbitMQ's peer_port). */
function amqpPorts(pid: number): number[] {
  const lines = execFileSync('ss', ['-tnpH', 'state', 'established', '( dport = :5672 )'], { encoding: 'utf8' });
  return lines
    .split('\n')
    .filter((line) => line.includes(`pid=${pid},`))
    .map((line) => Number(line.trim().split(/\s+/)[2]!.split(':').pop()));
}

/** The broker's ids (`<rabbit@…>`) of `pid`'s connections. */
async function brokerConnectionsOf(pid: number): Promise<string[]> {
  const ports = amqpPorts(pid);
  const listing = await rabbitmqctl('--no-table-headers', 'list_connections', 'pid', 'peer_port');
  return listing
    .split('\n')
    .map((line) => line.trim().split(/\t/))
    .filter(([id, port]) => id && ports.includes(Number(port)))
    .map(([id]) => id!);
}

/**
 * Looks at a queue from a connection of its own (a `checkQueue` on a missing
 * queue kills its channel): ready messages and consumers, or undefined when
 * the queue does not exist.
 */
class QueueInspector {
  private constructor(private readonly connection: ChannelModel) {}

  static async connect(): Promise<QueueInspector> {
    const connection = await amqplib.connect(RABBITMQ_URL);
    connection.on('error', () => undefined);
    return new QueueInspector(connection);
  }

  async state(queue: string): Promise<{ messageCount: number; consumerCount: number } | undefined> {
    const channel = await this.connection.createChannel();
    channel.on('error', () => undefined);
    try {
      return await channel.checkQueue(queue);
    } catch {
      return undefined;
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.connection.close().catch(() => undefined);
  }
}

async function status(url: string): Promise<number | undefined> {
  return (await fetch(url).catch(() => undefined))?.status;
}

/** The worker is the same process as before and both probes say it is fine. */
async function expectAliveAndReady(worker: DrillWorker): Promise<void> {
  expect(worker.child.exitCode).toBeNull();
  expect(worker.child.signalCode).toBeNull();
  await waitReady(worker.url, 15_000, 'readiness 200');
  expect(await status(`${worker.url}/health`)).toBe(200);
}

/**
 * A drill of this file: its own world, and a {@link QueueInspector} to look at
 * its queues; `tearDown` runs last, whatever happened.
 */
function useBrokerDrill(label: string, tearDown?: () => Promise<unknown>) {
  let inspector: QueueInspector | undefined;
  const drill = useDrill(label, {
    tearDown: async () => {
      try {
        await tearDown?.();
      } finally {
        await inspector?.close();
      }
    },
  });
  beforeAll(async () => {
    inspector = await QueueInspector.connect();
  });
  return { drill, queueState: (queue: string) => inspector!.state(queue) };
}

/** Pairs the backend had accepted at `accepted` that Steam was asked for again afterwards. */
function refetched(drill: Drill, accepted: Set<string>): number {
  const requests = new Map<string, number>();
  for (const request of drill.standIns.steam.appDetailsRequests) {
    const pair = `${request.url.searchParams.get('appids')}/${request.url.searchParams.get('cc')}`;
    requests.set(pair, (requests.get(pair) ?? 0) + 1);
  }
  return [...accepted].filter((pair) => (requests.get(pair) ?? 0) > 1).length;
}

/** Pairs of the batch a resumed task may redo: those between "queued for Steam" and "recorded". */
const FEED_WINDOW = 4;
/** A batch of `apps` × 1 at 10 requests a second, with a small feed window. */
const BATCH_ENV = { STEAM_RATE_LIMIT: '10', STEAM_RATE_WINDOW_MS: '1000', STEAM_FEED_WINDOW: String(FEED_WINDOW) };

/** Drill 3: the broker closes the worker's connection, cancels its consumer, or times out a delivery. */
describe('drill: RabbitMQ connection closed by the broker', () => {
  const { drill, queueState } = useBrokerDrill('broker-close');

  it('reconnects, redelivers the batch in flight to report it once, and completes a task published afterwards', async () => {
    const appIds = range(4000, 60);
    const worker = await drill.spawn(BATCH_ENV);
    const pid = worker.child.pid!;
    const oldPorts = amqpPorts(pid);
    const connections = await brokerConnectionsOf(pid);
    expect(connections.length).toBeGreaterThanOrEqual(1);

    drill.publish({ pattern: 'apps.fetch', data: { taskId: 'in-flight', appIds, countries: ['US'] } });
    await waitFor(() => drill.standIns.backend.stored.size >= 5, 30_000, 'the batch under way');
    for (const connection of connections) await rabbitmqctl('close_connection', connection, 'drill');
    const closedAt = Date.now();
    const acceptedBeforeClose = new Set(drill.standIns.backend.stored.keys());
    expect(acceptedBeforeClose.size).toBeLessThan(appIds.length);
    drill.publish({ pattern: 'app.fetch', data: { taskId: 'after-close', appId: 4100, country: 'DE' } });

    await waitFor(
      async () =>
        amqpPorts(pid).some((port) => !oldPorts.includes(port)) &&
        (await queueState(drill.names.WORKER_QUEUE))?.consumerCount === 1,
      20_000,
      'a new connection consuming the queue',
    );
    const consumingMs = Date.now() - closedAt;
    await waitFor(() => drill.resultsFor('after-close').length >= 1, 30_000, 'the task published after the close');
    const afterCloseMs = Date.now() - closedAt;
    await waitFor(() => drill.resultsFor('in-flight').length >= 1, 30_000, 'the redelivered batch');
    await sleep(1500);

    expectReportedOnce(drill, 'in-flight', {
      pattern: 'apps.fetch.done',
      data: { taskId: 'in-flight', updated: appIds, failed: [] },
    });
    expectReportedOnce(drill, 'after-close', {
      pattern: 'app.fetch.done',
      data: { taskId: 'after-close', updated: [4100], failed: [] },
    });
    expect(appIds.filter((appId) => !drill.standIns.backend.stored.has(`${appId}/US`))).toEqual([]);
    expect(drill.standIns.backend.stored.has('4100/DE')).toBe(true);
    const redone = refetched(drill, acceptedBeforeClose);
    expect(redone).toBeLessThanOrEqual(FEED_WINDOW);
    await expectAliveAndReady(worker);

    recordDrill({
      drill: '3 broker closes connection',
      outcome: 'pass',
      figure:
        `consuming again ${seconds(consumingMs)} after close_connection, new task done in ${seconds(afterCloseMs)}; ` +
        `batch redelivered: results 1, lost 0, ${redone} of ${acceptedBeforeClose.size} accepted pairs refetched; same pid`,
    });
  });
});

describe('drill: consumer cancelled by the broker', () => {
  const { drill, queueState } = useBrokerDrill('broker-cancel');

  it('consumes again after the broker cancels its consumer by deleting the queue', async () => {
    const worker = await drill.spawn();
    const queue = drill.names.WORKER_QUEUE;
    expect((await queueState(queue))?.consumerCount).toBe(1);

    const deletedAt = Date.now();
    await drill.rabbit.channel.deleteQueue(queue);
    await waitFor(
      async () => (await queueState(queue))?.consumerCount === 1,
      20_000,
      'the queue declared and consumed again',
    );
    const consumingMs = Date.now() - deletedAt;
    drill.publish({ pattern: 'app.fetch', data: { taskId: 'after-cancel', appId: 4200, country: 'GB' } });
    await waitFor(() => drill.resultsFor('after-cancel').length >= 1, 30_000, 'the task published after the cancel');
    await sleep(1000);

    expectReportedOnce(drill, 'after-cancel', {
      pattern: 'app.fetch.done',
      data: { taskId: 'after-cancel', updated: [4200], failed: [] },
    });
    expect(drill.standIns.backend.stored.has('4200/GB')).toBe(true);
    await expectAliveAndReady(worker);

    recordDrill({
      drill: '3 consumer cancelled (queue deleted)',
      outcome: 'pass',
      figure: `consuming again ${seconds(consumingMs)} after the delete; task after it: results 1; same pid`,
    });
  });
});

const LOWERED =
  'application:set_env(rabbit, consumer_timeout, 3000), application:set_env(rabbit, channel_tick_interval, 1000).';
const RESTORE_TIMEOUT = 'application:set_env(rabbit, consumer_timeout, 1800000).';
const RESTORE_TICK = 'application:set_env(rabbit, channel_tick_interval, 60000).';
const RESTORE_BOTH = `${RESTORE_TIMEOUT.slice(0, -1)}, ${RESTORE_TICK}`;

describe('drill: a task outliving consumer_timeout', () => {
  // The broker is shared: put its settings back whatever happened.
  const { drill, queueState } = useBrokerDrill('consumer-timeout', () => rabbitmqctl('eval', RESTORE_BOTH));

  it('loses its channel to the broker, consumes again, and the redelivered batch resumes and is reported once', async () => {
    const appIds = range(5000, 60);
    const queue = drill.names.WORKER_QUEUE;
    // Read by each channel when it opens: only the worker's first channels get 3 s. The tick
    // interval is read at every tick, so it stays short until the close was seen.
    await rabbitmqctl('eval', LOWERED);
    let worker: DrillWorker;
    try {
      worker = await drill.spawn(BATCH_ENV);
    } finally {
      await rabbitmqctl('eval', RESTORE_TIMEOUT);
    }

    drill.publish({ pattern: 'apps.fetch', data: { taskId: 'outlives', appIds, countries: ['JP'] } });
    await waitFor(() => drill.standIns.backend.stored.size >= 1, 30_000, 'the batch under way');
    const startedAt = Date.now();
    // The broker closes the channel: no consumer, and the delivery is back in the queue.
    await waitFor(
      async () => {
        const state = await queueState(queue);
        return state?.consumerCount === 0 && state.messageCount === 1;
      },
      20_000,
      'the broker closing the channel and taking the task back',
    );
    const closedAt = Date.now();
    const acceptedBeforeClose = new Set(drill.standIns.backend.stored.keys());
    await waitFor(async () => (await queueState(queue))?.consumerCount === 1, 20_000, 'a consumer again');
    const consumingMs = Date.now() - closedAt;
    // The new channel has the normal consumer_timeout; the tick can go back too.
    await rabbitmqctl('eval', RESTORE_TICK);

    await waitFor(() => drill.resultsFor('outlives').length >= 1, 45_000, 'the redelivered batch');
    await sleep(1500);

    expectReportedOnce(drill, 'outlives', {
      pattern: 'apps.fetch.done',
      data: { taskId: 'outlives', updated: appIds, failed: [] },
    });
    expect(appIds.filter((appId) => !drill.standIns.backend.stored.has(`${appId}/JP`))).toEqual([]);
    const redone = refetched(drill, acceptedBeforeClose);
    expect(redone).toBeLessThanOrEqual(FEED_WINDOW);
    await expectAliveAndReady(worker!);

    recordDrill({
      drill: '3 consumer_timeout (3 s)',
      outcome: 'pass',
      figure:
        `channel closed ${seconds(closedAt - startedAt)} into the batch, consuming again ${seconds(consumingMs)} later; ` +
        `results 1, lost 0, ${redone} of ${acceptedBeforeClose.size} accepted pairs refetched; same pid`,
    });
  });
});
