import { Injectable } from '@nestjs/common';

/**
 * Whether this process has a consumer on WORKER_QUEUE, and since when it has
 * not. Liveness and readiness read it; the task server writes it.
 */
@Injectable()
export class ConsumerState {
  private downSinceMs: number | undefined = Date.now();

  markUp(): void {
    this.downSinceMs = undefined;
  }

  markDown(): void {
    this.downSinceMs ??= Date.now();
  }

  get isUp(): boolean {
    return this.downSinceMs === undefined;
  }

  /** Milliseconds without a consumer, 0 while there is one. */
  downForMs(now = Date.now()): number {
    return this.downSinceMs === undefined ? 0 : now - this.downSinceMs;
  }
}
