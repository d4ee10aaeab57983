/**
 * `/swagger` works without internet (issue 14 item 2): Swagger UI's script and stylesheet come from Ithaca (the pinned
 * `swagger-ui-dist`), the page renders in Debian's Chromium with every off-loopback request refused, and the document
 * lists every route, the admin API included.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { closeBrowser, loopbackPage, screenshot } from "../helpers/browser.ts";
import { type RunningIthaca, startIthaca } from "../helpers/start.ts";

let server: RunningIthaca;

beforeAll(async () => {
  server = await startIthaca({});
});

afterAll(async () => {
  await closeBrowser();
  await server.close();
});

test("the page names only local assets, served with their types", async () => {
  const html = await (await fetch(`${server.url}/swagger`)).text();
  const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]);
  expect(sources).toEqual(["/swagger/assets/swagger-ui.css", "/swagger/assets/swagger-ui-bundle.js"]);
  const script = await fetch(`${server.url}/swagger/assets/swagger-ui-bundle.js`);
  expect(script.status).toBe(200);
  expect(script.headers.get("content-type")).toContain("javascript");
  expect((await script.text()).length).toBeGreaterThan(500_000);
  const css = await fetch(`${server.url}/swagger/assets/swagger-ui.css`);
  expect(css.headers.get("content-type")).toContain("text/css");
});

test("the document lists every route, the admin API included", async () => {
  const document = (await (await fetch(`${server.url}/swagger/json`)).json()) as { paths: Record<string, unknown> };
  const paths = Object.keys(document.paths);
  for (const path of [
    "/v1/chat/completions",
    "/v1/messages",
    "/v1/models",
    "/admin/clusters",
    "/admin/providers",
    "/admin/keys",
    "/admin/pair",
    "/admin/models",
  ]) {
    expect(paths).toContain(path);
  }
  expect(paths).not.toContain("/swagger/assets/swagger-ui-bundle.js");
});

test("it renders in Chromium with no request leaving loopback", async () => {
  const { page, offLoopback, close } = await loopbackPage();
  try {
    await page.goto(`${server.url}/swagger`);
    await page.waitForSelector(".swagger-ui .opblock", { timeout: 20_000 });
    const operations = await page.locator(".swagger-ui .opblock").count();
    expect(operations).toBeGreaterThan(30);
    expect(await page.locator(".swagger-ui .title").first().innerText()).toContain("Ithaca");
    await screenshot(page, "swagger");
    expect(offLoopback).toEqual([]);
  } finally {
    await close();
  }
}, 60_000);
