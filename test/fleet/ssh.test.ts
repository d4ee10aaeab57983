/**
 * The SSH connection pool (src/fleet/ssh.ts) against a real OpenSSH server on loopback (test/helpers/sshd.ts), driven
 * through ssh2: commands and their exit status, one connection reused, a command timeout, host key pinning (first
 * contact reported, a changed key refused naming both fingerprints), and clean errors for a dead port, a server that
 * never speaks SSH, a refused key, an unreadable key (its path never shown) and the SSH agent as the credential.
 * Also the `tail` output splitter of src/fleet/ssh-logs.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { SshPool, type SshEndpoint } from "../../src/fleet/ssh.ts";
import { LogLineSplitter, tailCommand } from "../../src/fleet/ssh-logs.ts";
import { SshError } from "../../src/fleet/ssh-errors.ts";
import { hostKeyFingerprint, parseSshTarget } from "../../src/fleet/ssh-target.ts";
import { closedPort } from "../helpers/fake-upstream.ts";
import { tempDir } from "../helpers/paths.ts";
import { fingerprintOf, makeKeyPair, TestSshd } from "../helpers/sshd.ts";

let sshd: TestSshd;
let pool: SshPool;

beforeAll(async () => {
  sshd = await TestSshd.start();
  pool = new SshPool({ connectTimeoutMs: 3_000 });
});

afterAll(async () => {
  pool?.close();
  await sshd?.stop();
});

const endpoint = (overrides: Partial<SshEndpoint> = {}): SshEndpoint => ({
  name: "box",
  target: sshd.target,
  keyPath: sshd.userKey,
  hostKey: null,
  ...overrides,
});

/** The SshError a promise rejects with. */
async function sshFailure(promise: Promise<unknown>): Promise<SshError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SshError) return error;
    throw error;
  }
  throw new Error("expected an SshError");
}

describe("ssh pool against a real sshd", () => {
  test("runs a command: exit status, both streams, the host key offered (first contact)", async () => {
    const result = await pool.exec(endpoint(), "echo out; echo err >&2; exit 3", 10_000);
    expect(result).toMatchObject({ rc: 3, signal: null, stdout: "out\n", stderr: "err\n", truncated: false });
    expect(result.hostKey).toBe(sshd.hostFingerprint);
  });

  test("one connection per host, reused by calls in turn and at once", async () => {
    const pinned = endpoint({ hostKey: sshd.hostFingerprint });
    await pool.exec(pinned, "true", 10_000);
    const before = pool.size;
    const results = await Promise.all([1, 2, 3].map((n) => pool.exec(pinned, `echo ${n}`, 10_000)));
    expect(results.map((result) => result.stdout)).toEqual(["1\n", "2\n", "3\n"]);
    expect(results.every((result) => result.reused)).toBe(true);
    expect(pool.size).toBe(before);
    expect(before).toBe(1);
  });

  test("a command past its timeout is ended with a clean error, and the connection still serves", async () => {
    const started = Date.now();
    // (As root the remote sleep outlives the channel: OpenSSH does not signal a session its monitor serves.)
    const failure = await sshFailure(pool.exec(endpoint(), "sleep 5", 500));
    expect(failure.kind).toBe("command_timeout");
    expect(failure.message).toBe("engine 'box': the SSH command did not end within 500 ms");
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await pool.exec(endpoint(), "echo still", 10_000)).stdout).toBe("still\n");
  });

  test("a host key other than the pinned one is refused, naming the engine and both fingerprints", async () => {
    const fresh = new SshPool({ connectTimeoutMs: 3_000 });
    const pinned = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    try {
      const failure = await sshFailure(fresh.exec(endpoint({ hostKey: pinned }), "true", 5_000));
      expect(failure.kind).toBe("host_key_changed");
      expect(failure.message).toContain("engine 'box'");
      expect(failure.message).toContain(`pinned ${pinned}, offered ${sshd.hostFingerprint}`);
      expect(failure.hostKeys).toEqual({ pinned, offered: sshd.hostFingerprint });
      // The pooled connection of the other pool is not lent to a caller expecting another key either.
      const shared = await sshFailure(pool.exec(endpoint({ hostKey: pinned }), "true", 5_000));
      expect(shared.kind).toBe("host_key_changed");
    } finally {
      fresh.close();
    }
  });

  test("a dead host (closed port) is a clean 'unreachable' error naming the engine", async () => {
    const port = closedPort();
    const failure = await sshFailure(pool.exec(endpoint({ target: `me@127.0.0.1:${port}` }), "true", 5_000));
    expect(failure.kind).toBe("unreachable");
    expect(failure.message).toBe(`engine 'box': SSH host 127.0.0.1:${port} is unreachable (ECONNREFUSED)`);
  });

  test("a server that accepts but never speaks SSH ends in a connect timeout", async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as { port: number }).port;
    const quick = new SshPool({ connectTimeoutMs: 400 });
    try {
      const failure = await sshFailure(quick.contact(endpoint({ target: `me@127.0.0.1:${port}` })));
      expect(failure.kind).toBe("connect_timeout");
      expect(failure.message).toBe(`engine 'box': no SSH session with 127.0.0.1:${port} within 400 ms`);
    } finally {
      quick.close();
      silent.close();
    }
  });

  test("a key the server does not accept: auth_failed, with the host key seen", async () => {
    const stranger = join(tempDir(), "stranger");
    makeKeyPair(stranger);
    const failure = await sshFailure(new SshPool().contact(endpoint({ keyPath: stranger })));
    expect(failure.kind).toBe("auth_failed");
    expect(failure.message).toBe(
      `engine 'box': SSH authentication as '${sshd.user}' on 127.0.0.1:${sshd.port} failed with its private key`,
    );
    expect(failure.hostKeys.offered).toBe(sshd.hostFingerprint);
  });

  test("an unreadable or invalid key file: key_unusable, its path never shown", async () => {
    const missing = join(tempDir(), "no-such-key");
    const unread = await sshFailure(pool.contact(endpoint({ keyPath: missing })));
    expect([unread.kind, unread.message]).toEqual([
      "key_unusable",
      "engine 'box': its SSH private key cannot be read (ENOENT)",
    ]);
    const notAKey = await sshFailure(pool.contact(endpoint({ keyPath: `${sshd.userKey}.pub` })));
    expect(notAKey.kind).toBe("key_unusable");
    expect(notAKey.message).not.toContain(sshd.dir);
  });

  test("the SSH agent is a credential: a key added to ssh-agent logs in without a key file", async () => {
    const socket = join(tempDir(), "agent.sock");
    const agent = Bun.spawn(["ssh-agent", "-D", "-a", socket], { stdout: "ignore", stderr: "ignore" });
    const agentPool = new SshPool({ connectTimeoutMs: 3_000 });
    try {
      for (let i = 0; i < 200 && !existsSync(socket); i++) await Bun.sleep(20);
      const added = Bun.spawnSync(["ssh-add", sshd.userKey], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
      expect(added.exitCode).toBe(0);
      const result = await agentPool.exec(endpoint({ keyPath: undefined, agent: socket }), "echo agent", 10_000);
      expect(result.stdout).toBe("agent\n");
    } finally {
      agentPool.close();
      agent.kill();
      await agent.exited;
    }
  });

  test("stream: yields a command's output as it comes and stops when aborted", async () => {
    const stop = new AbortController();
    const seen: string[] = [];
    // (Run as root, the command outlives the closed channel by up to 5 s: OpenSSH signals only privilege-separated
    // sessions, and root's is served by its monitor.)
    for await (const text of pool.stream(endpoint(), "echo one; sleep 0.3; echo two; sleep 5", {
      signal: stop.signal,
      maxMs: 20_000,
    })) {
      seen.push(text);
      if (seen.join("").includes("two")) stop.abort();
    }
    expect(seen.join("")).toBe("one\ntwo\n");
  });
});

