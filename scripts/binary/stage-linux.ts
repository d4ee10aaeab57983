/**
 * Linux: gathers the native libraries a standalone binary embeds and makes them find each other in one directory.
 *
 * - the compatibility library, the error-capture and kernel libraries and llguidance (ffi/native/build, built by
 *   scripts/setup.sh);
 * - `libmlx.so` from the `mlx-cpu` wheel;
 * - every shared library these need that is not part of a bare Debian 12 / Ubuntu 22.04 system, found with `ldd`
 *   (today the wheel's vendored `liblapack`, `libblas`, `libgfortran`, `libquadmath`). The C and C++ runtimes (glibc,
 *   `libstdc++`, `libgcc_s`) are not embedded: every Debian and Ubuntu has them, since `apt` needs them.
 *
 * Each copy keeps its original file name and gets `RPATH=$ORIGIN` (patchelf), so the dynamic linker resolves the
 * libraries against each other in the directory they are extracted to, whatever LD_LIBRARY_PATH says. A final `ldd`
 * of the staged copies checks that nothing outside the base system is looked for elsewhere.
 */
import { copyFileSync, existsSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";

/** Libraries every glibc Linux has (sonames, prefix match); never embedded. */
const BASE_SYSTEM = [
  "linux-vdso.so",
  "linux-gate.so",
  "ld-linux",
  "libc.so",
  "libm.so",
  "libdl.so",
  "libpthread.so",
  "librt.so",
  "libstdc++.so",
  "libgcc_s.so",
];

/** Whether a soname is part of the base system. */
export function isBaseSystem(soname: string): boolean {
  return BASE_SYSTEM.some((prefix) => soname.startsWith(prefix));
}

/** One `ldd` dependency: its soname and where it resolved (`null`: not found). */
export interface LddEntry {
  soname: string;
  path: string | null;
}

/**
 * Parses `ldd` output (`libx.so.1 => /path/libx.so.1 (0x…)`, `libx.so.1 => not found`, `/lib64/ld-linux… (0x…)`).
 */
export function parseLdd(output: string): LddEntry[] {
  const entries: LddEntry[] = [];
  for (const raw of output.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const arrow = line.match(/^(\S+)\s+=>\s+(not found|(\S+)\s+\(0x[0-9a-f]+\))/);
    if (arrow) {
      entries.push({ soname: arrow[1]!, path: arrow[3] ?? null });
      continue;
    }
    const direct = line.match(/^(\S+)\s+\(0x[0-9a-f]+\)/);
    if (direct) entries.push({ soname: basename(direct[1]!), path: direct[1]! });
  }
  return entries;
}

function run(cmd: string[], env?: Record<string, string>): string {
  const result = Bun.spawnSync(cmd, { env: env ?? { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
  if (result.exitCode !== 0) {
    throw new Error(`${cmd.join(" ")} failed (${result.exitCode}): ${result.stderr.toString().trim()}`);
  }
  return result.stdout.toString();
}

/** `ldd` of a library with a clean environment (no LD_LIBRARY_PATH). */
function ldd(path: string): LddEntry[] {
  return parseLdd(run(["ldd", path], { PATH: "/usr/bin:/bin" }));
}

/** Where the build takes the libraries from. */
export interface LinuxSources {
  /** ffi/native/build */
  nativeBuild: string;
  /** The wheel's `mlx` package directory (holds lib/libmlx.so). */
  mlxPrefix: string;
  /** patchelf executable */
  patchelf: string;
}

/**
 * Copies the libraries into `stage` and rewrites their RPATH.
 * @returns the staged file names, compatibility library first
 * @throws Error when a library is missing, a dependency is not found, or the staged set still needs a library from
 *   outside the base system
 */
export function stageLinux(sources: LinuxSources, stage: string): string[] {
  const roots = [
    join(sources.nativeBuild, "libmlxc-compat.so"),
    join(sources.nativeBuild, "libmlxc-errors.so"),
    join(sources.nativeBuild, "libmlxc-kernels.so"),
    join(sources.nativeBuild, "libllguidance.so"),
    join(sources.mlxPrefix, "lib", "libmlx.so"),
  ];
  for (const root of roots) if (!existsSync(root)) throw new Error(`${root} not found: run bash scripts/setup.sh`);

  // The closure: the roots and what they need outside the base system (ldd lists indirect dependencies too).
  const files = new Map<string, string>();
  for (const root of roots) {
    files.set(basename(root), root);
    for (const dep of ldd(root)) {
      if (isBaseSystem(dep.soname) || files.has(dep.soname)) continue;
      if (dep.path === null) throw new Error(`${root} needs ${dep.soname}, which ldd cannot find`);
      files.set(dep.soname, dep.path);
    }
  }

  for (const [name, from] of files) {
    const to = join(stage, name);
    copyFileSync(from, to);
    run([sources.patchelf, "--force-rpath", "--set-rpath", "$ORIGIN", to]);
  }

  // Check: every dependency of a staged library is in the base system or resolves inside the stage.
  for (const name of readdirSync(stage)) {
    for (const dep of ldd(join(stage, name))) {
      if (isBaseSystem(dep.soname)) continue;
      if (dep.path === null || !dep.path.startsWith(`${stage}/`)) {
        throw new Error(`staged ${name} looks for ${dep.soname} at ${dep.path ?? "(not found)"}, not beside it`);
      }
    }
  }
  return [...files.keys()];
}
