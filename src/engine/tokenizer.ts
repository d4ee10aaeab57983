/**
 * The model's tokenizer: Hugging Face `tokenizer.json` + `tokenizer_config.json` through `@huggingface/tokenizers`,
 * plus the EOS ids generation stops at, each token's raw bytes (for OpenAI `logprobs`) and a streaming
 * detokenizer.
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
  clean_up_tokenization_spaces?: boolean;
  [key: string]: unknown;
}

const specialText = (t: TokenizerConfig["bos_token"]) =>
  t == null ? undefined : typeof t === "string" ? t : t.content;

function readJson<T>(path: string): T {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}

/**
 * Reads `tokenizer_config.json`; when it has no `chat_template`, takes the template from `chat_template.jinja`, where
 * recent transformers save it.
 * @throws Error naming the file when it is missing or not valid JSON.
 */
export function readTokenizerConfig(dir: string): TokenizerConfig {
  const config = readJson<TokenizerConfig>(join(dir, "tokenizer_config.json"));
  const jinjaPath = join(dir, "chat_template.jinja");
  if (config.chat_template === undefined && existsSync(jinjaPath))
    config.chat_template = readFileSync(jinjaPath, "utf8");
  return config;
}

/**
 * How the tokenizer's decoder turns tokens into text, when it is one of the common pipelines (as mlx-lm's
 * `tokenizer_utils.load` classifies them to pick `BPEStreamingDetokenizer` / `SPMStreamingDetokenizer`):
 * - `byte_level`: GPT-2 byte-level BPE (Llama 3, Qwen, Mistral Tekken): each character of a token stands for one
 *   byte; added tokens are literal text.
 * - `spm`: SentencePiece through `Sequence[Replace("▁", " "), ByteFallback, Fuse, Strip?]` (Llama 2, Mistral,
 *   Gemma): `▁` is a space, `<0xNN>` tokens are single bytes, `Strip` drops leading spaces of the whole text.
 * - `metaspace`: the `Metaspace` decoder: `▁` is a space, the first token loses a leading space.
 * - `other`: any other decoder; streaming then decodes a short sliding window.
 */
type DecoderKind = "byte_level" | "spm" | "metaspace" | "other";

/** A token as decoding sees it: raw bytes (UTF-8 decoded with their neighbours) or literal text. */
export type TokenPiece = Uint8Array | string;

/** GPT-2's reversible byte ↔ unicode mapping (`bytes_to_unicode` in openai/gpt-2 `encoder.py`), character → byte. */
const BYTE_OF_CHAR: ReadonlyMap<string, number> = (() => {
  const map = new Map<string, number>();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    map.set(String.fromCharCode(printable ? b : 256 + n++), b);
  }
  return map;
})();

const utf8 = new TextEncoder();

/** A byte-level token's bytes; a character outside the mapping (not in a well-formed vocabulary) as its UTF-8. */
function byteLevelBytes(token: string): Uint8Array {
  const out: number[] = [];
  for (const c of token) {
    const b = BYTE_OF_CHAR.get(c);
    if (b === undefined) out.push(...utf8.encode(c));
    else out.push(b);
  }
  return Uint8Array.from(out);
}

interface DecoderJson {
  type?: string;
  decoders?: DecoderJson[];
  pattern?: { String?: string };
  content?: string;
  start?: number;
  stop?: number;
  replacement?: string;
}

/** Classifies `tokenizer.json`'s decoder; for `spm` also how many leading spaces `Strip` removes. */
function decoderKind(
  decoder: DecoderJson | null | undefined,
  model: { end_of_word_suffix?: unknown },
): [DecoderKind, number] {
  if (model.end_of_word_suffix) return ["other", 0];
  if (decoder?.type === "ByteLevel") return ["byte_level", 0];
  if (decoder?.type === "Metaspace" && (decoder.replacement ?? "▁") === "▁") return ["metaspace", 0];
  const d = decoder?.type === "Sequence" ? (decoder.decoders ?? []) : [];
  const spm =
    (d.length === 3 || d.length === 4) &&
    d[0]?.type === "Replace" &&
    d[0].pattern?.String === "▁" &&
    d[0].content === " " &&
    d[1]?.type === "ByteFallback" &&
    d[2]?.type === "Fuse";
  if (!spm) return ["other", 0];
  if (d.length === 3) return ["spm", 0];
  const s = d[3]!;
  return s.type === "Strip" && s.content === " " && !s.stop ? ["spm", s.start ?? 0] : ["other", 0];
}

