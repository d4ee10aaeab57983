/**
 * The llguidance library (guidance-ai's grammar-constrained decoding engine, crates.io `llguidance`, pinned in
 * `ffi/llguidance/Cargo.toml`) through `bun:ffi`. `scripts/setup.sh` builds it with cargo as
 * `libllguidance.so`/`.dylib` beside the MLX compatibility library (`ffi/native/build/`, or `MLXC_NATIVE_DIR` in a
 * standalone binary). The functions are the crate's C API (`llguidance.h`) plus the two constructors of
 * `ffi/llguidance/src/lib.rs`, which take plain arguments so no C struct is laid out here.
 *
 * Nothing here calls back into JavaScript (llguidance tokenizes forced text with its own greedy tokenizer), so the
 * library is safe in any Worker.
 */
import { type Pointer, CString, dlopen, FFIType, suffix } from "bun:ffi";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { nativeLibraries } from "bun-ffi-mlx-bindings";

const SYMBOLS = {
  ithaca_llg_new_tokenizer: {
    args: [FFIType.ptr, FFIType.u32, FFIType.ptr, FFIType.u32, FFIType.ptr, FFIType.u64_fast],
    returns: FFIType.ptr,
  },
  ithaca_llg_new_matcher: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.ptr },
  llg_free_tokenizer: { args: [FFIType.ptr], returns: FFIType.void },
  llg_matcher_is_error: { args: [FFIType.ptr], returns: FFIType.bool },
  llg_matcher_get_error: { args: [FFIType.ptr], returns: FFIType.ptr },
  llg_matcher_compute_mask_into: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64_fast], returns: FFIType.i32 },
  llg_matcher_consume_token: { args: [FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  llg_matcher_is_stopped: { args: [FFIType.ptr], returns: FFIType.bool },
  llg_matcher_is_accepting: { args: [FFIType.ptr], returns: FFIType.bool },
  llg_free_matcher: { args: [FFIType.ptr], returns: FFIType.void },
} as const;

type Symbols = ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"];

/** The library's path: beside the MLX compatibility library (see the module comment). */
export function llguidanceLibraryPath(env: Record<string, string | undefined> = process.env): string {
  return join(dirname(nativeLibraries(env).compat), `libllguidance.${suffix}`);
}

let opened: Symbols | undefined;

/**
 * Opens the library once per thread.
 * @throws Error naming the path and how to build it when it is missing or does not load.
 */
function llg(): Symbols {
  if (opened) return opened;
  const path = llguidanceLibraryPath();
  if (!existsSync(path)) throw new Error(`${path} not found; build it with: bash scripts/setup.sh (needs cargo)`);
  opened = dlopen(path, SYMBOLS).symbols;
  return opened;
}

const cstr = (s: string | Uint8Array) => Buffer.concat([typeof s === "string" ? Buffer.from(s) : s, Buffer.of(0)]);

/** A vocabulary as llguidance sees it: each token's bytes, special tokens marked. Owns native memory. */
export class LlgTokenizer {
  #handle: Pointer | null;
  /** Logit width `V` the masks cover (tokens). */
  readonly vocabSize: number;

  /**
   * @param tokenizerJson the model's `tokenizer.json` (byte-level BPE, or SentencePiece with byte fallback)
   * @param vocabSize the model's logit width `V` (≥ the tokenizer's size; the extra ids are never allowed)
   * @param eosTokenIds end-of-turn ids, allowed once the grammar accepts (at least one)
   * @throws Error with llguidance's message when the tokenizer is not supported
   */
  constructor(tokenizerJson: string | Uint8Array, vocabSize: number, eosTokenIds: readonly number[]) {
    const error = new Uint8Array(1024);
    const eos = Uint32Array.from(eosTokenIds);
    const handle = llg().ithaca_llg_new_tokenizer(
      cstr(tokenizerJson),
      vocabSize,
      eos,
      eos.length,
      error,
      1024,
    ) as Pointer | null;
    if (!handle) throw new Error(`llguidance: ${new TextDecoder().decode(error.subarray(0, error.indexOf(0)))}`);
    this.#handle = handle;
    this.vocabSize = vocabSize;
  }

  /** @internal The native handle (valid until {@link free}). */
  get handle(): Pointer {
    if (!this.#handle) throw new Error("llguidance tokenizer already freed");
    return this.#handle;
  }

  free(): void {
    if (this.#handle) llg().llg_free_tokenizer(this.#handle);
    this.#handle = null;
  }
}

/** A grammar that llguidance refused; `message` is llguidance's, naming the construct. */
export class GrammarCompileError extends Error {}

/**
 * One sequence's grammar state (llguidance `LlgMatcher`): which tokens may come next, advanced token by token.
 * Owns native memory: call {@link free}.
 */
export class LlgMatcher {
  #handle: Pointer | null;
  readonly #words: number;

  /**
   * Compiles `grammar` for `tokenizer`.
   * @param kind llguidance's constraint type: `lark` (with `%json {…}` for JSON schemas), `json_schema`, `regex`
   * @throws GrammarCompileError with llguidance's message when the grammar does not compile
   */
  constructor(tokenizer: LlgTokenizer, kind: "lark" | "json_schema" | "regex", grammar: string) {
    const lib = llg();
    const handle = lib.ithaca_llg_new_matcher(tokenizer.handle, cstr(kind), cstr(grammar)) as Pointer;
    if (lib.llg_matcher_is_error(handle)) {
      const message = this.#errorOf(handle);
      lib.llg_free_matcher(handle);
      throw new GrammarCompileError(message);
    }
    this.#handle = handle;
    this.#words = Math.ceil(tokenizer.vocabSize / 32);
  }

  #errorOf(handle: Pointer): string {
    const p = llg().llg_matcher_get_error(handle);
    return p ? new CString(p).toString() : "unknown llguidance error";
  }

  #live(): Pointer {
    if (!this.#handle) throw new Error("llguidance matcher already freed");
    return this.#handle;
  }

  #check(rc: number): void {
    if (rc !== 0) throw new Error(`llguidance: ${this.#errorOf(this.#live())}`);
  }

  /** Mask words: `ceil(V / 32)` u32, bit `t % 32` of word `t / 32` set when token `t` is allowed. */
  get maskWords(): number {
    return this.#words;
  }

  /**
   * Writes the tokens allowed next into `mask` (`maskWords` u32). Once the grammar is complete only the EOS ids are
   * allowed.
   * @throws Error with llguidance's message when the matcher is in an error state
   */
  computeMask(mask: Uint32Array): void {
    this.#check(llg().llg_matcher_compute_mask_into(this.#live(), mask, mask.byteLength));
  }

  /**
   * Advances the grammar by one sampled token.
   * @throws Error with llguidance's message when the token is not allowed
   */
  consume(token: number): void {
    this.#check(llg().llg_matcher_consume_token(this.#live(), token));
  }

  /** The grammar is complete and an EOS id was consumed, or nothing but EOS can follow. */
  get stopped(): boolean {
    return llg().llg_matcher_is_stopped(this.#live());
  }

  /** The text so far is a complete sentence of the grammar (EOS is allowed now). */
  get accepting(): boolean {
    return llg().llg_matcher_is_accepting(this.#live());
  }

  free(): void {
    if (this.#handle) llg().llg_free_matcher(this.#handle);
    this.#handle = null;
  }
}
