/**
 * Server processes of `bench/proxy-overhead.ts`: started with their output in files, optionally pinned to a CPU with
 * `taskset`, their CPU time read from /proc (the whole process tree, so a server that forks workers is counted whole),
 * and all of them killed at the end, however the benchmark ends.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

export interface Proc {
  name: string;
  pid: number;
  /** The `listening on http://…` URL, or the one the caller gave. */
  url: string;
  /** CPU the pinned process may use, when pinned. */
  cpu?: number;
  /** stdout then stderr so far. */
  log(): string;
}

const live = new Set<Proc & { child: Bun.Subprocess }>();

/** `taskset` when it exists and the machine has at least 2 CPUs (pinning on one CPU would change nothing). */
export const TASKSET: string | null = (() => {
  const path = Bun.which("taskset");
  return path && navigator.hardwareConcurrency >= 2 ? path : null;
})();

/** Pins this process (every thread) to `cpu`. @returns whether it worked. */
export function pinSelf(cpu: number): boolean {
  if (!TASKSET) return false;
  return (
    Bun.spawnSync([TASKSET, "-a", "-p", "-c", String(cpu), String(process.pid)], { stdout: "ignore", stderr: "ignore" })
      .exitCode === 0
  );
}

export interface StartOptions {
  name: string;
  cmd: string[];
  workDir: string;
  /** Pin to this CPU (ignored without taskset). */
  cpu?: number;
  env?: Record<string, string | undefined>;
  /** Ready when the output matches (group 1 = the URL), or when `readyUrl` answers 2xx. */
  listening?: RegExp;
  readyUrl?: string;
  /** The URL when `listening` is not used. */
  url?: string;
  timeoutMs?: number;
}

/** Starts a server and waits until it is ready. @throws Error with its log when it exits or times out. */
export async function startProc(o: StartOptions): Promise<Proc> {
  const outFile = join(o.workDir, `${o.name}.out`);
  const errFile = join(o.workDir, `${o.name}.err`);
  for (const f of [outFile, errFile]) rmSync(f, { force: true }); // a stale "listening" line must not count
  const taskset = o.cpu === undefined ? null : TASKSET;
  const cmd = taskset ? [taskset, "-c", String(o.cpu), ...o.cmd] : o.cmd; // taskset execs: same pid
  const child = Bun.spawn(cmd, {
    env: o.env ?? process.env,
    stdout: Bun.file(outFile),
    stderr: Bun.file(errFile),
    stdin: "ignore",
  });
  const read = (f: string) => (existsSync(f) ? readFileSync(f, "utf8") : "");
  const log = () => read(outFile) + read(errFile);
  const proc = { name: o.name, pid: child.pid, url: o.url ?? "", cpu: taskset ? o.cpu : undefined, log, child };
  live.add(proc);
  const deadline = performance.now() + (o.timeoutMs ?? 60_000);
  while (performance.now() < deadline && child.exitCode === null) {
    if (o.listening) {
      const url = o.listening.exec(read(outFile))?.[1];
      if (url) {
        proc.url = url;
        return proc;
      }
    } else if (o.readyUrl) {
      const ok = await fetch(o.readyUrl, { signal: AbortSignal.timeout(2_000) }).then(
        async (r) => {
          await r.arrayBuffer();
          return r.ok;
        },
        () => false,
      );
      if (ok) return proc;
    }
    await Bun.sleep(100);
  }
  await stopProc(proc);
  throw new Error(`${o.name} did not start (exit ${child.exitCode}):\n${log().slice(-4000)}`);
}

/** pid → parent pid of every process. */
function parents(): Map<number, number> {
  const map = new Map<number, number>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      map.set(Number(d), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // exited meanwhile
    }
  }
  return map;
}

/** `pid` and its descendants. */
function tree(pid: number): number[] {
  const ppid = parents();
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [p, pp] of ppid) if (pp === out[i]) out.push(p);
  return out;
}

/** Clock ticks per second of /proc's CPU times (their resolution). */
export const CLK_TCK = (() => {
  const r = Bun.spawnSync(["getconf", "CLK_TCK"], { stdout: "pipe", stderr: "ignore" });
  return Number(r.stdout.toString().trim()) || 100;
})();

/** utime + stime, in clock ticks, of a `/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat` line. */
function statTicks(stat: string): number {
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // fields 14 and 15, counted from 3 (state) after the command name
}

/** User + system CPU seconds of `pid` and its live descendants (utime + stime of /proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of tree(pid)) {
    try {
      ticks += statTicks(readFileSync(`/proc/${p}/stat`, "utf8"));
    } catch {
      // exited meanwhile
    }
  }
  return ticks / CLK_TCK;
}

/** CPU seconds of two of a Bun process's threads: its JavaScript thread, and the thread `fetch` runs its I/O on. */
export interface ThreadCpu {
  /** The main thread (its thread id is the process id): JavaScript, the server's sockets. */
  js: number;
  /** Bun's `HTTP Client` thread: outgoing `fetch` connections, requests and responses. */
  httpClient: number;
}

/** User + system CPU seconds of `pid`'s JavaScript and HTTP client threads (/proc/<pid>/task/<tid>/stat). */
export function threadCpuSeconds(pid: number): ThreadCpu {
  const out: ThreadCpu = { js: 0, httpClient: 0 };
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out; // exited
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const seconds = statTicks(stat) / CLK_TCK;
      if (Number(tid) === pid) out.js += seconds;
      else if (name === "HTTP Client") out.httpClient += seconds;
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

/** SIGTERM to the process and its descendants, SIGKILL after `graceMs`. */
export async function stopProc(p: Proc, graceMs = 3_000): Promise<void> {
  const proc = [...live].find((x) => x.pid === p.pid);
  if (!proc) return;
  const pids = tree(proc.pid);
  for (const pid of pids) killQuietly(pid, "SIGTERM");
  const timer = setTimeout(() => {
    for (const pid of pids) killQuietly(pid, "SIGKILL");
  }, graceMs);
  await proc.child.exited;
  clearTimeout(timer);
  for (const pid of pids.slice(1)) killQuietly(pid, "SIGKILL");
  live.delete(proc);
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Stops every process still running (the benchmark's `finally`). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => stopProc(p)));
}

/** SIGKILL to every process still running and its descendants, synchronously (SIGINT, exit). */
export function killAllNow(): void {
  for (const p of live) for (const pid of tree(p.pid)) killQuietly(pid, "SIGKILL");
  live.clear();
}
