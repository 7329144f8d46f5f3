// Tunnel addresses of staff devices. A device keeps its address from one run to the next
// (the server's peer list and the device's own profile both name it), so adding or
// removing another device never moves it; a new device takes the lowest free host.
import { vpnAddressing } from "../../stacks/services/vpn/addressing.ts";

const ipv4ToNumber = (address: string) => address.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
const numberToIpv4 = (n: number) => [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join(".");

/** The hosts a peer may take in `subnet`, lowest first: all but the network, the server's and broadcast. */
function peerHostRange(subnet: string): { first: number; last: number } {
  const addressing = vpnAddressing(subnet);
  const [network = "", prefix = ""] = addressing.subnet.split("/");
  const size = 2 ** (32 - Number(prefix));
  const start = ipv4ToNumber(network);
  return { first: start + 2, last: start + size - 2 };
}

/** How many devices `subnet` holds besides the server. */
export const peerCapacity = (subnet: string) => {
  const { first, last } = peerHostRange(subnet);
  return last - first + 1;
};

/**
 * peer id → tunnel address for every peer in `peers`. Addresses in `previous` are kept when
 * they are still hosts of `subnet` and no earlier peer kept the same one; the others get
 * the lowest free host, in the order of `peers`. Peers absent from `peers` free theirs.
 */
export function assignPeerAddresses(
  peers: readonly { id: string }[],
  previous: Readonly<Record<string, string>>,
  subnet: string,
): Record<string, string> {
  const addressing = vpnAddressing(subnet);
  const capacity = peerCapacity(subnet);
  if (peers.length > capacity) {
    throw new Error(
      `services.vpn.subnet: ${addressing.subnet} has room for ${capacity} device${capacity === 1 ? "" : "s"} ` +
        `besides the server, but ${peers.length} are listed; choose a larger subnet such as 10.13.13.0/24, or remove devices`,
    );
  }
  const seenIds = new Set<string>();
  for (const { id } of peers) {
    if (seenIds.has(id)) throw new Error(`VPN peer "${id}" is listed twice`);
    seenIds.add(id);
  }

  const assigned: Record<string, string> = {};
  const taken = new Set<number>();
  for (const { id } of peers) {
    const earlier = Object.hasOwn(previous, id) ? previous[id] : undefined;
    if (earlier === undefined || !addressing.isPeerAddress(earlier)) continue;
    const n = ipv4ToNumber(earlier);
    if (taken.has(n)) continue;
    taken.add(n);
    assigned[id] = earlier;
  }

  const { first, last } = peerHostRange(subnet);
  let candidate = first;
  for (const { id } of peers) {
    if (assigned[id] !== undefined) continue;
    while (taken.has(candidate)) candidate++;
    // Cannot happen after the capacity check; kept so a bug cannot hand out the broadcast.
    if (candidate > last) throw new Error(`services.vpn.subnet: ${addressing.subnet} has no free address left`);
    taken.add(candidate);
    assigned[id] = numberToIpv4(candidate);
  }
  return Object.fromEntries(peers.map(({ id }) => [id, assigned[id]!]));
}
