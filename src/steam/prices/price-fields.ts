/**
 * Tolerant readers of the fields Steam's price answers carry: a field that is
 * missing or of another type reads as `undefined`, and the caller decides
 * whether a default applies or the entry is garbled.
 */

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A non-negative integer amount, sent as a number or (GetItems) as a string of digits. */
export function readAmount(value: unknown): number | undefined {
  const amount = typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value;
  return typeof amount === 'number' && Number.isSafeInteger(amount) && amount >= 0 ? amount : undefined;
}

/** A discount in percent, 0..100. */
export function readPercent(value: unknown): number | undefined {
  const percent = readAmount(value);
  return percent !== undefined && percent <= 100 ? percent : undefined;
}

export function readText(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** Steam's answer for an app that does not exist or is not sold in the country. */
export const NOT_AVAILABLE = { available: false, isFree: false, price: null } as const;
