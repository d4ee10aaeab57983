/**
 * Byte-level BPE: deterministic training on a text corpus and serialization to the Hugging Face `tokenizers`
 * `tokenizer.json` format (the format of Qwen2/Qwen3 and Llama 3 checkpoints).
 *
 * Ids: 0–255 are the 256 byte symbols (in GPT-2 `bytes_to_unicode` order), then one id per learnt merge in
 * merge order, then the added (special) tokens. The pre-tokenizer is the model family's `Split` regex followed by
 * `ByteLevel` (no prefix space, no regex of its own); the decoder is `ByteLevel`; there is no normalizer.
 */

/** A token added on top of the BPE vocabulary (`added_tokens` in tokenizer.json). */
export interface AddedTokenSpec {
  content: string;
  /** `true` for control tokens (skipped by `decode(..., skip_special_tokens)`); Qwen3 marks `<think>` etc. `false`. */
  special: boolean;
}

/** Pre-tokenizer regex flavour: Qwen2/Qwen3 split digits one by one, Llama 3 in groups of up to three. */
export type PretokenizerFlavor = "qwen2" | "llama3";

/** The split pattern as stored in tokenizer.json (Oniguruma syntax, compiled by the Rust `tokenizers`). */
export const SPLIT_PATTERNS: Readonly<Record<PretokenizerFlavor, string>> = {
  qwen2: String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
  llama3: String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
};

/** The same patterns as JavaScript regular expressions (the `(?i:…)` group spelled out), used for training. */
const SPLIT_REGEXES: Readonly<Record<PretokenizerFlavor, RegExp>> = {
  qwen2:
    /'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu,
  llama3:
    /'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu,
};

/**
 * GPT-2's reversible byte → printable character map: printable Latin-1 bytes map to themselves, the other 68
 * bytes to U+0100 onwards. Returned as `[byte, char]` pairs in vocabulary order (printable bytes first).
 */
export function byteLevelAlphabet(): Array<[byte: number, char: string]> {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  return bs.map((b, i) => [b, String.fromCodePoint(cs[i]!)]);
}

const BYTE_TO_CHAR: string[] = (() => {
  const table = new Array<string>(256);
  for (const [b, c] of byteLevelAlphabet()) table[b] = c;
  return table;
})();

/** Maps text to its byte-level symbols (one character per UTF-8 byte). */
export function toByteLevel(text: string): string[] {
  return Array.from(new TextEncoder().encode(text), (b) => BYTE_TO_CHAR[b]!);
}

/** Splits text into pre-tokens with the flavour's regex (everything not matched is dropped, as in `Isolated`). */
export function pretokenize(text: string, flavor: PretokenizerFlavor): string[] {
  return Array.from(text.matchAll(SPLIT_REGEXES[flavor]), (m) => m[0]);
}

/** Result of training: the vocabulary in id order (bytes, then merge results) and the merges in rank order. */
export interface TrainedBpe {
  /** Token strings; index = id. */
  vocab: string[];
  /** Merge rules, rank order; each produces `left + right`. */
  merges: Array<[left: string, right: string]>;
}

/**
 * Learns byte-level BPE merges until the vocabulary holds `vocabSize` tokens (256 byte symbols included).
 *
 * Classic algorithm: count adjacent symbol pairs over the distinct pre-tokens weighted by frequency, merge the
 * most frequent pair everywhere, repeat. Ties are broken by the pair's strings (code-unit order), so the result
 * depends only on the corpus, the flavour and `vocabSize`. Pairs seen once are used only after all pairs seen
 * at least twice are exhausted. A merge whose result already exists (same string reached by another split) adds
 * a rule but no token. Throws if the corpus cannot yield enough tokens.
 */
