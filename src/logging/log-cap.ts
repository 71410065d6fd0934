/** A log line holds at most this much of any one string (docs/contract.md#logs: 8 KiB). */
export const MAX_LOGGED_CHARS = 8192;

/** Room kept for the marker, `… [truncated <up to 16 digits> chars]`. */
const MARKER_ROOM = 40;

/** How deep {@link capStrings} looks into objects; what lies deeper is left to the line's size. */
const MAX_DEPTH = 6;

/**
 * Cuts `text` to at most `max` characters (8 KiB unless told), marker
 * included, and says how much was left out. Messages quote what tasks carry
 * (an unknown pattern may be megabytes), and one such line must not flood the
 * log pipeline. The marker fits inside the cap so that capping twice changes
 * nothing.
 */
export function capText(text: string, max = MAX_LOGGED_CHARS): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - MARKER_ROOM);
  // Never split a surrogate pair: half an emoji would print as an escape.
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}… [truncated ${text.length - end} chars]`;
}

/**
 * `value` with every string in it capped by {@link capText}: plain objects and
 * arrays are copied (never changed in place), anything else is kept as it is.
 */
export function capStrings(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return capText(value);
  if (depth >= MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => capStrings(item, depth + 1));
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return value;
  const capped: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) capped[key] = capStrings(item, depth + 1);
  return capped;
}
