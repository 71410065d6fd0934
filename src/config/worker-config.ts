import { Environment, LogLevel, validateEnvironment } from './environment';
import { PRICE_BATCH, PriceSource } from './price-source';
import { parseProxies, ProxyConfig } from './proxies';
import { parseSchedules, ScheduleConfig } from './schedules';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Delay before the second attempt; doubles on each further one. */
  baseDelayMs: number;
  /** Upper bound of any single delay. */
  maxDelayMs: number;
  /** Relative spread of each delay (0.2 = ±20 %). */
  jitter: number;
}

/** One budget of an egress: at most `limit` requests leave through it in any `windowMs`. */
export interface RateBudget {
  limit: number;
  windowMs: number;
  /** Extra time every `limit` requests span, so that departures that leave late stay within the window. */
  marginMs: number;
}

/**
 * The one validated, typed configuration, grouped by outside system. Nothing
 * outside `config/` reads `process.env`; everything else injects this.
 */
export abstract class WorkerConfig {
  abstract readonly rabbit: {
    url: string;
    workerQueue: string;
    deadLetterQueue: string;
    orchestratorQueue: string;
    prefetch: number;
  };
  abstract readonly redis: { url: string; prefix: string; taskStateTtlS: number };
  abstract readonly tasks: {
    maxBatchApps: number;
    /** Deliveries that ended with the process gone, after which a task is dead-lettered (docs/contract.md#crash-loops). */
    maxDeliveries: number;
    /** TASK_PROGRESS_MS: least time between two `task.progress` events of a batch task; 0 = none. */
    progressMs: number;
  };
  abstract readonly steam: {
    apiKey: string | undefined;
    apiUrl: string;
    storeUrl: string;
    language: string;
    /**
     * Each egress' two budgets (docs/contract.md#rate-limit): Steam limits its
     * store and its Web API separately. `budgetOf` (src/steam) says which a request uses.
     */
    budgets: { store: RateBudget; api: RateBudget };
    timeoutMs: number;
    cooldownMs: number;
    egressConcurrency: number;
    direct: boolean;
    proxies: ProxyConfig[];
    feedWindow: number;
    retry: RetryPolicy;
    /** Where apps.prices reads prices, and how many apps one request asks (docs/contract.md#prices). */
    prices: { source: PriceSource; batch: number };
  };
  abstract readonly backend: {
    url: string;
    timeoutMs: number;
    concurrency: number;
    retry: RetryPolicy;
    /** When a batch stops fetching for a backend it cannot push to (docs/contract.md#backend-circuit). */
    circuit: { failures: number; probeMs: number; giveUpMs: number };
  };
  abstract readonly auth: { url: string; clientId: string; clientSecret: string };
  abstract readonly http: { port: number; host: string };
  abstract readonly health: { consumerGraceMs: number };
  abstract readonly shutdownGraceMs: number;
  abstract readonly logLevel: LogLevel;
  /** Tasks published to WORKER_QUEUE at every tick of a cron (docs/contract.md#scheduled-tasks). */
  abstract readonly schedules: ScheduleConfig[];
  /** Who may open Bull Board at /admin/queues; absent when the dashboard is off (docs/contract.md#http-endpoints). */
  abstract readonly admin: AdminCredentials | undefined;
}

/** HTTP basic auth credentials of the queue dashboard. `password` is a secret: never logged or exported. */
export interface AdminCredentials {
  user: string;
  password: string;
}

const MAX_BACKOFF_MS = 30_000;
/** Default headroom under Steam's limit: L requests span at least 1.02 × W. */
const DEFAULT_RATE_MARGIN = 0.02;
const BACKOFF_JITTER = 0.2;

/**
 * Validates `env` (the process' environment, or a test's variables) once and
 * turns it into the typed configuration. Throws ConfigError naming the first
 * bad variable, never its value.
 */
export function loadWorkerConfig(env: Record<string, string | undefined>): WorkerConfig {
  return toWorkerConfig(validateEnvironment(env));
}

