/**
 * The web dashboard (issue 14 items 1 and 4) in Debian's Chromium driven by playwright-core, against a real Ithaca:
 * a local engine with a generated model (loaded and unloaded from the page), a Telemak emulated from its wire format
 * (enrolled through the "Add engine" form, its models then in the catalog table), an upstream from the configuration
 * that holds every request open (a run in flight, cancelled from the page), API keys (created from the page: the key
 * shown once, then only its preview), the discovery gate. Every request that would leave loopback is refused and
 * recorded: none may happen. Screenshots of every page, light and dark, at 1366×768, go to .build/screenshots/.
 * A second Ithaca with an admin token checks the sign-in: the token kept in sessionStorage and sent as a header only.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { dirname } from "node:path";
import type { Page } from "playwright-core";
import { closeBrowser, type LoopbackPage, loopbackPage, screenshot } from "../helpers/browser.ts";
import { FakeTelemak } from "../helpers/fake-telemak.ts";
import { makeModel } from "../helpers/paths.ts";
import { type RunningIthaca, startIthaca } from "../helpers/start.ts";

const VIEWPORT = { width: 1366, height: 768 };
const PAGES = ["engines", "catalog", "models", "access", "activity"] as const;

/** An OpenAI-dialect upstream that lists one model and holds every chat request open until the caller leaves. */
function hangingUpstream() {
  const held = new Set<Request>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const url = new URL(request.url);
      if (url.pathname === "/v1/models") {
        return Response.json({ object: "list", data: [{ id: "slow-model", object: "model", owned_by: "test" }] });
      }
      if (url.pathname === "/v1/chat/completions") {
        held.add(request);
        return new Promise<Response>((resolve) => {
          request.signal.addEventListener("abort", () => {
            held.delete(request);
            resolve(new Response(null, { status: 499 }));
          });
        });
      }
      return new Response("not found", { status: 404 });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, held, stop: () => server.stop(true) };
}

let telemak: FakeTelemak;
let slow: ReturnType<typeof hangingUpstream>;
let server: RunningIthaca;
let localModel: string;
let browser: LoopbackPage;
let page: Page;
/** Uncaught errors of the page, and what its Content-Security-Policy refused. */
const pageErrors: string[] = [];

beforeAll(async () => {
  telemak = new FakeTelemak();
  slow = hangingUpstream();
  const modelDir = makeModel("qwen3");
  localModel = modelDir.split("/").at(-1) as string;
  server = await startIthaca({
    engine: { models_dir: dirname(modelDir) },
    upstreams: [{ id: "slowpoke", label: "Slow upstream", base_url: `${slow.url}/v1` }],
  });
  browser = await loopbackPage({ colorScheme: "light" });
  page = browser.page;
  await page.setViewportSize(VIEWPORT);
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("console", (message) => {
    if (/Content.Security.Policy/i.test(message.text())) pageErrors.push(message.text());
  });
});

afterAll(async () => {
  await browser?.close();
  await closeBrowser();
  await server?.close();
  telemak?.stop();
  slow?.stop();
});

/** Goes to a page of the dashboard and waits for its first card. */
async function open(path: (typeof PAGES)[number]) {
  await page.goto(`${server.url}/dashboard#/${path}`);
  await page.locator(".card").first().waitFor();
}

/**
 * How many times the page shows `text`: in its text, or as the value of a field. (Expressions the page evaluates are
 * strings here: the test's own program has Bun's types, not the DOM's.)
 */
function shownTimes(text: string): Promise<number> {
  return page.evaluate(`(() => {
    const needle = ${JSON.stringify(text)};
    const inText = (document.body.textContent ?? "").split(needle).length - 1;
    const inFields = [...document.querySelectorAll("input, textarea")].filter((field) => field.value.includes(needle));
    return inText + inFields.length;
  })()`);
}

/** The theme in effect on a page (`data-theme` of the document). */
const themeOf = (on: Page) => on.evaluate("document.documentElement.dataset.theme");

