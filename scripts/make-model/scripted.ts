/**
 * Scripts for "scripted" models: texts a generated model must emit, under greedy decoding, after given prompt endings
 * (see scripted-weights.ts for how the weights make it so). This module turns scripts into a token-level transition
 * table with the model's own tokenizer and refuses scripts the construction cannot express.
 *
 * A script `{ after, emit }` says: when the rendered prompt ends with `after`, the model answers `emit` and then its
 * end-of-turn token. With the Qwen3 template, `after: "<|im_start|>assistant\n"` is the generation prompt with
 * thinking on, and `after: "<think>\n\n</think>\n\n"` the one with `enable_thinking: false`.
 *
 * The model predicts the next token from the last `order` tokens only (its "context", the current token and the
 * `order - 1` before it). So a script is expressible when every context along its chain (the last `order` tokens of
 * `after`, then sliding over `emit` and the end-of-turn token) has one successor, across all scripts. Order 1 (the
 * current token alone) cannot write Hermes JSON with this project's tokenizer (every string opens with one of a few
 * quote tokens); order 3 can.
 */

/** One scripted answer. */
export interface Script {
  /** Text the rendered prompt ends with (at least `order` tokens; best starting at a special token or a line). */
  after: string;
  /** Text the model then emits, followed by its end-of-turn token. */
  emit: string;
}

/** Default number of tokens the scripted model conditions on (current token + 2 previous). */
export const DEFAULT_SCRIPT_ORDER = 3;
/** Largest supported order (the attention heads of the preset must hold `order - 1` copies of a token code). */
export const MAX_SCRIPT_ORDER = 4;

/** A tokenizer as the planner needs it. */
export interface ScriptTokenizer {
  /** Token ids of `text`, without special tokens added around it. */
  encode(text: string): number[];
  /** Text of one token (for messages). */
  tokenText(id: number): string;
}

/** One row of the transition table: after the context tokens (oldest first, current last) comes `next`. */
export interface Transition {
  context: number[];
  next: number;
}

/** The token-level plan of a set of scripts. */
export interface ScriptPlan {
  order: number;
  /** Every distinct transition, in order of first appearance. */
  transitions: Transition[];
  /** Every token that appears in some context (they get orthogonal codes when they fit). */
  contextTokens: number[];
  /** Every token that is some transition's `next` (they get orthogonal read-out directions when they fit). */
  nextTokens: number[];
  /** Per script: the prompt tail that starts it (last `order` tokens of `after`) and the emitted ids, EOS last. */
  chains: Array<{ start: number[]; emit: number[] }>;
}

/** A script set the construction cannot express; the message names the conflicting context and tokens. */
export class ScriptConflictError extends Error {
  override name = "ScriptConflictError";
}

/**
 * Tokenizes the scripts and builds the transition table.
 * @param eosId the end-of-turn token appended to every emit (config `eos_token_id`, primary)
 * @throws ScriptConflictError when one context has two successors, an `after` is shorter than `order` tokens, or a
 *   script is empty.
 */
export function planScripts(
  tok: ScriptTokenizer,
  scripts: readonly Script[],
  order: number,
  eosId: number,
): ScriptPlan {
  if (!Number.isInteger(order) || order < 1 || order > MAX_SCRIPT_ORDER) {
    throw new Error(`script order must be an integer from 1 to ${MAX_SCRIPT_ORDER}, got ${order}`);
  }
  if (scripts.length === 0) throw new Error("no scripts given");
  const show = (ids: readonly number[]) => ids.map((t) => JSON.stringify(tok.tokenText(t))).join(" ");
  const table = new Map<string, { t: Transition; script: number }>();
  const context = new Set<number>();
  const next = new Set<number>();
  const chains: ScriptPlan["chains"] = [];
  scripts.forEach((s, i) => {
    const name = `script ${i + 1} (after ${JSON.stringify(s.after)})`;
    if (!s.emit) throw new ScriptConflictError(`${name}: emit is empty`);
    const after = tok.encode(s.after);
    if (after.length < order) {
      throw new ScriptConflictError(
        `${name}: 'after' is ${after.length} token(s) long, the order-${order} model needs at least ${order}`,
      );
    }
    const emit = [...tok.encode(s.emit), eosId];
    const chain = [...after.slice(-order), ...emit];
    chains.push({ start: after.slice(-order), emit });
    for (let j = order; j < chain.length; j++) {
      const ctx = chain.slice(j - order, j);
      const key = ctx.join(",");
      const seen = table.get(key);
      if (seen && seen.t.next !== chain[j]) {
        throw new ScriptConflictError(
          `${name}: after the tokens [${show(ctx)}] it must emit ${show([chain[j]!])}, but script ${seen.script + 1} ` +
            `emits ${show([seen.t.next])} there (token ${JSON.stringify(tok.tokenText(ctx.at(-1)!))} would need two successors ` +
            `in the same ${order}-token context); change a text (spacing, wording) or raise the order`,
        );
      }
      if (!seen) table.set(key, { t: { context: ctx, next: chain[j]! }, script: i });
      for (const t of ctx) context.add(t);
      next.add(chain[j]!);
    }
  });
  return {
    order,
    transitions: [...table.values()].map((v) => v.t),
    contextTokens: [...context],
    nextTokens: [...next],
    chains,
  };
}

/** Decodes the escapes `\n`, `\t`, `\r`, `\\` and `\=` of a command-line script text. */
function unescapeCli(text: string): string {
  return text.replace(/\\([ntr\\=])/g, (_, c: string) => ({ n: "\n", t: "\t", r: "\r", "\\": "\\", "=": "=" })[c]!);
}

/**
 * Parses a `--script 'AFTER=>EMIT'` argument (`\n`, `\t`, `\r`, `\\` escapes; the first `=>` separates).
 * @example parseScriptArg("<think>\\n\\n</think>\\n\\n=>It is sunny.") // { after: "<think>\n\n</think>\n\n", emit: "It is sunny." }
 */
export function parseScriptArg(text: string): Script {
  const at = text.indexOf("=>");
  if (at < 0) throw new Error(`--script ${JSON.stringify(text)}: expected AFTER=>EMIT`);
  const after = unescapeCli(text.slice(0, at));
  const emit = unescapeCli(text.slice(at + 2));
  if (!after || !emit) throw new Error(`--script ${JSON.stringify(text)}: AFTER and EMIT must be non-empty`);
  return { after, emit };
}

/** Validates the content of a `--script-file`: a JSON array of `{ "after": string, "emit": string }`. */
export function parseScriptFile(json: string, path = "script file"): Script[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  if (!Array.isArray(value)) throw new Error(`${path}: expected a JSON array of {"after", "emit"} objects`);
  return value.map((item, i) => {
    const s = item as Partial<Script> | null;
    if (typeof s?.after !== "string" || typeof s.emit !== "string" || !s.after || !s.emit) {
      throw new Error(`${path}: entry ${i} must be {"after": non-empty string, "emit": non-empty string}`);
    }
    return { after: s.after, emit: s.emit };
  });
}
