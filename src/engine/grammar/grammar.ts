/**
 * The grammar a constrained request decodes under, written in llguidance's Lark dialect (guidance-ai/llguidance
 * `docs/syntax.md`): JSON schemas are embedded with `%json {…}` and compiled by llguidance itself, so this file only
 * frames them — the answer's JSON, or the model's own tool-call syntax around each tool's parameters schema.
 *
 * - `json_object` / `json_schema`: `start: %json SCHEMA` (`{"type": "object"}` for `json_object`).
 * - `tool_call`: one call (a named function, or any of the request's tools), or one or more calls separated by a
 *   newline when `parallel`, in the syntax the chat template teaches (see `../output/`):
 *   - Hermes: `<tool_call>\n{"name": "NAME", "arguments": ARGS}\n</tool_call>`, ARGS under the parameters schema;
 *   - Qwen3-Coder: `<tool_call>\n<function=NAME>\n<parameter=KEY>\nVALUE\n</parameter>\n…</function>\n</tool_call>`,
 *     one block per declared property (required ones always, in declaration order; optional ones may be left out).
 *     A string VALUE is raw text (an `enum`/`const` string is one of its values; otherwise any text, at most
 *     `maxLength` characters when given) and ends at the first `\n</parameter>`, as the parser reads it; any other
 *     VALUE is JSON under the property's schema (with the root's `$defs`/`definitions`, so `$ref`s resolve).
 * - A prompt that opens the reasoning block (`<think>` at the end of the prompt) lets the model think first: free
 *   text up to the end marker, an optional blank line, then the constrained answer.
 *
 * JSON is written compactly with `", "` and `": "` separators (llguidance `x-guidance` options, unless the schema
 * sets its own): no run of free whitespace, which a small model may otherwise repeat until `max_tokens`.
 */
import type { OutputFormat } from "../output/parser.ts";
import { isPlainObject } from "../output/hermes.ts";
import type { GrammarSpec } from "../worker-messages.ts";

type Schema = Record<string, unknown>;

/** A structured output the engine cannot enforce for this request (a 400 naming `param`). */
export class GrammarRequestError extends Error {
  /** The request field at fault: `response_format`, `tool_choice` or `tools`. */
  readonly param: string;
  constructor(message: string, param: string) {
    super(message);
    this.param = param;
  }
}

const JSON_STYLE = { whitespace_flexible: false, item_separator: ", ", key_separator: ": " };

/** A Lark string literal for `text` (Lark strings take JSON's escapes). */
const literal = (text: string) => JSON.stringify(text);

/** `%json` of `schema`, in the compact style unless the schema brings its own `x-guidance` options. */
const json = (schema: Schema) => `%json ${JSON.stringify({ "x-guidance": JSON_STYLE, ...schema })}`;

/** A tool of the request: its name and parameters schema (OpenAI nested `function`, or flat). */
interface ToolSpec {
  name: string;
  parameters: Schema;
}

function toolSpecs(tools: readonly unknown[]): ToolSpec[] {
  const out: ToolSpec[] = [];
  for (const tool of tools) {
    if (!isPlainObject(tool)) continue;
    const fn = isPlainObject(tool.function) ? tool.function : tool;
    if (typeof fn.name !== "string") continue;
    const parameters = isPlainObject(fn.parameters) ? fn.parameters : { type: "object", properties: {} };
    out.push({ name: fn.name, parameters });
  }
  return out;
}

/** Hermes: the call's JSON object, `arguments` under the parameters schema. */
function hermesCall(tool: ToolSpec): string {
  const head = `<tool_call>\n{"name": ${JSON.stringify(tool.name)}, "arguments": `;
  return `${literal(head)} ${json(tool.parameters)} ${literal("}\n</tool_call>")}`;
}

