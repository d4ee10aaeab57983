/**
 * Pairing as a Companion does it (telemak-companion-wire §6.2, §9 #6-#8; issue 13 item 1), against a real Ithaca
 * with API keys configured: the gate closed → 403; opened by the operator → a crew token, shown once, the gate
 * closed again; the token serves `/v1/*` with the openai SDK; the operator sees previews only; the client revokes
 * itself and its token then gets 401 with `x-odyssai-crew-revoked: true`; pairing again replaces the earlier token;
 * the enrolment secret pairs with the gate closed; pairings survive a restart and the token is not in the database.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { DATABASE_FILE } from "../../src/store/store.ts";
import { FakeUpstream } from "../helpers/fake-upstream.ts";
import { jsonCall } from "../helpers/json-call.ts";
import { tempDir } from "../helpers/paths.ts";
import { type RunningIthaca, startIthaca } from "../helpers/start.ts";

const ADMIN = "admin-pairing";
const home = tempDir("ithaca-home-");
let upstream: FakeUpstream;
let server: RunningIthaca;

const start = () =>
  startIthaca(
    {
      home,
      auth: { api_keys: ["sk-static"], admin_token_env: "PAIR_ADMIN", enroll_secret_env: "PAIR_ENROLL" },
      upstreams: [{ id: "lan", base_url: upstream.baseUrl, models: ["m"] }],
    },
    { env: { PAIR_ADMIN: ADMIN, PAIR_ENROLL: "enroll-secret" } },
  );

beforeAll(async () => {
  upstream = new FakeUpstream({ models: ["m"] });
  server = await start();
});

afterAll(async () => {
  await server.close();
  upstream.stop();
});

const admin = (method: string, path: string, body?: unknown) =>
  jsonCall(server.url, method, path, body, { authorization: `Bearer ${ADMIN}` });
const pair = (body: unknown, headers: Record<string, string> = {}) =>
  jsonCall(server.url, "POST", "/admin/pair", body, headers);
const companion = { client_id: "companion-7f3a", client_name: "Companion @ laptop", user_label: "Anna" };
const chat = (token: string) =>
  new OpenAI({ baseURL: server.baseURL, apiKey: token, maxRetries: 0 }).chat.completions.create({
    model: "lan",
    messages: [{ role: "user", content: "hi" }],
  });

/** The status the openai SDK met: 200, or its APIError's. */
const chatStatus = (key: string) =>
  chat(key).then(
    () => 200,
    (error: { status?: number }) => error.status,
  );

let token = "";
let crewId = "";

