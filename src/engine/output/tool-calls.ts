/**
 * Extracts tool calls from a model's streamed content and turns them into OpenAI `tool_calls`.
 *
 * Calls are wrapped in `<tool_call>` … `</tool_call>` in both supported formats; the body is either a Hermes JSON
 * object (Qwen2.5, Qwen3, NousHermes: see `hermes.ts`) or a Qwen3-Coder `<function=…>` XML block (see
 * `qwen3-coder.ts`). The body is read by its shape, so a model that answers in the other format than its template
 * announces is still understood. This follows vLLM's `hermes` / `qwen3_coder` tool parsers and mlx-lm's server,
 * which also cut the text at these tags.
 *
 * Rules (whichever pieces the text arrives in, the result is the same):
 * - Each call is emitted complete, in one delta, when its closing tag arrives: `index` 0, 1, 2… in order of
 *   appearance over the whole answer (parallel calls), `id` `call_` + 24 random alphanumerics, `arguments` a compact
 *   JSON object string.
 * - Text before, between and after calls stays content; whitespace directly before `<tool_call>` and directly after
 *   `</tool_call>` is dropped (Qwen puts newlines there), so an answer made of calls only has no content.
 * - A block that does not parse (bad JSON, unknown structure) is released as content, tags and surrounding
 *   whitespace included: nothing is dropped. At the end of generation an unclosed block is a call if its body is
 *   complete (the model stopped right after it), else content (cut by `max_tokens`).
 * - A tag split across pieces is held back; text that only starts like `<tool_call>` is released once it cannot be
 *   one.
 */
import type { OutputDelta, ToolCallDelta } from "../worker-messages.ts";
import { appendText, appendToolCalls } from "./deltas.ts";
import { parseHermesCalls, type ParsedToolCall } from "./hermes.ts";
import { WHITESPACE, partialMarkerLength, stripLeading, trailingRunStart } from "./markers.ts";
import { parseQwen3CoderCalls } from "./qwen3-coder.ts";

/** Which body format the model's template announces. Both are accepted; this names the expected one. */
export type ToolCallFormat = "hermes" | "qwen3_coder";

export const TOOL_CALL_START = "<tool_call>";
export const TOOL_CALL_END = "</tool_call>";

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A fresh OpenAI-style tool call id: `call_` and 24 random alphanumerics. */
export function newToolCallId(): string {
  let id = "call_";
  while (id.length < 29) {
    for (const b of crypto.getRandomValues(new Uint8Array(32))) {
      if (b < 248 && id.length < 29) id += ALNUM[b % 62];
    }
  }
  return id;
}

/**
 * Parses one block's body (the text between the tags).
 * @param closed whether `</tool_call>` was seen (an XML block may then lack `</function>`)
 */
export function parseToolCallBody(
  body: string,
  tools: readonly unknown[],
  closed = true,
): ParsedToolCall[] | undefined {
  const text = body.trim();
  if (text.startsWith("{") || text.startsWith("[")) return parseHermesCalls(text);
  if (text.startsWith("<function=")) return parseQwen3CoderCalls(text, tools, !closed);
  return undefined;
}

export class ToolCallParser {
  readonly format: ToolCallFormat;
  readonly #tools: readonly unknown[];
  #count = 0;
  #inCall = false;
  /** Received text not yet emitted: a possible tag and the whitespace before it, or the body of an open call. */
  #buf = "";
  /** The whitespace that preceded the open call's `<tool_call>` (given back if the call does not parse). */
  #wsBefore = "";
  /** Drop whitespace at the beginning of what comes next (just after a call). */
  #stripWhitespace = false;

  /** @param tools the request's OpenAI `tools` (parameter types for Qwen3-Coder values) */
  constructor(format: ToolCallFormat, tools: readonly unknown[] = []) {
    this.format = format;
    this.#tools = tools;
  }

  /** Tool calls emitted so far (the engine then reports `finish_reason: "tool_calls"`). */
  get toolCallCount(): number {
    return this.#count;
  }

  /** Feeds the next piece of content; returns the deltas it completes (possibly none). */
  push(text: string): OutputDelta[] {
    this.#buf += text;
    const out: OutputDelta[] = [];
    this.#drain(out);
    return out;
  }

  /** Releases everything still held back (end of generation). */
  flush(): OutputDelta[] {
    const out: OutputDelta[] = [];
    if (this.#inCall) this.#closeCall(out, this.#buf, false);
    else appendText(out, "content", this.#buf);
    this.#buf = "";
    this.#inCall = false;
    return out;
  }

  #drain(out: OutputDelta[]): void {
    for (;;) {
      if (this.#inCall) {
        const end = this.#buf.indexOf(TOOL_CALL_END);
        if (end < 0) return;
        this.#closeCall(out, this.#buf.slice(0, end), true);
        this.#buf = this.#buf.slice(end + TOOL_CALL_END.length);
        this.#inCall = false;
        continue;
      }
      if (this.#stripWhitespace) {
        this.#buf = stripLeading(this.#buf, WHITESPACE);
        if (!this.#buf) return;
        this.#stripWhitespace = false;
      }
      const start = this.#buf.indexOf(TOOL_CALL_START);
      if (start >= 0) {
        const wsStart = trailingRunStart(this.#buf, start, WHITESPACE);
        appendText(out, "content", this.#buf.slice(0, wsStart));
        this.#wsBefore = this.#buf.slice(wsStart, start);
        this.#buf = this.#buf.slice(start + TOOL_CALL_START.length);
        this.#inCall = true;
        continue;
      }
      const hold = partialMarkerLength(this.#buf, TOOL_CALL_START);
      const cut = trailingRunStart(this.#buf, this.#buf.length - hold, WHITESPACE);
      appendText(out, "content", this.#buf.slice(0, cut));
      this.#buf = this.#buf.slice(cut);
      return;
    }
  }

  /** Emits the block with body `body` as tool calls, or as content when it does not parse. */
  #closeCall(out: OutputDelta[], body: string, closed: boolean): void {
    const calls = parseToolCallBody(body, this.#tools, closed);
    if (!calls) {
      appendText(out, "content", this.#wsBefore + TOOL_CALL_START + body + (closed ? TOOL_CALL_END : ""));
      this.#wsBefore = "";
      return;
    }
    const deltas: ToolCallDelta[] = calls.map((c) => ({
      index: this.#count++,
      id: newToolCallId(),
      type: "function",
      function: { name: c.name, arguments: c.arguments },
    }));
    appendToolCalls(out, deltas);
    this.#wsBefore = "";
    this.#stripWhitespace = true;
  }
}
