/**
 * Token usage read from bytes that pass through, without parsing the whole answer: the `"usage"` object nearest the
 * start or the end of a text (an answer's JSON body, the first or last kilobytes of an SSE stream) is cut out by
 * brace matching and parsed alone. Relays use it so a passthrough answer is never parsed only to count tokens; and
 * whether a chunk of a relayed stream carries a generated token (its time to first token), by one pattern; and the
 * code of an in-band error at a stream's end.
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

/**
 * A generated token in relayed SSE text: a non-empty `content`, `reasoning_content` or `reasoning` delta or
 * `tool_calls` (OpenAI chunks), or a `text_delta`, `thinking_delta` or `input_json_delta` (Anthropic events). A role
 * chunk (`"content":""`) or `message_start` carries none.
 */
const TOKEN_PATTERN =
  /"(?:content|reasoning_content|reasoning)"\s*:\s*"[^"]|"tool_calls"\s*:\s*\[|"type"\s*:\s*"(?:text|thinking|input_json)_delta"/;

/** Whether `text` (a chunk of a relayed stream) carries a generated token (see {@link TOKEN_PATTERN}). */
export function carriesToken(text: string): boolean {
  return TOKEN_PATTERN.test(text);
}

/**
 * The code of an in-band error in relayed SSE text (the end of a stream): the first `"error": {…}` object — OpenAI's
 * `data: {"error":{…}}`, Anthropic's `event: error` payload —, its `code`, else its `type`, else `upstream_error`.
 * A quoted `"error"` inside a string value is escaped (`\"error\"`) and never matches.
 * @returns undefined when the text carries no error object.
 */
export function inBandErrorCode(text: string): string | undefined {
  const needle = '"error"';
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) {
    let i = at + needle.length;
    while (text[i] === " " || text[i] === "\t") i++;
    if (text[i] !== ":") continue;
    i++;
    while (text[i] === " " || text[i] === "\t") i++;
    if (text[i] !== "{") continue;
    const end = matchingBrace(text, i);
    if (end === -1) return "upstream_error";
    try {
      const error = JSON.parse(text.slice(i, end + 1)) as { code?: unknown; type?: unknown };
      const code = error.code ?? error.type;
      return typeof code === "string" || typeof code === "number" ? String(code) : "upstream_error";
    } catch {
      return "upstream_error";
    }
  }
  return undefined;
}

/**
 * Whether the end of a relayed stream (`tail`) is the end of a whole answer: OpenAI's `data: [DONE]`, Anthropic's
 * `message_stop` event. A client that stops reading there (the openai SDK cancels the body on `[DONE]`) got it all.
 */
export function streamFinished(tail: string, dialect: "openai" | "anthropic"): boolean {
  return dialect === "openai" ? /data: ?\[DONE\]\s*$/.test(tail) : /"type"\s*:\s*"message_stop"/.test(tail);
}
