import { Transform, plainToInstance } from 'class-transformer';
import {
  IsBoolean,
  IsByteLength,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUrl,
  isFQDN,
  isIP,
  Matches,
  Max,
  Min,
  ValidateBy,
  ValidationError,
  validateSync,
} from 'class-validator';

import { APP_IDS_HARD_CAP } from '../tasks/dto/task.dto';
import { ConfigError } from './config.errors';
import { PRICE_BATCH, PRICE_SOURCES, PriceSource } from './price-source';
import { parseProxies } from './proxies';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Integers are written as plain digits; anything else stays a string and fails `@IsInt`. */
const toInteger = Transform(({ value }: { value: unknown }) =>
  typeof value === 'string' && /^\d{1,15}$/.test(value.trim()) ? Number(value.trim()) : value,
);
const toBoolean = Transform(({ value }: { value: unknown }) => {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return value;
});
/** An integer >= 1, and at most `max` when given. */
const Count = (max?: number) => (target: object, key: string) => {
  toInteger(target, key);
  IsInt({ message: 'must be an integer' })(target, key);
  const range = max === undefined ? 'must be an integer >= 1' : `must be an integer in 1..${max}`;
  Min(1, { message: range })(target, key);
  if (max !== undefined) Max(max, { message: range })(target, key);
};
/**
 * Node fires a timer longer than 2^31-1 ms after 1 ms instead (with a warning),
 * so every time is bounded by it; times in seconds too, by the same rule.
 */
const MAX_TIME = 2_147_483_647;
const Time = () => Count(MAX_TIME);
/** A time that may be 0, which turns its feature off. */
const TimeOrOff = () => (target: object, key: string) => {
  toInteger(target, key);
  IsInt({ message: 'must be an integer' })(target, key);
  const range = `must be an integer in 0..${MAX_TIME} (0 = off)`;
  Min(0, { message: range })(target, key);
  Max(MAX_TIME, { message: range })(target, key);
};
/** AMQP queue names are at most 255 bytes of UTF-8 (a short string), whatever their characters. */
const QueueName = (maxBytes: number) =>
  IsByteLength(1, maxBytes, { message: `must be 1 to ${maxBytes} bytes of UTF-8` });
/** What Node's `listen` takes: an IP address (`0.0.0.0`, `::`) or a host name (`localhost`), nothing else. */
const Host = () =>
  ValidateBy(
    {
      name: 'isHost',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' && (isIP(value) || isFQDN(value, { require_tld: false })),
      },
    },
    { message: 'must be an IP address or a host name' },
  );
const Url = (protocols: string[]) =>
  IsUrl(
    { protocols, require_tld: false, require_protocol: true },
    { message: `must be a ${protocols.join(' or ')} URL` },
  );
const Required = () => IsNotEmpty({ message: 'is required' });

/**
 * Every environment variable the worker reads (docs/contract.md#configuration), with its default.
 * Validation messages name the rule, never the value: secrets live here too.
 */
export class Environment {
  @Url(['amqp', 'amqps']) RABBITMQ_URL = 'amqp://guest:guest@127.0.0.1:5672';
  /** 251, not 255: its dead-letter queue `<WORKER_QUEUE>.dlq` is a queue name too. */
  @IsString() @Required() @QueueName(251) WORKER_QUEUE = 'steam-worker.tasks';
  @IsString() @Required() @QueueName(255) ORCHESTRATOR_QUEUE = 'steam-orchestrator.results';
  @Count(256) WORKER_CONCURRENCY = 4;
  /** The DTO refuses larger arrays before reading them, so a larger limit could never apply. */
  @Count(APP_IDS_HARD_CAP) MAX_BATCH_APPS = 10000;
  @Count(1000) MAX_DELIVERIES = 10;
  /** Least time between two `task.progress` events of a batch task; 0 = none (docs/contract.md#results). */
  @TimeOrOff() TASK_PROGRESS_MS = 0;

  @Url(['redis', 'rediss']) REDIS_URL = 'redis://127.0.0.1:6379';
  @Matches(/^[A-Za-z0-9_.:-]{1,100}$/, { message: 'must be 1-100 of A-Z a-z 0-9 _ . : -' })
  REDIS_PREFIX = 'steam-worker';
  @Time() TASK_STATE_TTL_S = 604800;

  @IsOptional() @IsString() STEAM_API_KEY?: string;
  @Url(['http', 'https']) STEAM_API_URL = 'https://api.steampowered.com';
  @Url(['http', 'https']) STEAM_STORE_URL = 'https://store.steampowered.com';
  @Matches(/^[a-z_-]{2,40}$/, { message: 'must be a Steam language name such as english' })
  STEAM_LANGUAGE = 'english';
  /** The store's budget per egress (appdetails). */
  @Count() STEAM_RATE_LIMIT = 40;
  @Time() STEAM_RATE_WINDOW_MS = 60000;
  /** The Web API's budget per egress (GetAppList): Steam counts it apart from the store's. */
  @Count() STEAM_API_RATE_LIMIT = 40;
  @Time() STEAM_API_RATE_WINDOW_MS = 60000;
  /** Headroom per window for departure jitter, in both budgets; defaults to 2 % of each budget's window. */
  @IsOptional() @Time() STEAM_RATE_MARGIN_MS?: number;
  @Time() STEAM_TIMEOUT_MS = 15000;
  @Count() STEAM_MAX_ATTEMPTS = 5;
  @Time() STEAM_BACKOFF_MS = 1000;
  @Time() STEAM_COOLDOWN_MS = 30000;
  @Count(256) STEAM_EGRESS_CONCURRENCY = 1;
  @toBoolean @IsBoolean({ message: 'must be true, false, 1 or 0' }) STEAM_DIRECT = true;
  /** Parsed and checked by `parseProxies`, which never echoes an entry. */
  @IsOptional() @IsString() STEAM_PROXIES?: string;
  /** Pairs of one batch that are between "queued for Steam" and "pushed" at once. */
  @Count(4096) STEAM_FEED_WINDOW = 32;
  @IsIn(PRICE_SOURCES, { message: `must be one of ${PRICE_SOURCES.join(', ')}` })
  STEAM_PRICE_SOURCE: PriceSource = 'appdetails';
  /** Apps per price request; its default and its most depend on STEAM_PRICE_SOURCE (see validateEnvironment). */
  @IsOptional() @Count() STEAM_PRICE_BATCH?: number;

