/**
 * Writes a random-weight model directory in the mlx-community layout:
 * `config.json`, `model.safetensors` (or `model-0000i-of-0000N.safetensors` shards with
 * `model.safetensors.index.json`), `tokenizer.json`, `tokenizer_config.json`, `special_tokens_map.json`,
 * `generation_config.json`; float, or affine-quantized as mlx_lm.convert writes it. Same options → byte-identical
 * files. With `scripts`, the weights are constructed instead of random (scripted-weights.ts).
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import {
  ARCH_SPECS,
  ROPE_KINDS,
  VOCAB_SIZE,
  SIZES,
  buildConfig,
  buildGenerationConfig,
  buildSpecialTokensMap,
  buildTokenizerConfig,
  type Arch,
  type ArchSpec,
  type ModelDtype,
  type RopeKind,
  type SizeName,
} from "./architectures.ts";
import { addedTokenIds, buildTokenizerJson, trainBpe, type PretokenizerFlavor, type TrainedBpe } from "./bpe.ts";
import { CORPUS } from "./corpus.ts";
import { buildScriptedWeights } from "./scripted-weights.ts";
import { DEFAULT_SCRIPT_ORDER, planScripts, type Script, type ScriptPlan } from "./scripted.ts";
import {
  planQuantization,
  quantizeWeight,
  totalParameters,
  type QuantOptions,
  type QuantizedBytes,
} from "./quantize.ts";
import { Rng } from "./random.ts";
import {
  encodeFloats,
  tensorByteLength,
  writeSafetensorsFile,
  type FloatDtype,
  type TensorSpec,
} from "./safetensors.ts";
import { weightSpecs, type WeightSpec } from "./weights.ts";

/** Options of {@link makeModel}. */
export interface MakeModelOptions {
  arch: Arch;
  /** Output directory; created, or replaced if it already holds a model (a `config.json`) or is empty. */
  out: string;
  /** PRNG seed for the weights (integer, taken modulo 2^32). Default 0. */
  seed?: number;
  /** Size preset (key of {@link SIZES}). Default "tiny". */
  size?: SizeName;
  /** Storage dtype of every float weight (and of quantization scales / biases). Default "float32". */
  dtype?: ModelDtype;
  /** `rope_scaling` kind. Default: the architecture's (llama: `llama3`, others: `default`). */
  rope?: RopeKind;
  /** Affine quantization (bits, group size, per-module overrides), as `mlx_lm.convert -q`. Default: none. */
  quantization?: QuantOptions;
  /** Number of safetensors shards (≥ 1; > 1 writes `model.safetensors.index.json`). Default 1. */
  shards?: number;
  /**
   * Makes a scripted model (scripted.ts, scripted-weights.ts): greedy decoding emits each script's `emit` (then the
   * end-of-turn token) after a prompt ending in its `after`. Untied embeddings, unscaled RoPE, no quantization;
   * default size "small".
   */
  scripts?: Script[];
  /** Tokens a scripted model conditions on (1 to 4). Default {@link DEFAULT_SCRIPT_ORDER}. */
  scriptOrder?: number;
}

/** What {@link makeModel} wrote. */
export interface MakeModelResult {
  dir: string;
  vocabSize: number;
  /** Id of every added token, by content. */
  tokenIds: Map<string, number>;
  /** End-of-generation ids (config `eos_token_id`), primary first. */
  eosTokenIds: number[];
  files: string[];
  /** For a scripted model: the token-level plan and the margins its check measured. */
  script?: { plan: ScriptPlan; attentionMargin: number; logitMargin: number };
}

const SAFETENSORS_DTYPE: Record<ModelDtype, FloatDtype> = { float32: "F32", float16: "F16", bfloat16: "BF16" };

const bpeCache = new Map<string, TrainedBpe>();
/** The trained BPE of a flavour for a number of BPE tokens (memoised: training takes a few hundred ms). */
export function trainedBpe(flavor: PretokenizerFlavor, bpeVocabSize: number): TrainedBpe {
  const key = `${flavor}/${bpeVocabSize}`;
  let bpe = bpeCache.get(key);
  if (!bpe) {
    bpe = trainBpe(CORPUS, bpeVocabSize, flavor);
    bpeCache.set(key, bpe);
  }
  return bpe;
}

