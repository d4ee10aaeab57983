/** Repository paths the tests share: the Python venv made by `scripts/setup.sh`, Bun, and model generation. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Arch, ModelDtype, RopeKind, SizeName } from "../../scripts/make-model/architectures.ts";
import { makeModel as generateModel } from "../../scripts/make-model/model.ts";
import { parseQuantOverride } from "../../scripts/make-model/quantize.ts";

export const REPO = join(import.meta.dir, "..", "..");
/** Python of the project venv (mlx, mlx-lm). */
export const PYTHON = join(REPO, ".venv", "bin", "python");
/** The Bun running the tests. */
export const BUN = process.execPath;

/** A fresh temporary directory. */
export function tempDir(prefix = "ithaca-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Options of {@link makeModel}: those of `scripts/make-model.ts` (`--seed`, `--size`, `--dtype`, `--rope`, `--bits`,
 * `--group-size`, `--quant-override` (each `PATH=float|BITS[/GROUP_SIZE]`), `--shards`). */
export interface TestModelOptions {
  seed?: number;
  size?: SizeName;
  dtype?: ModelDtype;
  rope?: RopeKind;
  bits?: number;
  groupSize?: number;
  quantOverrides?: string[];
  shards?: number;
}

const made = new Map<string, string>();

/**
 * Generates a model with scripts/make-model (in process) into a temp dir, once per argument set per test process.
 * @returns the model directory.
 */
export function makeModel(arch: Arch, opts: TestModelOptions = {}): string {
  const normalized = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1)));
  const key = JSON.stringify([arch, normalized]);
  const cached = made.get(key);
  if (cached) return cached;
  const out = join(tempDir("ithaca-model-"), `${arch}-${opts.seed ?? 0}`);
  if (opts.bits === undefined && (opts.groupSize !== undefined || opts.quantOverrides?.length)) throw new Error("makeModel: groupSize / quantOverrides need bits");
  const groupSize = opts.groupSize ?? 64;
  generateModel({
    arch,
    out,
    seed: opts.seed ?? 0,
    size: opts.size,
    dtype: opts.dtype,
    rope: opts.rope,
    shards: opts.shards,
    quantization: opts.bits === undefined ? undefined : {
      bits: opts.bits,
      groupSize,
      overrides: Object.fromEntries((opts.quantOverrides ?? []).map((o) => parseQuantOverride(o, groupSize))),
    },
  });
  made.set(key, out);
  return out;
}

/** Runs a Python script with the project venv; returns stdout. @throws Error with stderr on a non-zero exit. */
export function runPython(script: string, args: string[]): string {
  const r = Bun.spawnSync([PYTHON, script, ...args], { cwd: REPO, stderr: "pipe", stdout: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${script} exited ${r.exitCode}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}
