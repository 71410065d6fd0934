import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';

import { SteamModule } from '../steam/steam.module';
import { RabbitModule } from '../rabbit/rabbit.module';
import { DependenciesIndicator } from './dependencies.indicator';
import { HealthController } from './health.controller';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), RabbitModule, SteamModule],
  controllers: [HealthController],
  providers: [DependenciesIndicator],
})
export class HealthModule {}
