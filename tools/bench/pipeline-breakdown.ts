import type { INestApplication } from '@nestjs/common';
import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';

import { EgressLimiter } from '../../src/steam/egress/egress.limiter';
import { SteamClient } from '../../src/steam/steam.client';
import { STEAM_QUEUES } from '../../src/steam/steam-queue.constants';
import { SteamRequestProcessor } from '../../src/steam/steam-request.processor';
import { SteamRequestQueue } from '../../src/steam/steam-request.queue';
import { fixed, median } from './report';

/** The stages of one Steam call through the pipeline, in order. */
const STAGES = [
  'add',
  'pick-up',
  'reserve',
  'start wait',
  'departure gate',
  'HTTP',
  'release',
  'back to caller',
] as const;
type Stage = (typeof STAGES)[number];

type Method = (...args: never[]) => Promise<unknown>;

/**
 * Times where one sequential call spends its time, by wrapping the app's own
 * instances (queue add, processor, limiter, client) for the duration of
 * `calls` calls, one at a time, then putting them back.
 */
export async function pipelineBreakdown(
  app: INestApplication,
  calls: number,
  appIdFor: (index: number) => number,
): Promise<string> {
  const steamQueue = app.get(SteamRequestQueue);
  // appdetails go through the store budget's queue.
  const bullQueue = app.get<Queue>(getQueueToken(STEAM_QUEUES.store));
  const marks = new Map<string, number>();
  const restore: (() => void)[] = [];
  const wrap = (target: object, method: string, before: string, after: string) => {
    const holder = target as Record<string, Method>;
    const original = holder[method]!;
    holder[method] = async (...args: never[]) => {
      // A method called more than once per request (the gate) counts from its first call.
      if (!marks.has(before)) marks.set(before, performance.now());
      try {
        return await original.apply(target, args);
      } finally {
        marks.set(after, performance.now());
      }
    };
    restore.push(() => (holder[method] = original));
  };
  wrap(bullQueue, 'add', 'call', 'added');
  wrap(app.get(SteamRequestProcessor), 'process', 'picked', 'processed');
  wrap(app.get(EgressLimiter), 'reserve', 'reserving', 'reserved');
  wrap(app.get(EgressLimiter), 'release', 'releasing', 'released');
  wrap(app.get(EgressLimiter), 'depart', 'departing', 'departed');
  wrap(app.get(SteamClient), 'call', 'sending', 'answered');
  const stages = Object.fromEntries(STAGES.map((stage) => [stage, [] as number[]])) as Record<Stage, number[]>;
  const totals: number[] = [];
  try {
    for (let index = 0; index < calls; index++) {
      marks.clear();
      const started = performance.now();
      await steamQueue.request({ kind: 'appdetails', appId: appIdFor(index), country: 'US' });
      const done = performance.now();
      const at = (name: string) => marks.get(name) ?? Number.NaN;
      totals.push(done - started);
      stages['add'].push(at('added') - started);
      stages['pick-up'].push(at('picked') - at('added'));
      stages['reserve'].push(at('reserved') - at('reserving'));
      stages['start wait'].push(at('departing') - at('reserved'));
      stages['departure gate'].push(at('departed') - at('departing'));
      stages['HTTP'].push(at('answered') - at('sending'));
      stages['release'].push(at('released') - at('releasing'));
      stages['back to caller'].push(done - at('processed'));
    }
  } finally {
    for (const undo of restore) undo();
  }
  const parts = STAGES.map((stage) => `${stage} ${fixed(median(stages[stage]))}`);
  return `median ${fixed(median(totals))} ms = ${parts.join(' + ')} (ms)`;
}
