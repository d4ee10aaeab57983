/**
 * What the benchmark ran on: CPU, cores, memory, OS, load, and the versions of Bun, Python, MLX and mlx-lm, so a table
 * is never read without its machine.
 */
import { existsSync, readFileSync } from "node:fs";
import * as os from "node:os";

export interface Machine {
  cpu: string;
  /** Logical CPUs. */
  cores: number;
  memBytes: number;
  os: string;
  arch: string;
  bun: string;
  python: string;
  mlx: string;
  mlxLm: string;
}

/** CPU model: `model name` in /proc/cpuinfo (Linux), else what the OS reports (e.g. "Apple M3 Pro"). */
export function cpuModel(): string {
  if (existsSync("/proc/cpuinfo")) {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) return m[1]!.trim();
  }
  return os.cpus()[0]?.model ?? "unknown CPU";
}

/** Distribution name from /etc/os-release when there is one, with the kernel. */
export function osName(): string {
  let distro = "";
  if (existsSync("/etc/os-release")) {
    const m = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(readFileSync("/etc/os-release", "utf8"));
    if (m) distro = `${m[1]}, `;
  }
  return `${distro}${os.type()} ${os.release()}`;
}

/** Versions of Python, MLX and mlx-lm as the venv's Python sees them. @throws Error if the venv cannot import them. */
function pythonVersions(python: string): { python: string; mlx: string; mlxLm: string } {
  const code =
    "import json, platform, mlx.core as mx, mlx_lm; print(json.dumps([platform.python_version(), mx.__version__, mlx_lm.__version__]))";
  const r = Bun.spawnSync([python, "-c", code], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${python} cannot import mlx / mlx_lm: ${r.stderr.toString()}`);
  const [py, mlx, mlxLm] = JSON.parse(r.stdout.toString()) as [string, string, string];
  return { python: py, mlx, mlxLm };
}

export function describeMachine(python: string): Machine {
  return {
    cpu: cpuModel(),
    cores: os.cpus().length,
    memBytes: os.totalmem(),
    os: osName(),
    arch: os.arch(),
    bun: Bun.version,
    ...pythonVersions(python),
  };
}

/** The machine as one line: CPU, logical CPUs, memory, OS and architecture. */
export function formatMachine(m: Machine): string {
  return `${m.cpu}, ${m.cores} logical CPUs, ${(m.memBytes / 2 ** 30).toFixed(1)} GiB RAM, ${m.os} (${m.arch})`;
}

/** 1-, 5- and 15-minute load averages, formatted (other work on the machine skews the numbers). */
export function loadAverage(): string {
  return os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" / ");
}
