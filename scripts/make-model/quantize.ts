/**
 * Affine quantization of generated weights as `mlx_lm.convert -q` does it (mlx-lm `utils.quantize_model`): every
 * module with `to_quantized` (Linear, Embedding) whose weight's last dimension is divisible by the group size is
 * quantized with MLX's own `quantize` op (through the project's ffi binding), norms and biases never; per-module
 * overrides become entries of the config `quantization` block (`{group_size, bits, mode}`, or `false` for a
 * module kept in float).
 */
import { Dtype, ops } from "bun-ffi-mlx-bindings";
import type { ModelDtype } from "./architectures.ts";
import { encodeFloats, type FloatDtype } from "./safetensors.ts";
import type { WeightSpec } from "./weights.ts";

/** Bit widths and group sizes MLX's affine quantization accepts. */
export const QUANT_BITS: readonly number[] = [2, 3, 4, 5, 6, 8];
export const QUANT_GROUP_SIZES: readonly number[] = [32, 64, 128];

/** Quantization parameters of one module. */
export interface QuantParams {
  bits: number;
  groupSize: number;
}

/** What to quantize: model-wide parameters plus per-module overrides (`false` = keep in float). */
export interface QuantOptions extends QuantParams {
  overrides?: Readonly<Record<string, QuantParams | false>>;
}

function checkParams(p: QuantParams, what: string): void {
  if (!QUANT_BITS.includes(p.bits))
    throw new Error(`${what}: bits must be one of ${QUANT_BITS.join(", ")}, got ${p.bits}`);
  if (!QUANT_GROUP_SIZES.includes(p.groupSize))
    throw new Error(`${what}: group size must be one of ${QUANT_GROUP_SIZES.join(", ")}, got ${p.groupSize}`);
}

/**
 * Decides, for every quantizable module, its parameters (absent = float), and builds the config block.
 * @returns `plan`: module path → parameters; `block`: the `quantization` object of config.json.
 * @throws Error for bad parameters, an override naming no quantizable module, or an override the module's input
 *   size cannot take.
 */
export function planQuantization(
  specs: readonly WeightSpec[],
  q: QuantOptions,
): { plan: Map<string, QuantParams>; block: Record<string, unknown> } {
  checkParams(q, "quantization");
  const overrides = q.overrides ?? {};
  const modules = new Map(specs.filter((w) => w.module).map((w) => [w.module!, w]));
  for (const [path, o] of Object.entries(overrides)) {
    if (!modules.has(path))
      throw new Error(`quantization override ${path}: no quantizable module of that name (Linear or Embedding)`);
    if (o) checkParams(o, `quantization override ${path}`);
  }
  const plan = new Map<string, QuantParams>();
  const block: Record<string, unknown> = { group_size: q.groupSize, bits: q.bits, mode: "affine" };
  for (const [path, w] of modules) {
    const inDims = w.shape.at(-1)!;
    const o = overrides[path];
    // mlx-lm's default predicate: only modules whose last weight dimension the group size divides.
    if (inDims % q.groupSize !== 0) {
      if (o)
        throw new Error(
          `quantization override ${path}: mlx-lm leaves this module in float (${inDims} inputs, group size ${q.groupSize})`,
        );
      continue;
    }
    if (o === false) {
      block[path] = false;
      continue;
    }
    const params = o ?? { bits: q.bits, groupSize: q.groupSize };
    if (inDims % params.groupSize !== 0)
      throw new Error(
        `quantization override ${path}: ${inDims} inputs not divisible by group size ${params.groupSize}`,
      );
    if (o) block[path] = { group_size: o.groupSize, bits: o.bits, mode: "affine" };
    plan.set(path, params);
  }
  return { plan, block };
}

const MLX_DTYPE: Record<ModelDtype, Dtype> = {
  float32: Dtype.float32,
  float16: Dtype.float16,
  bfloat16: Dtype.bfloat16,
};

/** The three tensors of a quantized module, as little-endian bytes. */
export interface QuantizedBytes {
  /** uint32 `[out, in·bits/32]`. */
  weight: Uint8Array;
  /** `[out, in/groupSize]` in the model dtype. */
  scales: Uint8Array;
  biases: Uint8Array;
}

/**
 * Casts `values` (`[out, in]`, float32) to the model dtype and quantizes them with MLX (`mlx_quantize`, affine),
 * as mlx_lm.convert casts to `torch_dtype` and then calls `nn.quantize`.
 */
export function quantizeWeight(
  values: Float32Array,
  shape: readonly [number, number],
  dtype: ModelDtype,
  st: FloatDtype,
  p: QuantParams,
): QuantizedBytes {
  using w = ops.fromArray(values, shape, MLX_DTYPE[dtype]);
  const [wq, scales, biases] = ops.quantize(w, p.groupSize, p.bits);
  try {
    const packed = wq.toUint32();
    return {
      weight: new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength),
      // Exact: the scales and biases are values of the model dtype, widened to float32 for the copy.
      scales: encodeFloats(scales.toFloat32(), st),
      biases: encodeFloats(biases.toFloat32(), st),
    };
  } finally {
    wq.free();
    scales.free();
    biases.free();
  }
}

/**
 * `total_parameters` of mlx-lm's index metadata (`utils.get_total_parameters`): a quantized weight counts its
 * unpacked size (`packed · 32 / bits`), scales and biases are not counted.
 */
export function totalParameters(specs: readonly WeightSpec[]): number {
  return specs.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * Parses a `--quant-override` value: `PATH=float` (kept in float), `PATH=BITS` (group size `defaultGroupSize`) or
 * `PATH=BITS/GROUP_SIZE`, e.g. `lm_head=8`, `model.layers.0.mlp.down_proj=float`, `model.embed_tokens=6/32`.
 * @throws Error describing the expected form.
 */
export function parseQuantOverride(
  text: string,
  defaultGroupSize: number,
): [path: string, params: QuantParams | false] {
  const m = /^([A-Za-z0-9_.]+)=(?:(float)|(\d+)(?:\/(\d+))?)$/.exec(text);
  if (!m)
    throw new Error(`--quant-override ${JSON.stringify(text)}: expected PATH=float, PATH=BITS or PATH=BITS/GROUP_SIZE`);
  if (m[2]) return [m[1]!, false];
  return [m[1]!, { bits: Number(m[3]), groupSize: m[4] ? Number(m[4]) : defaultGroupSize }];
}