describe("pairing", () => {
  test("#6 with the gate closed: 403 gate_closed", async () => {
    expect((await jsonCall(server.url, "GET", "/admin/discovery/state")).json).toEqual({
      active: false,
      started_at: null,
      expires_at: null,
    });
    const refused = await pair(companion);
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe("gate_closed");
  });

  test("#6 the operator opens the gate; pairing returns a crew token once, the contract, and closes the gate", async () => {
    expect((await jsonCall(server.url, "POST", "/admin/discovery/enable", { duration_s: 60 })).status).toBe(401);
    const opened = await admin("POST", "/admin/discovery/enable", { duration_s: 60 });
    expect(opened.json.active).toBe(true);
    expect(Date.parse(opened.json.expires_at) - Date.parse(opened.json.started_at)).toBe(60_000);
    const paired = await pair(companion);
    expect(paired.status).toBe(200);
    // Read before matching: bun's toMatchObject writes its matchers into the object it matched.
    token = paired.json.token;
    crewId = paired.json.crew_id;
    expect(paired.json).toMatchObject({
      ok: true,
      token: expect.stringMatching(/^crew_[A-Za-z0-9_-]{32}$/),
      crew_id: expect.stringMatching(/^crew-[0-9a-f]{16}$/),
      engine: { vendor: "odyssai.eu", features: expect.arrayContaining(["cloud-passthrough"]) },
      expires: null,
    });
    expect((await jsonCall(server.url, "GET", "/admin/discovery/state")).json.active).toBe(false);
    expect((await pair({ ...companion, client_id: "another" })).status).toBe(403);
  });

  test("bad pairing bodies are 400 naming the field", async () => {
    await admin("POST", "/admin/discovery/enable");
    const missing = await pair({ client_name: "x" });
    expect(missing.status).toBe(400);
    expect(missing.json.error.message).toContain("client_id");
    expect((await admin("POST", "/admin/discovery/enable", { duration_s: 99_999 })).status).toBe(400);
    await admin("POST", "/admin/discovery/disable");
  });

  test("#7 the crew token serves /v1/* with the openai SDK; the operator sees a preview only", async () => {
    const answer = await chat(token);
    expect(answer.choices[0]?.message.content).toBe("Hello from the fake upstream");
    const crew = await admin("GET", "/admin/crew");
    expect(crew.json.count).toBe(1);
    expect(crew.json.data[0]).toMatchObject({
      id: crewId,
      client_id: "companion-7f3a",
      client_name: "Companion @ laptop",
      user_label: "Anna",
      token_preview: `${token.slice(0, 9)}…`,
      last_seen_at: expect.any(String),
    });
    expect(JSON.stringify(crew.json)).not.toContain(token);
    // A crew token is not an admin credential.
    expect(
      (await jsonCall(server.url, "GET", "/admin/crew", undefined, { authorization: `Bearer ${token}` })).status,
    ).toBe(401);
  });

  test("#8 the client revokes itself; its token then gets 401 with x-odyssai-crew-revoked", async () => {
    const self = await jsonCall(server.url, "DELETE", "/admin/crew/self", undefined, {
      authorization: `Bearer ${token}`,
    });
    expect(self.json).toEqual({ ok: true, revoked: crewId });
    const refused = await fetch(`${server.baseURL}/models`, { headers: { authorization: `Bearer ${token}` } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("x-odyssai-crew-revoked")).toBe("true");
    expect(await chatStatus(token)).toBe(401);
    const again = await jsonCall(server.url, "DELETE", "/admin/crew/self", undefined, {
      authorization: `Bearer ${token}`,
    });
    expect(again.status).toBe(401);
    expect(again.headers.get("x-odyssai-crew-revoked")).toBe("true");
  });

  test("pairing again replaces the client's earlier token; the operator revokes by id", async () => {
    const first = await pair(companion, { "x-ithaca-enroll": "enroll-secret" }); // the gate is closed
    expect(first.status).toBe(200);
    const second = await pair(companion, { "x-codeos-enroll": "enroll-secret" });
    expect(
      (await fetch(`${server.baseURL}/models`, { headers: { authorization: `Bearer ${first.json.token}` } })).status,
    ).toBe(401);
    expect((await chat(second.json.token)).choices.length).toBe(1);
    expect((await pair(companion, { "x-ithaca-enroll": "wrong" })).status).toBe(403);
    expect((await admin("DELETE", `/admin/crew/${second.json.crew_id}`)).json).toEqual({
      ok: true,
      revoked: second.json.crew_id,
    });
    expect((await admin("DELETE", `/admin/crew/${second.json.crew_id}`)).status).toBe(404);
    expect(await chatStatus(second.json.token)).toBe(401);
  });

  test("pairings survive a restart; the database holds digests, never the token", async () => {
    const paired = await pair({ client_id: "keeper", client_name: "Keeper" }, { "x-ithaca-enroll": "enroll-secret" });
    await server.close();
    server = await start();
    expect((await chat(paired.json.token)).choices.length).toBe(1);
    const bytes = readFileSync(join(home, DATABASE_FILE));
    expect(bytes.includes(Buffer.from(paired.json.token))).toBe(false);
    // Static keys keep working beside crew tokens.
    expect((await chat("sk-static")).choices.length).toBe(1);
  });
});
