import { sleep } from '../../common/sleep';
import type { EgressLimiter, Reservation } from './egress.limiter';
import { SteamRequestCancelledError } from '../steam.errors';

/**
 * One request's passage through its egress' departure gate. The gate records
 * a departure in Redis; the record only bounds the wire if the request really
 * leaves within the margin (STEAM_RATE_MARGIN_MS) after it. `pass()` is called
 * twice: before the request is built, and again at the moment its first byte
 * would be written to the socket. The second call is free while the first
 * passage is recent; when the request got there late (a busy event loop, a
 * slow connect, a starved CPU) it passes the gate again, replacing its record
 * (see DEPART), so that no window of W ever sees L + 1 requests arrive.
 */
export class DepartureGate {
  /** performance.now() when the call that recorded this request's departure was sent. */
  private passedAt: number | undefined;
  /** How many times the request had to pass again because it reached its socket late. */
  lateDepartures = 0;

  constructor(
    private readonly limiter: Pick<EgressLimiter, 'depart'>,
    private readonly reservation: Reservation,
    private readonly requestId: string,
    private readonly marginMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    // The reservation itself passed the gate when its start was due at once.
    if (reservation.departed) this.passedAt = reservation.askedAt;
  }

  /**
   * Resolves when the request may leave now; rejects with
   * {@link SteamRequestCancelledError} when its caller withdrew it, or with
   * whatever Redis threw (the caller hands the request back: no attempt used).
   */
  async pass(signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (this.passedAt !== undefined) {
        if (this.now() - this.passedAt <= this.marginMs) return;
        this.lateDepartures++;
        this.passedAt = undefined;
      }
      const askedAt = this.now();
      const answer = await this.limiter.depart(this.reservation, this.requestId);
      if (answer === 'cancelled') throw new SteamRequestCancelledError();
      if (answer === 0) this.passedAt = askedAt;
      else await sleep(answer, signal);
    }
  }
}
