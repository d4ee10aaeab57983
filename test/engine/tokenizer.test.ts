/**
 * The tokenizer: streaming detokenization equals decoding all tokens at once, for random token sequences (split
 * multi-byte characters, invalid byte runs, added tokens, spaces before punctuation) over every decoder kind —
 * byte-level BPE (the generated qwen3 and llama tokenizers, with and without clean-up), SentencePiece byte fallback
 * (with and without Strip), Metaspace, and another decoder (WordPiece, sliding window); a 5,000-token completion;
 * and each token's raw bytes / text for logprobs.
 */
import { describe, expect, test } from "bun:test";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ModelTokenizer, StreamingDetokenizer } from "../../src/engine/tokenizer.ts";
import { makeModel, tempDir } from "../helpers/paths.ts";

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Streams `ids` through a fresh detokenizer; returns the deltas. */
function stream(tok: ModelTokenizer, ids: number[]): string[] {
  const d = new StreamingDetokenizer(tok);
  const out = ids.map((id) => d.push(id));
  out.push(d.flush());
  return out;
}

/** Random sequences: half the tokens from `interesting`, half from the whole vocabulary. */
function randomSequences(vocabSize: number, interesting: number[], count: number, seed: number): number[][] {
  const r = rng(seed);
  return Array.from({ length: count }, () =>
    Array.from({ length: 1 + Math.floor(r() * 30) }, () =>
      r() < 0.5 && interesting.length
        ? interesting[Math.floor(r() * interesting.length)]!
        : Math.floor(r() * vocabSize),
    ),
  );
}

function expectStreamEqualsDecode(tok: ModelTokenizer, sequences: number[][]): void {
  for (const ids of sequences) {
    const got = stream(tok, ids).join("");
    const want = tok.decode(ids);
    if (got !== want) expect({ ids, got }).toEqual({ ids, got: want });
  }
}

/** A copy of the generated model's tokenizer files with `configOverride` merged into tokenizer_config.json. */
function tokenizerVariant(arch: "qwen3" | "llama", configOverride: object): ModelTokenizer {
  const src = makeModel(arch);
  const dir = tempDir();
  copyFileSync(join(src, "tokenizer.json"), join(dir, "tokenizer.json"));
  const config = JSON.parse(readFileSync(join(src, "tokenizer_config.json"), "utf8"));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ ...config, ...configOverride }));
  return new ModelTokenizer(dir);
}

/** A tokenizer written from scratch: `vocab` in id order, `special` tokens added, the given decoder. */
function syntheticTokenizer(
  vocab: string[],
  special: string[],
  decoder: object,
  model: object,
  config: object = {},
): ModelTokenizer {
  const dir = tempDir();
  const all = [...vocab, ...special];
  const tokenizer = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: special.map((content, i) => ({
      id: vocab.length + i,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder,
    model: { ...model, vocab: Object.fromEntries(all.map((t, i) => [t, i])) },
  };
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizer));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ clean_up_tokenization_spaces: false, ...config }));
  return new ModelTokenizer(dir);
}

const BYTE_TOKENS = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
const SPM_WORDS = ["▁", "▁Hello", "▁wor", "ld", ".", ",", "▁.", "'s", "▁'", "▁n't", "é", "▁☕", "▁▁", "a"];
const SPM_DECODER = (strip: number) => ({
  type: "Sequence",
  decoders: [
    { type: "Replace", pattern: { String: "▁" }, content: " " },
    { type: "ByteFallback" },
    { type: "Fuse" },
    ...(strip ? [{ type: "Strip", content: " ", start: strip, stop: 0 }] : []),
  ],
});
const BPE_MODEL = { type: "BPE", merges: [], byte_fallback: true, unk_token: "<unk>", fuse_unk: true, dropout: null };

/** Byte tokens that build, split and break UTF-8: lead bytes, continuations, BOM, invalid bytes. */
const TRICKY_BYTES = [
  0x41, 0x20, 0x0a, 0xc3, 0xa9, 0xe4, 0xb8, 0xad, 0xf0, 0x9f, 0x98, 0x80, 0x80, 0xbf, 0xc0, 0xed, 0xa0, 0xef, 0xbb,
  0xff, 0xf4, 0x90,
];

