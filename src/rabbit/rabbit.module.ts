import { Module } from '@nestjs/common';

import { ConsumerState } from './consumer.state';
import { RabbitConnection } from './rabbit.connection';
import { ResultPublisher } from './result.publisher';
import { TaskPublisher } from './task.publisher';
import { TaskServer } from './task.server';

/**
 * RabbitMQ: the worker's connection, the task consumer (Nest's RMQ transport,
 * made to keep consuming), the result and reply publishers, the publisher of
 * scheduled tasks, and the consumer's state for the probes. Nothing here knows
 * what a task does.
 */
@Module({
  providers: [RabbitConnection, ConsumerState, TaskServer, ResultPublisher, TaskPublisher],
  exports: [RabbitConnection, ConsumerState, TaskServer, ResultPublisher, TaskPublisher],
})
export class RabbitModule {}
