import Redis, { RedisOptions } from 'ioredis';

/** The kinds of connection Bull asks its `createClient` for. */
export type BullClientType = 'client' | 'subscriber' | 'bclient';

/**
 * Where and how to connect, from the validated `REDIS_URL` (docs/contract.md#configuration):
 * host, port, database, credentials, and TLS for `rediss://`. Every Redis
 * connection of the worker, Bull's included, is built from these options:
 * Bull's own URL parser ignores the scheme and would speak plaintext to a TLS
 * port.
 */
export function redisConnectionOptions(url: string): RedisOptions {
  const parsed = new URL(url);
  // WHATWG URL lower-cases the scheme (ioredis' own check for `rediss://` does not).
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new Error('REDIS_URL must be a redis:// or rediss:// URL');
  }
  const options: RedisOptions = {
    // IPv6 literals come bracketed from URL.
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: parsed.port === '' ? 6379 : Number(parsed.port),
  };
  const database = parsed.pathname.replace(/^\//, '');
  if (database !== '') {
    if (!/^\d{1,5}$/.test(database)) throw new Error('REDIS_URL: the path must be a database number');
    options.db = Number(database);
  }
  if (parsed.username !== '') options.username = decodeURIComponent(parsed.username);
  if (parsed.password !== '') options.password = decodeURIComponent(parsed.password);
  // Node's tls.connect verifies the certificate against `host` (and sends it as SNI).
  if (parsed.protocol === 'rediss:') options.tls = {};
  return options;
}

/** A client for `url` with `options` (timeouts, retries, name); the URL decides where and how to connect. */
export function createRedisClient(url: string, options: RedisOptions = {}): Redis {
  return new Redis({ ...options, ...redisConnectionOptions(url) });
}

/**
 * The options of one of Bull's connections: Bull's own `redisOpts` (its retry
 * strategy and defaults) with the connection of `url` over them. The blocking
 * client and the subscriber must not give up on commands nor wait for a ready
 * check: Bull 4 refuses them otherwise (MISSING_REDIS_OPTS).
 */
export function bullClientOptions(
  url: string,
  type: BullClientType,
  redisOpts: RedisOptions = {},
  connectionName?: string,
): RedisOptions {
  const options: RedisOptions = { ...redisOpts, ...redisConnectionOptions(url) };
  if (connectionName !== undefined) options.connectionName = connectionName;
  if (type === 'bclient' || type === 'subscriber') {
    options.maxRetriesPerRequest = null;
    options.enableReadyCheck = false;
  }
  return options;
}

/**
 * Bull's `createClient` for the queues of one app, and the clients it made.
 * The queues share one client and one subscriber (Bull's own pattern for
 * several queues); each gets a blocking client of its own, which it blocks on.
 * Bull does not close the clients of a `createClient` itself: call
 * {@link close} once every queue has closed.
 */
export class BullRedisClients {
  private readonly clients = new Set<Redis>();
  private readonly shared = new Map<BullClientType, Redis>();

  constructor(
    private readonly url: string,
    /** Names the connections (`CLIENT LIST`); Bull names its blocking client itself. */
    private readonly namePrefix?: string,
  ) {}

  /** Pass as Bull's `createClient` option. */
  readonly createClient = (type: BullClientType, redisOpts?: RedisOptions): Redis => {
    const known = this.shared.get(type);
    if (known) return known;
    // Bull renames the blocking client after its queue when it starts processing.
    const name = this.namePrefix === undefined || type === 'bclient' ? undefined : `${this.namePrefix}:bull-${type}`;
    const client = new Redis(bullClientOptions(this.url, type, redisOpts, name));
    // Bull forwards errors to the queue only while it is open; after that ioredis
    // would print every reconnect error as an unhandled error event.
    client.on('error', () => undefined);
    this.clients.add(client);
    if (type !== 'bclient') this.shared.set(type, client);
    return client;
  };

  /** Closes every client made so far: QUIT, and a hard disconnect when that does not answer soon. */
  async close(timeoutMs = 500): Promise<void> {
    const clients = [...this.clients];
    this.clients.clear();
    this.shared.clear();
    await Promise.all(clients.map((client) => quit(client, timeoutMs)));
  }
}

async function quit(client: Redis, timeoutMs: number): Promise<void> {
  // A blocked client (Bull marks its BRPOPLPUSH) would answer QUIT only when its command returns.
  if (client.status === 'ready' && !isBlocked(client)) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([client.quit().catch(() => undefined), timeout]);
    clearTimeout(timer);
  }
  client.disconnect();
}

function isBlocked(client: Redis): boolean {
  return (client as Redis & { blocked?: boolean }).blocked === true;
}
