/** Repository paths the tests share: the Python venv made by `scripts/setup.sh`, Bun, and model generation. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const REPO = join(import.meta.dir, "..", "..");
/** Python of the project venv (mlx, mlx-lm). */
export const PYTHON = join(REPO, ".venv", "bin", "python");
/** The Bun running the tests. */
export const BUN = process.execPath;

/** A fresh temporary directory. */
export function tempDir(prefix = "ithaca-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

const made = new Map<string, string>();

/**
 * Generates a model with `scripts/make-model.ts` into a temp dir (once per argument set per test process).
 * @returns the model directory.
 */
export function makeModel(arch: "llama" | "qwen3", opts: { seed?: number; size?: string; dtype?: string } = {}): string {
  const key = JSON.stringify([arch, opts]);
  const cached = made.get(key);
  if (cached) return cached;
  const out = join(tempDir("ithaca-model-"), `${arch}-${opts.seed ?? 0}`);
  const args = ["scripts/make-model.ts", "--arch", arch, "--out", out, "--seed", String(opts.seed ?? 0)];
  if (opts.size) args.push("--size", opts.size);
  if (opts.dtype) args.push("--dtype", opts.dtype);
  const r = Bun.spawnSync([BUN, ...args], { cwd: REPO, stderr: "pipe", stdout: "pipe" });
  if (r.exitCode !== 0) throw new Error(`make-model failed: ${r.stderr.toString()}`);
  made.set(key, out);
  return out;
}

/** Runs a Python script with the project venv; returns stdout. @throws Error with stderr on a non-zero exit. */
export function runPython(script: string, args: string[]): string {
  const r = Bun.spawnSync([PYTHON, script, ...args], { cwd: REPO, stderr: "pipe", stdout: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${script} exited ${r.exitCode}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}
