// The VPN server's peers, changed live with `wg set` (no restart: other staff stay
// connected) and persisted to the server's wg-quick file so a restart keeps them.
// The live device is the ledger: each peer's public key maps back to its device through
// the device's generated seed. The provider state keeps a copy of the addresses for the
// day the container is replaced and its file starts empty again.
import type { DesiredState } from "../desired.ts";
import type { Change, ServiceProvisioner } from "../model.ts";
import { ProvisionError } from "../model.ts";
import type { CallCounter } from "../runtime/http.ts";
import type { CommandResult } from "../runtime/docker.ts";
import { wireguardPrivateKey } from "../../stacks/services/vpn/keys.ts";
import { peerKeyPair } from "./keys.ts";
import { planServerPeers, serverConfWithPeers, serverPeers, type PeerLedger, type ServerPeer, type VpnChange } from "./server.ts";

/** Runs a command where the WireGuard server runs (its container, or a test namespace). */
export interface WgCommands {
  readonly where: string;
  run(cmd: readonly string[], input?: string): Promise<CommandResult>;
}

export const WG_INTERFACE = "wg0";

export interface VpnClient {
  commands: WgCommands;
  /** The server's wg-quick file, e.g. /config/wg_confs/wg0.conf. */
  confPath: string;
  subnet: string;
  port: number;
  serverKeySeed: string;
  /** Each device's generated key seed, by peer id. */
  seeds: Record<string, string>;
  /** Addresses kept from earlier runs (provider state), for stable addresses. */
  previous: PeerLedger;
  counter?: CallCounter;
}

export interface LivePeer {
  publicKey: string;
  allowedIps: string[];
}

export interface VpnLive {
  peers: LivePeer[];
  /** The server's file as it is now; undefined when missing. */
  conf: string | undefined;
  /** What the server's list should become, computed from the seeds: pure data for plan(). */
  next: ServerPeer[];
  /** The file that goes with `next`. */
  nextConf: string;
  /** The live peers as a ledger keyed by device id (unknown keys by their public key). */
  liveLedger: PeerLedger;
}

type ConfWrite = Change<"conf.write", { content: string }>;
export type VpnProvisionChange = (VpnChange & { payload: ServerPeer & { replaces?: string } }) | ConfWrite;

/** `wg show wg0 dump`: the interface line, then one tab-separated line per peer. */
export function parseDump(dump: string): LivePeer[] {
  return dump
    .trim()
    .split("\n")
    .slice(1)
    .filter(Boolean)
    .map((line) => {
      const [publicKey = "", , , allowedIps = ""] = line.split("\t");
      return { publicKey, allowedIps: allowedIps === "(none)" ? [] : allowedIps.split(",") };
    });
}

async function mustRun(client: VpnClient, cmd: readonly string[], write: boolean, input?: string): Promise<string> {
  const result = await client.commands.run(cmd, input);
  client.counter?.record("vpn", write ? "EXEC" : "GET", cmd.join(" ").slice(0, 60), result.exitCode === 0 ? 200 : 500);
  if (result.exitCode !== 0) throw new ProvisionError("vpn", undefined, `${cmd.join(" ")} failed in ${client.commands.where}: ${result.stderr.trim() || result.stdout.trim()}`);
  return result.stdout;
}

export const vpnProvisioner: ServiceProvisioner<DesiredState, VpnLive, VpnProvisionChange, VpnClient> = {
  service: "vpn",

  async read(client, desired) {
    const peers = parseDump(await mustRun(client, ["wg", "show", WG_INTERFACE, "dump"], false));
    const file = await client.commands.run(["cat", client.confPath]);
    client.counter?.record("vpn", "GET", `cat ${client.confPath}`, file.exitCode === 0 ? 200 : 404);
    const byKey = new Map(
      (desired.vpn?.peers ?? []).flatMap((p) => (client.seeds[p.id] ? [[peerKeyPair(client.seeds[p.id]!).publicKey, p] as const] : [])),
    );
    const liveLedger: PeerLedger = Object.fromEntries(
      peers.map((live) => {
        const device = byKey.get(live.publicKey);
        const address = live.allowedIps[0]?.replace(/\/32$/, "") ?? "";
        const id = device?.id ?? `unknown:${live.publicKey}`;
        return [id, { id, member: device?.member ?? "?", device: device?.device ?? "?", publicKey: live.publicKey, address }];
      }),
    );
    // Live addresses win; the stored copy fills in after the container was replaced.
    const next = serverPeers(desired, { subnet: client.subnet, seeds: client.seeds, previous: { ...client.previous, ...liveLedger } });
    const nextConf = serverConfWithPeers({ subnet: client.subnet, port: client.port, privateKey: wireguardPrivateKey(client.serverKeySeed), peers: next });
    return { peers, conf: file.exitCode === 0 ? file.stdout : undefined, next, nextConf, liveLedger };
  },

  plan(_desired, live) {
    const peerChanges = planServerPeers(live.next, live.liveLedger).map((change) => {
      const before = live.liveLedger[change.payload.id];
      return change.kind === "peer.update" && before && before.publicKey !== change.payload.publicKey
        ? { ...change, payload: { ...change.payload, replaces: before.publicKey } }
        : change;
    });
    const write: ConfWrite[] =
      live.conf === live.nextConf
        ? []
        : [{ service: "vpn", kind: "conf.write", subject: "the VPN server's peer list, kept for restarts", phase: 2, payload: { content: live.nextConf } }];
    return [...peerChanges, ...write];
  },

  async apply(change, client) {
    switch (change.kind) {
      case "peer.remove":
        await mustRun(client, ["wg", "set", WG_INTERFACE, "peer", change.payload.publicKey, "remove"], true);
        return;
      case "peer.add":
      case "peer.update":
        if ("replaces" in change.payload && change.payload.replaces)
          await mustRun(client, ["wg", "set", WG_INTERFACE, "peer", change.payload.replaces, "remove"], true);
        await mustRun(client, ["wg", "set", WG_INTERFACE, "peer", change.payload.publicKey, "allowed-ips", `${change.payload.address}/32`], true);
        return;
      case "conf.write": {
        // Written whole, then renamed: a restart never finds half a file. It holds the server's key.
        const script = 'umask 077 && cat > "$1.new" && mv "$1.new" "$1"';
        await mustRun(client, ["sh", "-c", script, "sh", client.confPath], true, change.payload.content);
        return;
      }
    }
  },
};
