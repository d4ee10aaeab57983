/**
 * scripts/make-model.ts and its library entry point (scripts/make-model/model.ts): same arguments → identical bytes
 * (CLI and library alike), replacing an existing model but refusing other directories, and the CLI's argument errors.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeModel } from "../../scripts/make-model/model.ts";
import { readSafetensorsFile } from "../../scripts/make-model/safetensors.ts";
import { BUN, REPO } from "../helpers/paths.ts";
import { modelFixture, readJson } from "./fixtures.ts";

const { root, dirs } = modelFixture("ithaca-make-model-", ["qwen3", "qwen3Again", "qwen3Seed2"]);

describe("determinism and dtypes", () => {
  test("same seed → identical bytes; different seed → different weights, same tokenizer", () => {
    for (const name of readdirSync(dirs.qwen3)) {
      expect({
        name,
        same: Buffer.compare(readFileSync(join(dirs.qwen3, name)), readFileSync(join(dirs.qwen3Again, name))) === 0,
      }).toEqual({ name, same: true });
    }
    for (const name of ["config.json", "tokenizer.json", "tokenizer_config.json"]) {
      expect(readFileSync(join(dirs.qwen3Seed2, name), "utf8")).toBe(readFileSync(join(dirs.qwen3, name), "utf8"));
    }
    const a = readSafetensorsFile(join(dirs.qwen3, "model.safetensors"));
    const b = readSafetensorsFile(join(dirs.qwen3Seed2, "model.safetensors"));
    expect(b.headerText).toBe(a.headerText);
    for (const [name, t] of a.tensors)
      expect({ name, same: Buffer.compare(t.data, b.tensors.get(name)!.data) === 0 }).toEqual({ name, same: false });
  });

  test("replacing an existing model works; a non-model directory is refused", () => {
    const out = join(root, "replace-me");
    makeModel({ arch: "qwen3", out, seed: 5 });
    makeModel({ arch: "llama", out, seed: 5 });
    expect(readJson(join(out, "config.json")).model_type).toBe("llama");
    const precious = join(root, "precious");
    Bun.spawnSync(["mkdir", "-p", precious]);
    writeFileSync(join(precious, "notes.txt"), "keep me");
    expect(() => makeModel({ arch: "qwen3", out: precious })).toThrow(/not a model directory/);
    expect(readFileSync(join(precious, "notes.txt"), "utf8")).toBe("keep me");
    rmSync(out, { recursive: true });
    rmSync(precious, { recursive: true });
    expect(readdirSync(root).filter((n) => n.startsWith("."))).toEqual([]);
  });

  test("CLI rejects bad arguments with exit status 2", () => {
    const x = join(root, "x");
    const bad: Array<[string[], string]> = [
      [["--arch", "gpt2"], "--arch must be one of llama, mistral, qwen2, qwen3"],
      [["--arch", "llama", "--bits", "7"], "--bits must be one of 2, 3, 4, 5, 6, 8"],
      [["--arch", "llama", "--bits", "4", "--group-size", "48"], "--group-size must be one of 32, 64, 128"],
      [["--arch", "llama", "--quant-override", "lm_head=8"], "--quant-override needs --bits"],
      [
        ["--arch", "llama", "--bits", "4", "--quant-override", "lm_head"],
        "expected PATH=float, PATH=BITS or PATH=BITS/GROUP_SIZE",
      ],
      [["--arch", "qwen3", "--bits", "4", "--quant-override", "lm_head=8"], "lm_head: no quantizable module"],
      [["--arch", "llama", "--bits", "4", "--quant-override", "model.norm=8"], "model.norm: no quantizable module"],
      [["--arch", "llama", "--rope", "dynamic"], "--rope must be one of default, linear, llama3, yarn"],
      [["--arch", "llama", "--shards", "0"], "--shards must be a positive integer"],
    ];
    for (const [args, message] of bad) {
      const r = Bun.spawnSync([BUN, "scripts/make-model.ts", ...args, "--out", x], {
        cwd: REPO,
        stdout: "pipe",
        stderr: "pipe",
      });
      expect({ args, exitCode: r.exitCode, message: r.stderr.toString().includes(message) }).toEqual({
        args,
        exitCode: 2,
        message: true,
      });
      expect(r.stderr.toString()).toContain("usage:");
    }
    expect(existsSync(x)).toBe(false);
  });
});
