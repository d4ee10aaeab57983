/**
 * The standalone binary (issue 15), built from the current tree by scripts/build-binary.ts, copied alone into an empty
 * directory and run with a scrubbed environment (`env -i`, PATH=/usr/bin:/bin, a temporary HOME, the empty directory
 * as working directory: no Bun, no venv, no checkout on any path). Every process's memory map is checked: nothing of
 * the checkout is loaded, and the MLX libraries come from the binary's extraction directory.
 *
 * Not tested here: the dashboard page (issue 14: there is no dashboard yet); the macOS variant (no Mac).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Anthropic from "@anthropic-ai/sdk";
import { PINNED_MLX_VERSION } from "bun-ffi-mlx-bindings";
import OpenAI from "openai";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { buildBinary } from "../../scripts/build-binary.ts";
import { REPO, tempDir } from "../helpers/paths.ts";
import { type BinaryServer, runBinary, startBinary } from "./run-binary.ts";

let work: string;
let runDir: string;
let binary: string;
let binaryBytes = 0;
const timings: Record<string, number> = {};
const servers: BinaryServer[] = [];

beforeAll(async () => {
  const buildDir = tempDir("ithaca-binary-build-");
  try {
    const built = await buildBinary({ out: join(buildDir, "ithaca") });
    work = tempDir("ithaca-binary-");
    runDir = join(work, "run");
    mkdirSync(runDir);
    binary = join(runDir, "ithaca");
    copyFileSync(built.path, binary);
    chmodSync(binary, 0o755);
    binaryBytes = statSync(binary).size;
  } finally {
    rmSync(buildDir, { recursive: true, force: true });
  }
}, 300_000);

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  if (binaryBytes > 0) {
    const seconds = (name: string) => (timings[name] === undefined ? "?" : `${(timings[name] / 1000).toFixed(2)} s`);
    console.log(
      `standalone binary: ${(binaryBytes / 1024 ** 2).toFixed(1)} MiB; start to first /health: cold (extraction + ` +
        `demo model) ${seconds("cold")}, warm ${seconds("warm")}, two at once (cold) ${seconds("twoAtOnce")}`,
    );
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A fresh HOME for one scenario (its cache and ITHACA_HOME start empty). */
function freshHome(name: string): string {
  const home = join(work, name);
  mkdirSync(home);
  return home;
}

/** The one directory of extracted libraries under a HOME's cache. */
function nativeDirs(home: string): string[] {
  return readdirSync(join(home, ".cache", "ithaca"));
}

/** Asserts that a running server maps nothing of the checkout and loads MLX from the extraction directory. */
function expectSelfContained(server: BinaryServer, home: string): void {
  const maps = readFileSync(`/proc/${server.proc.pid}/maps`, "utf8");
  const files = [...new Set(maps.split("\n").map((line) => line.split(/\s+/)[5] ?? ""))].filter((f) =>
    f.startsWith("/"),
  );
  expect(files.filter((file) => file.startsWith(REPO))).toEqual([]);
  const mlx = files.filter((file) => /libmlx|liblapack|libblas|libgfortran/.test(file));
  expect(mlx.length).toBeGreaterThanOrEqual(4);
  for (const file of mlx) expect(file.startsWith(join(home, ".cache", "ithaca", "native-"))).toBe(true);
}

