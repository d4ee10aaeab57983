/**
 * Runs the standalone binary as a person would on a bare machine: `env -i` with PATH=/usr/bin:/bin and a temporary
 * HOME (nothing else: no Bun, no venv, no checkout on any path), from a given working directory.
 */
import type { Subprocess } from "bun";

/** The scrubbed command line: `env -i PATH=/usr/bin:/bin HOME=<home> <binary> <args…>`. */
export function scrubbed(binary: string, args: string[], home: string): string[] {
  return ["/usr/bin/env", "-i", "PATH=/usr/bin:/bin", `HOME=${home}`, binary, ...args];
}

/**
 * Runs a command of the binary to its end.
 * @returns its exit status and output
 */
export async function runBinary(
  binary: string,
  args: string[],
  opts: { cwd: string; home: string; timeoutMs?: number },
): Promise<{ status: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(scrubbed(binary, args, opts.home), {
    cwd: opts.cwd,
    stdout: "pipe",
    stderr: "pipe",
    timeout: opts.timeoutMs ?? 120_000,
  });
  const [stdout, stderr, status] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { status, stdout, stderr };
}

/** A running `serve`. */
export interface BinaryServer {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Milliseconds from the spawn to the first 200 of `/health`. */
  readyMs: number;
  /** Everything the server printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, then waits for the exit (SIGKILL after 10 s). Idempotent. */
  stop(): Promise<void>;
}

/** Appends everything a stream says to `sink`, as it comes. */
async function drain(stream: ReadableStream<Uint8Array>, sink: { text: string }): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) sink.text += decoder.decode(chunk, { stream: true });
}

/**
 * Starts `serve` (give it `--port 0`: the port is read from its `listening on` line) and waits for `/health`.
 * @throws Error with the server's output when it exits or is not ready within `timeoutMs`
 */
export async function startBinary(
  binary: string,
  args: string[],
  opts: { cwd: string; home: string; timeoutMs?: number },
): Promise<BinaryServer> {
  const started = performance.now();
  const proc = Bun.spawn(scrubbed(binary, args, opts.home), { cwd: opts.cwd, stdout: "pipe", stderr: "pipe" });
  const sink = { text: "" };
  void drain(proc.stdout, sink);
  void drain(proc.stderr, sink);
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await proc.exited;
      clearTimeout(timer);
    })();
    return stopped;
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  while (Date.now() < deadline && proc.exitCode === null) {
    const port = sink.text.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/)?.[1];
    if (port) {
      const url = `http://127.0.0.1:${port}`;
      try {
        const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
        if (health.ok) {
          return { proc, url, readyMs: performance.now() - started, output: () => sink.text, stop };
        }
      } catch {
        // not answering yet
      }
    }
    await Bun.sleep(20);
  }
  await stop();
  throw new Error(`${args.join(" ")} did not become ready (exit ${proc.exitCode}):\n${sink.text.slice(-3000)}`);
}
