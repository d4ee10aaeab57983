/**
 * Acknowledged admin writes survive a crash: a real Ithaca process takes a burst of `PUT /admin/clusters/{id}` (each
 * probing a live engine), is killed with SIGKILL in the middle of it, and a new process on the same home lists every
 * engine whose PUT was answered 200 — and serves its models.
 */
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { FakeUpstream } from "../helpers/fake-upstream.ts";
import { BUN, REPO, tempDir } from "../helpers/paths.ts";
import { freePort, type ServerProcess, startServerProcess } from "../helpers/processes.ts";

const engine = new FakeUpstream({ models: ["m"] });
const work = tempDir("ithaca-durability-");
let running: ServerProcess | undefined;

afterAll(async () => {
  await running?.stop();
  engine.stop();
});

/** Starts `src/main.ts serve` on `home` (no local models) and waits for it. */
async function serve(): Promise<ServerProcess> {
  const port = await freePort();
  const config = join(work, `config-${port}.yaml`);
  // JSON is YAML.
  writeFileSync(config, JSON.stringify({ server: { host: "127.0.0.1", port }, home: join(work, "home") }));
  return startServerProcess([BUN, join(REPO, "src", "main.ts"), "serve", "--config", config], port, {
    readyPath: "/health",
    timeoutMs: 30_000,
    cwd: REPO,
  });
}

test("a server killed with SIGKILL during a burst of admin writes keeps every acknowledged one", async () => {
  running = await serve();
  const { url, proc } = running;
  const acked: string[] = [];
  let stop = false;
  const burst = Array.from({ length: 4 }, async (_, worker) => {
    for (let i = 0; !stop; i++) {
      const id = `e${worker}-${i}`;
      try {
        const response = await fetch(`${url}/admin/clusters/${id}`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ kind: "openai-compatible", upstream: engine.baseUrl }),
        });
        if (response.status === 200) acked.push(id);
        else await response.body?.cancel();
      } catch {
        return; // The server died under this request: not acknowledged.
      }
    }
  });
  while (acked.length < 40) await Bun.sleep(5);
  proc.kill("SIGKILL");
  stop = true;
  await Promise.all(burst);
  await proc.exited;
  expect(proc.signalCode).toBe("SIGKILL");

  running = await serve();
  const listed = (await (await fetch(`${running.url}/admin/clusters`)).json()) as { data: Array<{ id: string }> };
  const ids = new Set(listed.data.map((entry) => entry.id));
  expect(acked.filter((id) => !ids.has(id))).toEqual([]);
  const models = (await (await fetch(`${running.url}/v1/models`)).json()) as { data: Array<{ id: string }> };
  expect(models.data.map((model) => model.id)).toContain(`${acked[0]}:m`);
}, 60_000);
