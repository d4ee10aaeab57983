/**
 * The model's tokenizer: Hugging Face `tokenizer.json` + `tokenizer_config.json` through `@huggingface/tokenizers`,
 * plus the EOS ids generation stops at and a streaming detokenizer.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";

export interface TokenizerConfig {
  chat_template?: string | { name: string; template: string }[];
  bos_token?: string | { content: string } | null;
  eos_token?: string | { content: string } | null;
  pad_token?: string | { content: string } | null;
  unk_token?: string | { content: string } | null;
  [key: string]: unknown;
}

const tokenText = (t: TokenizerConfig["bos_token"]) => (t == null ? undefined : typeof t === "string" ? t : t.content);

function readJson<T>(path: string): T {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}

export class ModelTokenizer {
  readonly config: TokenizerConfig;
  /** Token ids that end generation (config, generation_config and tokenizer EOS, as mlx-lm collects them). */
  readonly eosTokenIds: Set<number>;
  readonly #tok: Tokenizer;

  /**
   * @param dir model directory holding `tokenizer.json` and `tokenizer_config.json`
   * @param configEos `eos_token_id` values from `config.json`
   * @throws Error naming the file when one is missing or not valid JSON.
   */
  constructor(dir: string, configEos: number[] = []) {
    this.config = readJson<TokenizerConfig>(join(dir, "tokenizer_config.json"));
    this.#tok = new Tokenizer(readJson<object>(join(dir, "tokenizer.json")), this.config);
    const eos = new Set(configEos);
    const genPath = join(dir, "generation_config.json");
    if (existsSync(genPath)) {
      const g = readJson<{ eos_token_id?: number | number[] }>(genPath).eos_token_id;
      for (const id of Array.isArray(g) ? g : g === undefined ? [] : [g]) eos.add(id);
    }
    const eosText = tokenText(this.config.eos_token);
    const eosId = eosText === undefined ? undefined : this.#tok.token_to_id(eosText);
    if (eosId !== undefined) eos.add(eosId);
    this.eosTokenIds = eos;
  }

  /** Special-token strings the chat template expects as variables (`bos_token`, `eos_token`, ...). */
  specialTokens(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const key of ["bos_token", "eos_token", "pad_token", "unk_token"] as const) {
      const t = tokenText(this.config[key]);
      if (t !== undefined) out[key] = t;
    }
    return out;
  }

  /** Encodes text without adding BOS/EOS (the chat template already contains them), as transformers' chat path does. */
  encode(text: string): number[] {
    return this.#tok.encode(text, { add_special_tokens: false }).ids;
  }

  /** Decodes ids to text, special tokens included. */
  decode(ids: number[]): string {
    // @huggingface/tokenizers throws on an empty list.
    return ids.length ? this.#tok.decode(ids, { skip_special_tokens: false }) : "";
  }

  tokenToId(token: string): number | undefined {
    return this.#tok.token_to_id(token);
  }
}

/**
 * Turns a growing list of token ids into text deltas. A delta is held back while the text ends in U+FFFD (a UTF-8
 * sequence split across tokens), as mlx-lm's `NaiveStreamingDetokenizer` does.
 */
export class StreamingDetokenizer {
  readonly #tok: ModelTokenizer;
  readonly #ids: number[] = [];
  #emitted = "";

  constructor(tok: ModelTokenizer) {
    this.#tok = tok;
  }

  /** Adds one token; returns the new text it completes (possibly empty). */
  push(id: number): string {
    this.#ids.push(id);
    const text = this.#tok.decode(this.#ids);
    if (text.endsWith("\uFFFD")) return "";
    const delta = text.slice(this.#emitted.length);
    this.#emitted = text;
    return delta;
  }

  /** Whatever is still held back at the end of generation. */
  flush(): string {
    const text = this.#tok.decode(this.#ids);
    const delta = text.slice(this.#emitted.length);
    this.#emitted = text;
    return delta;
  }
}
