/**
 * What `ithaca serve` of the standalone binary adds to the checkout's: the embedded default's models under
 * `ITHACA_HOME` (src/config/load.ts `embeddedModels: "home"`) and the demo model generated there once, atomically
 * (src/cli/serve.ts `ensureDemoModel`).
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureDemoModel } from "../../src/cli/serve.ts";
import { findConfigFile, loadConfig } from "../../src/config/load.ts";
import { tempDir } from "../helpers/paths.ts";

describe("the binary's embedded default", () => {
  test("serves <ITHACA_HOME>/models/demo and lists <ITHACA_HOME>/models; the checkout keeps the repository's", async () => {
    const cwd = tempDir();
    const home = join(cwd, "home");
    const config = await loadConfig({ cwd, env: { ITHACA_HOME: home }, embeddedModels: "home" });
    expect(config.models.map((model) => [model.id, model.path])).toEqual([["demo", join(home, "models", "demo")]]);
    expect(config.engine.models_dir).toBe(join(home, "models"));
    const checkout = await loadConfig({ cwd, env: { ITHACA_HOME: home } });
    expect(checkout.models[0]?.path).not.toStartWith(home);
  });

  test("a configuration file wins over the embedded default (findConfigFile)", () => {
    const cwd = tempDir();
    expect(findConfigFile({ cwd, env: {} })).toBeUndefined();
    writeFileSync(join(cwd, "ithaca.yaml"), "server: { port: 8001 }\n");
    expect(findConfigFile({ cwd, env: {} })).toBe(join(cwd, "ithaca.yaml"));
    expect(findConfigFile({ cwd, env: { ITHACA_CONFIG: "other.yaml" } })).toBe(join(cwd, "other.yaml"));
  });
});

describe("ensureDemoModel", () => {
  const fakeMake = (out: string) => {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, "config.json"), "{}");
  };

  test("generates once beside the target and renames it into place; later calls keep it", () => {
    const dir = join(tempDir(), "models", "demo");
    expect(ensureDemoModel(dir, fakeMake)).toBe(true);
    expect(existsSync(join(dir, "config.json"))).toBe(true);
    expect(ensureDemoModel(dir, () => expect.unreachable())).toBe(false);
    expect(readdirSync(join(dir, ".."))).toEqual(["demo"]);
  });

  test("losing the race to another process keeps the winner's model and drops the scratch copy", () => {
    const dir = join(tempDir(), "models", "demo");
    const generated = ensureDemoModel(dir, (out) => {
      fakeMake(dir); // another process finishes first
      fakeMake(out);
    });
    expect(generated).toBe(false);
    expect(readdirSync(join(dir, ".."))).toEqual(["demo"]);
  });
});
