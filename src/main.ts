#!/usr/bin/env bun
/**
 * The `ithaca` command line from a checkout: `ithaca serve [--host H] [--port N] [--config FILE] [--model DIR]`,
 * `ithaca make-model …`, `ithaca doctor`, `ithaca version` (src/cli/cli.ts). The standalone binary runs the same
 * commands from its own entry (scripts/build-binary.sh).
 */
import { join } from "node:path";

// Production mode, whatever the environment says: Elysia decides once, when it is first loaded, from NODE_ENV, and in
// development its validation errors pretty-print the whole rejected value. So set it before anything loads Elysia
// (the app, and everything that imports src/protocol/errors.ts): those modules are imported dynamically below.
process.env.NODE_ENV = "production";
const { runCli } = await import("./cli/cli.ts");
const { REPO_ROOT } = await import("./config/load.ts");

/** `ithaca make-model …` from a checkout runs the generator script with this Bun. */
async function makeModelCli(argv: string[]): Promise<number> {
  const script = join(REPO_ROOT, "scripts", "make-model.ts");
  const child = Bun.spawn([process.execPath, script, ...argv], { stdio: ["inherit", "inherit", "inherit"] });
  return await child.exited;
}

const status = await runCli(Bun.argv.slice(2), { makeModelCli });
if (status !== 0) process.exit(status);
