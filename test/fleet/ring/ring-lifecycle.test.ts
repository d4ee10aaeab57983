/**
 * A ring cluster's load, end to end (src/fleet/ring/lifecycle.ts, ranks.ts, src/cli/rank.ts): ranks spawned over a
 * real OpenSSH server on loopback (test/helpers/sshd.ts) as real `ithaca rank` processes, rank 0 serving the model in
 * the catalog as `<cluster>:<model>` through the real `openai` client; a rank killed with SIGKILL mid-stream ends the
 * request with an error (never a hang) and degrades the cluster; reset recovers; unload takes the model out of the
 * catalog; a rank that stalls (SIGSTOP) trips the watchdog's decode deadline. A load whose command does not exist fails
 * with 502 `load_failed` naming the rank. Two ranks on two node names (one machine), pipeline and tensor: the
 * hostfile written on each node, concurrent requests answered as one process answers them, a killed rank degrading
 * the cluster; and every architecture (llama, mistral, qwen2, qwen3), float and 4-bit, answered by two ranks exactly
 * as by one process.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import OpenAI from "openai";
import { hostfilePath } from "../../../src/fleet/ring/lifecycle.ts";
import { jsonCall } from "../../helpers/json-call.ts";
import { BUN, makeModel, REPO } from "../../helpers/paths.ts";
import { TestSshd } from "../../helpers/sshd.ts";
import { type RunningIthaca, startIthaca } from "../../helpers/start.ts";

let sshd: TestSshd;
let server: RunningIthaca;
let client: OpenAI;
const admin = (method: string, path: string, body?: unknown) => jsonCall(server.url, method, path, body);

const cluster = (nodes: number, command = `${BUN} ${join(REPO, "src", "main.ts")}`) => ({
  kind: "ring",
  models_dir: join(REPO, "models"),
  ithaca_command: command,
  ssh_key: sshd.userKey,
  nodes: [
    { host: "node-a", ssh: sshd.target, ip: "127.0.0.1" },
    { host: "node-b", ssh: sshd.target, ip: "127.0.0.2" },
  ].slice(0, nodes),
});

/** The pids of cluster `id`'s rank processes on this machine. */
function rankPids(id: string): number[] {
  const found = Bun.spawnSync(["pgrep", "-f", "--", ` rank .*--cluster ${id}$`]).stdout.toString();
  return found
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map(Number);
}

/** Polls the cluster's status until `state`, within `ms`. */
async function until(id: string, state: string, ms = 15_000): Promise<any> {
  const deadline = Date.now() + ms;
  let status: any;
  while (Date.now() < deadline) {
    status = (await admin("GET", `/admin/clusters/${id}/status`)).json;
    if (status.state === state) return status;
    await Bun.sleep(100);
  }
  return status;
}

const servedIds = async () => (await client.models.list()).data.map((model) => model.id);

beforeAll(async () => {
  sshd = await TestSshd.start();
  server = await startIthaca({});
  client = new OpenAI({ baseURL: server.baseURL, apiKey: "none", maxRetries: 0 });
  for (const [id, nodes] of [
    ["one", 1],
    ["two", 2],
  ] as const) {
    expect((await admin("PUT", `/admin/clusters/${id}`, cluster(nodes))).status).toBe(200);
  }
  expect((await admin("PUT", "/admin/clusters/nocmd", cluster(1, "/nonexistent/ithaca"))).status).toBe(200);
});

afterAll(async () => {
  await server?.close();
  for (const id of ["one", "two", "nocmd", "stall"]) for (const pid of rankPids(id)) process.kill(pid, "SIGKILL");
  await sshd?.stop();
});

