import { ClientProxy, ClientProxyFactory, Transport } from '@nestjs/microservices';
import type { ConsumeMessage } from 'amqplib';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { firstValueFrom, lastValueFrom, timeout } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RabbitConnection } from '../../src/rabbit/rabbit.connection';
import { RabbitProbe, RABBITMQ_URL, waitFor } from '../support/rmq';
import { bodyOf, range, sleep } from '../support/shapes';
import { taskFailed, useWorld } from '../support/vitest-world';

interface Reply {
  body: unknown;
  raw: ConsumeMessage;
}

/** A request's answer never takes this long with the stand-ins; waiting longer only hides a missing reply. */
const REPLY_TIMEOUT_MS = 15_000;

const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

/**
 * A real direct reply-to address, `amq.rabbitmq.reply-to.<base64 of a pid in
 * Erlang's external term format>.<key>`, got by asking the broker for one.
 */
async function ownDirectReplyTo(): Promise<string> {
  const caller = await RabbitProbe.connect();
  try {
    const { queue } = await caller.channel.assertQueue('', { exclusive: true });
    await caller.channel.consume(DIRECT_REPLY_TO, () => undefined, { noAck: true });
    caller.channel.sendToQueue(queue, Buffer.from('{}'), { replyTo: DIRECT_REPLY_TO });
    const message = await waitFor(() => caller.channel.get(queue, { noAck: true }), 5_000, 'a direct reply-to address');
    return String(message.properties.replyTo);
  } finally {
    await caller.close();
  }
}

/**
 * The same address with its pid moved to a node that does not exist. RabbitMQ
 * 3.10 writes the pid's node as `reply@<phash2 of the node name>` and looks that
 * hash up among the running nodes; an unknown one crashes the publishing
 * channel's process, and the broker closes the whole connection (541).
 */
function onMissingNode(address: string): string {
  const prefix = `${DIRECT_REPLY_TO}.`;
  const [encoded, key] = address.slice(prefix.length).split('.') as [string, string];
  const term = Buffer.from(encoded, 'base64');
  // 131 (format version), 88 (NEW_PID_EXT) or 103 (PID_EXT), then the node as an atom.
  const wide = term[2] === 118 || term[2] === 100;
  const start = wide ? 5 : 4;
  const end = start + (wide ? term.readUInt16BE(3) : term[3]!);
  const hash = Number(term.subarray(start, end).toString('utf8').split('@')[1]) || 0;
  const node = Buffer.from(`reply@${(hash + 1) % 2 ** 27}`, 'utf8');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(node.length);
  const moved = Buffer.concat([term.subarray(0, 2), Buffer.from([118]), length, node, term.subarray(end)]);
  return `${prefix}${moved.toString('base64')}.${key}`;
}

/** Ready and unacknowledged messages of `queue`, as the broker counts them. */
async function queueDepth(queue: string): Promise<{ ready: number; unacked: number } | undefined> {
  const { stdout } = await promisify(execFile)(
    'rabbitmqctl',
    ['-q', 'list_queues', '--no-table-headers', 'name', 'messages_ready', 'messages_unacknowledged'],
    { timeout: 30_000 },
  );
  const row = stdout
    .split('\n')
    .map((line) => line.trim().split(/\t/))
    .find(([name]) => name === queue);
  return row && { ready: Number(row[1]), unacked: Number(row[2]) };
}

