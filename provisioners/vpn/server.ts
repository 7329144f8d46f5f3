// The server's list of peers: one per staff device listed in the config, with its public
// key and stable tunnel address. A device removed from the config, or any device of a
// departed member, leaves the list, and with it the VPN. Pure: the lead's code keeps
// the ledger (public keys and addresses only) in the Pulumi state and uploads the conf.
import { serverConf } from "../../stacks/services/vpn/blueprint.ts";
import type { DesiredPeer, DesiredState } from "../desired.ts";
import { ProvisionError, type Change } from "../model.ts";
import { assignPeerAddresses } from "./addresses.ts";
import { peerKeyPair, peerSeedSecretName } from "./keys.ts";

export interface ServerPeer extends DesiredPeer {
  publicKey: string;
  address: string;
}

/** What the last successful run put in the server's list, by peer id. Holds no secret. */
export type PeerLedger = Record<string, ServerPeer>;

export type VpnChangeKind = "peer.remove" | "peer.add" | "peer.update";
export type VpnChange = Change<VpnChangeKind, ServerPeer>;

/** The devices that may connect: listed in the config, of a member who has not left. */
export function activePeers(desired: Pick<DesiredState, "vpn" | "departures">): DesiredPeer[] {
  const gone = new Set([...desired.departures.disable, ...desired.departures.erase]);
  return (desired.vpn?.peers ?? []).filter((peer) => !gone.has(peer.member));
}

/**
 * The server's peers for this run. `seeds` holds each peer's generated key seed by peer id
 * (see peerSeedSecretName); `previous` is the last run's ledger, for stable addresses.
 */
export function serverPeers(
  desired: Pick<DesiredState, "vpn" | "departures">,
  input: { subnet: string; seeds: Readonly<Record<string, string>>; previous: Readonly<PeerLedger> },
): ServerPeer[] {
  const peers = activePeers(desired);
  const previousAddresses = Object.fromEntries(Object.entries(input.previous).map(([id, p]) => [id, p.address]));
  const addresses = assignPeerAddresses(peers, previousAddresses, input.subnet);
  return peers.map((peer) => {
    const seed = Object.hasOwn(input.seeds, peer.id) ? input.seeds[peer.id] : undefined;
    if (!seed) {
      throw new ProvisionError("vpn", peer.member, `device ${peer.device}: the generated secret "${peerSeedSecretName(peer.id)}" is missing`);
    }
    return { ...peer, publicKey: peerKeyPair(seed).publicKey, address: addresses[peer.id]! };
  });
}

export const peerLedger = (peers: readonly ServerPeer[]): PeerLedger => Object.fromEntries(peers.map((p) => [p.id, { ...p }]));

const subject = (peer: ServerPeer) => `VPN peer ${peer.id} (${peer.address})`;

/**
 * What changes in the server's list, for the preview: removals first, so an address a
 * removed device frees can go to a new one in the same run.
 */
export function planServerPeers(next: readonly ServerPeer[], previous: Readonly<PeerLedger>): VpnChange[] {
  const change = (kind: VpnChangeKind, phase: number, peer: ServerPeer): VpnChange => ({
    service: "vpn",
    kind,
    subject: subject(peer),
    member: peer.member,
    phase,
    payload: peer,
  });
  const nextIds = new Set(next.map((p) => p.id));
  const removals = Object.values(previous)
    .filter((p) => !nextIds.has(p.id))
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((p) => change("peer.remove", 0, p));
  const others = next.flatMap((peer) => {
    const before = Object.hasOwn(previous, peer.id) ? previous[peer.id] : undefined;
    if (!before) return [change("peer.add", 1, peer)];
    if (before.publicKey !== peer.publicKey || before.address !== peer.address) return [change("peer.update", 1, peer)];
    return [];
  });
  return [...removals, ...others];
}

/** The server's wg-quick conf with these peers, through the VPN module's own renderer. */
export function serverConfWithPeers(input: { subnet: string; port: number; privateKey: string; peers: readonly ServerPeer[] }): string {
  return serverConf({
    subnet: input.subnet,
    port: input.port,
    privateKey: input.privateKey,
    peers: input.peers.map((p) => ({ name: `${p.member} ${p.device}`, publicKey: p.publicKey, address: p.address })),
  });
}
