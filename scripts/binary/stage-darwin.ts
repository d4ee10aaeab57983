/**
 * macOS (Apple silicon): gathers the native libraries a standalone binary embeds. UNTESTED: written without a Mac
 * (see README, "Install from a single binary"). What a Mac user must check is listed there.
 *
 * - `libmlxc-compat.dylib`, `libmlxc-errors.dylib`, `libmlxc-kernels.dylib` and `libllguidance.dylib`
 *   (ffi/native/build, built by scripts/setup.sh);
 * - `libmlx.dylib` and `mlx.metallib` from the MLX prefix (Homebrew `mlx`, or the `mlx-metal` wheel's `mlx/lib`):
 *   MLX looks for `mlx.metallib` beside the binary image that holds its code, so both go into one directory;
 * - every other dylib these link that is not part of macOS (`otool -L`: anything outside /usr/lib and /System).
 *
 * Install names become `@loader_path/<name>` (each library's own id and every reference to a staged library), so
 * the libraries find each other in the directory they are extracted to; each is then signed ad hoc (`codesign -s -`),
 * since arm64 macOS runs no unsigned code and install_name_tool invalidates the existing signature.
 */
import { copyFileSync, existsSync } from "node:fs";
import { basename, join } from "node:path";

function run(cmd: string[]): string {
  const result = Bun.spawnSync(cmd);
  if (result.exitCode !== 0) {
    throw new Error(`${cmd.join(" ")} failed (${result.exitCode}): ${result.stderr.toString().trim()}`);
  }
  return result.stdout.toString();
}

/** Whether a dylib reference is part of macOS itself. */
function isSystem(path: string): boolean {
  return path.startsWith("/usr/lib/") || path.startsWith("/System/");
}

/** The dylibs `path` links (`otool -L`), its own id excluded. */
function linked(path: string): string[] {
  const lines = run(["otool", "-L", path]).split("\n").slice(1);
  const own = run(["otool", "-D", path]).split("\n")[1]?.trim();
  return lines
    .map((line) => line.trim().split(" (compatibility")[0]!.trim())
    .filter((ref) => ref.length > 0 && ref !== own);
}

/** Resolves an `@rpath/…`, `@loader_path/…` or absolute reference against the directories the build knows. */
function resolveRef(ref: string, searchDirs: string[]): string | undefined {
  if (ref.startsWith("/")) return existsSync(ref) ? ref : undefined;
  const name = ref.replace(/^@(rpath|loader_path|executable_path)\//, "");
  for (const dir of searchDirs) if (existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}

/** Where the build takes the libraries from. */
export interface DarwinSources {
  nativeBuild: string;
  /** The MLX prefix: holds lib/libmlx.dylib and lib/mlx.metallib (or mlx.metallib beside libmlx.dylib). */
  mlxPrefix: string;
}

/**
 * Copies the libraries into `stage`, rewrites their install names to `@loader_path` and signs them ad hoc.
 * @returns the staged file names
 * @throws Error when a library, `mlx.metallib` or a dependency is missing
 */
export function stageDarwin(sources: DarwinSources, stage: string): string[] {
  const mlxLib = join(sources.mlxPrefix, "lib");
  const roots = [
    join(sources.nativeBuild, "libmlxc-compat.dylib"),
    join(sources.nativeBuild, "libmlxc-errors.dylib"),
    join(sources.nativeBuild, "libmlxc-kernels.dylib"),
    join(sources.nativeBuild, "libllguidance.dylib"),
    join(mlxLib, "libmlx.dylib"),
  ];
  for (const root of roots) if (!existsSync(root)) throw new Error(`${root} not found: run bash scripts/setup.sh`);
  const metallib = [join(mlxLib, "mlx.metallib"), join(sources.mlxPrefix, "mlx.metallib")].find(existsSync);
  if (!metallib) throw new Error(`mlx.metallib not found beside ${join(mlxLib, "libmlx.dylib")}`);

  const files = new Map<string, string>();
  const queue = [...roots];
  while (queue.length > 0) {
    const path = queue.shift()!;
    if (files.has(basename(path))) continue;
    files.set(basename(path), path);
    for (const ref of linked(path)) {
      if (isSystem(ref)) continue;
      const found = resolveRef(ref, [mlxLib, sources.nativeBuild]);
      if (!found) throw new Error(`${path} links ${ref}, which cannot be found`);
      queue.push(found);
    }
  }

  for (const [name, from] of files) {
    const to = join(stage, name);
    copyFileSync(from, to);
    run(["chmod", "u+w", to]);
    run(["install_name_tool", "-id", `@loader_path/${name}`, to]);
    for (const ref of linked(to)) {
      if (!isSystem(ref) && files.has(basename(ref))) {
        run(["install_name_tool", "-change", ref, `@loader_path/${basename(ref)}`, to]);
      }
    }
    run(["codesign", "--force", "--sign", "-", to]);
  }
  copyFileSync(metallib, join(stage, "mlx.metallib"));
  return [...files.keys(), "mlx.metallib"];
}
