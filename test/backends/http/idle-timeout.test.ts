/**
 * Silent stretches before the first byte (a long prefill, a model thinking) must not cut the client's connection:
 * `server.idle_timeout_s` defaults to 0 (never), where Elysia's default would close the connection after 30 s. A
 * configured timeout does apply, which shows the setting reaches the server. A second server on a port in use fails
 * instead of sharing it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createApp } from "../../../src/app.ts";
import { REPO_ROOT, resolveConfig } from "../../../src/config/load.ts";
import { startIthaca } from "../../helpers/start.ts";
import { tempDir } from "../../helpers/paths.ts";
import { FakeUpstream } from "../../helpers/fake-upstream.ts";

let upstream: FakeUpstream;

beforeAll(() => {
  upstream = new FakeUpstream({ models: ["slow-model"] });
});
afterAll(() => upstream.stop());

const config = (server: Record<string, unknown> = {}) => ({
  models: [],
  home: tempDir("ithaca-home-"),
  server,
  upstreams: [{ id: "up", base_url: upstream.baseUrl, retry: { attempts: 1 }, timeout_ms: { first_byte: 120_000 } }],
});

/** Streams a completion; the whole answer with its status, or the connection error's message. */
const ask = (url: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "slow-model", stream: true, messages: [{ role: "user", content: "hi" }] }),
  })
    .then(async (response) => `answered ${response.status}: ${await response.text()}`)
    .catch((error: Error) => `failed: ${error.message}`);

test("a stream silent for 34 s after its first chunk reaches its end (default: no idle timeout)", async () => {
  upstream.behavior = { kind: "slow", delayMs: 34_000 };
  const ithaca = await startIthaca(config());
  try {
    const answer = await ask(ithaca.url);
    expect(answer).toStartWith("answered 200: ");
    expect(answer).toContain("tok1 ");
    expect(answer).toEndWith("data: [DONE]\n\n");
  } finally {
    await ithaca.close();
  }
}, 60_000);

test("server.idle_timeout_s: 2 closes a stream silent for 12 s", async () => {
  upstream.behavior = { kind: "slow", delayMs: 12_000 };
  const ithaca = await startIthaca(config({ idle_timeout_s: 2 }));
  try {
    const answer = await ask(ithaca.url);
    expect(answer).not.toContain("[DONE]");
  } finally {
    await ithaca.close();
  }
}, 30_000);

test("a second server on the same port fails instead of sharing it", async () => {
  const first = await startIthaca(config());
  try {
    const second = await createApp(resolveConfig(config(), { baseDir: REPO_ROOT, env: {}, source: "test" }));
    let failure = "";
    try {
      second.app.listen({ hostname: "127.0.0.1", port: Number(new URL(first.url).port) });
    } catch (error) {
      failure = (error as Error).message;
    }
    await second.close();
    expect(failure).toContain("in use");
  } finally {
    await first.close();
  }
});
