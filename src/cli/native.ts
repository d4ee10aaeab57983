/**
 * The native libraries of a standalone binary (scripts/build-binary.sh): the MLX C compatibility library, the
 * error-capture library, `libmlx` and what it needs that a bare system lacks. They are embedded in the binary and, at
 * first start, extracted under their original file names into a versioned, content-addressed cache directory
 * (`$XDG_CACHE_HOME/ithaca/native-<version>-<hash>/`, `~/Library/Caches/ithaca/…` on macOS), from which the binding
 * `dlopen`s them by absolute path (`MLXC_NATIVE_DIR`). Later starts reuse the directory.
 *
 * Extraction is atomic and safe when several processes start at once: each writes a private temporary directory and
 * renames it into place; the first rename wins and the others drop their copy. A directory is complete only with its
 * marker file, written last, naming the set's hash.
 */
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** One embedded library: its original file name, where the binary holds it (`/$bunfs/…`) and its size in bytes. */
export interface EmbeddedFile {
  name: string;
  path: string;
  size: number;
}

/** What scripts/build-binary.ts embeds: the target, the set's content hash and its files. */
export interface EmbeddedNatives {
  /** Bun's compile target, e.g. `bun-linux-x64`, `bun-darwin-arm64`. */
  target: string;
  /** Hex SHA-256 over the files' names and contents (computed at build time). */
  hash: string;
  /** The MLX version of the embedded `libmlx`. */
  mlxVersion: string;
  files: EmbeddedFile[];
}

/** Where the natives are and whether this start extracted them (`false`: reused from an earlier start). */
export interface NativeDir {
  dir: string;
  extracted: boolean;
}

/** The marker file written last into a complete directory; it holds the set's hash. */
export const COMPLETE_MARKER = ".ithaca-native-complete";

/**
 * The cache root: `$XDG_CACHE_HOME/ithaca` (default `~/.cache/ithaca`) on Linux, `~/Library/Caches/ithaca` on macOS.
 * `ITHACA_CACHE_DIR` replaces it on both.
 */
export function nativeCacheRoot(
  env: Record<string, string | undefined> = process.env,
  platform: NodeJS.Platform = process.platform,
): string {
  if (env.ITHACA_CACHE_DIR) return env.ITHACA_CACHE_DIR;
  const home = env.HOME || homedir();
  if (platform === "darwin") return join(home, "Library", "Caches", "ithaca");
  return join(env.XDG_CACHE_HOME || join(home, ".cache"), "ithaca");
}

/** The directory a set of natives goes to: `<root>/native-<version>-<first 16 hex digits of the hash>`. */
export function nativeDirName(version: string, natives: Pick<EmbeddedNatives, "hash">): string {
  return `native-${version}-${natives.hash.slice(0, 16)}`;
}

/** Whether `dir` holds the whole set: its marker names the hash and every file has its size. */
export function isComplete(dir: string, natives: EmbeddedNatives): boolean {
  try {
    if (readFileSync(join(dir, COMPLETE_MARKER), "utf8").trim() !== natives.hash) return false;
    return natives.files.every((file) => statSync(join(dir, file.name)).size === file.size);
  } catch {
    return false;
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes the set into a fresh private directory under `root` and returns it (complete, marker included). */
function writeTemporary(root: string, prefix: string, natives: EmbeddedNatives): string {
  const tmp = mkdtempSync(join(root, `.${prefix}.tmp-`));
  for (const file of natives.files) {
    const bytes = readFileSync(file.path);
    if (bytes.length !== file.size) {
      throw new Error(`embedded ${file.name}: ${bytes.length} bytes where the build recorded ${file.size}`);
    }
    writeFileSync(join(tmp, file.name), bytes, { mode: 0o755, flush: true });
  }
  writeFileSync(join(tmp, COMPLETE_MARKER), `${natives.hash}\n`, { flush: true });
  chmodSync(tmp, 0o755);
  fsyncDir(tmp);
  return tmp;
}

/** Whether a rename failed because the target directory already exists (another process won the race). */
function isTargetExists(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ENOTEMPTY" || code === "EEXIST";
}

/**
 * Makes sure the embedded natives are on disk and returns their directory.
 * @param natives what the binary embeds
 * @param version Ithaca's version (part of the directory name)
 * @param root the cache root (default {@link nativeCacheRoot})
 * @returns the absolute directory and whether this call extracted it
 * @throws Error when the cache root cannot be created or written (the message names the directory and suggests
 *   `ITHACA_CACHE_DIR`), or when an embedded file is not the size the build recorded.
 */
export function ensureNatives(natives: EmbeddedNatives, version: string, root = nativeCacheRoot()): NativeDir {
  const name = nativeDirName(version, natives);
  const dir = join(root, name);
  if (isComplete(dir, natives)) return { dir, extracted: false };
  let tmp: string;
  try {
    mkdirSync(root, { recursive: true, mode: 0o755 });
    tmp = writeTemporary(root, name, natives);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `cannot extract the MLX libraries into ${root}: ${reason} (set ITHACA_CACHE_DIR to a writable directory)`,
    );
  }
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        renameSync(tmp, dir);
        fsyncDir(root);
        return { dir, extracted: true };
      } catch (error) {
        if (!isTargetExists(error)) throw error;
        // Another process renamed its copy into place first: use it.
        if (isComplete(dir, natives)) return { dir, extracted: false };
        if (attempt > 0) throw error;
        // An incomplete or damaged directory (files removed by hand): move it aside, then try once more.
        const aside = `${dir}.broken-${process.pid}-${Date.now().toString(36)}`;
        try {
          renameSync(dir, aside);
        } catch {
          // Another process moved it first.
        }
        rmSync(aside, { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
