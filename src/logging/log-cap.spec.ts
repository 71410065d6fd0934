import { describe, expect, it } from 'vitest';

import { capStrings, capText, MAX_LOGGED_CHARS } from './log-cap';

const ONE_MIB = 1024 * 1024;

describe(capText.name, () => {
  it('leaves a string of the cap or less as it is', () => {
    const text = 'x'.repeat(MAX_LOGGED_CHARS);
    expect(capText(text)).toBe(text);
  });

  it('keeps the start of a longer string within the cap and says how much it left out', () => {
    const capped = capText('a'.repeat(100) + 'b'.repeat(ONE_MIB));
    expect(capped.length).toBeLessThanOrEqual(MAX_LOGGED_CHARS);
    expect(capped.startsWith('a'.repeat(100) + 'b')).toBe(true);
    const [, dropped] = /… \[truncated (\d+) chars\]$/.exec(capped) ?? [];
    expect(capped.length - `… [truncated ${dropped} chars]`.length + Number(dropped)).toBe(100 + ONE_MIB);
  });

  it('changes nothing when applied twice', () => {
    const once = capText('x'.repeat(ONE_MIB));
    expect(capText(once)).toBe(once);
  });

  it('never cuts an emoji in half', () => {
    for (const prefix of ['', 'x']) {
      const capped = capText(prefix + '😀'.repeat(ONE_MIB / 2));
      const loneHighSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/;
      expect(capped).not.toMatch(loneHighSurrogate);
    }
  });
});

describe(capStrings.name, () => {
  it('caps the strings of plain objects and arrays at any depth, in a copy', () => {
    const original = { detail: 'z'.repeat(ONE_MIB), nested: { list: ['y'.repeat(ONE_MIB), 3] }, count: 2 };
    const capped = capStrings(original) as typeof original;
    expect(capped.detail.length).toBeLessThanOrEqual(MAX_LOGGED_CHARS);
    expect(capped.nested.list[0]!.toString().length).toBeLessThanOrEqual(MAX_LOGGED_CHARS);
    expect(capped.nested.list[1]).toBe(3);
    expect(capped.count).toBe(2);
    expect(original.detail).toHaveLength(ONE_MIB);
  });

  it('leaves class instances (errors, dates) to their serializers', () => {
    const error = new Error('e'.repeat(ONE_MIB));
    expect((capStrings({ err: error }) as { err: unknown }).err).toBe(error);
  });
});
