export type FailureReason = 'steam_error' | 'backend_error' | 'backend_rejected';

/** How one (app, country) pair settled: accepted by the backend, or why not. */
export type PairOutcome = 'updated' | FailureReason;

export interface Failure {
  appId: number;
  countries: string[];
  reason: FailureReason;
}

export interface BatchResult {
  updated: number[];
  failed: Failure[];
}

/** When countries of one app fail for different reasons, the first of these is reported. */
const REASON_PRECEDENCE: readonly FailureReason[] = ['backend_rejected', 'backend_error', 'steam_error'];

/**
 * The batch rule (docs/contract.md#results): an app is updated only when every requested
 * country was fetched and accepted; otherwise it fails with the countries that
 * did not make it. Only failures are stored, so a large clean batch costs
 * little memory.
 */
export class BatchReport {
  private readonly failures = new Map<number, { countries: Set<string>; reasons: Set<FailureReason> }>();

  constructor(
    private readonly appIds: readonly number[],
    /** Told of each failed pair and why (task progress, the pairs metric). */
    private readonly onFailure: (reason: FailureReason) => void = () => undefined,
  ) {}

  /** One pair failed for good; each pair fails at most once. */
  fail(appId: number, country: string, reason: FailureReason): void {
    this.onFailure(reason);
    let failure = this.failures.get(appId);
    if (!failure) this.failures.set(appId, (failure = { countries: new Set(), reasons: new Set() }));
    failure.countries.add(country);
    failure.reasons.add(reason);
  }

  /** Every requested app in exactly one list, both sorted ascending. */
  result(): BatchResult {
    const updated = this.appIds.filter((appId) => !this.failures.has(appId)).sort((a, b) => a - b);
    const failed = [...this.failures]
      .sort(([a], [b]) => a - b)
      .map(([appId, { countries, reasons }]) => ({
        appId,
        countries: [...countries].sort(),
        reason: REASON_PRECEDENCE.find((reason) => reasons.has(reason))!,
      }));
    return { updated, failed };
  }
}