describe.skipIf(process.platform !== "linux")(
  "the standalone binary, alone in an empty directory with a scrubbed environment",
  () => {
    test("version and doctor: the libraries extracted once into a versioned, content-addressed cache", async () => {
      const home = freshHome("doctor");
      const version = await runBinary(binary, ["version"], { cwd: runDir, home });
      expect(version.status).toBe(0);
      expect(version.stdout).toMatch(/^ithaca \d+\.\d+\.\d+ \(Bun [\d.]+, linux-\w+, standalone binary .*MLX /);
      expect(existsSync(join(home, ".cache"))).toBe(false); // version extracts nothing

      const first = await runBinary(binary, ["doctor", "--json", "--port", "0"], { cwd: runDir, home });
      expect(first.status).toBe(0);
      const report = JSON.parse(first.stdout);
      const [dir] = nativeDirs(home);
      expect(nativeDirs(home)).toEqual([expect.stringMatching(/^native-\d+\.\d+\.\d+-[0-9a-f]{16}$/)]);
      const nativeDir = join(home, ".cache", "ithaca", dir!);
      expect(report).toMatchObject({
        mode: "binary",
        natives: { dir: nativeDir, extracted_now: true },
        mlx: {
          ok: true,
          source: "bundled",
          library: join(nativeDir, "libmlxc-compat.so"),
          mlx_version: PINNED_MLX_VERSION,
          matches_pinned: true,
        },
        home: { path: join(home, ".ithaca"), writable: true },
        port: { free: true },
        ok: true,
      });
      expect(readdirSync(nativeDir).sort()).toEqual(
        expect.arrayContaining([
          "libmlx.so",
          "libmlxc-compat.so",
          "libmlxc-errors.so",
          "libmlxc-kernels.so",
          "libllguidance.so",
        ]),
      );

      const again = await runBinary(binary, ["doctor", "--json"], { cwd: runDir, home });
      expect(JSON.parse(again.stdout).natives.extracted_now).toBe(false);
      const text = await runBinary(binary, ["doctor"], { cwd: runDir, home });
      expect(text.stdout).toContain(`MLX version     ${PINNED_MLX_VERSION} (the pinned version)`);
    });

    test("the embedded default: the demo model generated into ITHACA_HOME on first run, then reused", async () => {
      const home = freshHome("embedded");
      const cold = await startBinary(binary, ["serve", "--port", "0"], { cwd: runDir, home });
      servers.push(cold);
      timings.cold = cold.readyMs;
      expect(cold.output()).toContain(`generating the demo model into ${join(home, ".ithaca", "models", "demo")}`);
      expectSelfContained(cold, home);

      const client = new OpenAI({ baseURL: `${cold.url}/v1`, apiKey: "unused", maxRetries: 0 });
      const models = await client.models.list();
      expect(models.data.map((model) => model.id)).toContain("demo");
      const answer = await client.chat.completions.create({
        model: "demo",
        messages: [{ role: "user", content: "Hello!" }],
        max_tokens: 6,
      });
      expect(answer.usage?.completion_tokens).toBeGreaterThan(0);
      const swagger = await fetch(`${cold.url}/swagger`);
      expect(swagger.status).toBe(200);
      expect(swagger.headers.get("content-type")).toContain("text/html");
      // The dashboard's bundle is embedded (bundled by bun build --compile from its HTML import): page and assets.
      const dashboard = await fetch(`${cold.url}/dashboard`);
      expect(dashboard.status).toBe(200);
      const assets = [...(await dashboard.text()).matchAll(/(?:src|href)="(\/dashboard\/assets\/[^"]+)"/g)];
      expect(assets.map((match) => (match[1] as string).split(".").at(-1)).sort()).toEqual(["css", "js"]);
      for (const [, path] of assets) expect((await fetch(`${cold.url}${path}`)).status).toBe(200);
      await cold.stop();

      const warm = await startBinary(binary, ["serve", "--port", "0"], { cwd: runDir, home });
      servers.push(warm);
      timings.warm = warm.readyMs;
      expect(warm.output()).not.toContain("generating the demo model");
      // The library probe answers in the background: /health shows it once it has.
      type Health = { backends: { local: { mlx?: Record<string, unknown> } } };
      const read = async () => (await (await fetch(`${warm.url}/health`)).json()) as Health;
      let health = await read();
      for (let i = 0; i < 100 && health.backends.local.mlx === undefined; i++) {
        await Bun.sleep(100);
        health = await read();
      }
      expect(health.backends.local.mlx).toMatchObject({ ok: true, source: "bundled", mlx_version: PINNED_MLX_VERSION });
      await warm.stop();
    });

    test("make-model, then serve it: chat, stream and /v1/messages with the openai and Anthropic SDKs", async () => {
      const home = freshHome("served");
      const modelDir = join(work, "models", "tiny-llama");
      const made = await runBinary(
        binary,
        ["make-model", "--arch", "llama", "--size", "tiny", "--seed", "3", "--out", modelDir],
        { cwd: runDir, home },
      );
      expect(made.status).toBe(0);
      expect(made.stdout).toContain(`to ${modelDir}`);
      expect(existsSync(join(modelDir, "model.safetensors"))).toBe(true);

      const server = await startBinary(binary, ["serve", "--model", modelDir, "--port", "0"], { cwd: runDir, home });
      servers.push(server);
      expectSelfContained(server, home);
      const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
      const messages = [{ role: "user" as const, content: "Tell me a story." }];

      const chat = await openai.chat.completions.create({ model: "tiny-llama", messages, max_tokens: 8 });
      expect(chat.choices[0]?.message.role).toBe("assistant");
      expect(chat.usage?.completion_tokens).toBeGreaterThan(0);

      const stream = await openai.chat.completions.create({
        model: "tiny-llama",
        messages,
        max_tokens: 8,
        stream: true,
      });
      let streamed = "";
      let finish: string | null | undefined;
      for await (const chunk of stream) {
        streamed += chunk.choices[0]?.delta.content ?? "";
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      expect(streamed.length).toBeGreaterThan(0);
      expect(finish).toBeDefined();

      const anthropic = new Anthropic({ baseURL: server.url, apiKey: "unused", maxRetries: 0 });
      const message = await anthropic.messages.create({ model: "tiny-llama", max_tokens: 8, messages });
      expect(message.type).toBe("message");
      expect(message.content[0]?.type).toBe("text");
      expect(message.usage.output_tokens).toBeGreaterThan(0);
      const events = anthropic.messages.stream({ model: "tiny-llama", max_tokens: 8, messages });
      const final = await events.finalMessage();
      expect(final.stop_reason).toBeDefined();
      await server.stop();
    });

    test("two starts at once against one cache directory (and one ITHACA_HOME): both serve, one extraction", async () => {
      const home = freshHome("twice");
      const starts = await Promise.allSettled([
        startBinary(binary, ["serve", "--port", "0"], { cwd: runDir, home }),
        startBinary(binary, ["serve", "--port", "0"], { cwd: runDir, home }),
      ]);
      // Both are stopped at the end even when the other one failed to start.
      const started = starts.flatMap((start) => (start.status === "fulfilled" ? [start.value] : []));
      servers.push(...started);
      for (const start of starts) if (start.status === "rejected") throw start.reason;
      timings.twoAtOnce = Math.max(...started.map((server) => server.readyMs));
      const cacheRoot = join(home, ".cache", "ithaca");
      expect(readdirSync(cacheRoot)).toEqual([expect.stringMatching(/^native-/)]); // no temporary left behind
      expect(readdirSync(join(home, ".ithaca", "models"))).toEqual(["demo"]);
      for (const server of started) {
        expectSelfContained(server, home);
        const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
        const answer = await client.chat.completions.create({
          model: "demo",
          messages: [{ role: "user", content: "Hi" }],
          max_tokens: 4,
        });
        expect(answer.usage?.completion_tokens).toBeGreaterThan(0);
      }
      await Promise.all(started.map((server) => server.stop()));
    });

    // The dashboard page (issue 15 item 5) is tested here once it exists (issue 14).
  },
);
