/** Real subprocess servers for integration tests: started on a free loopback port, awaited until they answer. */
import type { Subprocess } from "bun";
import { createServer } from "node:net";

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  proc: Subprocess;
  url: string;
  stop(): Promise<void>;
}

/**
 * Spawns `cmd` and polls `readyPath` on `port` until it answers 200.
 * @throws Error with the process's output when it exits early or is not ready within `timeoutMs`.
 */
export async function startServerProcess(
  cmd: string[],
  port: number,
  opts: { readyPath: string; timeoutMs?: number; cwd?: string; env?: Record<string, string> },
): Promise<ServerProcess> {
  const proc = Bun.spawn(cmd, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdout: "pipe", stderr: "pipe" });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  const stop = async () => {
    proc.kill();
    await proc.exited;
  };
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) break;
    try {
      const r = await fetch(url + opts.readyPath, { signal: AbortSignal.timeout(1000) });
      if (r.ok) return { proc, url, stop };
    } catch {
      // not listening yet
    }
    await Bun.sleep(200);
  }
  await stop();
  const out =
    (await new Response(proc.stdout as ReadableStream).text()) +
    (await new Response(proc.stderr as ReadableStream).text());
  throw new Error(`${cmd.join(" ")} did not become ready on ${url}${opts.readyPath}:\n${out.slice(-2000)}`);
}
