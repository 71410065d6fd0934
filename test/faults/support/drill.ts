import { createServer } from 'node:net';

import { TEST_CLIENT_SECRET } from '../../support/auth.stand-in';
import { RabbitProbe, waitFor } from '../../support/rmq';
import { recordSecretScan } from './drill-report';
import { isolatedNames, startStandIns, StandIns, testEnvironment } from '../../support/worker.harness';
import { spawnWorker, WorkerProcess } from '../../support/worker.process';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface DrillWorker extends WorkerProcess {
  port: number;
  url: string;
  /** SIGTERM (or another signal), resolving with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * One fault drill's world: stand-ins, queues and a REDIS_PREFIX of its own, and
 * built workers (`node dist/main.js`) started as real child processes.
 */
export class Drill {
  readonly names: ReturnType<typeof isolatedNames>;
  readonly workers: DrillWorker[] = [];
  standIns!: StandIns;
  rabbit!: RabbitProbe;
  results!: Awaited<ReturnType<RabbitProbe['collect']>>;
  deadLetters!: Awaited<ReturnType<RabbitProbe['collect']>>;

  constructor(label: string) {
    this.names = isolatedNames(`drill-${label}`);
  }

  async start(): Promise<this> {
    this.standIns = await startStandIns();
    this.rabbit = await RabbitProbe.connect();
    this.results = await this.rabbit.collect(this.names.ORCHESTRATOR_QUEUE);
    this.deadLetters = await this.rabbit.collect(`${this.names.WORKER_QUEUE}.dlq`);
    return this;
  }

  /** The environment of a drill worker: the stand-ins, this drill's names, short timings. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return { ...testEnvironment(this.standIns, this.names), LOG_LEVEL: 'debug', HTTP_HOST: '127.0.0.1', ...extra };
  }

  /** Starts a built worker and waits until it is ready (unless `waitReady` is false). */
  async spawn(extra: Record<string, string> = {}, waitReady = true): Promise<DrillWorker> {
    const port = await freePort();
    const child = spawnWorker(this.env({ HTTP_PORT: String(port), ...extra }));
    const url = `http://127.0.0.1:${port}`;
    const worker: DrillWorker = {
      ...child,
      port,
      url,
      stop: (signal = 'SIGTERM') => {
        child.child.kill(signal);
        return child.exited;
      },
    };
    this.workers.push(worker);
    if (waitReady) {
      await waitFor(
        async () => (await fetch(`${url}/health/ready`).catch(() => undefined))?.status === 200,
        45_000,
        'worker ready',
      );
    }
    return worker;
  }

  publish(task: unknown, options = {}): void {
    this.rabbit.publish(this.names.WORKER_QUEUE, task, options);
  }

  /** Results (any pattern) whose data.taskId is `taskId`. */
  resultsFor(taskId: string) {
    return this.results.filter((m) => (m.body as { data?: { taskId?: string } }).data?.taskId === taskId);
  }

  /** Everything every worker of this drill printed. */
  logs(): string {
    return this.workers.map((worker) => worker.output()).join('\n');
  }

  /**
   * Drill 9 for this drill: none of the secrets the workers knew appears in
   * anything they printed. Runs at every drill's end; the table's row sums up.
   */
  secretsFound(extraSecrets: string[] = []): string[] {
    const secrets = [TEST_CLIENT_SECRET, this.standIns.steam.apiKey, ...this.standIns.auth.issued, ...extraSecrets];
    const logs = this.logs();
    const leaked = secrets.filter((secret) => secret && logs.includes(secret));
    if (leaked.length === 0) recordSecretScan(logs.length);
    return leaked;
  }

  async stop(extraSecrets: string[] = []): Promise<void> {
    for (const worker of this.workers) worker.child.kill('SIGKILL');
    await Promise.all(this.workers.map((worker) => worker.exited));
    const leaked = this.standIns ? this.secretsFound(extraSecrets) : [];
    await this.rabbit?.deleteQueues(
      this.names.WORKER_QUEUE,
      `${this.names.WORKER_QUEUE}.dlq`,
      this.names.ORCHESTRATOR_QUEUE,
    );
    await this.rabbit?.close();
    await this.standIns?.stop();
    if (leaked.length > 0) throw new Error(`${leaked.length} secret(s) appeared in the workers' output`);
  }
}
