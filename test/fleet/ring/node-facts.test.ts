/**
 * A ring node's facts (src/fleet/ring/node-facts.ts) read over SSH from a real OpenSSH server on loopback
 * (test/helpers/sshd.ts): memory and budget, a complete model with its config and weight size, each way a model can
 * be incomplete (no directory, a missing shard named by the index, no tokenizer, a partial download), `~/` models
 * directories, paths refused before anything runs, and planning facts read from a config.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  modelFactsOf,
  nodeFactsCommand,
  parseNodeFacts,
  RAM_SHARE,
  readNodeFacts,
  validModelPath,
} from "../../../src/fleet/ring/node-facts.ts";
import { SshPool, type SshEndpoint } from "../../../src/fleet/ssh.ts";
import { tempDir } from "../../helpers/paths.ts";
import { TestSshd } from "../../helpers/sshd.ts";

let sshd: TestSshd;
let pool: SshPool;
let endpoint: SshEndpoint;
const modelsDir = tempDir("ring-models");

const CONFIG = {
  model_type: "qwen3",
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  intermediate_size: 256,
};

/** Writes a model directory under `modelsDir`; `files` maps names to contents. */
function model(name: string, files: Record<string, string>): void {
  const dir = join(modelsDir, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [file, body] of Object.entries(files)) writeFileSync(join(dir, file), body);
}

const complete = {
  "config.json": JSON.stringify(CONFIG),
  "tokenizer.json": "{}",
  "model-00001-of-00002.safetensors": "x".repeat(1000),
  "model-00002-of-00002.safetensors": "y".repeat(500),
  "model.safetensors.index.json": JSON.stringify({
    weight_map: { a: "model-00001-of-00002.safetensors", b: "model-00002-of-00002.safetensors" },
  }),
};

/** /proc/meminfo's MemTotal here, in bytes (the node is this machine). */
function memTotal(): number {
  const line = Bun.spawnSync(["grep", "^MemTotal:", "/proc/meminfo"]).stdout.toString();
  return Number(/(\d+)/.exec(line)?.[1]) * 1024;
}

beforeAll(async () => {
  sshd = await TestSshd.start();
  pool = new SshPool({ connectTimeoutMs: 3_000 });
  endpoint = { name: "node0", target: sshd.target, keyPath: sshd.userKey, hostKey: null };
});

afterAll(async () => {
  pool?.close();
  await sshd?.stop();
});

describe("over SSH", () => {
  test("a complete sharded model: present, nothing missing, its config and weights' size; memory and budget", async () => {
    model("good", complete);
    const facts = await readNodeFacts(pool, endpoint, modelsDir, "good");
    expect(facts).toEqual({
      memBytes: memTotal(),
      budgetBytes: memTotal() * RAM_SHARE,
      present: true,
      missing: [],
      weightBytes: 1500,
      config: CONFIG,
    });
  });

  test("incomplete models name what is missing", async () => {
    const { "model-00002-of-00002.safetensors": _, "tokenizer.json": __, ...partial } = complete;
    model("partial", { ...partial, "model-00002-of-00002.safetensors.hfdl": "zz" });
    const facts = await readNodeFacts(pool, endpoint, modelsDir, "partial");
    expect(facts.present).toBe(true);
    expect(facts.missing.sort()).toEqual([
      "model-00002-of-00002.safetensors",
      "model-00002-of-00002.safetensors.hfdl (partial download)",
      "tokenizer.json",
    ]);
    const absent = await readNodeFacts(pool, endpoint, modelsDir, "nowhere");
    expect([absent.present, absent.missing]).toEqual([false, ["the model directory"]]);
    model("empty", { "config.json": "not json" });
    expect((await readNodeFacts(pool, endpoint, modelsDir, "empty")).missing).toEqual([
      "config.json (not a JSON object)",
      "tokenizer.json",
      "*.safetensors",
    ]);
  });

  test("an absolute model path, and a models_dir under ~/ (the SSH user's home)", async () => {
    model("good", complete);
    expect((await readNodeFacts(pool, endpoint, "/unused", join(modelsDir, "good"))).missing).toEqual([]);
    const home = join(sshd.home, `.ithaca-ring-test-${process.pid}`);
    mkdirSync(join(home, "m"), { recursive: true });
    try {
      for (const [file, body] of Object.entries(complete)) writeFileSync(join(home, "m", file), body);
      const facts = await readNodeFacts(pool, endpoint, `~/${home.slice(sshd.home.length + 1)}`, "m");
      expect([facts.present, facts.missing, facts.weightBytes]).toEqual([true, [], 1500]);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe("paths", () => {
  test("`..`, quotes, spaces and shell syntax are refused before anything runs", () => {
    for (const bad of ["../etc", "a/../../b", "x'; rm -rf ~", "a b", "$(id)", "`id`", "", "a\nb"]) {
      expect({ bad, valid: validModelPath(bad) }).toEqual({ bad, valid: false });
      expect(() => nodeFactsCommand("/models", bad)).toThrow(RangeError);
    }
    expect(() => nodeFactsCommand("/models; id", "m")).toThrow(RangeError);
    for (const good of ["Qwen3-0.6B-4bit", "mlx-community/Qwen3-0.6B-4bit", "/abs/path/model_v1.2"]) {
      expect(validModelPath(good)).toBe(true);
    }
  });
});

describe("parsing", () => {
  test("a Mac's wired limit is its budget; without one, 75% of its memory", () => {
    expect(parseNodeFacts("mem=68719476736\nwired_mb=49152\ndir=0\n").budgetBytes).toBe(49152 * 1024 * 1024);
    expect(parseNodeFacts("mem=68719476736\nwired_mb=0\ndir=0\n").budgetBytes).toBe(68719476736 * 0.75);
  });

  test("an answer without memory is an error, not a node with no memory", () => {
    expect(() => parseNodeFacts("dir=1\n")).toThrow("did not report its memory");
    expect(() => parseNodeFacts("mem=lots\n")).toThrow("did not report its memory");
  });

  test("modelFactsOf reads the planning fields; KV heads default to the heads; a field missing: undefined", () => {
    expect(modelFactsOf(CONFIG, 1500)).toEqual({
      modelType: "qwen3",
      layers: 4,
      heads: 4,
      kvHeads: 2,
      intermediateSize: 256,
      bytes: 1500,
    });
    const { num_key_value_heads: _, ...mha } = CONFIG;
    expect(modelFactsOf(mha, 1)?.kvHeads).toBe(4);
    expect(modelFactsOf({ ...CONFIG, num_hidden_layers: "4" }, 1)).toBeUndefined();
    expect(modelFactsOf({ model_type: "x", text_config: { ...CONFIG, model_type: undefined } }, 1)?.layers).toBe(4);
  });
});
