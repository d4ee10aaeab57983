#!/usr/bin/env bun
/**
 * The floor of `bench/proxy-overhead.ts`: the least a Bun proxy can do. It forwards method, path, content type and
 * body to the upstream with `fetch` and answers `new Response(upstream.body, { status, headers })`: no parsing, no
 * routing, no translation, the response streamed through as it comes.
 *
 *   bun bench/proxy/relay.ts --upstream http://127.0.0.1:PORT [--port 0]
 *
 * Prints `relay listening on http://127.0.0.1:<port>` when ready.
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { upstream: { type: "string" }, port: { type: "string", default: "0" } },
});
if (!values.upstream) {
  console.error("usage: bun bench/proxy/relay.ts --upstream URL [--port 0]");
  process.exit(2);
}
const upstream = values.upstream.replace(/\/$/, "");

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(values.port),
  idleTimeout: 0,
  async fetch(req) {
    const url = new URL(req.url);
    const headers: Record<string, string> = {};
    const type = req.headers.get("content-type");
    if (type) headers["content-type"] = type;
    const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer();
    const res = await fetch(upstream + url.pathname + url.search, { method: req.method, headers, body });
    return new Response(res.body, { status: res.status, headers: res.headers });
  },
});
console.log(`relay listening on http://127.0.0.1:${server.port}`);
