/**
 * The Hermes tool-call body: a JSON object `{"name": NAME, "arguments": {...}}` between `<tool_call>` and
 * `</tool_call>`, one call per block, as NousResearch's Hermes 2 Pro format defines it and Qwen2.5 / Qwen3 chat
 * templates ask for ("For each function call, return a json object with function name and arguments within
 * <tool_call></tool_call> XML tags"). vLLM's `hermes` tool parser and mlx-lm's `json_tools` parser read the same.
 */

/** A parsed call: the function name and its arguments as a compact JSON object string. */
export interface ParsedToolCall {
  name: string;
  arguments: string;
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Parses the text between the tool-call tags.
 *
 * Accepted: an object with a non-empty string `name` and `arguments` given as an object, as a string holding a JSON
 * object (some fine-tunes double-encode), or absent (no arguments); `parameters` is read when `arguments` is absent
 * (Llama-style JSON calls); an array of such objects is several calls (mlx-lm accepts a list too).
 * @returns the calls, or `undefined` when the body is not such JSON (the caller then keeps the text as content).
 */
export function parseHermesCalls(body: string): ParsedToolCall[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  const items = Array.isArray(value) ? value : [value];
  if (!items.length) return undefined;
  const calls: ParsedToolCall[] = [];
  for (const item of items) {
    if (!isPlainObject(item) || typeof item.name !== "string" || !item.name) return undefined;
    let args = item.arguments ?? item.parameters ?? {};
    if (typeof args === "string") {
      try {
        args = JSON.parse(args);
      } catch {
        return undefined;
      }
    }
    if (!isPlainObject(args)) return undefined;
    calls.push({ name: item.name, arguments: JSON.stringify(args) });
  }
  return calls;
}
