import { Global, Module } from '@nestjs/common';
import { ClsModule } from 'nestjs-cls';

import { TaskLogContext } from './task-log.context';

/**
 * The task's async context for log lines (nestjs-cls, no middleware: tasks
 * come from RabbitMQ, not HTTP). The logger itself is built before Nest, in
 * main.ts (workerLogger).
 */
@Global()
@Module({
  imports: [ClsModule.forRoot({ global: true })],
  providers: [TaskLogContext],
  exports: [TaskLogContext],
})
export class LoggingModule {}