export function trainBpe(corpus: string, vocabSize: number, flavor: PretokenizerFlavor): TrainedBpe {
  const vocab = byteLevelAlphabet().map(([, c]) => c);
  if (vocabSize < vocab.length) throw new Error(`vocabSize ${vocabSize} is below the 256 byte symbols`);
  const known = new Set(vocab);

  const counts = new Map<string, number>();
  for (const piece of pretokenize(corpus, flavor)) counts.set(piece, (counts.get(piece) ?? 0) + 1);
  // Sorted for determinism independent of Map insertion details.
  const words = [...counts.keys()].sort().map((w) => ({ symbols: toByteLevel(w), count: counts.get(w)! }));

  const merges: Array<[string, string]> = [];
  const SEP = "\u0000"; // never a byte-level symbol
  while (vocab.length < vocabSize) {
    const pairCounts = new Map<string, number>();
    for (const w of words) {
      for (let i = 0; i + 1 < w.symbols.length; i++) {
        const key = w.symbols[i]! + SEP + w.symbols[i + 1]!;
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + w.count);
      }
    }
    let best: string | null = null;
    let bestCount = 0;
    for (const [key, c] of pairCounts) {
      if (c > bestCount || (c === bestCount && best !== null && key < best)) {
        best = key;
        bestCount = c;
      }
    }
    if (best === null)
      throw new Error(`corpus exhausted after ${merges.length} merges (vocab ${vocab.length} < ${vocabSize})`);
    const [left, right] = best.split(SEP) as [string, string];
    const merged = left + right;
    merges.push([left, right]);
    if (!known.has(merged)) {
      known.add(merged);
      vocab.push(merged);
    }
    for (const w of words) {
      const s = w.symbols;
      if (s.length < 2) continue;
      const next: string[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === left && s[i + 1] === right) {
          next.push(merged);
          i++;
        } else next.push(s[i]!);
      }
      w.symbols = next;
    }
  }
  return { vocab, merges };
}

/** Options for {@link buildTokenizerJson}. */
export interface TokenizerJsonOptions {
  bpe: TrainedBpe;
  flavor: PretokenizerFlavor;
  /** Added tokens; they get ids `bpe.vocab.length`, `+1`, … in this order. */
  addedTokens: readonly AddedTokenSpec[];
  /** When set, a `TemplateProcessing` post-processor prepends this token (Llama 3 adds `<|begin_of_text|>`). */
  bosToken?: string;
  /** Llama 3 sets `ignore_merges: true` (whole pre-token looked up in the vocabulary first). */
  ignoreMerges: boolean;
}

/** Id of each added token, by content, as {@link buildTokenizerJson} assigns them. */
export function addedTokenIds(bpe: TrainedBpe, addedTokens: readonly AddedTokenSpec[]): Map<string, number> {
  return new Map(addedTokens.map((t, i) => [t.content, bpe.vocab.length + i]));
}

/** Builds the `tokenizer.json` object (key order as the Rust `tokenizers` library writes it). */
export function buildTokenizerJson(opts: TokenizerJsonOptions): Record<string, unknown> {
  const { bpe, flavor, addedTokens } = opts;
  const ids = addedTokenIds(bpe, addedTokens);
  // ByteLevel settings exactly as each family's published tokenizer.json has them (decoding ignores them).
  const llama = flavor === "llama3";
  const byteLevel = (addPrefixSpace: boolean, trimOffsets: boolean, useRegex: boolean) => ({
    type: "ByteLevel",
    add_prefix_space: addPrefixSpace,
    trim_offsets: trimOffsets,
    use_regex: useRegex,
  });
  let postProcessor: Record<string, unknown> = byteLevel(false, false, false);
  if (opts.bosToken !== undefined) {
    const bosId = ids.get(opts.bosToken);
    if (bosId === undefined) throw new Error(`bos token ${opts.bosToken} is not an added token`);
    postProcessor = {
      type: "Sequence",
      processors: [
        byteLevel(true, false, true),
        {
          type: "TemplateProcessing",
          single: [{ SpecialToken: { id: opts.bosToken, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
          pair: [
            { SpecialToken: { id: opts.bosToken, type_id: 0 } },
            { Sequence: { id: "A", type_id: 0 } },
            { SpecialToken: { id: opts.bosToken, type_id: 1 } },
            { Sequence: { id: "B", type_id: 1 } },
          ],
          special_tokens: { [opts.bosToken]: { id: opts.bosToken, ids: [bosId], tokens: [opts.bosToken] } },
        },
      ],
    };
  }
  const vocab: Record<string, number> = {};
  bpe.vocab.forEach((tok, id) => {
    vocab[tok] = id;
  });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokens.map((t) => ({
      id: ids.get(t.content)!,
      content: t.content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: t.special,
    })),
    normalizer: null,
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: SPLIT_PATTERNS[flavor] }, behavior: "Isolated", invert: false },
        byteLevel(false, llama, false),
      ],
    },
    post_processor: postProcessor,
    decoder: llama ? byteLevel(true, true, true) : byteLevel(false, false, false),
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: opts.ignoreMerges,
      vocab,
      merges: bpe.merges.map(([l, r]) => [l, r]),
    },
  };
}
