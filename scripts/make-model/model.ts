/**
 * Writes a random-weight model directory in the mlx-community layout:
 * `config.json`, `model.safetensors`, `tokenizer.json`, `tokenizer_config.json`, `special_tokens_map.json`,
 * `generation_config.json`. Same options → byte-identical files.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import {
  ARCH_SPECS, VOCAB_SIZE, SIZES, buildConfig, buildGenerationConfig, buildSpecialTokensMap, buildTokenizerConfig,
  weightSpecs, type Arch, type ModelDtype, type SizeName,
} from "./architectures.ts";
import { addedTokenIds, buildTokenizerJson, trainBpe, type PretokenizerFlavor, type TrainedBpe } from "./bpe.ts";
import { CORPUS } from "./corpus.ts";
import { Rng } from "./random.ts";
import { encodeFloats, writeSafetensorsFile, type FloatDtype, type TensorSpec } from "./safetensors.ts";

/** Options of {@link makeModel}. */
export interface MakeModelOptions {
  arch: Arch;
  /** Output directory; created, or replaced if it already holds a model (a `config.json`) or is empty. */
  out: string;
  /** PRNG seed for the weights (integer, taken modulo 2^32). Default 0. */
  seed?: number;
  /** Size preset (key of {@link SIZES}). Default "tiny". */
  size?: SizeName;
  /** Storage dtype of every weight. Default "float32". */
  dtype?: ModelDtype;
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
  return JSON.stringify(value, null, 2) + "\n";
}

/** Builds the contents of every small file of the model (everything but the weights). */
export function buildModelFiles(arch: Arch, size: SizeName, dtype: ModelDtype): {
  files: Record<string, string>;
  tokenIds: Map<string, number>;
  eosTokenIds: number[];
} {
  const spec = ARCH_SPECS[arch];
  const bpe = trainedBpe(spec.flavor, VOCAB_SIZE - spec.addedTokens.length);
  const tokenIds = addedTokenIds(bpe, spec.addedTokens);
  const total = bpe.vocab.length + spec.addedTokens.length;
  if (total !== VOCAB_SIZE) throw new Error(`tokenizer has ${total} tokens, expected ${VOCAB_SIZE}`);
  const tokenizer = buildTokenizerJson({
    bpe, flavor: spec.flavor, addedTokens: spec.addedTokens, bosToken: spec.bosToken ?? undefined, ignoreMerges: spec.ignoreMerges,
  });
  const files: Record<string, string> = {
    "config.json": jsonFile(buildConfig(spec, SIZES[size], dtype, tokenIds)),
    "generation_config.json": jsonFile(buildGenerationConfig(spec, tokenIds)),
    "special_tokens_map.json": jsonFile(buildSpecialTokensMap(spec)),
    "tokenizer.json": jsonFile(tokenizer),
    "tokenizer_config.json": jsonFile(buildTokenizerConfig(spec, tokenIds)),
  };
  return { files, tokenIds, eosTokenIds: spec.stopTokens.map((t) => tokenIds.get(t)!) };
}

/** The weight tensors of a model, generated lazily (one tensor in memory at a time). */
export function weightTensors(arch: Arch, size: SizeName, dtype: ModelDtype, seed: number): TensorSpec[] {
  const st = SAFETENSORS_DTYPE[dtype];
  return weightSpecs(ARCH_SPECS[arch], SIZES[size], VOCAB_SIZE).map((w) => ({
    name: w.name,
    dtype: st,
    shape: w.shape,
    data: () => {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const values = Rng.forTensor(seed, w.name).normalArray(n, w.init.std, w.init.mean);
      if (w.scaleTailRows) {
        const rowLength = n / w.shape[0];
        const { firstRow, scale } = w.scaleTailRows;
        for (let i = firstRow * rowLength; i < n; i++) values[i] = Math.fround(values[i]! * scale);
      }
      return encodeFloats(values, st);
    },
  }));
}

/**
 * Generates the model into `opts.out`. Files are written into a temporary directory beside it, fsync'ed, then
 * renamed into place, so an interrupted run never leaves a half-written model at `out` (an existing model there
 * is moved aside first and removed after the swap).
 */
export function makeModel(opts: MakeModelOptions): MakeModelResult {
  const arch = opts.arch;
  const size = opts.size ?? "tiny";
  const dtype = opts.dtype ?? "float32";
  const seed = opts.seed ?? 0;
  if (!(arch in ARCH_SPECS)) throw new Error(`unknown arch ${arch}`);
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
  const { files, tokenIds, eosTokenIds } = buildModelFiles(arch, size, dtype);
  mkdirSync(tmp);
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(tmp, name), text, { mode: 0o644, flush: true });
    writeSafetensorsFile(join(tmp, "model.safetensors"), weightTensors(arch, size, dtype, seed), { format: "mlx" });
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
  return { dir, vocabSize: VOCAB_SIZE, tokenIds, eosTokenIds, files: [...Object.keys(files), "model.safetensors"].sort() };
}
