/**
 * A ring load whose drawn port is already taken (src/fleet/ring/lifecycle.ts, `RingLoad.start`): MLX's ring backend
 * cannot bind it (`Couldn't bind socket (error: 98)`), so the load draws new ports and tries again, at most
 * PORT_ATTEMPTS times. Two real `ithaca rank` processes spawned over a real OpenSSH server on loopback; the taken port
 * is a listening socket this test holds, handed to rank 0 through the spec's `drawPort`.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { TCPSocketListener } from "bun";
import { join } from "node:path";
import { BackendRegistry } from "../../../src/backends/registry.ts";
import { RingLoad, randomRingPort } from "../../../src/fleet/ring/lifecycle.ts";
import { SshPool } from "../../../src/fleet/ssh.ts";
import { endpointOf } from "../../../src/fleet/ssh-enrolment.ts";
import type { RingClusterRecord, RingNode } from "../../../src/store/ring-clusters.ts";
import { BUN, REPO } from "../../helpers/paths.ts";
import { TestSshd } from "../../helpers/sshd.ts";

let sshd: TestSshd;
let ssh: SshPool;
let held: TCPSocketListener;

beforeAll(async () => {
  sshd = await TestSshd.start();
  ssh = new SshPool();
  held = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
});

afterAll(async () => {
  held?.stop(true);
  ssh?.close();
  await sshd?.stop();
});

function load(id: string, drawPort: () => number): { load: RingLoad; registry: BackendRegistry } {
  const nodes: RingNode[] = [
    { host: "node-a", ssh: sshd.target, ip: "127.0.0.1", sshHostKey: null },
    { host: "node-b", ssh: sshd.target, ip: "127.0.0.2", sshHostKey: null },
  ];
  const cluster: RingClusterRecord = {
    id,
    label: id,
    modelsDir: join(REPO, "models"),
    ithacaCommand: `${BUN} ${join(REPO, "src", "main.ts")}`,
    sshKeyPath: sshd.userKey,
    nodes,
    prefillDeadlineS: 60,
    decodeDeadlineS: 30,
    createdAt: Date.now(),
    updatedAt: Date.now(),
  };
  const registry = new BackendRegistry();
  const spec = {
    cluster,
    model: "demo",
    plan: { mode: "tensor" as const, ranks: [] },
    nodes,
    endpoint: (node: RingNode) =>
      endpointOf(
        { id: `${id}/${node.host}`, sshKeyPath: cluster.sshKeyPath, sshHostKey: null, sshTarget: node.ssh },
        {},
      ),
    drawPort,
  };
  return { load: new RingLoad(spec, ssh, registry), registry };
}

test("rank 0's port taken on the first draw: new ports are drawn and the cluster loads", async () => {
  const drawn: number[] = [];
  const { load: ring, registry } = load("retry", () => {
    const port = drawn.length === 0 ? held.port : randomRingPort();
    drawn.push(port);
    return port;
  });
  try {
    await ring.start(60_000);
    expect(ring.state).toBe("loaded");
    expect(ring.reason).toBeUndefined();
    // Two draws per attempt (one port per rank): the failed one with the held port, then the one that loaded.
    expect(drawn.length).toBe(4);
    expect(drawn[0]).toBe(held.port);
    expect(registry.get("upstream:retry")).toBeDefined();
  } finally {
    await ring.stop(false);
  }
}, 120_000);

test("the port taken on every draw: the load fails after 3 attempts, naming the bind failure", async () => {
  let draws = 0;
  const { load: ring, registry } = load("taken", () => {
    draws++;
    return draws % 2 === 1 ? held.port : randomRingPort();
  });
  const failure = await ring.start(60_000).then(
    () => "loaded",
    (error: Error & { status?: number; code?: string }) => `${error.status} ${error.code}: ${error.message}`,
  );
  expect(failure).toMatch(/^502 load_failed: cluster 'taken' could not load 'demo': .*Couldn't bind socket/);
  expect(draws).toBe(6);
  expect(ring.state).toBe("degraded");
  expect(registry.get("upstream:taken")).toBeUndefined();
}, 180_000);