/** Serialises JSON the way Hugging Face tools write these files (2-space indent, trailing newline). */
function jsonFile(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Builds the contents of every small file of the model (everything but the weights). */
export function buildModelFiles(
  arch: Arch,
  size: SizeName,
  dtype: ModelDtype,
  rope?: RopeKind,
  quantization?: Record<string, unknown>,
  spec: ArchSpec = ARCH_SPECS[arch],
): {
  files: Record<string, string>;
  tokenIds: Map<string, number>;
  eosTokenIds: number[];
} {
  const bpe = trainedBpe(spec.flavor, VOCAB_SIZE - spec.addedTokens.length);
  const tokenIds = addedTokenIds(bpe, spec.addedTokens);
  const total = bpe.vocab.length + spec.addedTokens.length;
  if (total !== VOCAB_SIZE) throw new Error(`tokenizer has ${total} tokens, expected ${VOCAB_SIZE}`);
  const tokenizer = buildTokenizerJson({
    bpe,
    flavor: spec.flavor,
    addedTokens: spec.addedTokens,
    bosToken: spec.bosToken ?? undefined,
    ignoreMerges: spec.ignoreMerges,
  });
  const files: Record<string, string> = {
    "config.json": jsonFile(
      buildConfig(spec, SIZES[size], tokenIds, { dtype, rope: rope ?? spec.defaultRope, quantization }),
    ),
    "generation_config.json": jsonFile(buildGenerationConfig(spec, tokenIds)),
    "special_tokens_map.json": jsonFile(buildSpecialTokensMap(spec)),
    "tokenizer.json": jsonFile(tokenizer),
    "tokenizer_config.json": jsonFile(buildTokenizerConfig(spec, tokenIds)),
  };
  return { files, tokenIds, eosTokenIds: spec.stopTokens.map((t) => tokenIds.get(t)!) };
}

/** The float32 values of one weight (deterministic in seed and name). */
function sampleWeight(w: WeightSpec, seed: number): Float32Array {
  const n = w.shape.reduce((a, b) => a * b, 1);
  const values = Rng.forTensor(seed, w.name).normalArray(n, w.init.std, w.init.mean);
  if (w.scaleTailRows) {
    const rowLength = n / w.shape[0];
    const { firstRow, scale } = w.scaleTailRows;
    for (let i = firstRow * rowLength; i < n; i++) values[i] = Math.fround(values[i]! * scale);
  }
  return values;
}

/**
 * The weight tensors of a model, generated lazily (one module in memory at a time). A quantized module gives
 * `<path>.weight` (U32), `.scales` and `.biases`, computed once when the first of the three is written.
 * @param spec the architecture (default `ARCH_SPECS[arch]`; a scripted model passes it untied)
 * @param fixed float32 contents of tensors that are not sampled (a scripted model's), by name
 */
export function weightTensors(
  arch: Arch,
  size: SizeName,
  dtype: ModelDtype,
  seed: number,
  quantization?: QuantOptions,
  spec: ArchSpec = ARCH_SPECS[arch],
  fixed?: ReadonlyMap<string, Float32Array>,
): TensorSpec[] {
  const st = SAFETENSORS_DTYPE[dtype];
  const specs = weightSpecs(spec, SIZES[size], VOCAB_SIZE);
  const plan = quantization ? planQuantization(specs, quantization).plan : new Map();
  const names = new Set(specs.map((w) => w.name));
  for (const name of fixed?.keys() ?? [])
    if (!names.has(name)) throw new Error(`fixed tensor ${name} is not a weight of this model`);
  const out: TensorSpec[] = [];
  for (const w of specs) {
    const q = w.module ? plan.get(w.module) : undefined;
    const given = fixed?.get(w.name);
    if (given && given.length !== w.shape.reduce((a, b) => a * b, 1))
      throw new Error(`${w.name}: fixed tensor has the wrong size`);
    if (given && q) throw new Error(`${w.name}: fixed tensors cannot be quantized`);
    if (given) {
      out.push({ name: w.name, dtype: st, shape: w.shape, data: () => encodeFloats(given, st) });
      continue;
    }
    if (!q) {
      out.push({ name: w.name, dtype: st, shape: w.shape, data: () => encodeFloats(sampleWeight(w, seed), st) });
      continue;
    }
    const [rows, cols] = w.shape as [number, number];
    let memo: QuantizedBytes | undefined;
    let pending = 3;
    const part = (key: keyof QuantizedBytes) => () => {
      memo ??= quantizeWeight(sampleWeight(w, seed), [rows, cols], dtype, st, q);
      const bytes = memo[key];
      if (--pending === 0) memo = undefined;
      return bytes;
    };
    out.push(
      { name: `${w.module}.weight`, dtype: "U32", shape: [rows, (cols * q.bits) / 32], data: part("weight") },
      { name: `${w.module}.scales`, dtype: st, shape: [rows, cols / q.groupSize], data: part("scales") },
      { name: `${w.module}.biases`, dtype: st, shape: [rows, cols / q.groupSize], data: part("biases") },
    );
  }
  return out;
}

/**
 * Splits tensors (sorted by name) into `count` contiguous shards of about equal bytes, named as mlx-lm's
 * `save_model` names them, with its index (`metadata.total_size`, `metadata.total_parameters`, sorted `weight_map`).
 */
function shardTensors(
  tensors: readonly TensorSpec[],
  count: number,
  totalParams: number,
): { files: Map<string, TensorSpec[]>; index?: string } {
  if (count === 1) return { files: new Map([["model.safetensors", [...tensors]]]) };
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (count > sorted.length) throw new Error(`cannot write ${count} shards of ${sorted.length} tensors`);
  const sizes = sorted.map((t) => tensorByteLength(t.dtype, t.shape));
  const total = sizes.reduce((a, b) => a + b, 0);
  const name = (i: number) =>
    `model-${String(i + 1).padStart(5, "0")}-of-${String(count).padStart(5, "0")}.safetensors`;
  const files = new Map<string, TensorSpec[]>();
  let shard = 0;
  let acc = 0;
  sorted.forEach((t, i) => {
    // Next shard once this one holds its share of the bytes, or when the tensors left just fill the empty shards.
    const started = files.has(name(shard));
    const full = acc >= ((shard + 1) * total) / count;
    const mustMove = sorted.length - i <= count - 1 - shard;
    if (started && shard < count - 1 && (full || mustMove)) shard++;
    const list = files.get(name(shard)) ?? [];
    list.push(t);
    files.set(name(shard), list);
    acc += sizes[i]!;
  });
  const weightMap: Record<string, string> = {};
  for (const [file, list] of files) for (const t of list) weightMap[t.name] = file;
  const index = { metadata: { total_size: total, total_parameters: totalParams }, weight_map: weightMap };
  return { files, index: `${JSON.stringify(index, null, 4)}\n` };
}

/**
 * Generates the model into `opts.out`. Files are written into a temporary directory beside it, fsync'ed, then
 * renamed into place, so an interrupted run never leaves a half-written model at `out` (an existing model there
 * is moved aside first and removed after the swap).
 */
export function makeModel(opts: MakeModelOptions): MakeModelResult {
  const arch = opts.arch;
  const scripted = opts.scripts !== undefined;
  const size = opts.size ?? (scripted ? "small" : "tiny");
  const dtype = opts.dtype ?? "float32";
  const seed = opts.seed ?? 0;
  const shards = opts.shards ?? 1;
  if (!(arch in ARCH_SPECS)) throw new Error(`unknown arch ${arch}`);
  if (opts.rope !== undefined && !ROPE_KINDS.includes(opts.rope)) throw new Error(`unknown rope scaling ${opts.rope}`);
  if (!Number.isSafeInteger(shards) || shards < 1) throw new Error(`shards must be a positive integer, got ${shards}`);
  if (!(size in SIZES)) throw new Error(`unknown size ${size}`);
  if (!(dtype in SAFETENSORS_DTYPE)) throw new Error(`unknown dtype ${dtype}`);
  if (!Number.isSafeInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);

  const dir = resolve(opts.out);
  if (existsSync(dir) && readdirSync(dir).length > 0 && !existsSync(join(dir, "config.json"))) {
    throw new Error(`${dir} exists and is not a model directory (no config.json); refusing to replace it`);
  }
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const tmp = join(parent, `.${basename(dir)}.tmp-${tag}`);
  if (scripted && opts.quantization) throw new Error("a scripted model cannot be quantized");
  if (scripted && opts.rope !== undefined && opts.rope !== "default")
    throw new Error("a scripted model needs rope 'default' (unscaled RoPE)");
  if (!scripted && opts.scriptOrder !== undefined) throw new Error("scriptOrder needs scripts");
  const spec: ArchSpec = scripted ? { ...ARCH_SPECS[arch], tieWordEmbeddings: false } : ARCH_SPECS[arch];
  const rope = scripted ? "default" : opts.rope;
  const specs = weightSpecs(spec, SIZES[size], VOCAB_SIZE);
  const block = opts.quantization ? planQuantization(specs, opts.quantization).block : undefined;
  const { files, tokenIds, eosTokenIds } = buildModelFiles(arch, size, dtype, rope, block, spec);
  let script: MakeModelResult["script"];
  let fixed: Map<string, Float32Array> | undefined;
  if (scripted) {
    const tokenizer = new Tokenizer(JSON.parse(files["tokenizer.json"]!), JSON.parse(files["tokenizer_config.json"]!));
    const plan = planScripts(
      {
        encode: (text) => tokenizer.encode(text, { add_special_tokens: false }).ids,
        tokenText: (id) => tokenizer.decode([id]),
      },
      opts.scripts!,
      opts.scriptOrder ?? DEFAULT_SCRIPT_ORDER,
      eosTokenIds[0]!,
    );
    const built = buildScriptedWeights(spec, SIZES[size], VOCAB_SIZE, seed, plan);
    script = { plan, attentionMargin: built.attentionMargin, logitMargin: built.logitMargin };
    fixed = built.tensors;
  }
  const weights = shardTensors(
    weightTensors(arch, size, dtype, seed, opts.quantization, spec, fixed),
    shards,
    totalParameters(specs),
  );
  if (weights.index) files["model.safetensors.index.json"] = weights.index;
  mkdirSync(tmp);
  try {
    for (const [name, text] of Object.entries(files))
      writeFileSync(join(tmp, name), text, { mode: 0o644, flush: true });
    for (const [name, tensors] of weights.files) writeSafetensorsFile(join(tmp, name), tensors, { format: "mlx" });
    if (existsSync(dir)) {
      const old = join(parent, `.${basename(dir)}.old-${tag}`);
      renameSync(dir, old);
      renameSync(tmp, dir);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, dir);
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return {
    dir,
    vocabSize: VOCAB_SIZE,
    tokenIds,
    eosTokenIds,
    files: [...Object.keys(files), ...weights.files.keys()].sort(),
    script,
  };
}
