/**
 * The two inputs both engines share: a generated model directory (cached under `models/`) and a prompt of exactly
 * N token ids written to a JSON file, so Ithaca and mlx-lm see identical tokens without tokenizing on their own.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ModelTokenizer } from "../../src/engine/tokenizer.ts";
import { CORPUS } from "../../scripts/make-model/corpus.ts";

/** What `scripts/make-model.ts` is asked to generate. */
export interface ModelSpec {
  arch: string;
  size: string;
  /** Quantization bits; undefined = unquantized. */
  bits: number | undefined;
  groupSize: number;
  /** `--dtype` of make-model (float weights, or the scales/biases of a quantized model); undefined = its default. */
  dtype: string | undefined;
  seed: number;
}

/** Cache directory of a generated model: `models/bench-<arch>-<size>[-<dtype>][-q<bits>g<gs>]-s<seed>`. */
export function modelCacheDir(repo: string, s: ModelSpec): string {
  const parts = [s.arch, s.size, s.dtype, s.bits === undefined ? undefined : `q${s.bits}g${s.groupSize}`, `s${s.seed}`];
  return join(repo, "models", `bench-${parts.filter(Boolean).join("-")}`);
}

/**
 * Returns the model directory for `spec`, generating it with `scripts/make-model.ts` when it has no `config.json` yet.
 * @throws Error with make-model's message when generation fails (e.g. a flag it does not know).
 */
export function ensureModel(repo: string, spec: ModelSpec): string {
  const dir = modelCacheDir(repo, spec);
  if (existsSync(join(dir, "config.json"))) return dir;
  const args = [
    "scripts/make-model.ts",
    "--arch",
    spec.arch,
    "--size",
    spec.size,
    "--seed",
    String(spec.seed),
    "--out",
    dir,
  ];
  if (spec.dtype) args.push("--dtype", spec.dtype);
  if (spec.bits !== undefined) args.push("--bits", String(spec.bits), "--group-size", String(spec.groupSize));
  console.error(`generating model: bun ${args.join(" ")}`);
  const r = Bun.spawnSync([process.execPath, ...args], { cwd: repo, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`make-model failed:\n${r.stderr.toString()}`);
  return dir;
}

/**
 * Exactly `n` prompt token ids: the make-model training corpus, tokenized with the model's own tokenizer and repeated
 * as needed (ordinary text, no special tokens).
 */
export function buildPrompt(modelDir: string, n: number): number[] {
  const base = new ModelTokenizer(modelDir).encode(CORPUS);
  if (base.length === 0) throw new Error("the corpus tokenized to no tokens");
  const ids: number[] = [];
  while (ids.length < n) ids.push(...base.slice(0, n - ids.length));
  return ids;
}

/** Writes `ids` as a JSON array to `file` (the children's `--prompt-file`). */
export function writePrompt(file: string, ids: number[]): void {
  writeFileSync(file, JSON.stringify(ids));
}

/** One line describing the model's shape, quantization and size on disk, from its `config.json`. */
export function describeModel(dir: string): string {
  const c = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as Record<string, unknown>;
  const q = c.quantization as { bits?: number; group_size?: number } | undefined;
  const bytes = readdirSync(dir)
    .filter((f) => f.endsWith(".safetensors"))
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  const shape =
    `${c.model_type}: ${c.num_hidden_layers} layers, hidden ${c.hidden_size}, heads ${c.num_attention_heads}/${c.num_key_value_heads} ` +
    `(head_dim ${c.head_dim ?? "—"}), ffn ${c.intermediate_size}, vocab ${c.vocab_size}`;
  const weights = q ? `${q.bits}-bit g${q.group_size}, scales ${c.torch_dtype}` : String(c.torch_dtype);
  return `${shape}; ${weights}; ${(bytes / 2 ** 20).toFixed(0)} MiB of weights`;
}