describe("StreamingDetokenizer equals decode(all)", () => {
  test("byte-level BPE (generated qwen3 tokenizer)", () => {
    const tok = new ModelTokenizer(makeModel("qwen3"));
    expect(tok.decoding.kind).toBe("byte_level");
    const byteIds = new Map<number, number>();
    for (let id = 0; id < 256; id++) byteIds.set(tok.tokenBytes(id)[0]!, id);
    const interesting = [
      ...TRICKY_BYTES.map((b) => byteIds.get(b)!),
      ...["<think>", "</think>", "<|im_end|>", "<tool_call>"].map((t) => tok.tokenToId(t)!),
      ...tok.encode(" . , 's n't ' Hello 世界 😀"),
    ];
    expectStreamEqualsDecode(tok, randomSequences(1024, interesting, 400, 1));
  });

  test("byte-level BPE with clean_up_tokenization_spaces (generated llama tokenizer)", () => {
    const tok = tokenizerVariant("llama", { clean_up_tokenization_spaces: true });
    expect(tok.decoding).toEqual({ kind: "byte_level", stripLeading: 0, cleanUp: true });
    const interesting = [
      ...tok.encode(" . ? ! , ' 's n't 'm 've 're a b"),
      ...tok.encode("x ' y"),
      tok.tokenToId("Ġ")!,
    ];
    expect(tok.decode(tok.encode("a . b ' c 's"))).toBe("a. b'c's");
    expectStreamEqualsDecode(tok, randomSequences(1024, interesting, 400, 2));
    // One token per character, so that every clean-up pattern is cut at every position.
    const chars = (text: string) =>
      [...text]
        .map((c) => tok.encode(c))
        .filter((ids) => ids.length === 1)
        .map((ids) => ids[0]!);
    const text = "it n't x 've y 're z ' w 'm . a ? b ! c , d 's e";
    expect(chars(text).length).toBe(text.length);
    for (let i = 0; i < text.length; i++) expectStreamEqualsDecode(tok, [chars(text.slice(i))]);
  });

  for (const [name, strip, cleanUp] of [
    ["SentencePiece byte fallback with Strip", 1, false],
    ["SentencePiece byte fallback with Strip(start=2)", 2, false],
    ["SentencePiece byte fallback without Strip", 0, false],
    ["SentencePiece byte fallback with clean-up", 1, true],
  ] as const) {
    test(name, () => {
      const vocab = ["<unk>", ...BYTE_TOKENS, ...SPM_WORDS];
      const tok = syntheticTokenizer(vocab, ["<s>", "</s>"], SPM_DECODER(strip), BPE_MODEL, {
        clean_up_tokenization_spaces: cleanUp,
      });
      expect(tok.decoding).toEqual({ kind: "spm", stripLeading: strip, cleanUp });
      const interesting = [
        ...TRICKY_BYTES.map((b) => 1 + b),
        ...Array.from({ length: SPM_WORDS.length + 2 }, (_, i) => 257 + i),
      ];
      expectStreamEqualsDecode(tok, randomSequences(vocab.length + 2, interesting, 400, 3));
      const [sp, hello, bom] = [1 + 0x20, tok.tokenToId("▁Hello")!, [0xef, 0xbb, 0xbf].map((b) => 1 + b)];
      // Strip removes leading spaces of the whole text, whichever tokens they come from.
      expect(stream(tok, [hello, sp]).join("")).toBe(strip ? "Hello " : " Hello ");
      expect(stream(tok, [sp, sp, hello]).join("")).toBe(["   Hello", "  Hello", " Hello"][strip]!);
      // ByteFallback drops a byte-order mark at the start of each byte run.
      expectStreamEqualsDecode(tok, [
        [...bom, 1 + 0x41, hello, ...bom, ...bom, 1 + 0x41],
        [sp, ...bom],
      ]);
      expect(stream(tok, [hello, ...bom, 1 + 0x41]).join("")).toBe(strip ? "HelloA" : " HelloA");
    });
  }

  test("Metaspace", () => {
    const vocab = ["<unk>", ...SPM_WORDS, "<0x41>"];
    const tok = syntheticTokenizer(
      vocab,
      ["</s>"],
      { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
      BPE_MODEL,
    );
    expect(tok.decoding.kind).toBe("metaspace");
    expectStreamEqualsDecode(tok, randomSequences(vocab.length + 1, [], 300, 4));
  });

  test("another decoder (WordPiece): sliding window", () => {
    const vocab = ["[UNK]", "hello", "##lo", "world", "##s", "a", "é", "##☕", ".", "x"];
    const tok = syntheticTokenizer(
      vocab,
      ["[SEP]"],
      { type: "WordPiece", prefix: "##", cleanup: false },
      {
        type: "WordPiece",
        unk_token: "[UNK]",
        continuing_subword_prefix: "##",
        max_input_chars_per_word: 100,
      },
    );
    expect(tok.decoding.kind).toBe("other");
    expectStreamEqualsDecode(tok, randomSequences(vocab.length + 1, [], 300, 5));
  });

  test("a 5,000-token completion streams in linear time and matches", () => {
    const tok = new ModelTokenizer(makeModel("qwen3"));
    const ids = randomSequences(1024, [], 1, 6)[0]!;
    const long = Array.from({ length: 5000 }, (_, i) => ids[i % ids.length]! + ((i * 7919) % 1000)).map(
      (id) => id % 1024,
    );
    const deltas = stream(tok, long);
    expect(deltas.join("")).toBe(tok.decode(long));
  });

  test("valid text: every token's delta is clean, multi-byte characters appear whole", () => {
    const tok = new ModelTokenizer(makeModel("qwen3"));
    const text = "Hello 世界 😀 café <think>x</think>\n";
    const deltas = stream(tok, tok.encode(text));
    expect(deltas.join("")).toBe(text);
    for (const d of deltas) expect(d).not.toContain("\uFFFD");
    // Byte-level keeps a byte-order mark (its decoder ignores BOM handling).
    const bom = tok.encode("\uFEFFa\uFEFF");
    expect(stream(tok, bom).join("")).toBe(tok.decode(bom));
    expect(tok.decode(bom)).toBe("\uFEFFa\uFEFF");
  });
});

describe("tokenBytes / tokenText", () => {
  test("byte-level BPE", () => {
    const tok = new ModelTokenizer(makeModel("qwen3"));
    const id = (t: string) => tok.tokenToId(t)!;
    const table: [number, number[], string][] = [
      [id("Ġthe"), [0x20, 0x74, 0x68, 0x65], " the"],
      [id("Ċ"), [0x0a], "\n"],
      [id("ä"), [0xe4], "\uFFFD"],
      [id("<think>"), [...new TextEncoder().encode("<think>")], "<think>"],
    ];
    for (const [tokenId, bytes, text] of table) {
      expect(tok.tokenBytes(tokenId)).toEqual(bytes);
      expect(tok.tokenText(tokenId)).toBe(text);
    }
    const text = "Naïve 世界 😀 code();";
    const bytes = tok.encode(text).flatMap((t) => tok.tokenBytes(t));
    expect(bytes).toEqual([...new TextEncoder().encode(text)]);
  });

  test("SentencePiece", () => {
    const vocab = ["<unk>", ...BYTE_TOKENS, ...SPM_WORDS];
    const tok = syntheticTokenizer(vocab, ["</s>"], SPM_DECODER(1), BPE_MODEL);
    const id = (t: string) => tok.tokenToId(t)!;
    const table: [number, number[], string][] = [
      [id("▁Hello"), [0x20, 0x48, 0x65, 0x6c, 0x6c, 0x6f], " Hello"],
      [id("<0xE4>"), [0xe4], "\uFFFD"],
      [id("<0x0A>"), [0x0a], "\n"],
      [id("é"), [0xc3, 0xa9], "é"],
      [id("</s>"), [...new TextEncoder().encode("</s>")], "</s>"],
    ];
    for (const [tokenId, bytes, text] of table) {
      expect(tok.tokenBytes(tokenId)).toEqual(bytes);
      expect(tok.tokenText(tokenId)).toBe(text);
    }
  });
});
