/**
 * Token usage read from bytes that pass through, without parsing the whole answer: the `"usage"` object nearest the
 * start or the end of a text (an answer's JSON body, the first or last kilobytes of an SSE stream) is cut out by
 * brace matching and parsed alone. Relays use it so a passthrough answer is never parsed only to count tokens.
 */

/**
 * The JSON object that follows `"<key>":` nearest the start (`from: "first"`) or end (`"last"`) of `text`.
 * @returns the parsed object, or undefined when the key is absent, its value is not an object, or it is cut off.
 */
export function scanJsonObject(text: string, key: string, from: "first" | "last"): Record<string, unknown> | undefined {
  const needle = `"${key}"`;
  const at = from === "first" ? text.indexOf(needle) : text.lastIndexOf(needle);
  if (at === -1) return undefined;
  let i = at + needle.length;
  while (i < text.length && (text[i] === " " || text[i] === ":" || text[i] === "\n" || text[i] === "\t")) i++;
  if (text[i] !== "{") return undefined;
  const end = matchingBrace(text, i);
  if (end === -1) return undefined;
  try {
    const value: unknown = JSON.parse(text.slice(i, end + 1));
    return value !== null && typeof value === "object" ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Index of the `}` closing the `{` at `start`, skipping strings; -1 when the text ends first. */
function matchingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return i;
  }
  return -1;
}
