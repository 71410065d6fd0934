import type { BackendCircuit } from '../../backend/backend.circuit';
import type { AppCountryPriceRecord, BackendClient } from '../../backend/backend.client';
import { BackendError } from '../../backend/backend.errors';
import { linkedSignal } from '../../common/linked-signal';
import { SteamBadRequestError, SteamError } from '../../steam/steam.errors';
import type { PriceQuote } from '../../steam/steam-request';
import type { BatchProgress } from '../progress/task-progress.store';
import type { TaskRun } from '../task.runner';
import type { BatchReport, FailureReason } from '../use-cases/batch.report';
import { ChunkApp, halves } from './price-chunks';
import type { ChunkAnswer, PriceSource } from './price-sources';

/** One price task as its chunks see it. */
export interface PriceRun {
  source: PriceSource;
  report: BatchReport;
  progress: BatchProgress | undefined;
  run: TaskRun;
  /** The batch's: aborted when the task stops. */
  signal: AbortSignal;
}

/** What asking Steam for a part of a chunk came to. */
type Asked =
  { answer: ChunkAnswer; fetchedAt: string } | { split: [ChunkApp[], ChunkApp[]] } | { failed: FailureReason };

/**
 * Takes one chunk (apps of one country) from Steam to the backend
 * (docs/contract.md#prices): one Steam request for the chunk, each app's
 * price pushed as soon as its answer is read. A chunk Steam refuses as too
 * long (400) is split in two, down to single apps; an app an answer lacks is
 * asked again with the others it lacked, up to STEAM_MAX_ATTEMPTS answers; a
 * chunk that fails for good fails its apps in that country only.
 */
export class ChunkRefresher {
  constructor(
    private readonly backend: BackendClient,
    private readonly circuit: BackendCircuit,
    /** STEAM_MAX_ATTEMPTS: answers that may lack an app before it fails. */
    private readonly maxAnswers: number,
  ) {}

  async refresh(apps: ChunkApp[], country: string, work: PriceRun): Promise<void> {
    const lacked = new Map<number, number>();
    const pushes: Promise<void>[] = [];
    // Parts still to ask, the next one last: the halves of a split, the apps an answer lacked.
    const parts = [apps];
    try {
      for (let part = parts.pop(); part; part = parts.pop()) {
        const asked = await this.ask(part, country, work);
        if ('failed' in asked) {
          for (const { appId } of part) work.report.fail(appId, country, asked.failed);
        } else if ('split' in asked) {
          parts.push(asked.split[1], asked.split[0]);
        } else {
          const again: ChunkApp[] = [];
          for (const app of part) {
            const quote = asked.answer.get(app.appId);
            if (quote === undefined) {
              const lacks = (lacked.get(app.appId) ?? 0) + 1;
              lacked.set(app.appId, lacks);
              if (lacks < this.maxAnswers) again.push(app);
              else work.report.fail(app.appId, country, 'steam_error');
            } else if (quote === 'steam_error') {
              work.report.fail(app.appId, country, 'steam_error');
            } else {
              pushes.push(this.push(app, country, quote, asked.fetchedAt, work));
            }
          }
          if (again.length > 0) parts.push(again);
        }
      }
    } catch (error) {
      // The pushes already sent finish first, so that what the backend accepted is recorded before the task lets go.
      await Promise.allSettled(pushes);
      throw error;
    }
    await Promise.all(pushes);
  }

  /** One Steam request for `part`, once the backend can take what it brings. */
  private async ask(part: ChunkApp[], country: string, work: PriceRun): Promise<Asked> {
    for (;;) {
      // While the backend cannot take what Steam would give, Steam is not asked.
      if (!(await this.circuit.whenFetchAllowed(work.signal))) return { failed: 'backend_error' };
      const request = linkedSignal(work.signal, this.circuit.openSignal);
      try {
        const answer = await work.source.ask(
          part.map((app) => app.appId),
          country,
          request.signal,
        );
        return { answer, fetchedAt: new Date().toISOString() };
      } catch (error) {
        if (work.signal.aborted) throw error;
        // The circuit opened before this request left: it was withdrawn, not sent.
        if (request.signal.aborted) continue;
        // Too long for Steam: both halves are asked, each a request of its own with its own attempts.
        if (error instanceof SteamBadRequestError && part.length > 1) return { split: halves(part) };
        // Steam's own failures fail the part; anything else fails the task.
        if (!(error instanceof SteamError)) throw error;
        return { failed: 'steam_error' };
      } finally {
        request.dispose();
      }
    }
  }

  /** Pushes one app's price; settles with the pair's outcome, rejects only when the task must stop. */
  private push(app: ChunkApp, country: string, quote: PriceQuote, fetchedAt: string, work: PriceRun): Promise<void> {
    const record: AppCountryPriceRecord = {
      appId: app.appId,
      country,
      available: quote.available,
      isFree: quote.isFree,
      price: quote.price,
      source: work.source.name,
      fetchedAt,
    };
    const pushing = this.backend.pushPrice(record, work.signal).then(
      async () => {
        this.circuit.recordSuccess();
        await work.progress?.markAccepted(app.index);
        work.run.progressed();
      },
      (error: unknown) => {
        if (!(error instanceof BackendError) || work.signal.aborted) throw error;
        this.circuit.recordFailure(error, record);
        work.report.fail(app.appId, country, error.reason);
      },
    );
    // Awaited with the chunk's other pushes; until then a rejection must not count as unhandled.
    pushing.catch(() => undefined);
    return pushing;
  }
}
