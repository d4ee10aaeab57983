/**
 * A real OpenSSH server for tests (Debian's `openssh-server`, installed by scripts/setup.sh): `sshd -D -f <config>`
 * on a free loopback port, with a throwaway host key and user key made by `ssh-keygen`, `AuthorizedKeysFile` pointing
 * at a temporary file, and the current user as the SSH user. It touches no system file: its configuration, keys,
 * pid file and logs all live in a temporary directory.
 *
 * Sessions get `PATH=<dir>/bin:/usr/local/bin:/usr/bin:/bin` (`SetEnv`), so a script put in `bin/` — the recording
 * `launchctl` — is found before anything of that name elsewhere (the user's shell rc may prepend folders of its own;
 * none of them holds a `launchctl` on Linux).
 */
import type { Subprocess } from "bun";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { tempDir } from "./paths.ts";
import { freePort } from "./processes.ts";

/** Debian's sshd (override with `SSHD`). */
export const SSHD = process.env.SSHD ?? "/usr/sbin/sshd";

/** The current user's name and home directory as sshd sees them (the passwd entry; Bun's os.userInfo() may say "unknown"). */
function currentUser(): { name: string; home: string } {
  const name = Bun.spawnSync(["id", "-un"]).stdout.toString().trim();
  const entry = Bun.spawnSync(["getent", "passwd", name]).stdout.toString().trim().split(":");
  return { name, home: entry[5] ?? "" };
}

/** Runs `ssh-keygen` to make an unencrypted ed25519 key pair at `path` (and `path`.pub). */
export function makeKeyPair(path: string, comment = "ithaca-test"): void {
  const made = Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path], {
    stderr: "pipe",
  });
  if (made.exitCode !== 0) throw new Error(`ssh-keygen failed: ${made.stderr.toString()}`);
}

/** The SHA-256 fingerprint of a public key file, as `ssh-keygen -l` prints it. */
export function fingerprintOf(publicKeyPath: string): string {
  const listed = Bun.spawnSync(["ssh-keygen", "-l", "-E", "sha256", "-f", publicKeyPath], { stderr: "pipe" });
  const match = /(SHA256:[A-Za-z0-9+/]+)/.exec(listed.stdout.toString());
  if (!match?.[1]) throw new Error(`ssh-keygen -l failed: ${listed.stderr.toString()}`);
  return match[1];
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** The pids whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // The process ended meanwhile.
    }
  }
  return children;
}

/** A running test sshd (see the module comment). */
export class TestSshd {
  /** The SSH user: whoever runs the tests. */
  readonly user = currentUser().name;
  /** The SSH user's home directory (where `~` expands in a session). */
  readonly home = currentUser().home;
  /** Folder first on the sessions' PATH. */
  readonly binDir: string;
  /** The user's private key (what Ithaca is given as `ssh_key`). */
  readonly userKey: string;
  private process?: Subprocess;
  private hostKey: string;
  private generation = 0;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    this.binDir = join(dir, "bin");
    this.userKey = join(dir, "user_ed25519");
    this.hostKey = join(dir, "host_ed25519_0");
  }

  /**
   * Makes the keys and the configuration and starts sshd.
   * @throws Error when sshd is missing (run scripts/setup.sh) or does not listen within 10 s (its log quoted).
   */
  static async start(): Promise<TestSshd> {
    if (!existsSync(SSHD)) throw new Error(`${SSHD} not found: scripts/setup.sh installs openssh-server`);
    // OpenSSH, started as root, needs its privilege separation directory (Debian's service creates it at boot).
    if (process.getuid?.() === 0 && !existsSync("/run/sshd")) mkdirSync("/run/sshd", { mode: 0o755 });
    const sshd = new TestSshd(tempDir("ithaca-sshd-"), await freePort());
    mkdirSync(sshd.binDir);
    makeKeyPair(sshd.userKey);
    writeFileSync(join(sshd.dir, "authorized_keys"), readFileSync(`${sshd.userKey}.pub`), { mode: 0o600 });
    makeKeyPair(sshd.hostKey, "host");
    await sshd.launch();
    return sshd;
  }

  /** `user@127.0.0.1:port`. */
  get target(): string {
    return `${this.user}@127.0.0.1:${this.port}`;
  }

  /** The fingerprint of the host key sshd offers now. */
  get hostFingerprint(): string {
    return fingerprintOf(`${this.hostKey}.pub`);
  }

  /** The sshd log (`-E`). */
  get log(): string {
    const path = join(this.dir, "sshd.log");
    return existsSync(path) ? readFileSync(path, "utf8") : "";
  }

  /** Writes an executable script into the sessions' PATH. */
  installScript(name: string, body: string): string {
    const path = join(this.binDir, name);
    writeFileSync(path, body);
    chmodSync(path, 0o755);
    return path;
  }

  /** Stops sshd and ends its sessions (so no connection to the old server survives). */
  async stop(): Promise<void> {
    const running = this.process;
    if (!running || running.exitCode !== null) return;
    const sessions = childrenOf(running.pid);
    running.kill("SIGTERM");
    await running.exited;
    for (const pid of sessions) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // Already gone.
      }
    }
    this.process = undefined;
  }

  /** Restarts sshd on the same port, with a new host key when `newHostKey` (a reinstalled host, or an impostor). */
  async restart(options: { newHostKey?: boolean } = {}): Promise<void> {
    await this.stop();
    if (options.newHostKey) {
      this.generation++;
      this.hostKey = join(this.dir, `host_ed25519_${this.generation}`);
      makeKeyPair(this.hostKey, "host");
    }
    await this.launch();
  }

  private async launch(): Promise<void> {
    const config = join(this.dir, "sshd_config");
    writeFileSync(
      config,
      [
        `Port ${this.port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${this.hostKey}`,
        `PidFile ${join(this.dir, "sshd.pid")}`,
        `AuthorizedKeysFile ${join(this.dir, "authorized_keys")}`,
        // The temporary directory's parents are world-writable (/tmp): StrictModes would refuse the keys file.
        "StrictModes no",
        "UsePAM no",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        `SetEnv PATH=${this.binDir}:/usr/local/bin:/usr/bin:/bin`,
        "LogLevel VERBOSE",
        "",
      ].join("\n"),
    );
    this.process = Bun.spawn([SSHD, "-D", "-f", config, "-E", join(this.dir, "sshd.log")], {
      stdout: "ignore",
      stderr: "pipe",
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (this.process.exitCode !== null) break;
      if (await listening(this.port)) return;
      await Bun.sleep(50);
    }
    this.process.kill();
    const stderr = await new Response(this.process.stderr as ReadableStream).text();
    throw new Error(`sshd did not listen on 127.0.0.1:${this.port}:\n${stderr}\n${this.log}`.slice(-3000));
  }
}
