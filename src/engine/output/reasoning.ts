/**
 * Splits a model's streamed answer into `reasoning_content` (between the thinking markers, `<think>…</think>` for
 * Qwen3, QwQ and DeepSeek-R1) and `content`, as vLLM's `qwen3` / `deepseek_r1` reasoning parsers and mlx-lm's server
 * (`TokenizerWrapper.think_start` / `think_end`) present it.
 *
 * Rules (whichever pieces the text arrives in, the result is the same):
 * - One reasoning block, at the start of the answer: the start marker opens it only when nothing but whitespace
 *   precedes it (that whitespace is dropped). With `startInReasoning` (the rendered prompt already ends with the
 *   start marker, as Qwen3 thinking-only templates and DeepSeek-R1 do) the answer begins inside the block.
 * - The block ends at the first end marker; everything after it is content, markers included (a model quoting
 *   `<think>` in its answer is not hidden). An unclosed block (generation cut by `max_tokens`) stays reasoning.
 * - Newlines directly inside the markers and directly after the end marker are dropped (Qwen3 writes
 *   `<think>\nR\n</think>\n\nC`; this yields reasoning `R` and content `C`). This is exactly what Qwen3's chat
 *   template strips (`reasoning_content.strip('\n')`, `content.lstrip('\n')`) when it renders the turn back, so a
 *   conversation replayed through the template reproduces the model's own text.
 * - In a block the prompt opened, a start marker that begins the answer is text (what the model wrote), unless
 *   `dropRepeatedStart`: then it is dropped (Telemak's `ThinkRepair` writes `<think>` itself for templates that
 *   pre-open it, telemak-companion-wire §2.2).
 * - The concatenation of all deltas is the raw text minus the markers and those newlines: nothing else is lost.
 * - A marker split across pieces (`"<th"`, `"ink>"`) is held back, never leaked as text; text that merely starts
 *   like a marker is released as soon as the next piece shows it is not one.
 */
import type { OutputDelta } from "../worker-messages.ts";
import { appendText } from "./deltas.ts";
import { NEWLINE, WHITESPACE, partialMarkerLength, stripLeading, trailingRunStart } from "./markers.ts";

/** The strings that open and close the model's reasoning. */
export interface ReasoningMarkers {
  start: string;
  end: string;
}

export interface ReasoningOptions {
  /** The prompt already opened the reasoning block: the answer starts inside it. */
  startInReasoning?: boolean;
  /** With `startInReasoning`: a start marker that begins the answer is a marker (dropped), not text. */
  dropRepeatedStart?: boolean;
}

type State = "start" | "reasoning" | "content";

export class ReasoningParser {
  readonly #markers: ReasoningMarkers;
  #state: State;
  /** The prompt opened the block: "start" leads into reasoning, not content. */
  readonly #preOpened: boolean;
  /** Text received but not yet emitted (a possible marker, or newlines that may precede one). */
  #buf = "";
  /** Drop newlines at the beginning of what comes next (just after a marker). */
  #stripNewlines: boolean;

  constructor(markers: ReasoningMarkers, opts: ReasoningOptions = {}) {
    if (!markers.start || !markers.end) throw new Error("reasoning markers must be non-empty");
    this.#markers = markers;
    this.#preOpened = !!opts.startInReasoning;
    this.#state = this.#preOpened && !opts.dropRepeatedStart ? "reasoning" : "start";
    this.#stripNewlines = this.#preOpened;
  }

  /** Whether the parser is inside the reasoning block. */
  get inReasoning(): boolean {
    return this.#state === "reasoning" || (this.#state === "start" && this.#preOpened);
  }

  /** Feeds the next piece of generated text; returns the deltas it completes (possibly none). */
  push(text: string): OutputDelta[] {
    this.#buf += text;
    const out: OutputDelta[] = [];
    this.#drain(out);
    return out;
  }

  /** Releases everything still held back (end of generation). */
  flush(): OutputDelta[] {
    const out: OutputDelta[] = [];
    appendText(out, this.inReasoning ? "reasoning_content" : "content", this.#buf);
    this.#buf = "";
    return out;
  }

  #drain(out: OutputDelta[]): void {
    const { start, end } = this.#markers;
    for (;;) {
      if (this.#stripNewlines) {
        this.#buf = stripLeading(this.#buf, NEWLINE);
        if (!this.#buf) return;
        this.#stripNewlines = false;
      }
      if (this.#state === "start") {
        const rest = stripLeading(this.#buf, WHITESPACE);
        if (rest.startsWith(start)) {
          this.#buf = rest.slice(start.length);
          this.#state = "reasoning";
          this.#stripNewlines = true;
          continue;
        }
        if (start.startsWith(rest)) return; // only whitespace and maybe the beginning of the marker so far
        this.#state = this.#preOpened ? "reasoning" : "content";
        continue;
      }
      if (this.#state === "content") {
        appendText(out, "content", this.#buf);
        this.#buf = "";
        return;
      }
      // reasoning
      const at = this.#buf.indexOf(end);
      if (at >= 0) {
        const reasoning = this.#buf.slice(0, trailingRunStart(this.#buf, at, NEWLINE));
        appendText(out, "reasoning_content", reasoning);
        this.#buf = this.#buf.slice(at + end.length);
        this.#state = "content";
        this.#stripNewlines = true;
        continue;
      }
      const hold = partialMarkerLength(this.#buf, end);
      const cut = trailingRunStart(this.#buf, this.#buf.length - hold, NEWLINE);
      appendText(out, "reasoning_content", this.#buf.slice(0, cut));
      this.#buf = this.#buf.slice(cut);
      return;
    }
  }
}
