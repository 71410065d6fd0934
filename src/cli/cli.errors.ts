/**
 * What ends the CLI with one line on stderr and a non-zero exit code: 1 for
 * anything that went wrong out there (broker, queue, task), 2 for a command
 * line it cannot read.
 */
export class CliError extends Error {
  override readonly name: string = 'CliError';

  constructor(
    message: string,
    readonly exitCode = 1,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A command line the CLI cannot read: exit code 2, usage follows. */
export class UsageError extends CliError {
  override readonly name = 'UsageError';

  constructor(message: string) {
    super(message, 2);
  }
}

/** `amqp://user:secret@host:5672/vhost` → `amqp://host:5672`: what an error may name, never the password. */
export function brokerAddress(url: string): string {
  try {
    const parsed = new URL(url);
    const port = parsed.port || (parsed.protocol === 'amqps:' ? '5671' : '5672');
    return `${parsed.protocol}//${parsed.hostname}:${port}`;
  } catch {
    return 'RabbitMQ';
  }
}

/** Redis' address for a message, without its credentials. */
export function redisAddress(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.hostname}:${parsed.port || '6379'}`;
  } catch {
    return 'Redis';
  }
}

/** Why a connection to the broker failed, in one line that names its address and nothing secret. */
export function brokerError(url: string, error: unknown): CliError {
  const address = brokerAddress(url);
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : '';
  if (/ACCESS_REFUSED|403/.test(text)) return new CliError(`RabbitMQ at ${address} refused the credentials`);
  if (/NOT_ALLOWED|530/.test(text)) return new CliError(`RabbitMQ at ${address} refused the virtual host`);
  const unreachable = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET', 'ETIMEOUT'];
  if (typeof code === 'string' && unreachable.includes(code)) {
    return new CliError(`RabbitMQ at ${address} does not answer (${code})`, 1, { cause: error });
  }
  return new CliError(`RabbitMQ at ${address} failed: ${withoutCredentials(text, url) || 'unknown error'}`, 1, {
    cause: error,
  });
}

/** Drops `url`'s password from `text`, wherever an error message may have copied it. */
function withoutCredentials(text: string, url: string): string {
  try {
    const { password } = new URL(url);
    let clean = text;
    for (const secret of [password, decodeURIComponent(password)]) if (secret) clean = clean.split(secret).join('***');
    return clean;
  } catch {
    return text;
  }
}