/** Waits until `check()` is true (polling the page's state), or fails naming `what`. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("served by Ithaca", () => {
  test("/ sends a browser to /dashboard; other clients get the 404 they always got", async () => {
    const browserAsk = await fetch(`${server.url}/`, { headers: { accept: "text/html,*/*" }, redirect: "manual" });
    expect(browserAsk.status).toBe(302);
    expect(browserAsk.headers.get("location")).toBe("/dashboard");
    const client = await fetch(`${server.url}/`, { headers: { accept: "application/json" } });
    expect(client.status).toBe(404);
    expect(((await client.json()) as { error: { code: string } }).error.code).toBe("unknown_url");
  });

  test("the page names only its own bundled assets, under a strict CSP that forbids framing", async () => {
    const response = await fetch(`${server.url}/dashboard`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe");
    expect(response.headers.get("x-frame-options")).toBe("DENY");
    expect(response.headers.get("set-cookie")).toBeNull();
    const html = await response.text();
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1] as string);
    const assets = sources.filter((source) => source !== "data:,");
    expect(assets.length).toBe(2);
    for (const source of assets) {
      expect(source).toMatch(/^\/dashboard\/assets\/[\w.-]+\.(js|css)$/);
      const asset = await fetch(`${server.url}${source}`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get("content-type")).toContain(source.endsWith(".js") ? "javascript" : "text/css");
      expect(asset.headers.get("cache-control")).toContain("immutable");
    }
    expect((await fetch(`${server.url}/dashboard/assets/nothing.js`)).status).toBe(404);
  });

  test("/admin/catalog lists what /v1/models?include_unloaded=true lists", async () => {
    const admin = (await (await fetch(`${server.url}/admin/catalog`)).json()) as { data: unknown[] };
    const v1 = (await (await fetch(`${server.url}/v1/models?include_unloaded=true`)).json()) as { data: unknown[] };
    expect(admin.data).toEqual(v1.data);
    expect(admin.data.length).toBeGreaterThan(0);
  });
});

