/**
 * `ithaca doctor`: what this Ithaca would run with — which MLX C library it loads and from where, the MLX version
 * against the pinned one, the machine's memory and the model budget, `ITHACA_HOME`, whether the port is free — as
 * text or, with `--json`, one JSON object. Exit status 0 when Ithaca can serve (the MLX library loads and
 * `ITHACA_HOME` is writable), 1 otherwise; a port in use is reported, not a failure (it may be this Ithaca).
 */
import { accessSync, constants, existsSync } from "node:fs";
import { freemem, totalmem } from "node:os";
import { dirname } from "node:path";
import { describeLibrary, probeMlxLibrary } from "../backends/mlx/library-probe.ts";
import { loadConfig, parsePort } from "../config/load.ts";
import type { NativeDir } from "./native.ts";

/** What `ithaca doctor --json` prints. Sizes are bytes. */
export interface DoctorReport {
  ithaca: string;
  bun: string;
  platform: string;
  /** `binary` (a standalone executable) or `source` (a checkout run with Bun). */
  mode: "binary" | "source";
  executable: string;
  /** Where a binary's libraries were extracted; absent from a checkout. */
  natives?: { dir: string; extracted_now: boolean };
  mlx: Record<string, unknown>;
  memory: { total_bytes: number; available_bytes: number; model_budget_bytes: number };
  home: { path: string; exists: boolean; writable: boolean };
  port: { host: string; port: number; free: boolean; error?: string };
  ok: boolean;
}

/** Whether `path` (or, when it does not exist yet, the nearest existing parent) is writable by this process. */
function writable(path: string): boolean {
  let probe = path;
  while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
  try {
    accessSync(probe, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Tries to bind `host:port` for a moment. */
function portState(host: string, port: number): { free: boolean; error?: string } {
  try {
    const listener = Bun.listen({ hostname: host, port, socket: { data() {} } });
    listener.stop(true);
    return { free: true };
  } catch (error) {
    return { free: false, error: error instanceof Error ? error.message : String(error) };
  }
}

const GiB = 1024 ** 3;
const gib = (bytes: number) => `${(bytes / GiB).toFixed(1)} GiB`;

/**
 * Gathers the report.
 * @param options `--config`, `--host`, `--port` as `ithaca serve` takes them
 * @param context the version and, in a binary, where its libraries are
 * @throws ConfigError when the configuration is invalid
 */
export async function doctorReport(
  options: { config?: string; host?: string; port?: string },
  context: { version: string; natives?: NativeDir },
): Promise<DoctorReport> {
  const config = await loadConfig({
    configPath: options.config,
    host: options.host,
    port: options.port === undefined ? undefined : parsePort(options.port, "--port"),
    embeddedModels: context.natives ? "home" : "repo",
  });
  const probe = await probeMlxLibrary();
  const home = { path: config.home, exists: existsSync(config.home), writable: writable(config.home) };
  return {
    ithaca: context.version,
    bun: Bun.version,
    platform: `${process.platform}-${process.arch}`,
    mode: Bun.isStandaloneExecutable ? "binary" : "source",
    executable: process.execPath,
    natives: context.natives && { dir: context.natives.dir, extracted_now: context.natives.extracted },
    mlx: describeLibrary(probe),
    memory: {
      total_bytes: totalmem(),
      available_bytes: freemem(),
      model_budget_bytes: config.engine.memory.budget_bytes,
    },
    home,
    port: { host: config.server.host, port: config.server.port, ...portState(config.server.host, config.server.port) },
    ok: probe.ok && home.writable,
  };
}

/** Renders the report for a person, one line per check. */
export function formatReport(report: DoctorReport): string {
  const mlx = report.mlx;
  const lines = [
    `Ithaca ${report.ithaca} (${report.mode === "binary" ? "standalone binary" : "from source"}, Bun ${report.bun}, ${report.platform})`,
    `  executable      ${report.executable}`,
  ];
  if (report.natives) {
    lines.push(
      `  native libs     ${report.natives.dir} (${report.natives.extracted_now ? "extracted now" : "reused"})`,
    );
  }
  if (mlx.ok) {
    const versionNote = mlx.matches_pinned
      ? "the pinned version"
      : `differs from the pinned ${mlx.pinned_mlx_version}: reported, not refused`;
    lines.push(`  MLX C library   ${mlx.library} (${mlx.source})`);
    lines.push(`  MLX version     ${mlx.mlx_version} (${versionNote}); device ${mlx.device}`);
    const blas = mlx.blas as { kind: string; library?: string };
    const blasNote =
      blas.kind === "reference"
        ? ": float32 matmul is slow and batching barely helps; bash scripts/setup.sh links OpenBLAS"
        : "";
    lines.push(`  BLAS            ${blas.kind}${blas.library ? ` (${blas.library})` : ""}${blasNote}`);
  } else {
    lines.push(`  MLX C library   NOT LOADED: ${mlx.error}`);
  }
  const { memory, home, port } = report;
  lines.push(
    `  memory          ${gib(memory.total_bytes)} total, ${gib(memory.available_bytes)} available; model budget ${gib(memory.model_budget_bytes)}`,
    `  ITHACA_HOME     ${home.path} (${home.exists ? "exists" : "created on first serve"}, ${home.writable ? "writable" : "NOT WRITABLE"})`,
    `  port            ${port.host}:${port.port} ${port.free ? "free" : `in use (${port.error})`}`,
    report.ok ? "ok" : "problems found",
  );
  return lines.join("\n");
}

/**
 * Runs `ithaca doctor`: prints the report (`--json`: one JSON object).
 * @returns the exit status: 0 when Ithaca can serve, 1 otherwise
 */
export async function doctor(
  options: { config?: string; host?: string; port?: string; json?: boolean },
  context: { version: string; natives?: NativeDir },
): Promise<number> {
  const report = await doctorReport(options, context);
  console.log(options.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return report.ok ? 0 : 1;
}
