/**
 * SSH management through the admin API (src/admin/ssh.ts) against a real OpenSSH server on loopback
 * (test/helpers/sshd.ts), the SSH user being the one running the tests:
 *
 * - enrolment with an SSH target contacts the host and pins its key (the view shows the fingerprint, never the key's
 *   path); the connection test answers hostname, memory and latency over one reused connection;
 * - a Telemak's lifecycle runs `launchctl` exactly as reference/odyssai-x-wire.md §3.4 says. Linux has no launchd,
 *   so a recording `launchctl` script placed first on the SSH session's PATH stands in for it: each action's exact
 *   argv is checked, and the fallback from `bootstrap` to `kickstart`;
 * - a Linux host's configured start/status/stop commands really start, check and stop a second Ithaca over SSH (it
 *   answers /health in between), and its log is tailed and followed (server-sent events);
 * - a changed host key (sshd restarted with a new one) and a dead host (closed port) end in clean errors naming the
 *   engine, and so do a refused key, a missing key file and an engine without SSH.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { FakeUpstream } from "../helpers/fake-upstream.ts";
import { jsonCall } from "../helpers/json-call.ts";
import { BUN, REPO, tempDir } from "../helpers/paths.ts";
import { freePort } from "../helpers/processes.ts";
import { makeKeyPair, TestSshd } from "../helpers/sshd.ts";
import { type RunningIthaca, startIthaca } from "../helpers/start.ts";

let sshd: TestSshd;
let telemak: FakeUpstream;
let server: RunningIthaca;
/** Where the recording launchctl writes each call: one line per call, its arguments separated by tabs. */
let launchctlCalls: string;
/** Flag files the recording launchctl reads. */
let bootstrapFails: string;
let allFail: string;
/** The second Ithaca, managed over SSH. */
const remote = { dir: "", port: 0, log: "", url: "" };

const admin = (method: string, path: string, body?: unknown) => jsonCall(server.url, method, path, body);
const uid = process.getuid?.() ?? 0;
const AGENT = "eu.odyssai.telemak";

/** The recorded launchctl calls since the last {@link clearCalls}, each as its argv. */
function recordedCalls(): string[][] {
  if (!existsSync(launchctlCalls)) return [];
  return readFileSync(launchctlCalls, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.split("\t"));
}
const clearCalls = () => rmSync(launchctlCalls, { force: true });

/** Polls `url` until `ok(status)` (a refused connection is status 0), within `ms`. */
async function waitFor(url: string, ok: (status: number) => boolean, ms = 60_000): Promise<number> {
  const deadline = Date.now() + ms;
  let status = -1;
  while (Date.now() < deadline) {
    try {
      status = (await fetch(url, { signal: AbortSignal.timeout(1_000) })).status;
    } catch {
      status = 0;
    }
    if (ok(status)) return status;
    await Bun.sleep(200);
  }
  return status;
}

beforeAll(async () => {
  sshd = await TestSshd.start();
  launchctlCalls = join(sshd.dir, "launchctl.calls");
  bootstrapFails = join(sshd.dir, "bootstrap-fails");
  allFail = join(sshd.dir, "launchctl-fails");
  // Linux has no launchd: this stands in for macOS's launchctl, first on the SSH session's PATH, and records its argv.
  sshd.installScript(
    "launchctl",
    [
      "#!/bin/sh",
      'verb="$1"',
      `{ printf '%s' "$1"; shift; for arg in "$@"; do printf '\\t%s' "$arg"; done; printf '\\n'; } >> ${launchctlCalls}`,
      `if [ -e ${allFail} ]; then echo "Could not find service" >&2; exit 113; fi`,
      `if [ "$verb" = bootstrap ] && [ -e ${bootstrapFails} ]; then`,
      '  echo "Bootstrap failed: 5: Input/output error" >&2; exit 5',
      "fi",
      'echo "launchctl ok"',
      "",
    ].join("\n"),
  );
  telemak = new FakeUpstream({ models: ["mlx-community/Qwen3-4B-4bit"], telemakContract: true });
  server = await startIthaca({ upstreams: [{ id: "cfg", base_url: telemak.baseUrl, models: ["m"] }] });
  remote.dir = tempDir("ithaca-remote-");
  remote.port = await freePort();
  remote.log = join(remote.dir, "serve.log");
  remote.url = `http://127.0.0.1:${remote.port}`;
  writeFileSync(join(remote.dir, "ithaca.yaml"), `models: []\nhome: ${join(remote.dir, "home")}\n`);
});

afterAll(async () => {
  // Stops the second Ithaca if a failed test left it running (its pid file names it).
  const pidFile = join(remote.dir, "serve.pid");
  if (existsSync(pidFile)) {
    try {
      process.kill(Number(readFileSync(pidFile, "utf8").trim()), "SIGTERM");
    } catch {
      // Not running.
    }
  }
  await server?.close();
  telemak?.stop();
  await sshd?.stop();
});