describe('steam-worker answering requests', () => {
  const fixture = useWorld('rpc');
  const { names, resultOf, resultsFor } = fixture;
  let replyQueue: string;
  const replies: Reply[] = [];

  beforeAll(async () => {
    // The orchestrator's own exclusive reply queue.
    replyQueue = (await fixture.rabbit.channel.assertQueue('', { exclusive: true, autoDelete: true })).queue;
    await fixture.rabbit.channel.consume(
      replyQueue,
      (message) => message && replies.push({ body: JSON.parse(message.content.toString('utf8')), raw: message }),
      { noAck: true },
    );
  });

  const replyTo = (correlationId: string, timeoutMs = REPLY_TIMEOUT_MS) =>
    waitFor(
      () => replies.find((reply) => reply.raw.properties.correlationId === correlationId),
      timeoutMs,
      `reply ${correlationId}`,
    );

  /** Publishes a request as any AMQP client would: `id` in the envelope, `reply_to` and `correlation_id` in the properties. */
  function request(pattern: string, data: object, correlationId: string): void {
    fixture.publish({ pattern, data, id: randomUUID() }, { replyTo: replyQueue, correlationId });
  }

  describe('with a raw AMQP client', () => {
    it('answers a request in Nest reply format on its reply_to, and publishes the .done event too', async () => {
      request('app.fetch', { taskId: 'r-one', appId: 621, country: 'us' }, 'corr-one');
      request('apps.fetch', { taskId: 'r-many', appIds: [632, 631, 632], countries: ['GB', 'de'] }, 'corr-many');

      const one = await replyTo('corr-one');
      expect(one.body).toEqual({ response: { taskId: 'r-one', updated: [621], failed: [] }, isDisposed: true });
      const many = await replyTo('corr-many');
      expect(many.body).toEqual({ response: { taskId: 'r-many', updated: [631, 632], failed: [] }, isDisposed: true });
      expect((await resultOf('r-one')).body).toEqual({
        pattern: 'app.fetch.done',
        data: { taskId: 'r-one', updated: [621], failed: [] },
      });
      expect((await resultOf('r-many')).body).toEqual({
        pattern: 'apps.fetch.done',
        data: { taskId: 'r-many', updated: [631, 632], failed: [] },
      });
      expect(replies.filter((reply) => reply.raw.properties.correlationId === 'corr-one')).toHaveLength(1);
    });

    it('answers a request through the direct reply-to pseudo queue', async () => {
      const caller = await RabbitProbe.connect();
      try {
        const received: Reply[] = [];
        await caller.channel.consume(
          'amq.rabbitmq.reply-to',
          (message) => message && received.push({ body: JSON.parse(message.content.toString('utf8')), raw: message }),
          { noAck: true },
        );
        caller.publish(
          names.WORKER_QUEUE,
          { pattern: 'app.fetch', data: { taskId: 'r-direct', appId: 641, country: 'PL' }, id: randomUUID() },
          { replyTo: 'amq.rabbitmq.reply-to', correlationId: 'corr-direct' },
        );

        const reply = await waitFor(() => received[0], REPLY_TIMEOUT_MS, 'direct reply');
        expect(reply.raw.properties.correlationId).toBe('corr-direct');
        expect(reply.body).toEqual({ response: { taskId: 'r-direct', updated: [641], failed: [] }, isDisposed: true });
        expect((await resultOf('r-direct')).body).toEqual({
          pattern: 'app.fetch.done',
          data: { taskId: 'r-direct', updated: [641], failed: [] },
        });
      } finally {
        await caller.close();
      }
    });

    it('answers a request that fails validation with the task.failed error and dead-letters it', async () => {
      const deadSince = fixture.deadLetters.length;
      request('app.fetch', { taskId: 'r-invalid', appId: 0, country: 'US' }, 'corr-invalid');

      const reply = await replyTo('corr-invalid');
      expect(reply.body).toEqual({ err: { code: 'invalid_task', message: expect.any(String) }, isDisposed: true });
      const failed = await resultOf('r-invalid');
      expect(failed.body).toEqual({
        pattern: 'task.failed',
        data: { taskId: 'r-invalid', pattern: 'app.fetch', error: (reply.body as { err: object }).err },
      });
      await waitFor(() => fixture.deadLetters.length > deadSince, 20_000, 'the dead letter');
    });

    it('answers a request with an unknown pattern with the task.failed error', async () => {
      const deadSince = fixture.deadLetters.length;
      request('app.delete', { taskId: 'r-unknown', appId: 621 }, 'corr-unknown');

      const failed = await resultOf('r-unknown');
      expect(failed.body).toEqual(taskFailed('r-unknown', 'app.delete'));
      // The reply goes out before the reject, so it is due once the task is dead-lettered.
      await waitFor(() => fixture.deadLetters.length > deadSince, 20_000, 'the dead letter');
      const reply = await replyTo('corr-unknown', 5_000);
      expect(reply.body).toEqual({ err: (failed.body as { data: { error: object } }).data.error, isDisposed: true });
    });

    it('sends no reply for an event, even one with a reply_to', async () => {
      fixture.publish(
        { pattern: 'app.fetch', data: { taskId: 'r-event', appId: 651, country: 'US' } },
        { replyTo: replyQueue, correlationId: 'corr-event' },
      );
      fixture.publish(
        { pattern: 'app.fetch', data: { taskId: 'r-event-invalid', appId: 651, country: 'XX' } },
        { replyTo: replyQueue, correlationId: 'corr-event-invalid' },
      );
      await resultOf('r-event');
      await resultOf('r-event-invalid');
      // A reply to either event would have been published before this request's
      // reply, on the same channel to the same queue.
      request('app.fetch', { taskId: 'r-after-event', appId: 652, country: 'US' }, 'corr-after-event');
      await replyTo('corr-after-event');

      const correlationIds = replies.map((reply) => reply.raw.properties.correlationId);
      expect(correlationIds).not.toContain('corr-event');
      expect(correlationIds).not.toContain('corr-event-invalid');
    });
  });

  describe('with a Nest ClientRMQ as the orchestrator', () => {
    const clients: ClientProxy[] = [];

    afterAll(async () => {
      for (const client of clients) await client.close();
    });

    /** A client that declares the queue itself, with the contract's arguments. */
    function declaringClient(): ClientProxy {
      const client = ClientProxyFactory.create({
        transport: Transport.RMQ,
        options: {
          urls: [RABBITMQ_URL],
          queue: names.WORKER_QUEUE,
          queueOptions: { durable: true, deadLetterExchange: '', deadLetterRoutingKey: `${names.WORKER_QUEUE}.dlq` },
          persistent: true,
        },
      });
      clients.push(client);
      return client;
    }

    /** A client that leaves the queue to the worker. */
    function nonDeclaringClient(): ClientProxy {
      const client = ClientProxyFactory.create({
        transport: Transport.RMQ,
        options: { urls: [RABBITMQ_URL], queue: names.WORKER_QUEUE, noAssert: true, persistent: true },
      });
      clients.push(client);
      return client;
    }

    it('resolves send() with the task result', async () => {
      const client = declaringClient();
      await client.connect();

      const result = await firstValueFrom(
        client.send('app.fetch', { taskId: 'c-send', appId: 661, country: 'gb' }).pipe(timeout(REPLY_TIMEOUT_MS)),
      );

      expect(result).toEqual({ taskId: 'c-send', updated: [661], failed: [] });
      expect((await resultOf('c-send')).body).toEqual({
        pattern: 'app.fetch.done',
        data: { taskId: 'c-send', updated: [661], failed: [] },
      });
    });

    it('rejects send() with the task.failed error when the task is invalid', async () => {
      const client = nonDeclaringClient();
      await client.connect();

      const outcome = firstValueFrom(
        client
          .send('apps.fetch', { taskId: 'c-invalid', appIds: [], countries: ['US'] })
          .pipe(timeout(REPLY_TIMEOUT_MS)),
      );

      await expect(outcome).rejects.toEqual({ code: 'invalid_task', message: expect.any(String) });
      expect(bodyOf(await resultOf('c-invalid')).pattern).toBe('task.failed');
    });

    it('runs a task sent with emit() and publishes its .done event', async () => {
      const client = nonDeclaringClient();
      await client.connect();

      await lastValueFrom(
        client.emit('apps.fetch', { taskId: 'c-emit', appIds: [672, 671], countries: ['US', 'jp'] }),
        { defaultValue: undefined },
      );

      expect((await resultOf('c-emit')).body).toEqual({
        pattern: 'apps.fetch.done',
        data: { taskId: 'c-emit', updated: [671, 672], failed: [] },
      });
      expect(fixture.standIns.backend.stored.get('671/JP')).toMatchObject({
        appId: 671,
        country: 'JP',
        available: true,
      });
    });
  });

  describe('when a reply_to cannot be delivered', () => {
    /** Closes of the worker's task connection (tasks in, results out) since this block started. */
    let disconnects = 0;
    let taskConnection: unknown;

    beforeAll(() => {
      const rabbit = fixture.worker.app.get(RabbitConnection);
      rabbit.manager.on('disconnect', () => disconnects++);
      taskConnection = rabbit.manager.connection;
      expect(taskConnection).toBeDefined();
    });

    const deadLettersOf = (taskId: string) =>
      fixture.deadLetters.filter((message) => message.raw.content.toString('utf8').includes(`"${taskId}"`));

    /** The connection that carries tasks is the one the worker had before, and it never went down. */
    function expectTaskConnectionKept(): void {
      expect(disconnects).toBe(0);
      expect(fixture.worker.app.get(RabbitConnection).manager.connection).toBe(taskConnection);
    }

    /** One result, no second one after a while, nothing dead-lettered, and the task queue drained (acked). */
    async function expectSettledOnce(taskIds: string[]): Promise<void> {
      for (const taskId of taskIds) await waitFor(() => resultsFor(taskId).length > 0, 20_000, `result of ${taskId}`);
      await sleep(3_000);
      for (const taskId of taskIds) {
        expect(resultsFor(taskId).map((message) => message.body)).toEqual([
          { pattern: 'app.fetch.done', data: { taskId, updated: expect.any(Array), failed: [] } },
        ]);
        expect(deadLettersOf(taskId)).toEqual([]);
      }
      expect(await queueDepth(names.WORKER_QUEUE)).toEqual({ ready: 0, unacked: 0 });
    }

    it('drops a reply to a direct reply-to address of a node that does not exist, and keeps its task connection', async () => {
      const lostNode = onMissingNode(await ownDirectReplyTo());
      fixture.publish(
        { pattern: 'app.fetch', data: { taskId: 'r-lost-node', appId: 681, country: 'US' }, id: randomUUID() },
        { replyTo: lostNode, correlationId: 'corr-lost-node' },
      );
      // 40 pairs queued behind it.
      const appIds = range(700, 20);
      fixture.publish({
        pattern: 'apps.fetch',
        data: { taskId: 'r-behind-lost-node', appIds, countries: ['US', 'FR'] },
      });

      await expectSettledOnce(['r-lost-node']);
      expectTaskConnectionKept();
      // A task published now is done at once, on the same connection.
      const publishedAt = Date.now();
      request('app.fetch', { taskId: 'r-after-lost-node', appId: 682, country: 'US' }, 'corr-after-lost-node');
      const reply = await replyTo('corr-after-lost-node', 5_000);
      expect(Date.now() - publishedAt).toBeLessThan(5_000);
      expect(reply.body).toEqual({
        response: { taskId: 'r-after-lost-node', updated: [682], failed: [] },
        isDisposed: true,
      });
      const batch = await waitFor(() => resultsFor('r-behind-lost-node')[0], 30_000, 'the batch behind it');
      expect(batch.body).toEqual({
        pattern: 'apps.fetch.done',
        data: { taskId: 'r-behind-lost-node', updated: appIds, failed: [] },
      });
      expect(resultsFor('r-behind-lost-node')).toHaveLength(1);
      expectTaskConnectionKept();
    });

    it('drops replies to malformed and missing reply_to addresses, settling each task once', async () => {
      const addresses = {
        'r-garbage': `${DIRECT_REPLY_TO}.garbage`,
        'r-garbage-key': `${DIRECT_REPLY_TO}.garbage.key`,
        'r-not-a-pid': `${DIRECT_REPLY_TO}.${Buffer.from('not a pid').toString('base64')}.a2V5`,
        'r-missing-queue': `no-such-queue.${randomUUID()}`,
      };
      let appId = 690;
      for (const [taskId, address] of Object.entries(addresses)) {
        fixture.publish(
          { pattern: 'app.fetch', data: { taskId, appId: appId++, country: 'DE' }, id: randomUUID() },
          { replyTo: address, correlationId: `corr-${taskId}` },
        );
      }

      await expectSettledOnce(Object.keys(addresses));
      expectTaskConnectionKept();
      request('app.fetch', { taskId: 'r-after-malformed', appId: 699, country: 'DE' }, 'corr-after-malformed');
      expect((await replyTo('corr-after-malformed', 5_000)).body).toEqual({
        response: { taskId: 'r-after-malformed', updated: [699], failed: [] },
        isDisposed: true,
      });
      expectTaskConnectionKept();
    });
  });

  describe('when the result queue is gone', () => {
    // A worker of its own, on the stand-ins of the file.
    const lost = useWorld('rpc-unroutable', undefined, { standIns: () => fixture.standIns });

    it('gives a task whose result is unroutable back to the queue until the result can be delivered', async () => {
      const { rabbit: probe, deadLetters, names } = lost;
      await probe.deleteQueues(names.ORCHESTRATOR_QUEUE);
      // No taskId: each delivery is a fresh run, so Steam sees every redelivery.
      lost.publishTask('app.fetch', { appId: 777, country: 'PL' });
      lost.publishTask('app.fetch', { taskId: 'u-invalid', appId: 0, country: 'PL' });
      const requestsFor777 = () => fixture.standIns.steam.appDetailsFor(777, 'PL').length;

      await waitFor(() => requestsFor777() >= 2, 20_000, 'the task to be delivered again');
      // Its task.failed was not confirmed either, so the invalid task was not dead-lettered.
      expect(deadLetters).toEqual([]);

      const results = await probe.collect(names.ORCHESTRATOR_QUEUE);
      const resultWithPattern = (pattern: string) =>
        waitFor(() => results.find((message) => bodyOf(message).pattern === pattern), 20_000, pattern);
      const done = await resultWithPattern('app.fetch.done');
      expect(done.body).toEqual({
        pattern: 'app.fetch.done',
        data: { taskId: expect.any(String), updated: [777], failed: [] },
      });
      const failed = await resultWithPattern('task.failed');
      expect(failed.body).toEqual(taskFailed('u-invalid', 'app.fetch'));
      await waitFor(() => deadLetters.length === 1, 20_000, 'the dead letter');
      expect(JSON.parse(deadLetters[0]!.raw.content.toString('utf8'))).toMatchObject({ data: { taskId: 'u-invalid' } });
      expect(results.filter((message) => bodyOf(message).pattern === 'app.fetch.done')).toHaveLength(1);
    });
  });
});