  @Url(['http', 'https']) @Required() BACKEND_URL!: string;
  @Time() BACKEND_TIMEOUT_MS = 10000;
  @Count() BACKEND_MAX_ATTEMPTS = 5;
  @Time() BACKEND_BACKOFF_MS = 500;
  @Count(256) BACKEND_CONCURRENCY = 8;
  /** Consecutive `backend_error` pushes that open the circuit (docs/contract.md#backend-circuit). */
  @Count(100_000) BACKEND_CIRCUIT_FAILURES = 20;
  @Time() BACKEND_CIRCUIT_PROBE_MS = 30000;
  @Time() BACKEND_CIRCUIT_GIVE_UP_MS = 600000;

  @Url(['http', 'https']) @Required() AUTH_URL!: string;
  @IsString() @Required() AUTH_CLIENT_ID!: string;
  @IsString() @Required() AUTH_CLIENT_SECRET!: string;

  @Count() @Max(65535, { message: 'must be a port number' }) HTTP_PORT = 3000;
  @Required() @Host() HTTP_HOST = '0.0.0.0';
  @Time() LIVENESS_CONSUMER_GRACE_MS = 30000;
  @Time() SHUTDOWN_GRACE_MS = 25000;
  @IsIn(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }) LOG_LEVEL: LogLevel = 'info';

  /** A JSON array of schedules, or `@<path>` of a file: parsed and checked by `parseSchedules`, which never echoes one. */
  @IsOptional() @IsString() SCHEDULES?: string;

  /** Bull Board at /admin/queues, behind HTTP basic auth, only with both (see validateEnvironment). */
  @IsOptional()
  @Matches(/^[^:]{1,100}$/, { message: 'must be 1-100 characters without a colon (HTTP basic auth)' })
  ADMIN_USER?: string;
  @IsOptional() @IsString() ADMIN_PASSWORD?: string;
}

/**
 * Reads and validates the environment. Empty strings count as unset, so that
 * `FOO=` in a compose file means "use the default". Throws {@link ConfigError}
 * naming the first bad variable.
 */
export function validateEnvironment(raw: Record<string, string | undefined>): Environment {
  const env = readEnvironment(raw);
  const [error] = validateSync(env, { stopAtFirstError: true, forbidUnknownValues: false });
  if (error) throw configErrorOf(error);
  const { max } = PRICE_BATCH[env.STEAM_PRICE_SOURCE];
  if (env.STEAM_PRICE_BATCH !== undefined && env.STEAM_PRICE_BATCH > max) {
    throw new ConfigError(
      'STEAM_PRICE_BATCH',
      `must be an integer in 1..${max} for STEAM_PRICE_SOURCE=${env.STEAM_PRICE_SOURCE}`,
    );
  }
  // One without the other is a half-configured dashboard: name the one that is missing.
  if ((env.ADMIN_USER === undefined) !== (env.ADMIN_PASSWORD === undefined)) {
    const [missing, present] =
      env.ADMIN_USER === undefined ? ['ADMIN_USER', 'ADMIN_PASSWORD'] : ['ADMIN_PASSWORD', 'ADMIN_USER'];
    throw new ConfigError(missing, `is required when ${present} is set (the queue dashboard needs both)`);
  }
  const proxies = parseProxies(env.STEAM_PROXIES);
  if (!env.STEAM_DIRECT && proxies.length === 0) {
    throw new ConfigError('STEAM_DIRECT', 'is false but STEAM_PROXIES names no proxy: there is no egress to Steam');
  }
  return env;
}

/**
 * Validates only `variables`, with the same rules and defaults, for a tool
 * that reads a few of the worker's variables (the CLI reads the broker's and
 * Redis'): the others are not checked, so a variable only the worker needs
 * (BACKEND_URL, AUTH_CLIENT_SECRET) may be missing. Throws {@link ConfigError}
 * naming the first bad one of `variables`.
 */
export function validateEnvironmentOf<Name extends keyof Environment>(
  raw: Record<string, string | undefined>,
  variables: readonly Name[],
): Pick<Environment, Name> {
  const env = readEnvironment(raw);
  const wanted = new Set<string>(variables);
  const error = validateSync(env, { stopAtFirstError: true, forbidUnknownValues: false }).find((each) =>
    wanted.has(each.property),
  );
  if (error) throw configErrorOf(error);
  return env;
}

/** Empty strings count as unset, so that `FOO=` in a compose file means "use the default". */
function readEnvironment(raw: Record<string, string | undefined>): Environment {
  const set = Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== undefined && value !== ''));
  return plainToInstance(Environment, set, { exposeDefaultValues: true });
}

function configErrorOf(error: ValidationError): ConfigError {
  return new ConfigError(error.property, Object.values(error.constraints ?? {})[0] ?? 'is invalid');
}