const mac = () => ({
  kind: "telemak",
  upstream: telemak.baseUrl.replace(/\/v1$/, ""),
  name: "Mac Studio",
  ssh: sshd.target,
  ssh_key: sshd.userKey,
});

describe("SSH management through /admin/clusters", () => {
  test("enrolment contacts the host and pins its key; the view shows the fingerprint, never the key's path", async () => {
    const preview = await admin("PUT", "/admin/clusters/mac?dry_run=true", mac());
    expect(preview.status).toBe(200);
    expect(preview.json.ssh).toMatchObject({ host_key: sshd.hostFingerprint, authenticated: true, error: null });
    const { status, json } = await admin("PUT", "/admin/clusters/mac", mac());
    expect(status).toBe(200);
    expect(json.ssh.latency_ms).toBeGreaterThan(0);
    expect(json.engine).toMatchObject({
      ssh: sshd.target,
      ssh_host_key: sshd.hostFingerprint,
      ssh_key_source: "enrolment",
      ssh_commands: null,
      ssh_log: "~/.telemak/logs/*",
    });
    const viewed = await admin("GET", "/admin/clusters/mac");
    expect(viewed.json.ssh_host_key).toBe(sshd.hostFingerprint);
    for (const answer of [preview.json, json, viewed.json]) expect(JSON.stringify(answer)).not.toContain(sshd.dir);
  });

  test("connection test: hostname, memory and latency, over one reused connection", async () => {
    const first = await admin("GET", "/admin/clusters/mac/connection-test");
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({
      cluster: "mac",
      ok: true,
      ssh: sshd.target,
      hostname: hostname(),
      host_key: sshd.hostFingerprint,
    });
    expect(first.json.memory_bytes).toBeGreaterThan(0);
    expect(first.json.ram_gb).toBeGreaterThan(0);
    expect(first.json.latency_ms).toBeGreaterThan(0);
    const second = await admin("GET", "/admin/clusters/mac/connection-test");
    expect(second.json.reused).toBe(true);
  });

  test("lifecycle runs launchctl exactly as odyssai-x-wire §3.4 says (recorded argv)", async () => {
    const home = sshd.home;
    const expected: Record<string, string[]> = {
      start: ["bootstrap", `gui/${uid}`, `${home}/Library/LaunchAgents/${AGENT}.plist`],
      stop: ["kill", "SIGTERM", `gui/${uid}/${AGENT}`],
      restart: ["kickstart", "-k", `gui/${uid}/${AGENT}`],
      quit: ["bootout", `gui/${uid}/${AGENT}`],
    };
    for (const [action, argv] of Object.entries(expected)) {
      clearCalls();
      const { status, json } = await admin("POST", "/admin/clusters/mac/telemak/lifecycle", { action });
      expect(status).toBe(200);
      expect(json).toEqual({
        cluster: "mac",
        action,
        ok: true,
        rc: 0,
        ssh: sshd.target,
        stdout: "launchctl ok",
        stderr: "",
      });
      expect(recordedCalls()).toEqual([argv]);
    }
  });

  test("start falls back to kickstart when bootstrap fails; a failing launchctl is ok: false", async () => {
    clearCalls();
    writeFileSync(bootstrapFails, "");
    const started = await admin("POST", "/admin/clusters/mac/telemak/lifecycle", { action: "start" });
    rmSync(bootstrapFails);
    expect(started.json).toMatchObject({ ok: true, rc: 0, stderr: "Bootstrap failed: 5: Input/output error" });
    expect(recordedCalls()).toEqual([
      ["bootstrap", `gui/${uid}`, `${sshd.home}/Library/LaunchAgents/${AGENT}.plist`],
      ["kickstart", `gui/${uid}/${AGENT}`],
    ]);
    writeFileSync(allFail, "");
    const failed = await admin("POST", "/admin/clusters/mac/telemak/lifecycle", { action: "restart" });
    rmSync(allFail);
    expect(failed.status).toBe(200);
    expect(failed.json).toMatchObject({ ok: false, rc: 113, stderr: "Could not find service" });
    const bad = await admin("POST", "/admin/clusters/mac/telemak/lifecycle", { action: "reboot" });
    expect([bad.status, bad.json.error.param]).toEqual([400, "action"]);
  });

  test("a Linux host's configured commands start, check and stop a second Ithaca over SSH; its log is read", async () => {
    const pid = join(remote.dir, "serve.pid");
    const enrolled = await admin("PUT", "/admin/clusters/linux?force=true", {
      kind: "ithaca",
      upstream: remote.url,
      ssh: sshd.target,
      ssh_key: sshd.userKey,
      ssh_commands: {
        start:
          // In the background with every stream redirected, so that the SSH command ends at once.
          `cd ${REPO} && { ITHACA_CONFIG=${join(remote.dir, "ithaca.yaml")} nohup ${BUN} src/main.ts serve ` +
          `--port ${remote.port} > ${remote.log} 2>&1 < /dev/null & echo $! > ${pid}; }`,
        stop: `kill "$(cat ${pid})"`,
        status: `kill -0 "$(cat ${pid} 2>/dev/null)" 2>/dev/null && echo running || { echo stopped; exit 3; }`,
      },
      ssh_log: remote.log,
    });
    expect(enrolled.status).toBe(200);
    expect(enrolled.json.engine.ssh_commands.status).toContain("kill -0");
    const service = (action: string) => admin("POST", "/admin/clusters/linux/service", { action });

    expect((await service("status")).json).toMatchObject({ cluster: "linux", action: "status", ok: false, rc: 3 });
    expect((await service("start")).json).toMatchObject({ action: "start", ok: true, rc: 0 });
    expect(await waitFor(`${remote.url}/health`, (status) => status === 200)).toBe(200);
    expect(((await (await fetch(`${remote.url}/health`)).json()) as { status: string }).status).toBe("ok");
    expect((await service("status")).json).toMatchObject({ ok: true, rc: 0, stdout: "running" });

    const tail = await admin("GET", "/admin/clusters/linux/logs?tail=20");
    expect(tail.status).toBe(200);
    expect(tail.json).toMatchObject({ cluster: "linux", path: remote.log, stderr: null, truncated: false });
    expect(tail.json.data).toContainEqual({
      file: remote.log,
      text: expect.stringContaining(`listening on http://127.0.0.1:${remote.port}`),
    });

    // Followed: the last lines, then what is appended, as server-sent events; leaving ends it.
    const leave = new AbortController();
    const response = await fetch(`${server.url}/admin/clusters/linux/logs?tail=5&follow=1`, { signal: leave.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    const readUntil = async (needle: string) => {
      const deadline = Date.now() + 15_000;
      while (!text.includes(needle) && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      return text.includes(needle);
    };
    expect(await readUntil("listening on")).toBe(true);
    appendFileSync(remote.log, "a line appended while followed\n");
    expect(await readUntil("a line appended while followed")).toBe(true);
    expect(text).toContain(`data: ${JSON.stringify({ file: remote.log, text: "a line appended while followed" })}`);
    // The remote `tail -F` runs while followed, and ends with the stream (GNU tail notices that the closed channel no
    // longer reads it).
    const tailing = () =>
      readdirSync("/proc")
        .filter((pid) => /^\d+$/.test(pid))
        .some((pid) => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(remote.log);
          } catch {
            return false;
          }
        });
    expect(tailing()).toBe(true);
    leave.abort();
    for (let i = 0; i < 100 && tailing(); i++) await Bun.sleep(100);
    expect(tailing()).toBe(false);

    expect((await service("stop")).json).toMatchObject({ action: "stop", ok: true, rc: 0 });
    expect(await waitFor(`${remote.url}/health`, (status) => status === 0, 20_000)).toBe(0);
    // It ends once its graceful shutdown is over.
    let status = await service("status");
    for (let i = 0; i < 100 && status.json.ok; i++) {
      await Bun.sleep(200);
      status = await service("status");
    }
    expect(status.json).toMatchObject({ ok: false, rc: 3, stdout: "stopped" });
  }, 90_000);

  test("what an engine lacks is a 409 naming it; an unknown engine 404", async () => {
    expect((await admin("POST", "/admin/clusters/mac/service", { action: "start" })).json.error).toMatchObject({
      code: "ssh_command_not_configured",
      message: "engine 'mac' has no 'start' command: enrol it with ssh_commands: {start, stop, status}",
    });
    const lifecycle = await admin("POST", "/admin/clusters/linux/telemak/lifecycle", { action: "start" });
    expect([lifecycle.status, lifecycle.json.error.code]).toEqual([409, "not_a_telemak"]);
    const cfg = await admin("GET", "/admin/clusters/cfg/connection-test");
    expect([cfg.status, cfg.json.error.code]).toEqual([409, "ssh_not_configured"]);
    expect((await admin("GET", "/admin/clusters/nobody/connection-test")).status).toBe(404);
    const noLog = await admin("GET", "/admin/clusters/mac/logs");
    // The Telemak's default log folder does not exist on this machine.
    expect([noLog.status, noLog.json.error.code]).toEqual([404, "log_not_found"]);
    const stray = await admin("PUT", "/admin/clusters/nossh?force=true", {
      kind: "ithaca",
      upstream: remote.url,
      ssh_log: "/x",
    });
    expect([stray.status, stray.json.error.param]).toEqual([400, "ssh_log"]);
    // Nothing from a request reaches a command unvalidated: the line count, the log path, the target, the commands.
    expect((await admin("GET", "/admin/clusters/mac/logs?tail=99999")).status).toBe(400);
    expect((await admin("GET", "/admin/clusters/mac/logs?tail=1;reboot")).status).toBe(400);
    for (const [field, value] of [
      ["ssh_log", "/var/log/x.log; reboot"],
      ["ssh", "me@host;reboot"],
      ["ssh", "me@host:99999"],
      ["ssh_commands", { start: "echo one\nreboot" }],
      ["ssh_host_key", "MD5:aa:bb"],
    ] as const) {
      const refused = await admin("PUT", "/admin/clusters/mac?dry_run=true", { ...mac(), [field]: value });
      expect([refused.status, refused.json.error.param]).toEqual([
        400,
        field === "ssh_commands" ? "ssh_commands.start" : field,
      ]);
    }
  });

  test("a refused key and a missing key file are clean errors that never show the key's path", async () => {
    const stranger = join(tempDir(), "stranger");
    makeKeyPair(stranger);
    const put = await admin("PUT", "/admin/clusters/wrongkey", { ...mac(), ssh_key: stranger });
    expect(put.status).toBe(200);
    expect(put.json.ssh).toMatchObject({ authenticated: false, host_key: sshd.hostFingerprint });
    expect(put.json.ssh.error.code).toBe("ssh_auth_failed");
    const refused = await admin("GET", "/admin/clusters/wrongkey/connection-test");
    expect(refused.status).toBe(502);
    expect(refused.json.error).toMatchObject({
      code: "ssh_auth_failed",
      message: `engine 'wrongkey': SSH authentication as '${sshd.user}' on 127.0.0.1:${sshd.port} failed with its private key`,
    });
    await admin("PUT", "/admin/clusters/wrongkey", { ...mac(), ssh_key: join(sshd.dir, "no-such-key") });
    const missing = await admin("GET", "/admin/clusters/wrongkey/connection-test");
    expect([missing.status, missing.json.error.code]).toEqual([500, "ssh_key_unusable"]);
    for (const answer of [put.json, refused.json, missing.json]) {
      expect(JSON.stringify(answer)).not.toContain(stranger);
      expect(JSON.stringify(answer)).not.toContain(sshd.dir);
    }
  });

  test("a changed host key is refused naming the engine and both fingerprints; repin accepts the new one", async () => {
    const pinned = sshd.hostFingerprint;
    await sshd.restart({ newHostKey: true });
    const offered = sshd.hostFingerprint;
    expect(offered).not.toBe(pinned);
    clearCalls();
    for (const [method, path, body] of [
      ["GET", "/admin/clusters/mac/connection-test", undefined],
      ["POST", "/admin/clusters/mac/telemak/lifecycle", { action: "restart" }],
    ] as const) {
      const { status, json } = await admin(method, path, body);
      expect(status).toBe(502);
      expect(json.error.code).toBe("ssh_host_key_changed");
      expect(json.error.message).toContain("engine 'mac'");
      expect(json.error.message).toContain(`pinned ${pinned}, offered ${offered}`);
    }
    expect(recordedCalls()).toEqual([]); // nothing ran on the impostor
    // Enrolling again does not silently accept the new key...
    const again = await admin("PUT", "/admin/clusters/mac", mac());
    expect([again.status, again.json.error.code]).toEqual([502, "ssh_host_key_changed"]);
    expect((await admin("GET", "/admin/clusters/mac")).json.ssh_host_key).toBe(pinned);
    // ...repin_host_key does.
    const repinned = await admin("PUT", "/admin/clusters/mac", { ...mac(), repin_host_key: true });
    expect(repinned.json.engine.ssh_host_key).toBe(offered);
    expect((await admin("GET", "/admin/clusters/mac/connection-test")).json.host_key).toBe(offered);
  });

  test("a dead host (sshd stopped, port closed) is a clean 502 naming the engine", async () => {
    await sshd.stop();
    const { status, json } = await admin("GET", "/admin/clusters/mac/connection-test");
    expect(status).toBe(502);
    expect(json.error).toMatchObject({
      code: "ssh_unreachable",
      message: `engine 'mac': SSH host 127.0.0.1:${sshd.port} is unreachable (ECONNREFUSED)`,
    });
    const lifecycle = await admin("POST", "/admin/clusters/mac/telemak/lifecycle", { action: "stop" });
    expect([lifecycle.status, lifecycle.json.error.code]).toEqual([502, "ssh_unreachable"]);
  });
});
