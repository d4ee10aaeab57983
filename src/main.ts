#!/usr/bin/env bun
/**
 * The `ithaca` command line: `ithaca serve [--host H] [--port N] [--config FILE] [--model DIR]`.
 * Loads the configuration, builds the app, listens, and shuts down gracefully on SIGINT/SIGTERM (stop accepting,
 * then close the backends: engine Workers, upstream exchanges). A second signal exits at once.
 */
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, parsePort } from "./config/load.ts";

// Production mode, whatever the environment says: Elysia decides once, when it is first loaded, from NODE_ENV, and in
// development its validation errors pretty-print the whole rejected value. So set it before anything loads Elysia
// (the app, and everything that imports src/protocol/errors.ts): those modules are imported dynamically below.
process.env.NODE_ENV = "production";
const { createApp, VERSION } = await import("./app.ts");
const { exposureWarnings } = await import("./access/host-check.ts");

const USAGE = `Ithaca ${VERSION}: one OpenAI-compatible address for local MLX models and LAN/cloud engines.

Usage:
  ithaca serve [--host HOST] [--port PORT] [--config FILE] [--model DIR]
  ithaca --help

Options:
  --host HOST      interface to bind (default 127.0.0.1; env ITHACA_HOST)
  --port PORT      TCP port (default 8000; env ITHACA_PORT)
  --config FILE    configuration file (env ITHACA_CONFIG; default ./ithaca.yaml when present)
  --model DIR      serve this model directory (mlx-community layout); its id is the directory name
  -h, --help       show this help

Environment: ITHACA_API_KEYS (comma list), ITHACA_ADMIN_TOKEN, ITHACA_HOME, ITHACA_MODELS_DIR, ITHACA_IDLE_TTL_S,
ITHACA_MEMORY_BUDGET.
With no configuration, Ithaca serves the demo model in models/demo on port 8000 and lists the other models under
models/ as loadable on request.`;

async function serve(options: { host?: string; port?: string; config?: string; model?: string }): Promise<void> {
  const config = await loadConfig({
    configPath: options.config,
    host: options.host,
    port: options.port === undefined ? undefined : parsePort(options.port, "--port"),
    model: options.model,
  });
  const ithaca = await createApp(config);
  ithaca.app.listen({ hostname: config.server.host, port: config.server.port });
  const url = `http://${config.server.host}:${ithaca.app.server?.port}`;
  console.log(`Ithaca ${VERSION} listening on ${url} (OpenAI base URL ${url}/v1, docs ${url}/swagger)`);
  const warnings = exposureWarnings({
    host: config.server.host,
    apiKeysRequired: config.auth.api_keys.length > 0,
    adminTokenRequired: config.auth.admin_token !== undefined,
  });
  for (const warning of warnings) console.warn(`\n!!! ${warning}`);
  if (warnings.length > 0) console.warn("");
  void ithaca.catalog.entries().then((entries) => {
    const ids = (ready: boolean) =>
      entries.filter((entry) => entry.model.ready === ready).map((entry) => entry.model.id);
    console.log(`serving: ${ids(true).join(", ") || "(no models yet)"}`);
    if (ids(false).length > 0) console.log(`loadable on request: ${ids(false).join(", ")}`);
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log(`${signal}: shutting down (again to force)`);
    ithaca.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error("shutdown failed:", error);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
}

/** Runs the CLI; returns the exit status for errors it reports itself. */
async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseCli>;
  try {
    parsed = parseCli(argv);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : error}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== "serve") {
    console.error(
      `${positionals.length === 0 ? "Missing command" : `Unknown command: ${positionals.join(" ")}`}\n\n${USAGE}`,
    );
    return 2;
  }
  try {
    await serve(values);
    return 0;
  } catch (error) {
    console.error(
      error instanceof ConfigError ? error.message : `ithaca: ${error instanceof Error ? error.message : error}`,
    );
    return 1;
  }
}

function parseCli(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      host: { type: "string" },
      port: { type: "string" },
      config: { type: "string" },
      model: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

const status = await main(Bun.argv.slice(2));
if (status !== 0) process.exit(status);
