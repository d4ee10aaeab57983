/**
 * `GET /admin/version`: Ithaca's version, Bun's, the platform, and the MLX version of the library the local engine
 * loaded (null without a local engine). A real Ithaca, admin-only.
 */
import { afterAll, describe, expect, test } from "bun:test";
import packageJson from "../../package.json" with { type: "json" };
import { jsonCall } from "../helpers/json-call.ts";
import { makeModel } from "../helpers/paths.ts";
import { startIthaca, type RunningIthaca } from "../helpers/start.ts";

const ADMIN = "admin-version";
const admin = { authorization: `Bearer ${ADMIN}` };
const started: RunningIthaca[] = [];

async function start(raw: Record<string, unknown>): Promise<RunningIthaca> {
  const server = await startIthaca(
    { auth: { admin_token_env: "VERSION_ADMIN" }, ...raw },
    { env: { VERSION_ADMIN: ADMIN } },
  );
  started.push(server);
  return server;
}

afterAll(async () => {
  for (const server of started) await server.close();
});

describe("GET /admin/version", () => {
  test("name, version, bun and platform; mlx null without a local engine; admin-only", async () => {
    const server = await start({});
    const { status, json } = await jsonCall(server.url, "GET", "/admin/version", undefined, admin);
    expect(status).toBe(200);
    expect(json).toEqual({
      name: "ithaca",
      version: packageJson.version,
      bun: Bun.version,
      platform: `${process.platform}-${process.arch}`,
      mlx: null,
      mlx_library: null,
    });
    expect((await jsonCall(server.url, "GET", "/admin/version")).status).toBe(401);
  });

  test("with a local engine, the MLX version of the library it loaded", async () => {
    const server = await start({ models: [{ id: "tiny", path: makeModel("qwen3", { seed: 71 }) }] });
    const deadline = Date.now() + 60_000;
    let json = (await jsonCall(server.url, "GET", "/admin/version", undefined, admin)).json;
    while (json.mlx === null && Date.now() < deadline) {
      await Bun.sleep(100);
      json = (await jsonCall(server.url, "GET", "/admin/version", undefined, admin)).json;
    }
    expect(json.mlx).toMatch(/^\d+\.\d+\.\d+/);
    expect(json.mlx_library).toMatchObject({ ok: true, mlx_version: json.mlx });
  });
});
