import { Transform, plainToInstance } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  MaxLength,
  Min,
  validateSync,
} from 'class-validator';

import { ConfigError } from './config.error';
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
const Count = () => (target: object, key: string) => {
  toInteger(target, key);
  IsInt({ message: 'must be an integer' })(target, key);
  Min(1, { message: 'must be an integer >= 1' })(target, key);
};
const Url = (protocols: string[]) =>
  IsUrl(
    { protocols, require_tld: false, require_protocol: true },
    { message: `must be a ${protocols.join(' or ')} URL` },
  );
const Required = () => IsNotEmpty({ message: 'is required' });

/**
 * Every environment variable the worker reads (CONTRACT.md §6), with its default.
 * Validation messages name the rule, never the value: secrets live here too.
 */
export class Environment {
  @Url(['amqp', 'amqps']) RABBITMQ_URL = 'amqp://guest:guest@127.0.0.1:5672';
  @IsString() @Required() @MaxLength(200) WORKER_QUEUE = 'steam-worker.tasks';
  @IsString() @Required() @MaxLength(200) ORCHESTRATOR_QUEUE = 'steam-orchestrator.results';
  @Count() @Max(1000, { message: 'must be at most 1000' }) WORKER_CONCURRENCY = 4;
  @Count() MAX_BATCH_APPS = 10000;

  @Url(['redis', 'rediss']) REDIS_URL = 'redis://127.0.0.1:6379';
  @Matches(/^[A-Za-z0-9_.:-]{1,100}$/, { message: 'must be 1-100 of A-Z a-z 0-9 _ . : -' })
  REDIS_PREFIX = 'steam-worker';
  @Count() TASK_STATE_TTL_S = 604800;

  @IsOptional() @IsString() STEAM_API_KEY?: string;
  @Url(['http', 'https']) STEAM_API_URL = 'https://api.steampowered.com';
  @Url(['http', 'https']) STEAM_STORE_URL = 'https://store.steampowered.com';
  @Matches(/^[a-z_-]{2,40}$/, { message: 'must be a Steam language name such as english' })
  STEAM_LANGUAGE = 'english';
  @Count() STEAM_RATE_LIMIT = 40;
  @Count() STEAM_RATE_WINDOW_MS = 60000;
  /** Headroom per window for departure jitter; defaults to 2 % of STEAM_RATE_WINDOW_MS. */
  @IsOptional() @Count() STEAM_RATE_MARGIN_MS?: number;
  @Count() STEAM_TIMEOUT_MS = 15000;
  @Count() STEAM_MAX_ATTEMPTS = 5;
  @Count() STEAM_BACKOFF_MS = 1000;
  @Count() STEAM_COOLDOWN_MS = 30000;
  @Count() STEAM_EGRESS_CONCURRENCY = 1;
  @toBoolean @IsBoolean({ message: 'must be true, false, 1 or 0' }) STEAM_DIRECT = true;
  /** Parsed and checked by `parseProxies`, which never echoes an entry. */
  @IsOptional() @IsString() STEAM_PROXIES?: string;
  /** Pairs of one batch that are between "queued for Steam" and "pushed" at once. */
  @Count() STEAM_FEED_WINDOW = 32;

  @Url(['http', 'https']) @Required() BACKEND_URL!: string;
  @Count() BACKEND_TIMEOUT_MS = 10000;
  @Count() BACKEND_MAX_ATTEMPTS = 5;
  @Count() BACKEND_BACKOFF_MS = 500;
  @Count() BACKEND_CONCURRENCY = 8;

  @Url(['http', 'https']) @Required() AUTH_URL!: string;
  @IsString() @Required() AUTH_CLIENT_ID!: string;
  @IsString() @Required() AUTH_CLIENT_SECRET!: string;

  @Count() @Max(65535, { message: 'must be a port number' }) HTTP_PORT = 3000;
  @IsString() @Required() HTTP_HOST = '0.0.0.0';
  @Count() LIVENESS_CONSUMER_GRACE_MS = 30000;
  @Count() SHUTDOWN_GRACE_MS = 25000;
  @IsIn(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }) LOG_LEVEL: LogLevel = 'info';
}

/**
 * Reads and validates the environment. Empty strings count as unset, so that
 * `FOO=` in a compose file means "use the default". Throws {@link ConfigError}
 * naming the first bad variable.
 */
export function validateEnvironment(raw: Record<string, string | undefined>): Environment {
  const set = Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== undefined && value !== ''));
  const env = plainToInstance(Environment, set, { exposeDefaultValues: true });
  const [error] = validateSync(env, { stopAtFirstError: true, forbidUnknownValues: false });
  if (error) {
    const problem = Object.values(error.constraints ?? {})[0] ?? 'is invalid';
    throw new ConfigError(error.property, problem);
  }
  const proxies = parseProxies(env.STEAM_PROXIES);
  if (!env.STEAM_DIRECT && proxies.length === 0) {
    throw new ConfigError('STEAM_DIRECT', 'is false but STEAM_PROXIES names no proxy: there is no egress to Steam');
  }
  return env;
}
