/** The `engine:` configuration section: defaults, sizes with units, paths, `ITHACA_*` overrides, strict keys. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { AUTO_MATMUL_STREAMS_MAX, matmulStreams, workerLimits } from "../../../src/backends/mlx/engine-settings.ts";
import { ConfigError, loadConfig, REPO_ROOT, resolveConfig } from "../../../src/config/load.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ithaca-engine-config-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const resolve = (raw: unknown, env: Record<string, string> = {}) => resolveConfig(raw, { baseDir: dir, env });

describe("engine config", () => {
  test("defaults: no inventory, on demand, no idle unload, 4 active + 16 queued, 75% of memory", () => {
    const { engine } = resolve({});
    expect(engine).toEqual({
      models_dir: undefined,
      load_on_demand: true,
      idle_ttl_s: 0,
      max_active: 4,
      max_queue: 16,
      memory: { budget_bytes: Math.floor(totalmem() * 0.75) },
      upcast_quantized_scales: false,
      matmul_streams: "auto",
      prefix_cache: {
        enabled: true,
        shared: true,
        max_bytes: 2 * 2 ** 30,
        max_entries: 64,
        ttl_s: 3600,
        block_size: 64,
      },
    });
  });

  test("the embedded default serves the demo model and lists the repository's models/ as inventory", async () => {
    const config = await loadConfig({ env: {}, cwd: dir });
    expect(config.models.map((model) => model.id)).toEqual(["demo"]);
    expect(config.engine.models_dir).toBe(join(REPO_ROOT, "models"));
  });

  test("a YAML file: models_dir relative to the file, sizes as integers or with units", async () => {
    const path = join(dir, "ithaca.yaml");
    await writeFile(
      path,
      [
        "engine:",
        "  models_dir: ./weights",
        "  load_on_demand: false",
        "  idle_ttl_s: 0.5",
        "  max_active: 2",
        "  max_queue: 0",
        "  memory: { budget_bytes: 24GiB, kv_reserve_bytes: '512 MiB', cache_limit_bytes: 1.5GB, wired_limit_bytes: 1048576 }",
        "  prefix_cache: { shared: false, max_bytes: 512MiB, max_entries: 8, ttl_s: 60, block_size: 16 }",
      ].join("\n"),
    );
    const { engine } = await loadConfig({ configPath: path, env: {} });
    expect(engine).toEqual({
      models_dir: join(dir, "weights"),
      load_on_demand: false,
      idle_ttl_s: 0.5,
      max_active: 2,
      max_queue: 0,
      memory: {
        budget_bytes: 24 * 2 ** 30,
        kv_reserve_bytes: 512 * 2 ** 20,
        cache_limit_bytes: 1_500_000_000,
        wired_limit_bytes: 1_048_576,
      },
      upcast_quantized_scales: false,
      matmul_streams: "auto",
      prefix_cache: {
        enabled: true,
        shared: false,
        max_bytes: 512 * 2 ** 20,
        max_entries: 8,
        ttl_s: 60,
        block_size: 16,
      },
    });
  });

  test("ITHACA_MODELS_DIR, ITHACA_IDLE_TTL_S and ITHACA_MEMORY_BUDGET override the file", () => {
    const raw = { engine: { models_dir: "/from/file", idle_ttl_s: 30, memory: { budget_bytes: 1024 } } };
    const { engine } = resolve(raw, {
      ITHACA_MODELS_DIR: "/from/env",
      ITHACA_IDLE_TTL_S: "600",
      ITHACA_MEMORY_BUDGET: "8GiB",
    });
    expect(engine.models_dir).toBe("/from/env");
    expect(engine.idle_ttl_s).toBe(600);
    expect(engine.memory.budget_bytes).toBe(8 * 2 ** 30);
    expect(resolve({}, { ITHACA_MEMORY_BUDGET: "123456" }).engine.memory.budget_bytes).toBe(123456);
    expect(() => resolve({}, { ITHACA_IDLE_TTL_S: "soon" })).toThrow("ITHACA_IDLE_TTL_S");
    expect(() => resolve({}, { ITHACA_MEMORY_BUDGET: "lots" })).toThrow("engine.memory.budget_bytes");
  });

  test("upcast_quantized_scales (off by default) reaches the engine Worker's limits", () => {
    expect(workerLimits(resolve({}).engine).upcastQuantizedScales).toBe(false);
    expect(workerLimits(resolve({ engine: { upcast_quantized_scales: true } }).engine).upcastQuantizedScales).toBe(
      true,
    );
  });

  test("matmul_streams: auto is the CPUs this process may use, at most 8; a count is taken as it is", () => {
    const auto = workerLimits(resolve({}).engine).matmulStreams;
    expect(auto).toBe(Math.min(availableParallelism(), AUTO_MATMUL_STREAMS_MAX));
    expect(matmulStreams("auto")).toBe(auto as number);
    expect(workerLimits(resolve({ engine: { matmul_streams: 1 } }).engine).matmulStreams).toBe(1);
    expect(workerLimits(resolve({ engine: { matmul_streams: 12 } }).engine).matmulStreams).toBe(12);
    expect(() => resolve({ engine: { matmul_streams: 0 } })).toThrow("engine.matmul_streams");
    expect(() => resolve({ engine: { matmul_streams: "many" } })).toThrow("engine.matmul_streams");
  });

  test("unknown keys and bad values name the key", () => {
    expect(() => resolve({ engine: { model_dir: "./x" } })).toThrow(ConfigError);
    expect(() => resolve({ engine: { model_dir: "./x" } })).toThrow("engine.model_dir: unknown key");
    expect(() => resolve({ engine: { memory: { budget: 1 } } })).toThrow("engine.memory.budget: unknown key");
    expect(() => resolve({ engine: { idle_ttl_s: -1 } })).toThrow("engine.idle_ttl_s");
    expect(() => resolve({ engine: { max_active: 0 } })).toThrow("engine.max_active");
    expect(() => resolve({ engine: { max_queue: 1.5 } })).toThrow("engine.max_queue");
    expect(() => resolve({ engine: { load_on_demand: "yes" } })).toThrow("engine.load_on_demand");
    expect(() => resolve({ engine: { memory: { budget_bytes: "24 gigs" } } })).toThrow("engine.memory.budget_bytes");
    expect(() => resolve({ engine: { memory: { kv_reserve_bytes: -5 } } })).toThrow("engine.memory.kv_reserve_bytes");
  });
});
