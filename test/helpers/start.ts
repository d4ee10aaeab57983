/**
 * Starts a real Ithaca for a test: config from a raw object (as ithaca.yaml would hold it), listening on 127.0.0.1
 * with a free port.
 */
import { createApp, type AppDeps, type Ithaca } from "../../src/app.ts";
import { REPO_ROOT, resolveConfig } from "../../src/config/load.ts";
import { tempDir } from "./paths.ts";

export interface RunningIthaca {
  ithaca: Ithaca;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `http://127.0.0.1:<port>/v1`, for the openai SDK. */
  baseURL: string;
  close(): Promise<void>;
}

export interface StartOptions extends AppDeps {
  /** Environment the configuration reads (`*_env` secrets, `ITHACA_*`); default empty. */
  env?: Record<string, string>;
  /** The address to bind; default `127.0.0.1` (the returned `url` always names 127.0.0.1). */
  hostname?: string;
}

/**
 * Starts Ithaca with `raw` as its configuration (no local models unless `raw.models` says so; its runtime database
 * in a fresh temporary `home` unless `raw.home` says otherwise).
 */
export async function startIthaca(raw: Record<string, unknown>, options: StartOptions = {}): Promise<RunningIthaca> {
  const config = resolveConfig(
    { models: [], home: tempDir("ithaca-home-"), ...raw },
    { baseDir: REPO_ROOT, env: options.env ?? {}, source: "test" },
  );
  const ithaca = await createApp(config, { backends: options.backends });
  ithaca.app.listen({ hostname: options.hostname ?? "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${ithaca.app.server?.port}`;
  return { ithaca, url, baseURL: `${url}/v1`, close: () => ithaca.close() };
}
