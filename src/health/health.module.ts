import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';

import { SteamModule } from '../steam/steam.module';
import { TasksModule } from '../tasks/tasks.module';
import { DependenciesIndicator } from './dependencies.indicator';
import { HealthController } from './health.controller';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), TasksModule, SteamModule],
  controllers: [HealthController],
  providers: [DependenciesIndicator],
})
export class HealthModule {}
