import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';

import { TasksModule } from '../tasks/tasks.module';
import { DependenciesIndicator } from './dependencies.indicator';
import { HealthController } from './health.controller';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), TasksModule],
  controllers: [HealthController],
  providers: [DependenciesIndicator],
})
export class HealthModule {}
