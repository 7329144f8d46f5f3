// The VPN server's peers, changed live on a real WireGuard device (wireguard-go, in a
// network namespace of its own) with the commands Bastide runs in the container.
import test from "ava";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, readlinkSync, writeFileSync, chmodSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { converge } from "../../provisioners/model.ts";
import { CallCounter } from "../../provisioners/runtime/http.ts";
import { desiredState } from "../../provisioners/desired.ts";
import { serverConf } from "../../stacks/services/vpn/blueprint.ts";
import { wireguardPrivateKey } from "../../stacks/services/vpn/keys.ts";
import { parseDump, vpnProvisioner, type VpnClient, type WgCommands } from "../../provisioners/vpn/provisioner.ts";
import { peerKeyPair } from "../../provisioners/vpn/keys.ts";
import type { PeerLedger } from "../../provisioners/vpn/server.ts";
import { exampleAssociation } from "../support/association.ts";
import { requireProgram, scratch } from "../support/programs.ts";

const SUBNET = "10.13.13.0/24";
const PORT = 51820;
const SERVER_SEED = "server-seed-for-tests-0123456789";
const seedOf = (peerId: string) => `seed-of-${peerId}-for-tests-only`;

interface Namespace {
  pid: number;
  process: ChildProcess;
  confPath: string;
}

/** Ends the namespace, and the wireguard-go it started: it outlives wg-quick and its parent. */
function stopServer(ns: Namespace): void {
  const own = readlinkSync(`/proc/${ns.pid}/ns/net`);
  // pgrep exits 1 when nothing matches: no daemon left is fine.
  const daemons = (spawnSync("pgrep", ["-x", "wireguard-go"], { encoding: "utf8" }).stdout ?? "").trim().split("\n").filter(Boolean);
  for (const pid of daemons) {
    try {
      if (readlinkSync(`/proc/${pid}/ns/net`) === own) process.kill(Number(pid));
    } catch {
      // Already gone.
    }
  }
  ns.process.kill();
}

/** A network namespace holding wg0, brought up by wg-quick from `conf`, kept until stopped. */
async function startServer(conf: string): Promise<Namespace> {
  for (const [program, pkg] of [["unshare", "util-linux"], ["nsenter", "util-linux"], ["wg-quick", "wireguard-tools"], ["wireguard-go", "wireguard-go"], ["ip", "iproute2"], ["iptables", "iptables"]])
    requireProgram(program!, pkg!);
  const dir = scratch();
  const confPath = join(dir, "wg0.conf");
  writeFileSync(confPath, conf);
  chmodSync(confPath, 0o600);
  // wireguard-go's control socket lives in /run/wireguard: a private mount keeps
  // concurrent test namespaces from colliding over it.
  const script = `set -eu
mkdir -p /run/wireguard && mount -t tmpfs tmpfs /run/wireguard
ip link set lo up
export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1
wg-quick up "${confPath}" >&2
echo "ready $$"
exec sleep 300`;
  const child = spawn("unshare", ["--net", "--mount", "--propagation", "private", "sh", "-c", script], { stdio: ["ignore", "pipe", "pipe"] });
  const pid = await new Promise<number>((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`wg-quick did not come up: ${err}`)), 20_000);
    child.stdout!.on("data", (chunk) => {
      out += chunk;
      const match = out.match(/ready (\d+)/);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.stderr!.on("data", (chunk) => (err += chunk));
    child.on("exit", (code) => reject(new Error(`namespace exited (${code}): ${err}`)));
  });
  return { pid, process: child, confPath };
}

/** The container's commands, run inside the namespace. */
function inNamespace(ns: Namespace): WgCommands {
  return {
    where: "a test network namespace",
    run: (cmd, input) =>
      new Promise((resolve) => {
        const child = spawn("nsenter", [`--net=/proc/${ns.pid}/ns/net`, `--mount=/proc/${ns.pid}/ns/mnt`, "--", ...cmd], { timeout: 20_000 });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c) => (stdout += c));
        child.stderr.on("data", (c) => (stderr += c));
        // A command that reads nothing may exit before its input is written.
        child.stdin.on("error", () => undefined);
        child.stdin.end(input ?? "");
        child.on("close", (code) => resolve({ exitCode: code ?? 1, stdout, stderr }));
      }),
  };
}

