/**
 * Grammar-constrained decoding for one sequence, as a logits processor: before each sampling step the tokens the
 * grammar does not allow next get `-inf`. The mask is computed on the CPU by llguidance ({@link fillMask}) while the
 * step's forward pass runs on the MLX stream (the logits are `async_eval`ed first), then added to the logits
 * ({@link apply}); the sampled token advances the grammar ({@link accept}). Once the grammar is complete only the
 * end-of-turn tokens are allowed, so generation ends by EOS.
 *
 * Everything is per sequence (a matcher and two host buffers), so sequences decoding in one batch each keep their own.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type MxArray, ops } from "bun-ffi-mlx-bindings";
import type { OutputFormat } from "../output/parser.ts";
import type { GenerateParams, ModelInfo } from "../worker-messages.ts";
import type { ModelTokenizer } from "../tokenizer.ts";
import { GrammarRequestError, larkGrammar } from "./grammar.ts";
import { GrammarCompileError, LlgMatcher, LlgTokenizer } from "./llguidance.ts";

/** What a constraint needs of the loaded model: its directory and logit width, tokenizer and output syntax. */
export interface ConstrainedModel {
  info: Pick<ModelInfo, "path" | "vocabSize">;
  tokenizer: ModelTokenizer;
  outputFormat: OutputFormat;
}

/** The llguidance vocabulary of each loaded model, built on its first constrained request (it lives as long). */
const vocabularies = new WeakMap<ModelTokenizer, LlgTokenizer>();

function vocabularyOf(m: ConstrainedModel): LlgTokenizer {
  let vocabulary = vocabularies.get(m.tokenizer);
  if (!vocabulary) {
    const json = readFileSync(join(m.info.path, "tokenizer.json"));
    vocabulary = new LlgTokenizer(json, m.info.vocabSize, [...m.tokenizer.eosTokenIds]);
    vocabularies.set(m.tokenizer, vocabulary);
  }
  return vocabulary;
}

export class GrammarConstraint {
  readonly #matcher: LlgMatcher;
  readonly #vocabSize: number;
  /** llguidance's bitmask of the allowed tokens, `ceil(V / 32)` words. */
  readonly #bits: Uint32Array;
  /** The same as an additive mask: 0 (allowed) or `-inf`, `[V]` float32. */
  readonly #additive: Float32Array;
  /** {@link #additive} on the device, `[1, V]` float32; undefined until the first {@link fillMask}. */
  #mask: MxArray | undefined;

  /**
   * Compiles the request's grammar for the model.
   * @param startInReasoning the prompt ends inside the reasoning block (the model may think before the answer)
   * @throws GrammarRequestError when the request cannot be framed for this model (no tool-call syntax, unknown tool)
   *   or llguidance refuses its schema (the message is llguidance's, naming the construct); Error when the
   *   llguidance library or the model's tokenizer cannot be used.
   */
  constructor(m: ConstrainedModel, params: GenerateParams, startInReasoning: boolean) {
    const spec = params.grammar;
    if (!spec) throw new Error("GrammarConstraint needs params.grammar");
    const grammar = larkGrammar(spec, m.outputFormat, params.tools, startInReasoning);
    const vocabulary = vocabularyOf(m);
    try {
      this.#matcher = new LlgMatcher(vocabulary, "lark", grammar);
    } catch (err) {
      if (!(err instanceof GrammarCompileError)) throw err;
      const [param, what] =
        spec.type === "tool_call" ? ["tools", "a tool's parameters schema"] : ["response_format", "the JSON schema"];
      // llguidance's first line names the construct ("at L(C): failed to compile JSON schema: Unimplemented keys:
      // [\"uniqueItems\"]"); the rest shows the generated grammar, which means nothing to the caller.
      const reason = (err.message.split("\n")[0] ?? "").replace(/^at \d+\(\d+\): /, "");
      throw new GrammarRequestError(`${what} cannot be enforced: ${reason}`, param);
    }
    this.#vocabSize = m.info.vocabSize;
    this.#bits = new Uint32Array(this.#matcher.maskWords);
    this.#additive = new Float32Array(this.#vocabSize);
  }

  /**
   * Computes the mask of the tokens allowed at the next position (CPU only; run it while the forward pass computes).
   * @throws Error when the matcher is in an error state
   */
  fillMask(): void {
    this.#matcher.computeMask(this.#bits);
    const bits = this.#bits;
    const out = this.#additive;
    const V = this.#vocabSize;
    for (let w = 0; w < bits.length; w++) {
      const word = bits[w]!;
      const base = w * 32;
      const end = Math.min(base + 32, V);
      if (word === 0) out.fill(Number.NEGATIVE_INFINITY, base, end);
      else if (word === 0xffffffff) out.fill(0, base, end);
      else for (let t = base; t < end; t++) out[t] = (word >>> (t - base)) & 1 ? 0 : Number.NEGATIVE_INFINITY;
    }
    this.#mask?.free();
    this.#mask = ops.fromArray(out, [1, V]);
  }

  /**
   * Masks `logits: [1, V]` (float) with the last {@link fillMask}. Returns a new lazy array owned by the caller.
   */
  apply(logits: MxArray): MxArray {
    if (!this.#mask) throw new Error("GrammarConstraint.apply before fillMask");
    return ops.add(logits, this.#mask);
  }

  /**
   * Advances the grammar by the sampled token (an EOS after the grammar completed is the end, not a step).
   * @throws Error when the grammar does not allow the token (a mask was not applied)
   */
  accept(token: number): void {
    if (!this.#matcher.stopped) this.#matcher.consume(token);
  }

  free(): void {
    this.#matcher.free();
    this.#mask?.free();
    this.#mask = undefined;
  }
}
