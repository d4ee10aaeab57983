/**
 * The safetensors files scripts/make-model writes (scripts/make-model/safetensors.ts, random.ts): the writer and parser,
 * float16 / bfloat16 rounding (against MLX's own for whole models), the header and tensor names per architecture.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ARCH_SPECS, VOCAB_SIZE } from "../../scripts/make-model/architectures.ts";
import { Rng } from "../../scripts/make-model/random.ts";
import {
  DTYPE_BYTES,
  decodeFloats,
  encodeFloats,
  encodeSafetensors,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
  parseSafetensors,
  readSafetensorsFile,
  shapeSize,
} from "../../scripts/make-model/safetensors.ts";
import { ARCHS, modelFixture, readJson } from "./fixtures.ts";

const { dirs, py } = modelFixture(
  "ithaca-make-model-st-",
  ["qwen3", "llama", "qwen2", "mistral", "qwen3F16", "qwen3Bf16"],
  { dtypes: true },
);

describe.each(ARCHS)("generated %s model", (arch) => {
  const spec = ARCH_SPECS[arch];

  test("safetensors header and tensor names are what mlx-lm expects", () => {
    const st = readSafetensorsFile(join(dirs[arch], "model.safetensors"));
    expect(st.metadata).toEqual({ format: "mlx" });
    expect((8 + st.headerText.length) % 8).toBe(0);
    const layer = (i: number) => [
      `model.layers.${i}.input_layernorm.weight`,
      `model.layers.${i}.mlp.down_proj.weight`,
      `model.layers.${i}.mlp.gate_proj.weight`,
      `model.layers.${i}.mlp.up_proj.weight`,
      `model.layers.${i}.post_attention_layernorm.weight`,
      ...(arch === "qwen3" ? [`model.layers.${i}.self_attn.k_norm.weight`] : []),
      `model.layers.${i}.self_attn.k_proj.weight`,
      `model.layers.${i}.self_attn.o_proj.weight`,
      ...(arch === "qwen3" ? [`model.layers.${i}.self_attn.q_norm.weight`] : []),
      `model.layers.${i}.self_attn.q_proj.weight`,
      `model.layers.${i}.self_attn.v_proj.weight`,
      ...(arch === "qwen2" ? ["q", "k", "v"].map((x) => `model.layers.${i}.self_attn.${x}_proj.bias`) : []),
    ];
    const expected = [
      ...(spec.tieWordEmbeddings ? [] : ["lm_head.weight"]),
      "model.embed_tokens.weight",
      ...layer(0),
      ...layer(1),
      "model.norm.weight",
    ].sort();
    expect([...st.tensors.keys()].sort()).toEqual(expected);
    for (const t of st.tensors.values()) {
      expect(t.dtype).toBe("F32");
      expect(t.data.byteLength).toBe(DTYPE_BYTES[t.dtype] * shapeSize(t.shape));
    }
    expect(st.tensors.get("model.embed_tokens.weight")!.shape).toEqual([VOCAB_SIZE, 64]);
    expect(st.tensors.get("model.layers.0.self_attn.q_proj.weight")!.shape).toEqual([64, 64]);
    expect(st.tensors.get("model.layers.0.self_attn.k_proj.weight")!.shape).toEqual([32, 64]);
    expect(st.tensors.get("model.layers.1.mlp.down_proj.weight")!.shape).toEqual([64, 128]);
    if (arch === "qwen3") expect(st.tensors.get("model.layers.1.self_attn.q_norm.weight")!.shape).toEqual([16]);
    if (arch === "qwen2") expect(st.tensors.get("model.layers.1.self_attn.k_proj.bias")!.shape).toEqual([32]);
    if (!spec.tieWordEmbeddings) expect(st.tensors.get("lm_head.weight")!.shape).toEqual([VOCAB_SIZE, 64]);
  });
});

describe("determinism and dtypes", () => {
  test("float16 / bfloat16 files equal MLX's own rounding of the float32 weights, and load in mlx-lm", () => {
    for (const dtype of ["float16", "bfloat16"]) {
      expect(py.dtypes[dtype]).toEqual({ same: true, generated: 4 });
    }
    expect(readJson(join(dirs.qwen3Bf16, "config.json")).torch_dtype).toBe("bfloat16");
    const f16 = readSafetensorsFile(join(dirs.qwen3F16, "model.safetensors"));
    for (const t of f16.tensors.values()) expect(t.dtype).toBe("F16");
  });
});

describe("safetensors writer and float conversion", () => {
  test("encode → parse round trip, header padded with spaces, sorted, contiguous", () => {
    const f = new Float32Array([1.5, -2, 3.25]);
    const bytes = encodeSafetensors([
      { name: "b", dtype: "F32", shape: [3], data: encodeFloats(f, "F32") },
      { name: "a", dtype: "U8", shape: [2, 1], data: new Uint8Array([7, 9]) },
      { name: "s", dtype: "BF16", shape: [], data: () => encodeFloats(new Float32Array([0.5]), "BF16") },
    ]);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const st = parseSafetensors(bytes);
    expect(st.headerText.trimEnd().length).toBeLessThanOrEqual(n);
    expect(st.headerText.slice(st.headerText.trimEnd().length)).toMatch(/^ *$/);
    expect([...st.tensors.keys()]).toEqual(["a", "b", "s"]);
    expect(st.tensors.get("a")!.dataOffsets).toEqual([0, 2]);
    expect(Array.from(decodeFloats(st.tensors.get("b")!.data, "F32"))).toEqual([1.5, -2, 3.25]);
    expect(Array.from(decodeFloats(st.tensors.get("s")!.data, "BF16"))).toEqual([0.5]);
    expect(() => encodeSafetensors([{ name: "x", dtype: "F32", shape: [2], data: new Uint8Array(4) }])).toThrow(
      /expected 8/,
    );
    expect(() => parseSafetensors(bytes.subarray(0, bytes.length - 1))).toThrow();
  });

  test("float16 rounds to nearest even, handles subnormals, overflow and NaN", () => {
    const cases: Array<[number, number]> = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [65519.99, 0x7bff],
      [65520, 0x7c00],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000],
      [1.5 * 2 ** -25, 0x0001],
      [2 ** -14, 0x0400],
      [1 + 2 ** -11, 0x3c00],
      [1 + 3 * 2 ** -11, 0x3c02],
      [1 + 2 ** -9 + 2 ** -11, 0x3c02],
      [0.1, 0x2e66],
    ];
    for (const [x, bits] of cases) expect({ x, bits: float32ToFloat16Bits(x) }).toEqual({ x, bits });
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN)))).toBe(true);
    const rng = new Rng(3);
    for (let i = 0; i < 2000; i++) {
      const x = rng.normal() * 10;
      expect(float16BitsToFloat32(float32ToFloat16Bits(x))).toBeCloseTo(x, 1);
    }
  });

  test("bfloat16 rounds to nearest even", () => {
    const cases: Array<[number, number]> = [
      [1, 0x3f80],
      [-1, 0xbf80],
      [1 + 2 ** -8, 0x3f80],
      [1 + 3 * 2 ** -8, 0x3f82],
      [1 + 2 ** -6 + 2 ** -8, 0x3f82],
      [3.4028234663852886e38, 0x7f80],
      [Infinity, 0x7f80],
      [0.1, 0x3dcd],
    ];
    for (const [x, bits] of cases) expect({ x, bits: float32ToBfloat16Bits(x) }).toEqual({ x, bits });
    expect(float32ToBfloat16Bits(NaN) & 0x7fc0).toBe(0x7fc0);
  });

  test("Rng is deterministic per (seed, name) and roughly standard normal", () => {
    const a = Rng.forTensor(1, "w").normalArray(20000, 1);
    const b = Rng.forTensor(1, "w").normalArray(20000, 1);
    expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer))).toBe(0);
    expect(Rng.forTensor(1, "v").normalArray(4, 1)).not.toEqual(a.subarray(0, 4));
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });
});
