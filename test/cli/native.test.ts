/**
 * Extraction of a standalone binary's native libraries (src/cli/native.ts): into a versioned, content-addressed
 * directory, reused later, repaired when damaged, and safe when several processes extract at once. The embedded
 * files are stood in for by ordinary files (the binary test, test/binary/, runs the real ones).
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { COMPLETE_MARKER, type EmbeddedNatives, ensureNatives, nativeCacheRoot } from "../../src/cli/native.ts";
import { BUN, tempDir } from "../helpers/paths.ts";

/** Two stand-in libraries under `dir`. */
function fakeNatives(dir: string): EmbeddedNatives {
  const files = [
    { name: "libmlx.so", text: "mlx".repeat(1000) },
    { name: "libmlxc-compat.so", text: "compat" },
  ].map(({ name, text }) => {
    const path = join(dir, `embedded-${name}`);
    writeFileSync(path, text);
    return { name, path, size: text.length };
  });
  return { target: "bun-linux-x64", hash: "ab".repeat(32), mlxVersion: "0.32.4", files };
}

describe("ensureNatives", () => {
  test("extracts once under the original names, then reuses; a damaged directory is replaced", () => {
    const work = tempDir();
    const natives = fakeNatives(work);
    const root = join(work, "cache");
    const first = ensureNatives(natives, "1.2.3", root);
    expect(first).toEqual({ dir: join(root, `native-1.2.3-${"ab".repeat(8)}`), extracted: true });
    expect(readdirSync(first.dir).sort()).toEqual([COMPLETE_MARKER, "libmlx.so", "libmlxc-compat.so"].sort());
    expect(readFileSync(join(first.dir, "libmlxc-compat.so"), "utf8")).toBe("compat");
    expect(ensureNatives(natives, "1.2.3", root)).toEqual({ dir: first.dir, extracted: false });

    rmSync(join(first.dir, "libmlx.so"));
    expect(ensureNatives(natives, "1.2.3", root)).toEqual({ dir: first.dir, extracted: true });
    expect(readFileSync(join(first.dir, "libmlx.so"), "utf8")).toBe("mlx".repeat(1000));
    expect(readdirSync(root)).toEqual([`native-1.2.3-${"ab".repeat(8)}`]);
    rmSync(work, { recursive: true, force: true });
  });

  test("eight processes extracting at once agree on one complete directory and leave no temporary behind", async () => {
    const work = tempDir();
    const natives = fakeNatives(work);
    const root = join(work, "cache");
    const script = join(work, "extract.ts");
    writeFileSync(
      script,
      `import { ensureNatives } from ${JSON.stringify(join(import.meta.dir, "../../src/cli/native.ts"))};\n` +
        `console.log(JSON.stringify(ensureNatives(${JSON.stringify(natives)}, "1.2.3", ${JSON.stringify(root)})));\n`,
    );
    const runs = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const proc = Bun.spawn([BUN, script], { stdout: "pipe", stderr: "pipe" });
        const [out, err, status] = await Promise.all([
          new Response(proc.stdout).text(),
          new Response(proc.stderr).text(),
          proc.exited,
        ]);
        expect({ status, err }).toEqual({ status: 0, err: "" });
        return JSON.parse(out) as { dir: string; extracted: boolean };
      }),
    );
    expect(new Set(runs.map((run) => run.dir)).size).toBe(1);
    expect(runs.filter((run) => run.extracted).length).toBeGreaterThanOrEqual(1);
    expect(readdirSync(root)).toEqual([`native-1.2.3-${"ab".repeat(8)}`]);
    expect(readFileSync(join(runs[0]!.dir, "libmlx.so"), "utf8")).toBe("mlx".repeat(1000));
    rmSync(work, { recursive: true, force: true });
  });

  test("the cache root: ITHACA_CACHE_DIR, XDG_CACHE_HOME, ~/.cache; ~/Library/Caches on macOS", () => {
    expect(nativeCacheRoot({ ITHACA_CACHE_DIR: "/c", HOME: "/h" })).toBe("/c");
    expect(nativeCacheRoot({ XDG_CACHE_HOME: "/x", HOME: "/h" }, "linux")).toBe("/x/ithaca");
    expect(nativeCacheRoot({ HOME: "/h" }, "linux")).toBe("/h/.cache/ithaca");
    expect(nativeCacheRoot({ HOME: "/h" }, "darwin")).toBe("/h/Library/Caches/ithaca");
  });
});
