/**
 * `GET /admin/version` (odyssai-x-wire §1.2, behind the admin token): `{name, version, bun, platform, mlx,
 * mlx_library}` — Ithaca's version, the Bun runtime's, `<os>-<arch>`, and the MLX version of the library the local
 * engine loaded with that library's description (as `/health` shows it), both null when there is no local engine or
 * its library probe has not answered yet.
 */
import type { AnyElysia } from "elysia";
import type { BackendRegistry } from "../backends/registry.ts";

/** What the route reads. */
export interface VersionDeps {
  version: string;
  registry: BackendRegistry;
}

/** The route (see the module comment). */
export function adminVersionRoutes({ version, registry }: VersionDeps) {
  return (app: AnyElysia) =>
    app.get(
      "/admin/version",
      () => {
        const local = registry.list().find((backend) => backend.kind === "mlx");
        const library = local?.stats().mlx as { mlx_version?: unknown } | undefined;
        return {
          name: "ithaca",
          version,
          bun: Bun.version,
          platform: `${process.platform}-${process.arch}`,
          mlx: typeof library?.mlx_version === "string" ? library.mlx_version : null,
          mlx_library: library ?? null,
        };
      },
      { detail: { summary: "Versions: Ithaca, Bun, platform, MLX (admin)", tags: ["Admin"] } },
    );
}