describe("in Chromium, open mode on loopback (no sign-in)", () => {
  test("Engines: every engine listed; a Telemak enrolled through the form after its probe's preview", async () => {
    await open("engines");
    // No sign-in in open mode: the engines of every origin are there.
    await page.locator('tr[data-engine="local"]').waitFor();
    await page.locator('tr[data-engine="slowpoke"]').waitFor();
    expect(await page.locator('tr[data-engine="local"]').textContent()).toContain(localModel);

    await page.getByRole("button", { name: "Add engine" }).click();
    const form = page.getByRole("form", { name: "Add engine" });
    await form.locator('input[name="id"]').fill("studio");
    await form.locator('input[name="name"]').fill("Mac Studio");
    await form.locator('input[name="upstream"]').fill(telemak.url);
    await form.locator('select[name="kind"]').selectOption("telemak");
    // Save waits for a preview of these very values.
    expect(await form.getByRole("button", { name: "Save", exact: true }).isDisabled()).toBe(true);
    await form.getByRole("button", { name: "Preview" }).click();
    const preview = form.getByRole("region", { name: "Probe preview" });
    await preview.getByText("reachable", { exact: true }).waitFor();
    expect(await preview.textContent()).toContain("mlx-community/Qwen3-4B-4bit");
    expect(await (await fetch(`${server.url}/admin/clusters/studio`)).status).toBe(404); // a preview saves nothing
    await screenshot(page, "dashboard-engines-add-light");

    await form.getByRole("button", { name: "Save", exact: true }).click();
    const row = page.locator('tr[data-engine="studio"]');
    await row.waitFor();
    expect(await row.textContent()).toContain("Mac Studio");
    expect(await row.textContent()).toContain("enrolled");
    const saved = (await (await fetch(`${server.url}/admin/clusters/studio`)).json()) as { kind: string };
    expect(saved.kind).toBe("telemak");
    // Saved, its page opens below the table.
    await page.getByRole("region", { name: "Live status" }).getByText("idle", { exact: true }).waitFor();
    await page.evaluate("window.scrollTo(0, 0)");
    await screenshot(page, "dashboard-engines-light");
  }, 60_000);

  test("Engines: a Telemak's live status, and load and unload of its models", async () => {
    const details = page.locator("#engine-details");
    if (!(await details.isVisible()))
      await page.locator('tr[data-engine="studio"]').getByRole("button", { name: "Details" }).click();
    const status = page.getByRole("region", { name: "Live status" });
    await status.getByText("idle", { exact: true }).waitFor();
    expect(await status.textContent()).toContain("3.1 GB used of 64 GB");
    expect(await status.textContent()).toContain("conv-1");
    const llama = status.locator('tr[data-model="mlx-community/Llama-3.2-1B-4bit"]');
    await llama.getByRole("button", { name: "Load" }).click();
    await llama.getByRole("button", { name: "Unload" }).waitFor();
    expect(telemak.loaded.has("mlx-community/Llama-3.2-1B-4bit")).toBe(true);
    await screenshot(page, "dashboard-engine-telemak-light");
    await llama.getByRole("button", { name: "Unload" }).click();
    await llama.getByRole("button", { name: "Load" }).waitFor();
    expect(telemak.loaded.has("mlx-community/Llama-3.2-1B-4bit")).toBe(false);
  }, 60_000);

  test("Engines: SSH management shows on an engine enrolled with an SSH target (a dead host: a clean error)", async () => {
    await open("engines");
    await page.getByRole("button", { name: "Add engine" }).click();
    const form = page.getByRole("form", { name: "Add engine" });
    await form.locator('input[name="id"]').fill("box");
    await form.locator('input[name="upstream"]').fill(telemak.url);
    await form.locator('select[name="kind"]').selectOption("telemak");
    await form.locator('input[name="ssh"]').fill("me@127.0.0.1:1"); // nothing listens there
    await form.getByRole("button", { name: "Preview" }).click();
    const contact = form.locator('[data-part="ssh-contact"]');
    await contact.getByText("not reached").waitFor();
    expect(await contact.textContent()).toContain("unreachable");
    await form.getByRole("button", { name: "Save", exact: true }).click();
    const ssh = page.getByRole("region", { name: "SSH management" });
    await ssh.waitFor();
    expect(await ssh.textContent()).toContain("me@127.0.0.1:1");
    await ssh.getByRole("button", { name: "Restart" }).waitFor(); // a Telemak's app lifecycle
    await ssh.getByRole("button", { name: "Test connection" }).click();
    await ssh.getByRole("alert").getByText("unreachable", { exact: false }).waitFor();
    await screenshot(page, "dashboard-engine-ssh-light");
    const removed = await fetch(`${server.url}/admin/clusters/box`, { method: "DELETE" });
    expect(removed.status).toBe(200);
  }, 30_000);

  test("Catalog: the enrolled engine's models are in the table, as /v1/models has them", async () => {
    await open("catalog");
    const catalog = page.getByRole("table", { name: "Catalog" });
    const row = catalog.locator('tr[data-model^="studio:"]').first();
    await row.waitFor();
    expect(await row.textContent()).toContain("ready");
    const ids = ((await (await fetch(`${server.url}/v1/models`)).json()) as { data: Array<{ id: string }> }).data
      .map((model) => model.id)
      .filter((id) => id.startsWith("studio:"));
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) await catalog.locator(`tr[data-model="${id}"]`).waitFor();
    await catalog.locator(`tr[data-model="${localModel}"]`).getByText("not ready").waitFor();
    await screenshot(page, "dashboard-catalog-light");
  }, 30_000);

  test("Local models: load and unload a generated model; the budget bar shows its reservation", async () => {
    await open("models");
    const row = page.locator(`tr[data-model="${localModel}"]`);
    await row.getByText("unloaded", { exact: true }).waitFor();
    await row.getByRole("button", { name: "Load" }).click();
    await row.getByText("loaded", { exact: true }).waitFor({ timeout: 60_000 });
    const budget = page.locator(".budget-legend");
    await budget.getByText(localModel).waitFor();
    const state = (await (await fetch(`${server.url}/admin/models`)).json()) as {
      data: Array<{ id: string; state: string }>;
    };
    expect(state.data.find((model) => model.id === localModel)?.state).toBe("loaded");

    // A few requests, for the request log and the charts (and a kept prefix cache).
    for (const stream of [false, true, true]) {
      const answer = await fetch(`${server.baseURL}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: localModel,
          messages: [{ role: "user", content: "Hello!" }],
          max_tokens: 8,
          stream,
          session_id: "dash-1",
        }),
      });
      expect(answer.status).toBe(200);
      await answer.text();
    }
    const catalog = (await (await fetch(`${server.url}/admin/catalog`)).json()) as { data: Array<{ id: string }> };
    const studioModel = catalog.data.find((model) => model.id.startsWith("studio:"))?.id;
    const studio = await fetch(`${server.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: studioModel, messages: [{ role: "user", content: "Hi" }], stream: true }),
    });
    expect(studio.status).toBe(200);
    await studio.text();
    await page.getByRole("table", { name: "Prefix-cache sessions" }).getByText("dash-1").waitFor();
    await screenshot(page, "dashboard-models-light");

    await row.getByRole("button", { name: "Unload" }).click();
    await row.getByText("unloaded", { exact: true }).waitFor({ timeout: 30_000 });
  }, 120_000);

  test("Activity: a run in flight is listed and cancelled; the request log and the charts show the requests", async () => {
    await open("activity");
    const pending = fetch(`${server.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "slowpoke:slow-model", messages: [{ role: "user", content: "wait" }] }),
    });
    const runs = page.getByRole("table", { name: "Requests in flight" });
    const run = runs.locator("tr[data-run]").first();
    await run.waitFor();
    expect(await run.textContent()).toContain("slow-model");
    await run.getByRole("button", { name: "Cancel" }).click();
    const cancelled = await pending;
    expect(cancelled.status).toBe(499);
    await runs.getByText("Nothing running.").waitFor();

    const log = page.getByRole("table", { name: "Request log" });
    await log.getByText(localModel).first().waitFor();
    await log.getByText("499").first().waitFor();
    // uPlot drew the three charts (one canvas each), with the local model as a series.
    await until("three charts", async () => (await page.locator(".chart canvas").count()) === 3);
    expect(await page.locator(".chart .u-legend").first().textContent()).toContain(localModel);
    await screenshot(page, "dashboard-activity-light");
  }, 60_000);

  test("Access: a key is created and shown once, then listed by its preview only", async () => {
    await open("access");
    const form = page.getByRole("form", { name: "Create an API key" });
    await form.locator('input[name="key-name"]').fill("anna-laptop");
    await form.locator('input[name="key-rpm"]').fill("60");
    await form.getByRole("button", { name: "Create key" }).click();
    const shown = page.getByRole("status", { name: "New key" });
    await shown.waitFor();
    const key = await shown.getByRole("textbox", { name: "The new key" }).inputValue();
    expect(key).toMatch(/^sk-ith-/);
    const table = page.getByRole("table", { name: "API keys" });
    const rows = table.locator("tr[data-key]");
    await rows.first().waitFor();
    expect(await rows.count()).toBe(1);
    const listed = await rows.first().textContent();
    expect(listed).toContain("anna-laptop");
    expect(listed).not.toContain(key);
    expect(await shownTimes(key)).toBe(1); // in the one-time box only
    await screenshot(page, "dashboard-access-newkey-light");

    await shown.getByRole("button", { name: "Done" }).click();
    await shown.waitFor({ state: "detached" });
    expect(await shownTimes(key)).toBe(0);
    await page.reload();
    await rows.first().waitFor();
    expect(await shownTimes(key)).toBe(0);
    expect(await page.content()).not.toContain(key);
    expect(await rows.count()).toBe(1);
    // The key works, and only it (issuing a key closed open mode for /v1).
    const models = await fetch(`${server.baseURL}/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(models.status).toBe(200);
  }, 30_000);

  test("Access: the discovery gate opens with a countdown and closes", async () => {
    const gate = page.getByRole("region", { name: "Discovery gate" });
    await gate.getByRole("combobox", { name: "Open for" }).selectOption("300");
    await gate.getByRole("button", { name: "Open the gate" }).click();
    const countdown = gate.locator(".countdown");
    await countdown.waitFor();
    expect(await countdown.textContent()).toMatch(/^[45]:\d\d$/);
    const state = (await (await fetch(`${server.url}/admin/discovery/state`)).json()) as { active: boolean };
    expect(state.active).toBe(true);
    await screenshot(page, "dashboard-access-light");
    await gate.getByRole("button", { name: "Close the gate" }).click();
    await gate.getByText("closed", { exact: true }).waitFor();
  }, 30_000);

  test("Engines: an enrolled engine is removed (asked twice)", async () => {
    await open("engines");
    const row = page.locator('tr[data-engine="studio"]');
    await row.getByRole("button", { name: "Remove" }).click();
    await row.getByRole("button", { name: "Remove?" }).click();
    await row.waitFor({ state: "detached" });
    expect((await fetch(`${server.url}/admin/clusters/studio`)).status).toBe(404);
  }, 30_000);

  test("the theme toggles between automatic, light and dark", async () => {
    const theme = () => themeOf(page);
    expect(await theme()).toBe("light");
    const toggle = page.getByRole("button", { name: /^Theme:/ });
    await toggle.click(); // auto → light
    await toggle.click(); // light → dark
    await until("the dark theme", async () => (await theme()) === "dark");
    expect(await toggle.textContent()).toContain("Dark");
    await toggle.click(); // dark → auto (the system's: light here)
    await until("the automatic theme", async () => (await theme()) === "light");
    expect(await toggle.textContent()).toContain("Auto");
  });

  test("no request left loopback; no script error, nothing refused by the Content-Security-Policy", () => {
    expect(browser.offLoopback).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});

describe("dark theme", () => {
  test("every page renders in the dark theme (screenshots)", async () => {
    // Something to show on the engine page again.
    const enrol = await fetch(`${server.url}/admin/clusters/studio`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ kind: "telemak", upstream: telemak.url, name: "Mac Studio" }),
    });
    expect(enrol.status).toBe(200);
    const dark = await loopbackPage({ colorScheme: "dark" });
    try {
      await dark.page.setViewportSize(VIEWPORT);
      for (const path of PAGES) {
        await dark.page.goto(`${server.url}/dashboard#/${path}`);
        await dark.page.locator(".card").first().waitFor();
        expect(await themeOf(dark.page)).toBe("dark");
        await dark.page.locator("tbody tr").first().waitFor();
        await Bun.sleep(300);
        await screenshot(dark.page, `dashboard-${path}-dark`);
      }
      await dark.page.goto(`${server.url}/dashboard#/engines`);
      await dark.page.locator('tr[data-engine="studio"]').getByRole("button", { name: "Details" }).click();
      await dark.page.getByRole("region", { name: "Live status" }).getByText("idle", { exact: true }).waitFor();
      await screenshot(dark.page, "dashboard-engine-telemak-dark");
      expect(dark.offLoopback).toEqual([]);
    } finally {
      await dark.close();
    }
  }, 60_000);
});

