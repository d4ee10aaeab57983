/**
 * Helpers for finding textual markers (`<think>`, `<tool_call>`, ...) in a stream that arrives in arbitrary pieces.
 * A parser keeps a carry buffer: text that might be the start of a marker is held back until the next piece shows
 * whether it is one, and released as ordinary text as soon as it cannot be.
 */

/**
 * Length of the longest suffix of `text` that is a proper prefix of `marker` (0 when none): the part of `text` that
 * must be held back because the next piece could complete it into `marker`.
 * @example partialMarkerLength("abc <th", "<think>") === 3
 */
export function partialMarkerLength(text: string, marker: string): number {
  const max = Math.min(text.length, marker.length - 1);
  for (let n = max; n > 0; n--) {
    if (text.endsWith(marker.slice(0, n))) return n;
  }
  return 0;
}

/** Index of the first character of the run of characters matching `re` (one character) that ends `text`. */
export function trailingRunStart(text: string, end: number, re: RegExp): number {
  let i = end;
  while (i > 0 && re.test(text[i - 1]!)) i--;
  return i;
}

/** `text` without its leading characters matching `re` (one character). */
export function stripLeading(text: string, re: RegExp): string {
  let i = 0;
  while (i < text.length && re.test(text[i]!)) i++;
  return i ? text.slice(i) : text;
}

/** One whitespace character (as JavaScript `\s`). */
export const WHITESPACE = /\s/;
/** A line feed. */
export const NEWLINE = /\n/;
