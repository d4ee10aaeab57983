/**
 * Operating an enrolled Telemak through Ithaca (issue 12, item 3), against a Telemak emulated from its documented
 * admin API: its status gathered in one answer (`busy` from the phase), its on-disk inventory, and load and unload
 * passed to it — the catalog follows at once, the Telemak's own errors keep their status, and an engine that is
 * gone is a 502 naming it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { FakeTelemak } from "../helpers/fake-telemak.ts";
import { jsonCall } from "../helpers/json-call.ts";
import { type RunningIthaca, startIthaca } from "../helpers/start.ts";

let telemak: FakeTelemak;
let server: RunningIthaca;

beforeAll(async () => {
  telemak = new FakeTelemak();
  server = await startIthaca({});
  const put = await call("PUT", "/admin/clusters/studio", { kind: "telemak", upstream: telemak.url, name: "Studio" });
  expect(put.status).toBe(200);
});

afterAll(async () => {
  await server.close();
  telemak.stop();
});

const call = (method: string, path: string, body?: unknown) => jsonCall(server.url, method, path, body);

const served = async () => (await call("GET", "/v1/models")).json.data.map((model: { id: string }) => model.id);

describe("operating an enrolled Telemak", () => {
  test("status: health, activity, memory and sessions in one answer; busy follows the phase", async () => {
    const idle = await call("GET", "/admin/clusters/studio/status");
    expect(idle.status).toBe(200);
    expect(idle.json).toMatchObject({
      cluster: "studio",
      upstream_reachable: true,
      loaded: true,
      models_loaded: ["mlx-community/Qwen3-4B-4bit"],
      busy: false,
      current_phase: "idle",
      version: "0.7.0",
      requests_served: 7,
      avg_tok_s_recent: 48.5,
      memory: { used_gb: 3.1, free_gb: 40, total_gb: 64, ceiling_gb: 48 },
      sessions: [{ id: "conv-1", model: "mlx-community/Qwen3-4B-4bit", kv_size_mb: 12.5, last_used_s: 3 }],
    });
    telemak.phase = "decode";
    expect((await call("GET", "/admin/clusters/studio/status")).json).toMatchObject({
      busy: true,
      current_tok_s: 51.2,
      current_model: "mlx-community/Qwen3-4B-4bit",
    });
    telemak.phase = "idle";
  });

  test("the on-disk inventory", async () => {
    const { status, json } = await call("GET", "/admin/clusters/studio/models");
    expect(status).toBe(200);
    expect(json.models.map((model: { id: string }) => model.id)).toContain("mlx-community/Llama-3.2-1B-4bit");
  });

  test("load and unload are passed on and the catalog follows at once", async () => {
    const loaded = await call("POST", "/admin/clusters/studio/load", { model: "mlx-community/Llama-3.2-1B-4bit" });
    expect(loaded).toMatchObject({ status: 200, json: { status: "loaded", model: "mlx-community/Llama-3.2-1B-4bit" } });
    expect(await served()).toContain("studio:llama-3.2-1b-4bit");
    const one = await call("POST", "/admin/clusters/studio/unload", { model: "mlx-community/Llama-3.2-1B-4bit" });
    expect(one.json.status).toBe("unloaded");
    expect(await served()).not.toContain("studio:llama-3.2-1b-4bit");
    const all = await call("POST", "/admin/clusters/studio/unload");
    expect(all.json).toEqual({ status: "unloaded_all", models: ["mlx-community/Qwen3-4B-4bit"] });
    expect(await served()).toEqual([]);
    expect((await call("POST", "/admin/clusters/studio/load", { model: "mlx-community/Qwen3-4B-4bit" })).status).toBe(
      200,
    );
  });

  test("the Telemak's own errors keep their status; unknown engines are 404; a gone engine is a 502", async () => {
    const tooBig = await call("POST", "/admin/clusters/studio/load", { model: "mlx-community/Huge-405B-4bit" });
    expect(tooBig.status).toBe(400);
    expect(tooBig.json.error.message).toContain("upstream 'studio' returned 400");
    expect((await call("GET", "/admin/clusters/nope/status")).status).toBe(404);
    expect((await call("POST", "/admin/clusters/studio/load", {})).status).toBe(400);
    const gone = new FakeTelemak();
    await call("PUT", "/admin/clusters/gone", { kind: "telemak", upstream: gone.url });
    gone.stop();
    const status = await call("GET", "/admin/clusters/gone/status");
    expect(status.json).toMatchObject({ upstream_reachable: false, loaded: false, memory: null });
    const load = await call("POST", "/admin/clusters/gone/load", { model: "x" });
    expect(load.status).toBe(502);
    expect(load.json.error.message).toContain("upstream 'gone'");
  });
});

describe("an engine that sends too much", () => {
  test("its 64 MiB admin answers are read only up to 1 MiB: status fields null, load a 502, memory flat", async () => {
    const chunk = new TextEncoder().encode(`{"pad":"${"x".repeat(1 << 20)}`);
    const huge = () =>
      new Response(
        new ReadableStream({
          start(controller) {
            for (let i = 0; i < 64; i++) controller.enqueue(chunk);
            controller.close();
          },
        }),
        { headers: { "content-type": "application/json" } },
      );
    const flood = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: huge });
    try {
      const url = `http://127.0.0.1:${flood.port}`;
      expect((await call("PUT", "/admin/clusters/flood?force=true", { kind: "telemak", upstream: url })).status).toBe(
        200,
      );
      const rssBefore = process.memoryUsage().rss;
      const status = await call("GET", "/admin/clusters/flood/status");
      expect(status.json).toMatchObject({ upstream_reachable: false, memory: null, sessions: [], version: null });
      const load = await call("POST", "/admin/clusters/flood/load", { model: "m" });
      expect(load.status).toBe(502);
      expect(load.json.error.message).toContain("upstream 'flood'");
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(48 * 1024 ** 2);
      await call("DELETE", "/admin/clusters/flood");
    } finally {
      flood.stop(true);
    }
  });
});