describe("with an admin token", () => {
  const TOKEN = "admin-token-for-the-dashboard-test";
  let guarded: RunningIthaca;

  beforeAll(async () => {
    guarded = await startIthaca({}, { env: { ITHACA_ADMIN_TOKEN: TOKEN } });
  });
  afterAll(async () => {
    await guarded?.close();
  });

  test("sign-in: the token is checked, kept for the tab and sent as a header — never a cookie, never in a URL", async () => {
    const tab = await loopbackPage({ colorScheme: "light" });
    const requests: Array<{ url: string; authorization: string | undefined }> = [];
    tab.page.on("request", (request) =>
      requests.push({ url: request.url(), authorization: request.headers().authorization }),
    );
    try {
      await tab.page.setViewportSize(VIEWPORT);
      await tab.page.goto(`${guarded.url}/dashboard`);
      const field = tab.page.getByLabel("Admin token");
      await field.waitFor();
      await screenshot(tab.page, "dashboard-signin-light");
      await field.fill("not-the-token");
      await tab.page.getByRole("button", { name: "Sign in" }).click();
      await tab.page.getByText("That admin token was refused.").waitFor();
      await field.fill(TOKEN);
      await tab.page.getByRole("button", { name: "Sign in" }).click();
      await tab.page.getByRole("navigation", { name: "Pages" }).waitFor();
      await tab.page.getByText("signed in").waitFor();

      expect(await tab.page.evaluate('sessionStorage.getItem("ithaca.admin-token")')).toBe(TOKEN);
      expect(await tab.page.evaluate("document.cookie")).toBe("");
      expect(await tab.page.evaluate("JSON.stringify(localStorage)")).not.toContain(TOKEN);
      // A reload keeps the tab signed in.
      await tab.page.reload();
      await tab.page.getByText("signed in").waitFor();

      const admin = requests.filter((request) => new URL(request.url).pathname.startsWith("/admin/"));
      expect(admin.length).toBeGreaterThan(2);
      const afterSignIn = admin.filter((request) => request.authorization !== undefined);
      expect(afterSignIn.every((request) => request.authorization?.startsWith("Bearer "))).toBe(true);
      expect(requests.some((request) => request.url.includes(TOKEN))).toBe(false);
      expect((await tab.page.context().cookies()).length).toBe(0);

      await tab.page.getByRole("button", { name: "Sign out" }).click();
      await field.waitFor();
      expect(await tab.page.evaluate('sessionStorage.getItem("ithaca.admin-token")')).toBeNull();
      expect(tab.offLoopback).toEqual([]);
    } finally {
      await tab.close();
    }
  }, 60_000);
});
