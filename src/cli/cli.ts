/**
 * The `ithaca` command line, shared by the checkout (src/main.ts) and the standalone binary
 * (scripts/build-binary.sh): `serve`, `make-model`, `version`, `doctor`, `rank`.
 *
 * In a binary, the native libraries are extracted (src/cli/native.ts) before any command that may load MLX, and
 * `MLXC_NATIVE_DIR` tells the binding where they are.
 */
import { parseArgs } from "node:util";
import packageJson from "../../package.json" with { type: "json" };
import { ConfigError } from "../config/load.ts";
import { type EmbeddedNatives, ensureNatives, type NativeDir } from "./native.ts";

/** Ithaca's version (package.json). */
export const VERSION: string = packageJson.version;

/** What differs between the checkout and the binary. */
export interface CliDeps {
  /** The binary's embedded native libraries; absent when running from a checkout. */
  natives?: EmbeddedNatives;
  /** Runs the model generator's command line (`ithaca make-model …`); resolves to its exit status. */
  makeModelCli(argv: string[]): Promise<number>;
  /**
   * Generates the demo model into a directory (the binary's embedded default, under `ITHACA_HOME`). Absent: the
   * embedded default serves the repository's `models/demo`, which scripts/setup.sh generates.
   */
  makeDemoModel?: (out: string) => void;
}

export const USAGE = `Ithaca ${VERSION}: one OpenAI-compatible address for local MLX models and LAN/cloud engines.

Usage:
  ithaca serve [--host HOST] [--port PORT] [--config FILE] [--model DIR]
  ithaca make-model --arch llama|mistral|qwen2|qwen3 --out DIR [--size tiny|small|qwen3-0.6b] [--bits N] ...
  ithaca doctor [--config FILE] [--host HOST] [--port PORT] [--json]
  ithaca rank --model DIR [--host IP] [--port PORT] [--mode pipeline|tensor] [--cluster ID]   (spawned over SSH)
  ithaca version
  ithaca --help

serve options:
  --host HOST      interface to bind (default 127.0.0.1; env ITHACA_HOST)
  --port PORT      TCP port (default 8000; env ITHACA_PORT)
  --config FILE    configuration file (env ITHACA_CONFIG; default ./ithaca.yaml when present)
  --model DIR      serve this model directory (mlx-community layout); its id is the directory name

make-model writes a random-weight model in the mlx-community layout (make-model --help lists every option).
doctor tells which MLX C library is loaded and from where, the MLX version, memory, ITHACA_HOME and whether the
port is free.

Environment: ITHACA_API_KEYS (comma list), ITHACA_ADMIN_TOKEN, ITHACA_ENROLL_SECRET, ITHACA_HOME, ITHACA_MODELS_DIR, ITHACA_IDLE_TTL_S,
ITHACA_MEMORY_BUDGET, MLX_C_LIBRARY (a libmlxc to use instead of the bundled one), ITHACA_CACHE_DIR (where a binary
extracts its libraries).
With no configuration, Ithaca serves the demo model on port 8000 and lists the other models beside it as loadable on
request (from a checkout: models/; the standalone binary: $ITHACA_HOME/models, the demo generated on first run).`;

const SERVE_OPTIONS = {
  host: { type: "string" },
  port: { type: "string" },
  config: { type: "string" },
  model: { type: "string" },
} as const;

/** Extracts a binary's libraries and points the binding at them; nothing to do from a checkout. */
function prepareNatives(deps: CliDeps): NativeDir | undefined {
  if (!deps.natives) return undefined;
  const natives = ensureNatives(deps.natives, VERSION);
  process.env.MLXC_NATIVE_DIR = natives.dir;
  return natives;
}

/** One line: the version, the runtime, and for a binary the embedded MLX. */
export function versionLine(deps: Pick<CliDeps, "natives">): string {
  const where = deps.natives
    ? `standalone binary ${deps.natives.target}, MLX ${deps.natives.mlxVersion} embedded (${deps.natives.hash.slice(0, 16)})`
    : "from source";
  return `ithaca ${VERSION} (Bun ${Bun.version}, ${process.platform}-${process.arch}, ${where})`;
}

/**
 * Runs one command.
 * @param argv the arguments after the program name
 * @returns the exit status for commands that end (`version`, `doctor`, `make-model`, errors); `serve` resolves with 0
 *   once listening and keeps the process alive
 */
export async function runCli(argv: string[], deps: CliDeps): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    if (command === undefined) {
      console.error(`Missing command\n\n${USAGE}`);
      return 2;
    }
    console.log(USAGE);
    return 0;
  }
  try {
    switch (command) {
      case "version":
      case "--version":
        console.log(versionLine(deps));
        return 0;
      case "make-model":
        prepareNatives(deps);
        return await deps.makeModelCli(rest);
      case "doctor": {
        const { values } = parseArgs({
          args: rest,
          options: { ...SERVE_OPTIONS, json: { type: "boolean" } },
        });
        const natives = prepareNatives(deps);
        const { doctor } = await import("./doctor.ts");
        return await doctor(values, { version: VERSION, natives });
      }
      case "serve": {
        const { values } = parseArgs({
          args: rest,
          options: { ...SERVE_OPTIONS, help: { type: "boolean", short: "h" } },
        });
        if (values.help) {
          console.log(USAGE);
          return 0;
        }
        prepareNatives(deps);
        const { serve } = await import("./serve.ts");
        await serve(values, deps.makeDemoModel);
        return 0;
      }
      case "rank": {
        const { values } = parseArgs({
          args: rest,
          options: {
            model: { type: "string" },
            host: { type: "string" },
            port: { type: "string" },
            cluster: { type: "string" },
            mode: { type: "string" },
            layers: { type: "string" },
          },
        });
        prepareNatives(deps);
        const { rank } = await import("./rank.ts");
        return await rank(values);
      }
      default:
        console.error(`Unknown command: ${argv.join(" ")}\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof TypeError && (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    console.error(
      error instanceof ConfigError ? error.message : `ithaca: ${error instanceof Error ? error.message : error}`,
    );
    return 1;
  }
}
