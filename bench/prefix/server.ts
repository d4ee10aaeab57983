/**
 * A real Ithaca server for a benchmark: `bun src/main.ts serve --config FILE` as a child process, serving one model
 * directory on 127.0.0.1 with a free port (`server.port: 0`), in open mode (no API keys, admin API open), so what is
 * measured is what an HTTP client sees.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface BenchServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** The id clients send as `model`. */
  model: string;
  /** The server's stdout, then its stderr, so far. */
  log(): string;
  /** SIGTERM (graceful shutdown), SIGKILL after 10 s. */
  stop(): Promise<void>;
}

const LISTENING = /listening on (http:\/\/\S+)/;

/**
 * Starts the server in `workDir` (its config and log files go there) and waits for its "listening on" line.
 * `ITHACA_*` variables are removed from its environment so that the configuration file alone decides.
 * @param engine the config file's `engine:` block (e.g. `{ max_active: 16 }`); absent: the defaults
 * @throws Error with the server's log when it exits or does not listen within `timeoutMs`.
 */
export async function startServer(
  repo: string,
  modelDir: string,
  workDir: string,
  timeoutMs = 120_000,
  engine?: Record<string, unknown>,
): Promise<BenchServer> {
  const model = "bench";
  const configFile = join(workDir, "ithaca.yaml");
  // JSON is YAML.
  writeFileSync(
    configFile,
    JSON.stringify({
      server: { host: "127.0.0.1", port: 0 },
      home: join(workDir, "ithaca-home"),
      models: [{ id: model, path: modelDir }],
      ...(engine ? { engine } : {}),
    }),
  );
  const outFile = join(workDir, "server.out");
  const errFile = join(workDir, "server.err");
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("ITHACA_")));
  const child = Bun.spawn([process.execPath, join(repo, "src", "main.ts"), "serve", "--config", configFile], {
    cwd: repo,
    env,
    stdout: Bun.file(outFile),
    stderr: Bun.file(errFile),
  });
  const read = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : "");
  const log = () => read(outFile) + read(errFile);
  const stop = async () => {
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await child.exited;
    clearTimeout(killer);
  };
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline && child.exitCode === null) {
    const m = LISTENING.exec(read(outFile));
    if (m) return { url: m[1]!, model, log, stop };
    await Bun.sleep(100);
  }
  await stop();
  throw new Error(`the Ithaca server did not start (exit ${child.exitCode}):\n${log()}`);
}
