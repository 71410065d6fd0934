import { describe, expect, it } from 'vitest';

import { brokerAddress, brokerError } from './cli.errors';

describe(brokerError.name, () => {
  const url = 'amqp://admin:s3cr%2Ft@rabbit.internal/vhost';

  it('says that the broker does not answer, naming host and port only', () => {
    const error = brokerError(
      url,
      Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:5672'), { code: 'ECONNREFUSED' }),
    );
    expect(error.message).toBe('RabbitMQ at amqp://rabbit.internal:5672 does not answer (ECONNREFUSED)');
    expect(error.exitCode).toBe(1);
  });

  it('tells refused credentials apart', () => {
    const error = brokerError(url, new Error('Handshake terminated by server: 403 (ACCESS-REFUSED) ACCESS_REFUSED'));
    expect(error.message).toBe('RabbitMQ at amqp://rabbit.internal:5672 refused the credentials');
  });

  it('never repeats the password an error message may carry', () => {
    const error = brokerError(url, new Error('odd failure for amqp://admin:s3cr/t@rabbit.internal'));
    expect(error.message).not.toContain('s3cr');
  });

  it('writes amqps with its own default port', () => {
    expect(brokerAddress('amqps://u:p@host')).toBe('amqps://host:5671');
    expect(brokerAddress('not a url')).toBe('RabbitMQ');
  });
});
