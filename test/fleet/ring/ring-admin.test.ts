/**
 * Ring clusters through the admin API (src/admin/clusters.ts, src/fleet/ring/clusters.ts) against a real OpenSSH
 * server on loopback (test/helpers/sshd.ts): a cluster of kind `ring` saved with its nodes' host keys pinned, listed
 * beside the engines, its load options read from every node over SSH, and the load preflight of
 * reference/odyssai-x-wire.md §6.4 — 400 `invalid_mode_for_model`, `model_too_big_for_cluster` (a sparse 64 GiB
 * weight file: a real file the node reports), `model_incomplete` naming the node and the file, `invalid_nodes` — and
 * its plan on a dry run. Both nodes are this machine (two host names, two loopback IPs).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, openSync, closeSync, ftruncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { jsonCall } from "../../helpers/json-call.ts";
import { tempDir } from "../../helpers/paths.ts";
import { TestSshd } from "../../helpers/sshd.ts";
import { type RunningIthaca, startIthaca } from "../../helpers/start.ts";

let sshd: TestSshd;
let server: RunningIthaca;
const modelsDir = tempDir("ring-admin-models");
const admin = (method: string, path: string, body?: unknown) => jsonCall(server.url, method, path, body);

/** A model directory: config, tokenizer and one weight file of `bytes` (sparse: no disk used). */
function model(name: string, config: Record<string, unknown>, bytes = 4096): void {
  const dir = join(modelsDir, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  writeFileSync(join(dir, "tokenizer.json"), "{}");
  const fd = openSync(join(dir, "model.safetensors"), "w");
  ftruncateSync(fd, bytes);
  closeSync(fd);
}

const QWEN3 = {
  model_type: "qwen3",
  num_hidden_layers: 6,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  intermediate_size: 128,
};

const cluster = () => ({
  kind: "ring",
  name: "Two minis",
  models_dir: modelsDir,
  ssh_key: sshd.userKey,
  nodes: [
    { host: "mini-1", ssh: sshd.target, ip: "127.0.0.1" },
    { host: "mini-2", ssh: sshd.target, ip: "127.0.0.2" },
  ],
});

beforeAll(async () => {
  sshd = await TestSshd.start();
  server = await startIthaca({});
  model("small", QWEN3);
  model("odd-heads", { ...QWEN3, num_attention_heads: 3, num_key_value_heads: 3 });
  model("huge", QWEN3, 64 * 1024 ** 3);
  model("gemma", { ...QWEN3, model_type: "gemma3" });
  model("half", QWEN3);
  writeFileSync(
    join(modelsDir, "half", "model.safetensors.index.json"),
    JSON.stringify({ weight_map: { a: "model.safetensors", b: "model-2.safetensors" } }),
  );
});

afterAll(async () => {
  await server?.close();
  await sshd?.stop();
});

describe("ring clusters in /admin/clusters", () => {
  test("PUT saves a ring cluster with every node's host key pinned; listed beside engines; GET shows it", async () => {
    const put = await admin("PUT", "/admin/clusters/minis", cluster());
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ id: "minis", kind: "ring", name: "Two minis", ssh_key_source: "cluster" });
    expect(put.json.nodes.map((n: { ssh_host_key: string }) => n.ssh_host_key)).toEqual([
      sshd.hostFingerprint,
      sshd.hostFingerprint,
    ]);
    expect(JSON.stringify(put.json)).not.toContain(sshd.userKey);
    const list = await admin("GET", "/admin/clusters");
    expect(list.json.data.map((c: { id: string; kind: string }) => [c.id, c.kind])).toContainEqual(["minis", "ring"]);
    expect((await admin("GET", "/admin/clusters/minis")).json.nodes.length).toBe(2);
  });

  test("bad bodies are 400s naming the field; duplicate nodes are refused", async () => {
    for (const [body, field] of [
      [{ ...cluster(), models_dir: "../up" }, "models_dir"],
      [{ ...cluster(), nodes: [] }, "nodes"],
      [{ ...cluster(), nodes: [{ host: "a", ssh: "root@x", ip: "not-an-ip" }] }, "ip"],
      [{ ...cluster(), nodes: [{ host: "a b", ssh: "root@x", ip: "10.0.0.1" }] }, "host"],
      [{ ...cluster(), nodes: [{ host: "a", ssh: "root@x:99999", ip: "10.0.0.1" }] }, "ssh"],
    ] as const) {
      const answer = await admin("PUT", "/admin/clusters/bad", body);
      expect({ field, status: answer.status }).toEqual({ field, status: 400 });
      expect(JSON.stringify(answer.json)).toContain(field);
    }
    const twice = cluster();
    twice.nodes[1] = { ...twice.nodes[1], ip: "127.0.0.1" } as (typeof twice.nodes)[number];
    const dup = await admin("PUT", "/admin/clusters/dup", twice);
    expect([dup.status, dup.json.error.code]).toEqual([400, "invalid_cluster"]);
  });

  test("a node that cannot be reached fails the PUT naming it; nothing is saved", async () => {
    const body = cluster();
    body.nodes[1] = { host: "gone", ssh: `${sshd.user}@127.0.0.1:1`, ip: "127.0.0.3" };
    const put = await admin("PUT", "/admin/clusters/broken", body);
    expect(put.status).toBe(502);
    expect(put.json.error.message).toContain("broken/gone");
    expect((await admin("GET", "/admin/clusters/broken")).status).toBe(404);
  });

  test("load options: every node's memory and the model's presence; every (nodes, mode) with fits", async () => {
    const options = await admin("GET", "/admin/clusters/minis/load-options?model=small");
    expect(options.status).toBe(200);
    expect(options.json.model_bytes).toBe(4096);
    expect(options.json.nodes.map((n: { host: string; present: boolean }) => [n.host, n.present])).toEqual([
      ["mini-1", true],
      ["mini-2", true],
    ]);
    expect(options.json.nodes[0].budget_bytes).toBeGreaterThan(0);
    expect(
      options.json.options.map((o: { nodes: number; mode: string; fits: boolean }) => [o.nodes, o.mode, o.fits]),
    ).toEqual([
      [1, "pipeline", true],
      [1, "tensor", true],
      [2, "pipeline", true],
      [2, "tensor", true],
    ]);
    const odd = await admin("GET", "/admin/clusters/minis/load-options?model=odd-heads");
    expect(odd.json.options[3]).toMatchObject({
      nodes: 2,
      mode: "tensor",
      fits: false,
      code: "invalid_mode_for_model",
    });
    expect((await admin("GET", "/admin/clusters/minis/load-options?model=nowhere")).json.error.code).toBe(
      "model_not_found",
    );
    expect((await admin("GET", "/admin/clusters/minis/load-options?model=../etc")).status).toBe(400);
  });

  test("preflight: each refusal is a 400 with its code; a dry run answers the plan", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ model: "odd-heads", mode: "tensor" }, "invalid_mode_for_model"],
      [{ model: "gemma" }, "invalid_mode_for_model"],
      [{ model: "huge" }, "model_too_big_for_cluster"],
      [{ model: "half" }, "model_incomplete"],
      [{ model: "small", nodes: 3 }, "invalid_nodes"],
      [{ model: "small", nodes: ["mini-2", "mini-9"] }, "invalid_nodes"],
    ];
    for (const [body, code] of cases) {
      const answer = await admin("POST", "/admin/clusters/minis/load?dry_run=true", body);
      expect({ body, status: answer.status, code: answer.json.error?.code }).toEqual({ body, status: 400, code });
    }
    const half = await admin("POST", "/admin/clusters/minis/load?dry_run=true", { model: "half" });
    expect(half.json.error.message).toContain("mini-1: model-2.safetensors");
    const plan = await admin("POST", "/admin/clusters/minis/load?dry_run=true", {
      model: "small",
      mode: "pipeline",
      nodes: ["mini-2", "mini-1"],
    });
    expect(plan.status).toBe(200);
    expect(plan.json).toMatchObject({ dry_run: true, cluster: "minis", model: "small", mode: "pipeline" });
    expect(plan.json.nodes).toEqual(["mini-2", "mini-1"]);
    expect(plan.json.ranks.map((r: { layers: number[] }) => r.layers)).toEqual([
      [3, 6],
      [0, 3],
    ]);
  });

  test("ids are shared with engines: 409 either way; DELETE forgets a ring cluster", async () => {
    const engine = await admin("PUT", "/admin/clusters/minis?force=true", {
      kind: "openai-compatible",
      upstream: "http://127.0.0.1:1/v1",
    });
    expect([engine.status, engine.json.error.code]).toEqual([409, "id_taken"]);
    expect((await admin("DELETE", "/admin/clusters/minis")).json).toEqual({ ok: true, id: "minis" });
    expect((await admin("GET", "/admin/clusters/minis")).status).toBe(404);
    expect((await admin("POST", "/admin/clusters/minis/load?dry_run=true", { model: "small" })).status).toBe(404);
  });
});