function clientFor(ns: Namespace, config: ReturnType<typeof exampleAssociation>, previous: PeerLedger = {}, counter = new CallCounter()): VpnClient {
  const peers = desiredState(config).vpn!.peers;
  return {
    commands: inNamespace(ns),
    confPath: ns.confPath,
    subnet: SUBNET,
    port: PORT,
    serverKeySeed: SERVER_SEED,
    seeds: Object.fromEntries(peers.map((p) => [p.id, seedOf(p.id)])),
    previous,
    counter,
  };
}

const livePeers = async (ns: Namespace) => parseDump((await inNamespace(ns).run(["wg", "show", "wg0", "dump"])).stdout);
const keyOf = (peerId: string) => peerKeyPair(seedOf(peerId)).publicKey;
const emptyConf = () => serverConf({ subnet: SUBNET, port: PORT, privateKey: wireguardPrivateKey(SERVER_SEED), peers: [] });

test.serial("peers are added live, persisted, kept stable, and removed when a device or member leaves", async (t) => {
  const ns = await startServer(emptyConf());
  try {
    const config = exampleAssociation();
    const desired = desiredState(config);
    const first = await converge(vpnProvisioner, desired, clientFor(ns, config), { concurrency: 4 });
    t.deepEqual(first.failed, []);
    const live = await livePeers(ns);
    const expected = ["claire.dubois-laptop", "karim.benali-laptop", "karim.benali-phone"];
    t.deepEqual(live.map((p) => p.publicKey).sort(), expected.map(keyOf).sort());
    const addressOf = (peerId: string) => live.find((p) => p.publicKey === keyOf(peerId))!.allowedIps[0];
    t.deepEqual(expected.map(addressOf).sort(), ["10.13.13.2/32", "10.13.13.3/32", "10.13.13.4/32"]);
    const persisted = readFileSync(ns.confPath, "utf8");
    for (const id of expected) t.true(persisted.includes(keyOf(id)), `${id} is kept for restarts`);

    const counter = new CallCounter();
    const again = await converge(vpnProvisioner, desired, clientFor(ns, config, {}, counter), { concurrency: 4 });
    t.deepEqual(again.planned, []);
    t.is(counter.writes("vpn"), 0, "a re-run changes nothing");

    const claireBefore = addressOf("claire.dubois-laptop");
    const noPhone = exampleAssociation((i) => (i.members[1].devices = [{ name: "laptop" }]));
    const removal = await converge(vpnProvisioner, desiredState(noPhone), clientFor(ns, noPhone), { concurrency: 4 });
    t.deepEqual(removal.applied.map((c) => c.kind).sort(), ["conf.write", "peer.remove"]);
    const afterRemoval = await livePeers(ns);
    t.false(afterRemoval.some((p) => p.publicKey === keyOf("karim.benali-phone")));
    t.is(afterRemoval.find((p) => p.publicKey === keyOf("claire.dubois-laptop"))!.allowedIps[0], claireBefore, "other devices keep their address");

    const karimLeaves = { ...desiredState(noPhone), departures: { disable: ["karim.benali"], erase: [], enable: [] } };
    await converge(vpnProvisioner, karimLeaves, clientFor(ns, noPhone), { concurrency: 4 });
    t.deepEqual((await livePeers(ns)).map((p) => p.publicKey), [keyOf("claire.dubois-laptop")], "a departed member's devices are cut off");
  } finally {
    stopServer(ns);
  }
});

test.serial("after the container is replaced, the kept addresses come back", async (t) => {
  const config = exampleAssociation();
  const desired = desiredState(config);
  const ns = await startServer(emptyConf());
  let kept: PeerLedger;
  try {
    const first = await converge(vpnProvisioner, desired, clientFor(ns, config), { concurrency: 4 });
    kept = Object.fromEntries(first.live!.next.map((p) => [p.id, p]));
  } finally {
    stopServer(ns);
  }
  // A new container: its file starts with no peers. Give Claire's device a different slot
  // order by listing Karim first: addresses must still come from what was kept.
  const reordered = exampleAssociation((i) => i.members.reverse());
  const fresh = await startServer(emptyConf());
  try {
    await converge(vpnProvisioner, desiredState(reordered), clientFor(fresh, reordered, kept!), { concurrency: 4 });
    const live = await livePeers(fresh);
    for (const peer of Object.values(kept!)) {
      t.is(live.find((p) => p.publicKey === peer.publicKey)?.allowedIps[0], `${peer.address}/32`, `${peer.id} keeps ${peer.address}`);
    }
  } finally {
    stopServer(fresh);
  }
});
