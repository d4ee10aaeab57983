/**
 * Which BLAS the loaded MLX library computes its dense float32 matrix products with, read from the libraries mapped
 * into this process. It decides CPU speed: the `mlx-cpu` wheel vendors netlib's reference BLAS (about 2 GFLOP/s here,
 * no gain from a batch), which `scripts/setup.sh` replaces with OpenBLAS; on macOS MLX uses Accelerate.
 */

/** The BLAS an MLX library uses: `unknown` where the mapped libraries cannot be read (no `/proc`). */
export interface BlasInfo {
  kind: "openblas" | "reference" | "accelerate" | "other" | "unknown";
  /** The mapped library file, when one was found. */
  library?: string;
}

/** BLAS libraries by file name (the vendored reference BLAS is `libblas-<hash>.so.3.10.0`). */
const BLAS_FILE = /\/lib(openblas|blas|mkl_rt|blis|flexiblas)[^/]*\.so[^/]*$/;

/**
 * Classifies the BLAS among `mapped` (paths of the files mapped into the process, `/proc/self/maps`).
 * @param platform `process.platform`: on `darwin` MLX links Accelerate, whatever is mapped.
 */
export function classifyBlas(mapped: readonly string[], platform: string): BlasInfo {
  if (platform === "darwin") return { kind: "accelerate" };
  const library = mapped.find((path) => BLAS_FILE.test(path));
  if (!library) return { kind: mapped.length ? "other" : "unknown" };
  // Debian's alternatives keep OpenBLAS's libblas.so.3 under an openblas directory.
  if (library.includes("openblas")) return { kind: "openblas", library };
  if (/\/libblas[^/]*\.so/.test(library)) return { kind: "reference", library };
  return { kind: "other", library };
}

/** The file paths mapped into this process (Linux `/proc/self/maps`); empty where it cannot be read. */
export async function mappedFiles(): Promise<string[]> {
  try {
    const maps = await Bun.file("/proc/self/maps").text();
    const paths = new Set<string>();
    for (const line of maps.split("\n")) {
      const at = line.indexOf("/");
      if (at !== -1) paths.add(line.slice(at));
    }
    return [...paths];
  } catch {
    return [];
  }
}
