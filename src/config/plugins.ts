/**
 * User plugins listed under `plugins:` in ithaca.yaml: modules whose default export is an Elysia plugin, either an
 * Elysia instance or a function `(app) => app` (what `routingPolicy()` from plugins/router.ts returns). They are
 * applied after the built-in pipeline (auth → contract → session → router), before the routes.
 */
import { Elysia, type AnyElysia } from "elysia";
import { ConfigError } from "./load.ts";

/** A plugin as `Elysia.use()` takes it. */
export type UserPlugin = AnyElysia | ((app: AnyElysia) => AnyElysia);

/**
 * Imports each plugin module.
 * @param paths absolute module paths.
 * @throws ConfigError naming the module when it cannot be imported or exports no plugin.
 */
export async function loadPlugins(paths: readonly string[]): Promise<UserPlugin[]> {
  return Promise.all(
    paths.map(async (path) => {
      let module: { default?: unknown };
      try {
        module = await import(path);
      } catch (error) {
        throw new ConfigError(`plugin ${path} could not be loaded: ${error instanceof Error ? error.message : error}`);
      }
      const plugin = module.default;
      if (plugin instanceof Elysia || typeof plugin === "function") return plugin as UserPlugin;
      throw new ConfigError(`plugin ${path}: the default export must be an Elysia instance or a function (app) => app`);
    }),
  );
}
