/**
 * The engine's output parser: generated text in, OpenAI message deltas out (`reasoning_content`, `content`,
 * `tool_calls`). It chains the reasoning splitter (`reasoning.ts`) and, on the content only, the tool-call extractor
 * (`tool-calls.ts`); tool calls written inside the reasoning are not parsed.
 *
 * The format is inferred from the chat template as mlx-lm does (`tokenizer_utils._infer_tool_parser`: a template
 * writing `<tool_call>\n<function=` is Qwen3-Coder XML, one writing `<tool_call>` Hermes JSON; thinking markers as
 * `_infer_thinking`). Usage, per generated piece after stop-string handling:
 *
 * ```ts
 * const parser = new OutputParser(detectOutputFormat(template.source), { startInReasoning, tools: params.tools });
 * for (const d of parser.push(text)) send(d);
 * for (const d of parser.flush()) send(d); // at the end; parser.toolCallCount > 0 → finish_reason "tool_calls"
 * ```
 */
import type { OutputDelta } from "../worker-messages.ts";
import { appendAll } from "./deltas.ts";
import { ReasoningParser, type ReasoningMarkers } from "./reasoning.ts";
import { ToolCallParser, TOOL_CALL_START, type ToolCallFormat } from "./tool-calls.ts";

export type { ReasoningMarkers } from "./reasoning.ts";
export type { ToolCallFormat } from "./tool-calls.ts";

/** What a model writes around its answer. */
export interface OutputFormat {
  /** Thinking markers; absent: the model does not reason in text. */
  reasoning?: ReasoningMarkers;
  /** Tool-call body format; absent: the template has no tool calling we parse. */
  toolCalls?: ToolCallFormat;
}

/** Thinking markers looked for in templates, in order (mlx-lm `_infer_thinking`'s single-token pairs). */
const THINK_MARKERS: ReasoningMarkers[] = [
  { start: "<think>", end: "</think>" },
  { start: "<longcat_think>", end: "</longcat_think>" },
  { start: "<|think:start|>", end: "<|think:end|>" },
];

/**
 * Infers the output format from the chat template source: reasoning when it writes a known thinking marker pair
 * (`<think>` … `</think>`: Qwen3, QwQ, DeepSeek-R1 distills); Qwen3-Coder tool calls when it writes
 * `<tool_call>` followed by `<function=` (directly or across a newline, literal or `\n`-escaped in the template
 * string), Hermes when it writes `<tool_call>` otherwise.
 */
export function detectOutputFormat(chatTemplateSource: string): OutputFormat {
  const format: OutputFormat = {};
  const src = chatTemplateSource;
  const reasoning = THINK_MARKERS.find((m) => src.includes(m.start) && src.includes(m.end));
  if (reasoning) format.reasoning = { ...reasoning };
  if (src.includes(TOOL_CALL_START)) {
    format.toolCalls = /<tool_call>(\\n|\s)*<function=/.test(src) ? "qwen3_coder" : "hermes";
  }
  return format;
}

/**
 * Whether the rendered prompt leaves the model inside a reasoning block: it ends (trailing whitespace aside) with the
 * start marker, as Qwen3 thinking-only templates (`<|im_start|>assistant\n<think>\n`) and DeepSeek-R1 do. A prompt
 * ending in a closed block (`<think>\n\n</think>\n\n`, Qwen3 with `enable_thinking: false`) does not.
 */
export function promptOpensReasoning(renderedPrompt: string, format: OutputFormat): boolean {
  return !!format.reasoning && renderedPrompt.trimEnd().endsWith(format.reasoning.start);
}

export interface OutputParserOptions {
  /** The prompt already opened the reasoning block (see {@link promptOpensReasoning}). */
  startInReasoning?: boolean;
  /** The request's OpenAI `tools`; tool calls are parsed only when there is at least one. */
  tools?: unknown[];
}

export class OutputParser {
  readonly #reasoning?: ReasoningParser;
  readonly #tools?: ToolCallParser;

  constructor(format: OutputFormat, opts: OutputParserOptions = {}) {
    if (format.reasoning) {
      this.#reasoning = new ReasoningParser(format.reasoning, { startInReasoning: opts.startInReasoning });
    }
    if (format.toolCalls && opts.tools?.length) this.#tools = new ToolCallParser(format.toolCalls, opts.tools);
  }

  /** Tool calls emitted so far. */
  get toolCallCount(): number {
    return this.#tools?.toolCallCount ?? 0;
  }

  /** Feeds the next piece of generated text; returns the deltas it completes (possibly none, never empty ones). */
  push(text: string): OutputDelta[] {
    if (!text) return [];
    return this.#toolStage(this.#reasoning ? this.#reasoning.push(text) : [{ content: text }], false);
  }

  /** Releases everything still held back; call once, at the end of generation. */
  flush(): OutputDelta[] {
    return this.#toolStage(this.#reasoning?.flush() ?? [], true);
  }

  /** Passes the content deltas through the tool-call parser (when on), keeping the order of all deltas. */
  #toolStage(deltas: OutputDelta[], end: boolean): OutputDelta[] {
    const out: OutputDelta[] = [];
    for (const d of deltas) {
      if (d.content === undefined || !this.#tools) appendAll(out, [d]);
      else appendAll(out, this.#tools.push(d.content));
    }
    if (end && this.#tools) appendAll(out, this.#tools.flush());
    return out;
  }
}

/**
 * Capability flags a model with this output format publishes in the catalog and contract: `tools` when its template
 * teaches a tool-call syntax Ithaca parses, `thinking` when it has reasoning markers.
 */
export function outputCapabilities(format: OutputFormat): string[] {
  return [...(format.toolCalls ? ["tools"] : []), ...(format.reasoning ? ["thinking"] : [])];
}
