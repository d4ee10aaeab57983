/**
 * The standalone binary's program (scripts/build-binary.sh generates its entry, which embeds the native libraries
 * and calls {@link runBinary}). The same commands as the checkout (src/cli/cli.ts), plus what only the binary has:
 * the demo-model generator inside (`ithaca make-model`, and the embedded default's demo model generated into
 * `ITHACA_HOME` on first run) and the native libraries extracted on first start.
 */
import { runCli } from "../../src/cli/cli.ts";
import type { EmbeddedNatives } from "../../src/cli/native.ts";
import { makeModelCli } from "../make-model/cli.ts";
import { makeModel } from "../make-model/model.ts";

/** The demo model of the embedded default: what scripts/setup.sh generates into models/demo. */
export const DEMO_MODEL = { arch: "qwen3", size: "tiny", seed: 7 } as const;

/**
 * Runs the command line of the binary and exits with its status (`serve` keeps running).
 * @param natives the embedded native libraries (paths inside the binary)
 */
export async function runBinary(natives: EmbeddedNatives): Promise<void> {
  const status = await runCli(process.argv.slice(2), {
    natives,
    makeModelCli: async (argv) => {
      makeModelCli(argv, "ithaca make-model");
      return 0;
    },
    makeDemoModel: (out) => {
      makeModel({ ...DEMO_MODEL, out });
    },
  });
  if (status !== 0) process.exit(status);
}