export function toWorkerConfig(env: Environment): WorkerConfig {
  return {
    rabbit: {
      url: env.RABBITMQ_URL,
      workerQueue: env.WORKER_QUEUE,
      deadLetterQueue: `${env.WORKER_QUEUE}.dlq`,
      orchestratorQueue: env.ORCHESTRATOR_QUEUE,
      prefetch: env.WORKER_CONCURRENCY,
    },
    redis: { url: env.REDIS_URL, prefix: env.REDIS_PREFIX, taskStateTtlS: env.TASK_STATE_TTL_S },
    tasks: { maxBatchApps: env.MAX_BATCH_APPS, maxDeliveries: env.MAX_DELIVERIES, progressMs: env.TASK_PROGRESS_MS },
    steam: {
      apiKey: env.STEAM_API_KEY,
      apiUrl: env.STEAM_API_URL.replace(/\/+$/, ''),
      storeUrl: env.STEAM_STORE_URL.replace(/\/+$/, ''),
      language: env.STEAM_LANGUAGE,
      budgets: {
        store: rateBudget(env.STEAM_RATE_LIMIT, env.STEAM_RATE_WINDOW_MS, env.STEAM_RATE_MARGIN_MS),
        api: rateBudget(env.STEAM_API_RATE_LIMIT, env.STEAM_API_RATE_WINDOW_MS, env.STEAM_RATE_MARGIN_MS),
      },
      timeoutMs: env.STEAM_TIMEOUT_MS,
      cooldownMs: env.STEAM_COOLDOWN_MS,
      egressConcurrency: env.STEAM_EGRESS_CONCURRENCY,
      direct: env.STEAM_DIRECT,
      proxies: parseProxies(env.STEAM_PROXIES),
      feedWindow: env.STEAM_FEED_WINDOW,
      retry: {
        maxAttempts: env.STEAM_MAX_ATTEMPTS,
        baseDelayMs: env.STEAM_BACKOFF_MS,
        maxDelayMs: MAX_BACKOFF_MS,
        jitter: BACKOFF_JITTER,
      },
      prices: {
        source: env.STEAM_PRICE_SOURCE,
        batch: env.STEAM_PRICE_BATCH ?? PRICE_BATCH[env.STEAM_PRICE_SOURCE].default,
      },
    },
    backend: {
      url: env.BACKEND_URL.replace(/\/+$/, ''),
      timeoutMs: env.BACKEND_TIMEOUT_MS,
      concurrency: env.BACKEND_CONCURRENCY,
      retry: {
        maxAttempts: env.BACKEND_MAX_ATTEMPTS,
        baseDelayMs: env.BACKEND_BACKOFF_MS,
        maxDelayMs: MAX_BACKOFF_MS,
        jitter: BACKOFF_JITTER,
      },
      circuit: {
        failures: env.BACKEND_CIRCUIT_FAILURES,
        probeMs: env.BACKEND_CIRCUIT_PROBE_MS,
        giveUpMs: env.BACKEND_CIRCUIT_GIVE_UP_MS,
      },
    },
    auth: { url: env.AUTH_URL, clientId: env.AUTH_CLIENT_ID, clientSecret: env.AUTH_CLIENT_SECRET },
    http: { port: env.HTTP_PORT, host: env.HTTP_HOST },
    health: { consumerGraceMs: env.LIVENESS_CONSUMER_GRACE_MS },
    shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
    logLevel: env.LOG_LEVEL,
    // Read here, once: `@<path>` names a file.
    schedules: parseSchedules(env.SCHEDULES, { maxBatchApps: env.MAX_BATCH_APPS }),
    // validateEnvironment has checked that both are set or neither.
    admin: env.ADMIN_USER && env.ADMIN_PASSWORD ? { user: env.ADMIN_USER, password: env.ADMIN_PASSWORD } : undefined,
  };
}

/** A budget of `limit` per `windowMs`; its margin is STEAM_RATE_MARGIN_MS when set, else 2 % of its own window. */
function rateBudget(limit: number, windowMs: number, marginMs: number | undefined): RateBudget {
  return { limit, windowMs, marginMs: marginMs ?? Math.ceil(windowMs * DEFAULT_RATE_MARGIN) };
}
