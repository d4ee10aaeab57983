/**
 * An upstream that stops answering and comes back, behind a real Ithaca: while it is down its model is listed not
 * ready and a request gets 503 with Retry-After naming it; when it is back the model is ready again by itself, with
 * no request needed to notice.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { FakeUpstream } from "../../helpers/fake-upstream.ts";
import { type RunningIthaca, startIthaca } from "../../helpers/start.ts";

let upstream: FakeUpstream;
let server: RunningIthaca;

beforeAll(async () => {
  upstream = new FakeUpstream({ models: ["m"] });
  server = await startIthaca({ upstreams: [{ id: "up", base_url: upstream.baseUrl, retry: { attempts: 1 } }] });
});

afterAll(async () => {
  await server.close();
  upstream.stop();
});

/** Whether `up:m` is listed ready (`/v1/models` lists ready models; `include_unloaded` the others too). */
async function state(): Promise<"ready" | "not ready" | "absent"> {
  const all = (await (await fetch(`${server.url}/v1/models?include_unloaded=true`)).json()) as {
    data: Array<{ id: string }>;
  };
  const ready = (await (await fetch(`${server.url}/v1/models`)).json()) as { data: Array<{ id: string }> };
  if (ready.data.some((model) => model.id === "up:m")) return "ready";
  return all.data.some((model) => model.id === "up:m") ? "not ready" : "absent";
}

/** Polls `state()` until it is `want`, for at most `ms`. */
async function until(want: string, ms = 20_000): Promise<string> {
  const deadline = Date.now() + ms;
  let now = await state();
  while (now !== want && Date.now() < deadline) {
    await Bun.sleep(100);
    now = await state();
  }
  return now;
}

const chat = () =>
  fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "up:m", messages: [{ role: "user", content: "hi" }] }),
  });

test("a down upstream's model is not ready and answers 503 with Retry-After; it comes back on its own", async () => {
  expect(await until("ready")).toBe("ready");
  const port = upstream.port;
  upstream.stop();
  expect(await until("not ready")).toBe("not ready");
  const refused = await chat();
  expect(refused.status).toBe(503);
  expect(refused.headers.get("retry-after")).toBe("2");
  expect(((await refused.json()) as { error: { code: string; message: string } }).error).toMatchObject({
    code: "upstream_unavailable",
    message: expect.stringContaining("upstream 'up'"),
  });
  upstream = new FakeUpstream({ models: ["m"], port });
  expect(await until("ready")).toBe("ready");
  expect((await chat()).status).toBe(200);
}, 60_000);
