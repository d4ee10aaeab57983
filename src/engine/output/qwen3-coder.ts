/**
 * The Qwen3-Coder XML tool-call body, as the Qwen3-Coder chat template asks for it:
 *
 * ```
 * <tool_call>
 * <function=NAME>
 * <parameter=P1>
 * VALUE
 * </parameter>
 * ...
 * </function>
 * </tool_call>
 * ```
 *
 * Values are text; they are converted with the JSON-schema `type` the request declared for that parameter, following
 * Qwen's `qwen3coder_tool_parser.py` (published with Qwen3-Coder; vLLM `qwen3_coder`, mlx-lm
 * `tool_parsers/qwen3_coder.py`): `null` → null; undeclared parameter → string; string-like types → string;
 * `int*`/`uint*`/`long*`/`short*`/`unsigned*` → integer; `num*`/`float*` → number; `bool*`/`binary` → boolean;
 * anything else (object, array, dict, list, ...) → the JSON value; no `type` → a JSON object/array when the text is
 * one. A value that does not convert stays a string (as Qwen's parser does; mlx-lm would drop the whole call).
 * Python `ast.literal_eval` fallbacks (single-quoted dicts, `True`) are not reproduced: such values stay strings.
 */
import { isPlainObject, type ParsedToolCall } from "./hermes.ts";

const FUNCTION_OPEN = "<function=";
const FUNCTION_CLOSE = "</function>";
const PARAMETER = /<parameter=([\s\S]*?)<\/parameter>/g;
/** A name after `<function=` / `<parameter=`, optionally closed by `>` (as mlx-lm's `_name_regex`). */
const NAME = /^\s*([^\s<>]+)>?/;

const STRING_TYPES = new Set(["string", "str", "text", "varchar", "char", "enum"]);
const BOOL_TYPES = new Set(["boolean", "bool", "binary"]);

/** The `properties` of the parameters schema of tool `name` among the request's OpenAI `tools`. */
function parameterSchemas(name: string, tools: readonly unknown[]): Record<string, unknown> {
  for (const tool of tools) {
    if (!isPlainObject(tool)) continue;
    const fn = isPlainObject(tool.function) ? tool.function : tool;
    if (fn.name !== name) continue;
    const params = isPlainObject(fn.parameters) ? fn.parameters : {};
    return isPlainObject(params.properties) ? params.properties : {};
  }
  return {};
}

/**
 * `JSON.parse` that, like Python's `json.loads(strict=False)`, accepts raw control characters (a literal newline)
 * inside strings.
 * @throws SyntaxError when the text is not JSON even so.
 */
export function parseJsonLenient(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    let out = "";
    let inString = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (inString && c === "\\") {
        out += c + (text[++i] ?? "");
        continue;
      }
      if (c === '"') inString = !inString;
      const code = c.charCodeAt(0);
      out += inString && code < 0x20 ? `\\u${code.toString(16).padStart(4, "0")}` : c;
    }
    if (out === text) throw err;
    return JSON.parse(out);
  }
}

/** A finite number as Python's `float()` reads it, or undefined. */
function toNumber(text: string): number | undefined {
  const t = text.trim();
  if (!t) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** The declared type name, lower-cased; for a union (`["integer", "null"]`) its first non-null member. */
function typeName(type: unknown): string {
  const t = Array.isArray(type) ? (type.find((x) => x !== "null") ?? "null") : type;
  return String(t).trim().toLowerCase();
}

/** Converts one parameter's text with its JSON schema (see the module comment). */
export function convertParameter(value: string, schema: unknown): unknown {
  if (value.toLowerCase() === "null") return null;
  if (!isPlainObject(schema)) return value;
  if (!("type" in schema)) {
    try {
      const v = parseJsonLenient(value);
      return typeof v === "object" && v !== null ? v : value;
    } catch {
      return value;
    }
  }
  const type = typeName(schema.type);
  if (STRING_TYPES.has(type)) return value;
  if (/^(int|uint|long|short|unsigned)/.test(type)) {
    const n = toNumber(value);
    return n !== undefined && Number.isInteger(n) ? n : value;
  }
  if (/^(num|float)/.test(type)) return toNumber(value) ?? value;
  if (BOOL_TYPES.has(type)) return value.toLowerCase() === "true";
  try {
    return parseJsonLenient(value);
  } catch {
    return value;
  }
}

/** The parameters inside one `<function=…>` block, converted with the tool's schema. */
function parseParameters(inner: string, schemas: Record<string, unknown>): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const m of inner.matchAll(PARAMETER)) {
    const text = m[1]!;
    const name = NAME.exec(text);
    if (!name) continue;
    let value = text.slice(name[0].length);
    if (value.startsWith("\n")) value = value.slice(1);
    if (value.endsWith("\n")) value = value.slice(0, -1);
    args[name[1]!] = convertParameter(value, schemas[name[1]!]);
  }
  return args;
}

/**
 * Parses the text between the tool-call tags: one or more `<function=NAME>…</function>` blocks separated by
 * whitespace.
 * @param tools the request's OpenAI `tools` (for the parameter types)
 * @param requireClose when false, a last block without `</function>` is accepted (its `</tool_call>` was seen)
 * @returns the calls, or `undefined` when the body has another shape (the caller keeps it as content).
 */
export function parseQwen3CoderCalls(
  body: string,
  tools: readonly unknown[],
  requireClose = true,
): ParsedToolCall[] | undefined {
  const calls: ParsedToolCall[] = [];
  let rest = body.trim();
  while (rest) {
    if (!rest.startsWith(FUNCTION_OPEN)) return undefined;
    const gt = rest.indexOf(">");
    if (gt < 0) return undefined;
    const name = rest.slice(FUNCTION_OPEN.length, gt).trim();
    if (!/^[^\s<>]+$/.test(name)) return undefined;
    const close = rest.indexOf(FUNCTION_CLOSE, gt);
    if (close < 0 && requireClose) return undefined;
    const inner = close < 0 ? rest.slice(gt + 1) : rest.slice(gt + 1, close);
    rest = close < 0 ? "" : rest.slice(close + FUNCTION_CLOSE.length).trimStart();
    calls.push({ name, arguments: JSON.stringify(parseParameters(inner, parameterSchemas(name, tools))) });
  }
  return calls.length ? calls : undefined;
}
