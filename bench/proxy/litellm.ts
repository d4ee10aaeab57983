/**
 * LiteLLM's proxy as a third target of `bench/proxy-overhead.ts` (`--litellm`): `litellm[proxy]` at a pinned version
 * in its own venv, `bench/.venv-litellm` (gitignored), created on first use, started as
 * `litellm --config FILE --host 127.0.0.1 --port P` (uvicorn, one worker: its default) with the fixture as an
 * `openai/` model with `api_base`.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Proc, startProc } from "./procs.ts";

export const LITELLM_VERSION = "1.106.12";
/** The `model` clients send to LiteLLM. */
export const LITELLM_MODEL = "m";

/** The installed version of `litellm` in `venv`, or null. */
function installedVersion(venv: string): string | null {
  const python = join(venv, "bin", "python");
  if (!existsSync(python)) return null;
  const r = Bun.spawnSync([python, "-c", "import importlib.metadata as m; print(m.version('litellm'))"], {
    stdout: "pipe",
    stderr: "ignore",
  });
  return r.exitCode === 0 ? r.stdout.toString().trim() : null;
}

/**
 * Creates the venv and installs `litellm[proxy]==LITELLM_VERSION` unless that version is already there.
 * @throws Error saying why (the tail of pip's output) when it cannot.
 */
export function ensureLitellm(venv: string): void {
  if (installedVersion(venv) === LITELLM_VERSION && existsSync(join(venv, "bin", "litellm"))) return;
  const run = (cmd: string[]) => {
    console.error(`$ ${cmd.join(" ")}`);
    const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0)
      throw new Error(
        `${cmd.join(" ")} exited ${r.exitCode}:\n${(r.stdout.toString() + r.stderr.toString()).slice(-2000)}`,
      );
  };
  if (!existsSync(join(venv, "bin", "python"))) run([Bun.which("python3") ?? "python3", "-m", "venv", venv]);
  run([join(venv, "bin", "pip"), "install", "--quiet", `litellm[proxy]==${LITELLM_VERSION}`]);
  if (!existsSync(join(venv, "bin", "litellm")))
    throw new Error(`pip installed litellm but ${venv}/bin/litellm is missing`);
}

/** A free TCP port on 127.0.0.1 (LiteLLM cannot be told port 0 and report the port it got). */
function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

/** Starts LiteLLM in front of the fixture at `upstreamV1` (`http://127.0.0.1:P/v1`). @throws Error with its log. */
export async function startLitellm(
  venv: string,
  upstreamV1: string,
  workDir: string,
  cpu: number | undefined,
): Promise<Proc> {
  const config = join(workDir, "litellm.yaml");
  // JSON is YAML. A dummy key: the openai/ provider insists on one; the fixture ignores it. No master key, as Ithaca
  // runs in open mode (LiteLLM refuses to start without one unless told it may).
  writeFileSync(
    config,
    JSON.stringify({
      general_settings: { dangerously_permit_weak_or_unset_master_key: true },
      model_list: [
        {
          model_name: LITELLM_MODEL,
          litellm_params: { model: `openai/${LITELLM_MODEL}`, api_base: upstreamV1, api_key: "sk-fixture" },
        },
      ],
    }),
  );
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  return startProc({
    name: "litellm",
    cmd: [join(venv, "bin", "litellm"), "--config", config, "--host", "127.0.0.1", "--port", String(port)],
    workDir,
    cpu,
    // No network here: use the bundled model cost map instead of fetching it (which retries for seconds).
    env: { ...process.env, LITELLM_LOCAL_MODEL_COST_MAP: "True", LITELLM_TELEMETRY: "False" },
    readyUrl: `${url}/health/liveliness`,
    url,
    timeoutMs: 120_000,
  });
}
