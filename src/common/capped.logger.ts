import { ConsoleLogger, LogLevel } from '@nestjs/common';

/** A log line holds at most this much of any one string (docs/contract.md#logs: 8 KiB). */
export const MAX_LOGGED_CHARS = 8192;

/** Room kept for the marker, `… [truncated <up to 16 digits> chars]`. */
const MARKER_ROOM = 40;

/**
 * Cuts `text` to at most {@link MAX_LOGGED_CHARS}, marker included, and says
 * how much was left out. Messages quote what tasks carry (an unknown pattern
 * may be megabytes), and one such line must not flood the log pipeline. The
 * marker fits inside the cap so that capping twice changes nothing.
 */
export function capText(text: string): string {
  if (text.length <= MAX_LOGGED_CHARS) return text;
  let end = MAX_LOGGED_CHARS - MARKER_ROOM;
  // Never split a surrogate pair: half an emoji would print as an escape.
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}… [truncated ${text.length - end} chars]`;
}

const capString = (value: unknown): unknown => (typeof value === 'string' ? capText(value) : value);

/**
 * Nest's ConsoleLogger with every string capped before it is printed, at
 * every level: each level method ends in `printMessages`, and in JSON mode
 * every value of the record (an error's message and stack, params) goes
 * through `stringifyReplacer`.
 */
export class CappedLogger extends ConsoleLogger {
  protected override printMessages(
    messages: unknown[],
    context?: string,
    logLevel?: LogLevel,
    writeStreamType?: 'stdout' | 'stderr',
    errorStack?: unknown,
    params?: Record<string, unknown>,
  ): void {
    // Lazy messages (functions) are resolved here, so that what they return is capped too.
    const capped = messages.map((message) => capString(this.resolveMessage(message)));
    super.printMessages(capped, context, logLevel, writeStreamType, capString(errorStack), params);
  }

  protected override stringifyReplacer(key: string, value: unknown): unknown {
    return capString(super.stringifyReplacer(key, value));
  }
}
