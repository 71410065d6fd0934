import type { Options } from 'amqplib';

/**
 * How WORKER_QUEUE is declared, by whoever declares it (docs/contract.md#queues-and-envelopes):
 * durable, dead letters to `<WORKER_QUEUE>.dlq`. RabbitMQ refuses a second
 * declaration with other arguments (PRECONDITION_FAILED) and closes the channel.
 */
export function workerQueueOptions(deadLetterQueue: string): Options.AssertQueue {
  return { durable: true, deadLetterExchange: '', deadLetterRoutingKey: deadLetterQueue };
}