describe("a one-node ring cluster", () => {
  test("load: rank 0 spawned over SSH serves the model in the catalog; status shows it", async () => {
    const loaded = await admin("POST", "/admin/clusters/one/load", { model: "demo" });
    expect(loaded.status).toBe(200);
    expect(loaded.json).toMatchObject({
      loaded: true,
      cluster: "one",
      model: "demo",
      mode: "pipeline",
      nodes: ["node-a"],
    });
    expect(loaded.json.url).toStartWith("http://127.0.0.1:");
    expect(rankPids("one").length).toBe(1);
    const status = (await admin("GET", "/admin/clusters/one/status")).json;
    expect(status).toMatchObject({ cluster: "one", state: "loaded", model: "demo", reason: null });
    expect(status.ranks).toMatchObject([
      { rank: 0, host: "node-a", phase: "ready", url: loaded.json.url, exit_reason: null, engine: { active: 0 } },
    ]);
    expect(status.ranks[0].engine.memory_active_bytes).toBeGreaterThan(0);
    expect(await servedIds()).toContain("one:demo");
    const answer = await client.chat.completions.create({
      model: "one:demo",
      messages: [{ role: "user", content: "Hello" }],
      max_tokens: 8,
    });
    expect(answer.usage?.completion_tokens).toBeGreaterThan(0);
    expect(answer.choices[0]?.message.content?.length ?? 0).toBeGreaterThan(0);
    // Rank 0 serves behind the key drawn for this load: its address alone gives nothing.
    expect((await fetch(`${loaded.json.url}/v1/models`)).status).toBe(401);
  });

  test("a rank killed mid-stream: the stream ends with an error, the cluster is degraded, its model leaves the catalog", async () => {
    const stream = await client.chat.completions.create({
      model: "one:demo",
      messages: [{ role: "user", content: "Tell me a long story" }],
      max_tokens: 4_000,
      stream: true,
    });
    let killed = false;
    const outcome = await (async () => {
      try {
        for await (const _ of stream) {
          if (!killed) {
            for (const pid of rankPids("one")) process.kill(pid, "SIGKILL");
            killed = true;
          }
        }
        return "ended without an error";
      } catch (error) {
        return `error: ${(error as Error).message}`;
      }
    })();
    expect(killed).toBe(true);
    expect(outcome).toStartWith("error:");
    const status = await until("one", "degraded");
    expect(status.state).toBe("degraded");
    expect(status.reason).toContain("rank 0 on 'node-a'");
    expect(await servedIds()).not.toContain("one:demo");
  });

  test("reset recovers: idle, no rank left; a new load serves again; unload takes the model away", async () => {
    const reset = await admin("POST", "/admin/clusters/one/reset");
    expect(reset.json).toEqual({ reset: true, cluster: "one", nodes: [{ host: "node-a", ok: true }] });
    expect((await admin("GET", "/admin/clusters/one/status")).json).toMatchObject({ state: "idle", ranks: [] });
    expect((await admin("POST", "/admin/clusters/one/load", { model: "demo" })).status).toBe(200);
    expect(await servedIds()).toContain("one:demo");
    expect((await admin("POST", "/admin/clusters/one/unload", {})).json).toEqual({ unloaded: "demo", cluster: "one" });
    expect(await servedIds()).not.toContain("one:demo");
    expect((await until("one", "idle")).state).toBe("idle");
    const deadline = Date.now() + 10_000;
    while (rankPids("one").length > 0 && Date.now() < deadline) await Bun.sleep(100);
    expect(rankPids("one")).toEqual([]);
  });
});

describe("the watchdog", () => {
  test("a rank that stalls (SIGSTOP) mid-stream: no token within decode_deadline_s ends the request and degrades the cluster", async () => {
    expect((await admin("PUT", "/admin/clusters/stall", { ...cluster(1), decode_deadline_s: 1 })).json).toMatchObject({
      decode_deadline_s: 1,
      prefill_deadline_s: 600,
    });
    expect((await admin("POST", "/admin/clusters/stall/load", { model: "demo" })).status).toBe(200);
    const stream = await client.chat.completions.create({
      model: "stall:demo",
      messages: [{ role: "user", content: "Tell me a long story" }],
      max_tokens: 4_000,
      stream: true,
    });
    const started = performance.now();
    let stopped = false;
    const outcome = await (async () => {
      try {
        for await (const _ of stream) {
          if (!stopped) {
            for (const pid of rankPids("stall")) process.kill(pid, "SIGSTOP");
            stopped = true;
          }
        }
        return "ended without an error";
      } catch (error) {
        return `error: ${(error as Error).message}`;
      }
    })();
    expect(stopped).toBe(true);
    expect(outcome).toStartWith("error:");
    expect(performance.now() - started).toBeLessThan(10_000);
    const status = await until("stall", "degraded");
    expect(status.reason).toContain("watchdog");
    expect(await servedIds()).not.toContain("stall:demo");
    // The stalled rank was killed on its node, not left stopped.
    const deadline = Date.now() + 10_000;
    while (rankPids("stall").length > 0 && Date.now() < deadline) await Bun.sleep(100);
    expect(rankPids("stall")).toEqual([]);
  });
});

describe("loads that cannot start", () => {
  test("a command that does not exist: 502 load_failed naming the rank and the shell's complaint", async () => {
    const failed = await admin("POST", "/admin/clusters/nocmd/load", { model: "demo" });
    expect([failed.status, failed.json.error.code]).toEqual([502, "load_failed"]);
    expect(failed.json.error.message).toContain("rank 0 on 'node-a'");
    expect(failed.json.error.message).toMatch(/not found|No such file/);
    expect((await admin("GET", "/admin/clusters/nocmd/status")).json.state).toBe("degraded");
  });
});

