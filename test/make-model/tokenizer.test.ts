/**
 * The byte-level BPE tokenizer scripts/make-model writes (scripts/make-model/bpe.ts, corpus.ts): `@huggingface/tokenizers`
 * (what the engine uses) encodes and decodes like transformers' AutoTokenizer, on common, fuzzed and special-token texts.
 */
import { describe, expect, test } from "bun:test";
import { ARCH_SPECS, VOCAB_SIZE } from "../../scripts/make-model/architectures.ts";
import { ARCHS, jsTokenizer, modelFixture, textsFor } from "./fixtures.ts";

const { dirs, py } = modelFixture("ithaca-make-model-tok-", ["qwen3", "llama", "qwen2", "mistral"], {
  models: { texts: true },
});

describe.each(ARCHS)("generated %s model", (arch) => {
  const spec = ARCH_SPECS[arch];

  test("@huggingface/tokenizers encodes and decodes like transformers", () => {
    const tok = jsTokenizer(dirs[arch]);
    const r = py.models[arch];
    textsFor(arch).forEach((text, i) => {
      const ids = tok.encode(text).ids;
      const plain = tok.encode(text, { add_special_tokens: false }).ids;
      expect({ text, ids }).toEqual({ text, ids: r.encode[i]! });
      expect({ text, plain }).toEqual({ text, plain: r.encode_plain[i]! });
      expect(plain.length === 0).toBe(text === "");
      if (plain.length === 0) return; // @huggingface/tokenizers' decode() throws on an empty id list
      expect(tok.decode(plain)).toBe(r.decode[i]!);
      expect(tok.decode(plain)).toBe(text);
      expect(tok.decode(ids, { skip_special_tokens: true })).toBe(r.decode_skip[i]!);
      expect(plain.every((id) => id >= 0 && id < VOCAB_SIZE)).toBe(true);
    });
    // Special tokens are single ids; llama prepends <|begin_of_text|> like Llama 3.
    for (const t of spec.addedTokens)
      expect(tok.encode(t.content, { add_special_tokens: false }).ids).toEqual([tok.token_to_id(t.content)!]);
    const hello = tok.encode("Hello").ids;
    if (spec.bosToken) expect(hello[0]).toBe(tok.token_to_id(spec.bosToken)!);
    else expect(hello).toEqual(tok.encode("Hello", { add_special_tokens: false }).ids);
  });
});
