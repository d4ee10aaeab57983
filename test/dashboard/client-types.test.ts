/**
 * The dashboard's browser code type-checks as its own program (src/dashboard/client/tsconfig.json: DOM types and
 * Preact's JSX), which the server's `tsc -p tsconfig.json` leaves out: the DOM's fetch and stream types clash with Bun's.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, REPO } from "../helpers/paths.ts";

test("src/dashboard/client type-checks (tsc --noEmit -p src/dashboard/client/tsconfig.json)", () => {
  const tsc = join(REPO, "node_modules", "typescript", "bin", "tsc");
  const run = Bun.spawnSync([BUN, tsc, "--noEmit", "-p", join(REPO, "src", "dashboard", "client", "tsconfig.json")], {
    cwd: REPO,
    stdout: "pipe",
    stderr: "pipe",
  });
  const output = `${run.stdout.toString()}${run.stderr.toString()}`;
  expect(output).toBe("");
  expect(run.exitCode).toBe(0);
}, 120_000);
