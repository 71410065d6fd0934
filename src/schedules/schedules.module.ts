import { Module } from '@nestjs/common';

import { RabbitModule } from '../rabbit/rabbit.module';
import { ScheduleClaims } from './schedule.claims';
import { TaskScheduler } from './task.scheduler';

/**
 * Scheduled tasks (SCHEDULES): a scheduler that publishes each schedule's task
 * to WORKER_QUEUE at every tick, claimed in Redis so that one process does.
 */
@Module({
  imports: [RabbitModule],
  providers: [ScheduleClaims, TaskScheduler],
})
export class SchedulesModule {}