export class ModelTokenizer {
  readonly config: TokenizerConfig;
  /** Token ids that end generation (config, generation_config and tokenizer EOS, as mlx-lm collects them). */
  readonly eosTokenIds: Set<number>;
  readonly #tok: Tokenizer;
  readonly #kind: DecoderKind;
  /** `spm`: leading spaces the decoder's `Strip` removes from the whole text. */
  readonly #stripLeading: number;
  /** `decode` applies transformers' `clean_up_tokenization` (config `clean_up_tokenization_spaces`, default true). */
  readonly #cleanUp: boolean;
  readonly #added: Set<string>;
  readonly #pieces: (TokenPiece | undefined)[] = [];

  /**
   * @param dir model directory holding `tokenizer.json` and `tokenizer_config.json` (the chat template may instead
   *   be in `chat_template.jinja`, as recent transformers save it)
   * @param configEos `eos_token_id` values from `config.json`
   * @throws Error naming the file when one is missing or not valid JSON.
   */
  constructor(dir: string, configEos: number[] = []) {
    this.config = readTokenizerConfig(dir);
    const json = readJson<{ decoder?: DecoderJson; model?: object; added_tokens?: { content: string }[] }>(
      join(dir, "tokenizer.json"),
    );
    this.#tok = new Tokenizer(json, this.config);
    [this.#kind, this.#stripLeading] = decoderKind(json.decoder, json.model ?? {});
    this.#cleanUp = this.config.clean_up_tokenization_spaces ?? true;
    this.#added = new Set((json.added_tokens ?? []).map((t) => t.content));
    const eos = new Set(configEos);
    const genPath = join(dir, "generation_config.json");
    if (existsSync(genPath)) {
      const g = readJson<{ eos_token_id?: number | number[] }>(genPath).eos_token_id;
      for (const id of Array.isArray(g) ? g : g === undefined ? [] : [g]) eos.add(id);
    }
    const eosText = specialText(this.config.eos_token);
    const eosId = eosText === undefined ? undefined : this.#tok.token_to_id(eosText);
    if (eosId !== undefined) eos.add(eosId);
    this.eosTokenIds = eos;
  }

  /** Special-token strings the chat template expects as variables (`bos_token`, `eos_token`, ...). */
  specialTokens(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const key of ["bos_token", "eos_token", "pad_token", "unk_token"] as const) {
      const t = specialText(this.config[key]);
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

  /**
   * The token's raw bytes, for OpenAI `logprobs` `bytes`: byte-level BPE characters mapped back to bytes (`Ġ` → 0x20),
   * SentencePiece `▁` → space and `<0xNN>` → that byte, added/special tokens as their UTF-8 text. A byte-level
   * token may be part of a multi-byte character. With another decoder: the UTF-8 of the token decoded alone.
   */
  tokenBytes(id: number): number[] {
    const p = this.piece(id);
    return Array.from(typeof p === "string" ? utf8.encode(p) : p);
  }

  /** The token's bytes as UTF-8 text, invalid sequences replaced by U+FFFD (OpenAI `logprobs` `token`). */
  tokenText(id: number): string {
    const p = this.piece(id);
    return typeof p === "string" ? p : new TextDecoder("utf-8", { ignoreBOM: true }).decode(p);
  }

  /** @internal How the streaming detokenizer decodes: see {@link DecoderKind}. */
  get decoding(): { kind: DecoderKind; stripLeading: number; cleanUp: boolean } {
    return { kind: this.#kind, stripLeading: this.#stripLeading, cleanUp: this.#cleanUp };
  }

  /** @internal The token as decoding sees it (cached); for `other` decoders, the token decoded alone. */
  piece(id: number): TokenPiece {
    const cached = this.#pieces[id];
    if (cached !== undefined) return cached;
    const token = this.#tok.id_to_token(id);
    let piece: TokenPiece;
    if (token === undefined || this.#kind === "other") piece = this.decode([id]);
    else if (this.#kind === "byte_level") {
      if (this.#added.has(token)) piece = token;
      else piece = byteLevelBytes(token);
    } else if (
      this.#kind === "spm" &&
      token.length === 6 &&
      token.startsWith("<0x") &&
      token.endsWith(">") &&
      !Number.isNaN(parseInt(token.slice(3, 5), 16))
    ) {
      piece = Uint8Array.of(parseInt(token.slice(3, 5), 16));
    } else piece = token.replaceAll("▁", " ");
    if (id >= 0 && Number.isInteger(id)) this.#pieces[id] = piece;
    return piece;
  }
}

/**
 * transformers' `clean_up_tokenization` (also `@huggingface/tokenizers`' `decode`): removes the space before
 * punctuation and English contractions. Each pattern starts with a space and spans at most 4 characters.
 */
function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(" .", ".")
    .replaceAll(" ?", "?")
    .replaceAll(" !", "!")
    .replaceAll(" ,", ",")
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

/**
 * End of the longest prefix of `text` after which clean-up cannot change across the cut: the prefix ends with 3
 * non-space characters, so no clean-up pattern (a space and at most 3 more characters) can start before the cut and
 * end after it, at any step of the pattern sequence (patterns only delete spaces, so those 3 stay). Then
 * `clean(prefix + rest) === clean(prefix) + clean(rest)`.
 */
function cleanUpSafeEnd(text: string): number {
  let run = 0;
  for (let i = text.length - 1; i >= 0; i--) {
    if (text[i] === " ") run = 0;
    else if (++run === 3) return i + 3;
  }
  return 0;
}

/**
 * Turns generated token ids into text deltas whose concatenation equals `decode(all ids)`, in O(1) amortized work
 * per token (the previous version re-decoded the whole completion every token).
 *
 * For the common decoders (see {@link DecoderKind}) it works like mlx-lm's `BPEStreamingDetokenizer` /
 * `SPMStreamingDetokenizer`: each token's bytes go through a streaming UTF-8 decoder, which holds back only an
 * incomplete multi-byte sequence; literal pieces (added tokens, SentencePiece words) end the byte run. It also
 * reproduces the decoder's leading-space stripping and, when the config enables it, transformers' clean-up of
 * spaces before punctuation (holding back text until a cut is safe). For any other decoder it decodes a sliding
 * window, as vLLM's incremental detokenizer does (prefix/read offsets): the text the newest tokens add after a
 * couple of context tokens, held back while it ends in U+FFFD.
 */
export class StreamingDetokenizer {
  readonly #tok: ModelTokenizer;
  readonly #kind: DecoderKind;
  readonly #cleanUp: boolean;
  // Piece decoders
  readonly #utf8: TextDecoder;
  #inBytes = false;
  #count = 0;
  #stripLeft: number;
  /** Decoded text held back for the clean-up (not yet safe to release). */
  #pending = "";
  // Sliding window (other decoders)
  readonly #ids: number[] = [];
  #prefixOffset = 0;
  #readOffset = 0;

  constructor(tok: ModelTokenizer) {
    this.#tok = tok;
    const { kind, stripLeading, cleanUp } = tok.decoding;
    this.#kind = kind;
    this.#cleanUp = cleanUp;
    this.#stripLeft = stripLeading;
    // ByteLevel decodes with ignoreBOM; ByteFallback's default decoder drops a BOM at the start of each byte run.
    this.#utf8 = new TextDecoder("utf-8", { ignoreBOM: kind === "byte_level" });
  }

  /** Adds one token; returns the new text it completes (possibly empty). */
  push(id: number): string {
    if (this.#kind === "other") return this.#pushWindow(id);
    const piece = this.#tok.piece(id);
    let out: string;
    if (typeof piece !== "string") {
      out = this.#utf8.decode(piece, { stream: true });
      this.#inBytes = true;
    } else {
      out = this.#endByteRun();
      out += this.#kind === "metaspace" && this.#count === 0 && piece.startsWith(" ") ? piece.slice(1) : piece;
    }
    this.#count++;
    return this.#release(out, false);
  }

  /** Whatever is still held back, at the end of generation. */
  flush(): string {
    if (this.#kind === "other") {
      const delta = this.#windowDelta(true);
      this.#prefixOffset = this.#readOffset = this.#ids.length;
      return delta;
    }
    return this.#release(this.#endByteRun(), true);
  }

  #endByteRun(): string {
    if (!this.#inBytes) return "";
    this.#inBytes = false;
    return this.#utf8.decode();
  }

  /** Applies the whole-text steps (Strip, clean-up) to newly decoded text. */
  #release(text: string, final: boolean): string {
    if (this.#stripLeft > 0 && text) {
      let i = 0;
      while (i < this.#stripLeft && text[i] === " ") i++;
      text = text.slice(i);
      this.#stripLeft = text ? 0 : this.#stripLeft - i;
    }
    if (!this.#cleanUp) return text;
    this.#pending += text;
    const end = final ? this.#pending.length : cleanUpSafeEnd(this.#pending);
    if (!end) return "";
    const out = cleanUpTokenization(this.#pending.slice(0, end));
    this.#pending = this.#pending.slice(end);
    return out;
  }

  #pushWindow(id: number): string {
    this.#ids.push(id);
    return this.#windowDelta(false);
  }

  /** Text of the tokens after the read offset, decoded with the tokens since the prefix offset as context. */
  #windowDelta(final: boolean): string {
    const prefix = this.#tok.decode(this.#ids.slice(this.#prefixOffset, this.#readOffset));
    const text = this.#tok.decode(this.#ids.slice(this.#prefixOffset));
    if (text.length <= prefix.length || (!final && text.endsWith("\uFFFD"))) return "";
    this.#prefixOffset = this.#readOffset;
    this.#readOffset = this.#ids.length;
    return text.slice(prefix.length);
  }
}
