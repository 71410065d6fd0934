import { createHash } from 'node:crypto';

/**
 * What the `shape` key holds for a batch of these (sorted, de-duplicated)
 * lists. Apart from the store (no Nest), for the CLI, which counts a task's accepted pairs only
 * when the shape is its own.
 */
export function batchFingerprint(
  appIds: readonly number[],
  countries: readonly string[],
  pushes: 'details' | 'prices' = 'details',
): string {
  // Details keep the fingerprint they always had, so that state written before prices existed still resumes.
  const shape = pushes === 'details' ? [appIds, countries] : [appIds, countries, pushes];
  return createHash('sha256').update(JSON.stringify(shape)).digest('base64url');
}