/** Qwen3-Coder: one `<parameter=…>` block per property; returns the call expression and the rules it needs. */
function qwen3CoderCall(tool: ToolSpec, prefix: string): { expr: string; rules: string[] } {
  const rules: string[] = [];
  const properties = isPlainObject(tool.parameters.properties) ? tool.parameters.properties : {};
  const required = new Set(Array.isArray(tool.parameters.required) ? tool.parameters.required : []);
  const defs = Object.fromEntries(
    (["$defs", "definitions"] as const).flatMap((k) => (tool.parameters[k] ? [[k, tool.parameters[k]]] : [])),
  );
  const blocks = Object.entries(properties).map(([key, value], i) => {
    const schema = isPlainObject(value) ? value : {};
    const rule = `${prefix}_v${i}`;
    rules.push(`${rule}${valueRule(schema, defs)}`);
    const block = `${literal(`<parameter=${key}>\n`)} ${rule} ${literal("\n</parameter>\n")}`;
    return required.has(key) ? block : `(${block})?`;
  });
  const head = literal(`<tool_call>\n<function=${tool.name}>\n`);
  return { expr: [head, ...blocks, literal("</function>\n</tool_call>")].join(" "), rules };
}

/** The rule body (after the rule name) of one Qwen3-Coder parameter value. */
function valueRule(schema: Schema, defs: Schema): string {
  const choices = schema.enum ?? ("const" in schema ? [schema.const] : undefined);
  const strings = Array.isArray(choices) && choices.every((c) => typeof c === "string");
  if (strings && (choices as string[]).length > 0) return `: ${(choices as string[]).map(literal).join(" | ")}`;
  if (schema.type === "string") {
    const max = typeof schema.maxLength === "number" ? String(schema.maxLength) : "";
    return `[lazy]: /(?s:.{0,${max}})/`;
  }
  return `: ${json({ ...defs, ...schema })}`;
}

/** The grammar of a forced tool call. */
function toolCallGrammar(spec: Extract<GrammarSpec, { type: "tool_call" }>, tools: ToolSpec[], format?: string) {
  if (format !== "hermes" && format !== "qwen3_coder") {
    throw new GrammarRequestError(
      "this model's chat template has no tool-call syntax, so a tool call cannot be forced",
      "tool_choice",
    );
  }
  const chosen = spec.name === undefined ? tools : tools.filter((t) => t.name === spec.name);
  if (chosen.length === 0) {
    throw new GrammarRequestError(
      spec.name === undefined ? "tool_choice forces a tool call but no tool is given" : `no tool named '${spec.name}'`,
      "tool_choice",
    );
  }
  const rules: string[] = [];
  const calls = chosen.map((tool, i) => {
    if (format === "hermes") return hermesCall(tool);
    const call = qwen3CoderCall(tool, `call${i}`);
    rules.push(...call.rules);
    return call.expr;
  });
  const many = spec.name === undefined && spec.parallel;
  return [`answer: call${many ? ` (${literal("\n")} call)*` : ""}`, `call: ${calls.join("\n    | ")}`, ...rules];
}

/**
 * Writes the Lark grammar of a constrained request.
 * @param spec what the request asks for (from `response_format` / `tool_choice`)
 * @param format the model's output format (tool-call syntax, reasoning markers)
 * @param tools the request's OpenAI `tools` (for `tool_call`)
 * @param startInReasoning the prompt ends inside the reasoning block
 * @throws GrammarRequestError when a tool call is forced on a model without tool-call syntax, or names no tool
 */
export function larkGrammar(
  spec: GrammarSpec,
  format: OutputFormat,
  tools: readonly unknown[] | undefined,
  startInReasoning: boolean,
): string {
  const answer =
    spec.type === "tool_call"
      ? toolCallGrammar(spec, toolSpecs(tools ?? []), format.toolCalls)
      : [`answer: ${json(spec.type === "json_object" ? { type: "object" } : spec.schema)}`];
  const end = format.reasoning?.end;
  const start =
    startInReasoning && end
      ? [`start: think ${literal(end)} (${literal("\n\n")})? answer`, "think[lazy]: /(?s:.*)/"]
      : ["start: answer"];
  return [...start, ...answer].join("\n");
}