describe("two ranks, every architecture", () => {
  test("llama, mistral, qwen2, qwen3, float and 4-bit, pipeline and tensor: rank 0 answers as one process does", async () => {
    const prompt = { messages: [{ role: "user" as const, content: "Name a colour" }], max_tokens: 10, temperature: 0 };
    for (const [arch, opts] of [
      ["llama", {}],
      ["mistral", {}],
      ["qwen2", {}],
      ["qwen3", {}],
      ["llama", { bits: 4, groupSize: 32 }],
      ["mistral", { bits: 4, groupSize: 32 }],
      ["qwen2", { bits: 4, groupSize: 32 }],
      ["qwen3", { bits: 4, groupSize: 32 }],
    ] as const) {
      const dir = makeModel(arch, { seed: 31, ...opts });
      const local = await startIthaca({ models: [{ id: "m", path: dir }] });
      try {
        const alone = new OpenAI({ baseURL: local.baseURL, apiKey: "none", maxRetries: 0 });
        const reference = await alone.chat.completions.create({ model: "m", ...prompt });
        for (const mode of ["pipeline", "tensor"] as const) {
          const label = `${arch}${"bits" in opts ? " 4-bit" : ""} ${mode}`;
          const loaded = await admin("POST", "/admin/clusters/two/load", { model: dir, mode });
          expect({ label, status: loaded.status }).toEqual({ label, status: 200 });
          const answer = await client.chat.completions.create({ model: `two:${basename(dir)}`, ...prompt });
          expect({ label, content: answer.choices[0]?.message.content }).toEqual({
            label,
            content: reference.choices[0]?.message.content,
          });
          await admin("POST", "/admin/clusters/two/unload", {});
        }
      } finally {
        await local.close();
      }
    }
  }, 300_000);
});

describe("two ranks", () => {
  for (const mode of ["pipeline", "tensor"] as const) {
    test(`${mode}: both ranks over SSH, rank 0 serves the same greedy answer as one process; a killed rank degrades it`, async () => {
      const prompt = { messages: [{ role: "user" as const, content: "Count to ten" }], max_tokens: 12, temperature: 0 };
      expect((await admin("POST", "/admin/clusters/one/load", { model: "demo" })).status).toBe(200);
      const alone = await client.chat.completions.create({ model: "one:demo", ...prompt });
      await admin("POST", "/admin/clusters/one/unload", {});
      const loaded = await admin("POST", "/admin/clusters/two/load", { model: "demo", mode });
      expect([loaded.status, loaded.json.error?.message]).toEqual([200, undefined]);
      expect(loaded.json).toMatchObject({ loaded: true, mode, nodes: ["node-a", "node-b"] });
      const hostfile = JSON.parse(readFileSync(hostfilePath("two"), "utf8")) as string[][];
      expect(hostfile.map((entry) => entry[0]?.split(":")[0])).toEqual(["127.0.0.1", "127.0.0.2"]);
      const status = (await admin("GET", "/admin/clusters/two/status")).json;
      // Rank 0 is ready (it answers); rank 1 says so too, perhaps a moment later.
      expect(status.ranks.map((r: { rank: number; host: string }) => [r.rank, r.host])).toEqual([
        [0, "node-a"],
        [1, "node-b"],
      ]);
      expect(status.ranks[0].phase).toBe("ready");
      expect(rankPids("two").length).toBe(2);
      // Requests at once, in both dialects' shape of the same engine: answered together, the same as one process.
      const answers = await Promise.all(
        [0, 1, 2].map(() => client.chat.completions.create({ model: "two:demo", ...prompt })),
      );
      for (const answer of answers) {
        expect(answer.choices[0]?.message.content).toBe(alone.choices[0]?.message.content as string);
        expect(answer.usage?.completion_tokens).toBe(alone.usage?.completion_tokens as number);
      }
      // The second rank killed while a long answer is being computed: that request ends with a 502 naming the
      // upstream within seconds (rank 0, waiting for its dead peer, is stopped), the cluster is degraded, no rank is
      // left, the model leaves the catalog.
      const started = performance.now();
      const inFlight = client.chat.completions
        .create({ model: "two:demo", messages: [{ role: "user", content: "Go on" }], max_tokens: 3_000 })
        .then(
          () => "answered",
          (error: { status?: number; message?: string }) => `${error.status}: ${error.message}`,
        );
      await Bun.sleep(300);
      const [, second] = rankPids("two");
      process.kill(second as number, "SIGKILL");
      expect(await inFlight).toMatch(/^502: .*upstream 'two'/);
      expect(performance.now() - started).toBeLessThan(10_000);
      const degraded = await until("two", "degraded");
      expect(degraded.reason).toContain("rank 1 on 'node-b'");
      const deadline = Date.now() + 10_000;
      while (rankPids("two").length > 0 && Date.now() < deadline) await Bun.sleep(100);
      expect(rankPids("two")).toEqual([]);
      expect(await servedIds()).not.toContain("two:demo");
      expect((await admin("POST", "/admin/clusters/two/reset")).status).toBe(200);
    }, 120_000);
  }
});