describe("ssh targets and logs", () => {
  test("targets: user@host, user@host:port, IPv6; anything else refused naming the engine", () => {
    expect(parseSshTarget("me@studio.local", "e")).toEqual({ user: "me", host: "studio.local", port: 22 });
    expect(parseSshTarget("me@10.0.0.5:2222", "e")).toEqual({ user: "me", host: "10.0.0.5", port: 2222 });
    expect(parseSshTarget("me@fe80::1", "e")).toEqual({ user: "me", host: "fe80::1", port: 22 });
    for (const bad of ["studio", "me@host:0", "me@host:70000", "me@-oProxyCommand=x", "me@host;reboot", "@host"]) {
      expect(() => parseSshTarget(bad, "e")).toThrow("engine 'e': the SSH target must be");
    }
  });

  test("fingerprints are OpenSSH's", () => {
    const key = join(tempDir(), "key");
    makeKeyPair(key);
    const blob = Buffer.from(readFileSync(`${key}.pub`, "utf8").split(" ")[1] ?? "", "base64");
    expect(hostKeyFingerprint(blob)).toBe(fingerprintOf(`${key}.pub`));
  });

  test("tail command and output: a single file, and a glob whose headers name each line's file", () => {
    expect(tailCommand("/var/log/x.log", 50, false)).toBe("tail -n 50 -- /var/log/x.log");
    expect(tailCommand("~/.telemak/logs/*", 10, true)).toBe("tail -n 10 -F -- ~/.telemak/logs/*");
    expect(() => tailCommand("/x; rm -rf /", 1, false)).toThrow();
    const single = new LogLineSplitter("/var/log/x.log");
    expect([...single.push("a\n\nb"), ...single.push("c\n"), ...single.flush()]).toEqual([
      { file: "/var/log/x.log", text: "a" },
      { file: "/var/log/x.log", text: "" },
      { file: "/var/log/x.log", text: "bc" },
    ]);
    const glob = new LogLineSplitter("~/.telemak/logs/*");
    const out = glob.push("==> /h/a.log <==\none\n\n\n==> /h/launchd.err <==\ntwo\n");
    expect([...out, ...glob.flush()]).toEqual([
      { file: "/h/a.log", text: "one" },
      { file: "/h/a.log", text: "" },
      { file: "/h/launchd.err", text: "two" },
    ]);
  });
});
