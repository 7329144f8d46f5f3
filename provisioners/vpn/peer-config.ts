// The profile a staff device imports into its WireGuard app (as a file or a QR code).
// It holds the device's private key: callers get its text and decide where it goes
// (a Pulumi secret output, a 0600 file in the admin's home); it is never logged.
import type { Hostnames } from "../../stacks/services/blueprint.ts";
import { EDGE_ADDRESSES } from "../../stacks/platform/network.ts";
import { render } from "../../stacks/platform/templates.ts";
import { decodeWireguardKey } from "../../stacks/services/vpn/keys.ts";
import { vpnAddressing } from "../../stacks/services/vpn/addressing.ts";
import type { DesiredPeer } from "../desired.ts";

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME = /^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/;
/** Member ids and device names are already restricted by the schema; this keeps comments one line. */
const COMMENT_SAFE = /^[a-z0-9._-]+$/;

/** What every device's profile shares: where the server is, which resolver, what goes through. */
export interface PeerNetwork {
  /** `<vpn host>:<port>`. */
  endpoint: string;
  /** The server's tunnel address, where CoreDNS answers. */
  dns: string;
  /** The VPN subnet and the proxy's edge address: only those go through the tunnel. */
  allowedIps: string[];
}

export function peerNetwork(input: { hostnames: Hostnames; port: number; subnet: string }): PeerNetwork {
  const addressing = vpnAddressing(input.subnet);
  return {
    endpoint: `${input.hostnames.vpn}:${input.port}`,
    dns: addressing.serverAddress,
    allowedIps: [addressing.subnet, `${EDGE_ADDRESSES.proxy}/32`],
  };
}

export interface PeerConfigInput extends PeerNetwork {
  peer: DesiredPeer;
  privateKey: string;
  /** The device's tunnel address (see assignPeerAddresses). */
  address: string;
  serverPublicKey: string;
}

function checkCidr(cidr: string): void {
  const [address = "", prefix = "", ...rest] = cidr.split("/");
  if (rest.length > 0 || !IPV4.test(address) || !/^\d{1,2}$/.test(prefix) || Number(prefix) > 32) {
    throw new Error(`VPN profile: AllowedIPs entry "${cidr}" is not an IPv4 network such as 10.13.13.0/24`);
  }
}

function checkEndpoint(endpoint: string): void {
  const match = endpoint.match(/^(.+):(\d{1,5})$/);
  const port = Number(match?.[2]);
  if (!match || !(HOSTNAME.test(match[1]!) || IPV4.test(match[1]!)) || port < 1 || port > 65535) {
    throw new Error(`VPN profile: endpoint "${endpoint}" must be <host name or IPv4 address>:<port>, e.g. vpn.asso-exemple.fr:51820`);
  }
}

/** The wg-quick profile of one device. */
export function peerConfig(input: PeerConfigInput): string {
  const { peer } = input;
  const label = `VPN profile of ${peer.id}`;
  if (!COMMENT_SAFE.test(peer.member) || !COMMENT_SAFE.test(peer.device)) {
    throw new Error(`${label}: member id and device name may hold lower-case letters, digits, . _ - only`);
  }
  decodeWireguardKey(input.privateKey, `${label}: the private key`);
  decodeWireguardKey(input.serverPublicKey, `${label}: the server's public key`);
  if (!IPV4.test(input.address)) throw new Error(`${label}: "${input.address}" is not an IPv4 address`);
  if (!IPV4.test(input.dns)) throw new Error(`${label}: DNS "${input.dns}" is not an IPv4 address`);
  if (input.address === input.dns) throw new Error(`${label}: ${input.address} is the server's own address`);
  checkEndpoint(input.endpoint);
  if (input.allowedIps.length === 0) throw new Error(`${label}: AllowedIPs must not be empty`);
  input.allowedIps.forEach(checkCidr);
  return render("vpn/peer.conf", {
    member: peer.member,
    device: peer.device,
    privateKey: input.privateKey,
    address: `${input.address}/32`,
    dns: input.dns,
    serverPublicKey: input.serverPublicKey,
    endpoint: input.endpoint,
    allowedIps: input.allowedIps.join(", "),
  });
}

/** Longest interface name Linux takes; wg-quick names the interface after the file. */
const IFNAME_MAX = 15;

/**
 * What the tunnel is called on the device: the association's domain name, first label
 * (e.g. `jardins-canal`), cut to fit an interface name. The profile file is `<name>.conf`.
 */
export function tunnelName(hostnames: Pick<Hostnames, "vpn">): string {
  const domainLabel = hostnames.vpn.split(".")[1] ?? "";
  const name = domainLabel.slice(0, IFNAME_MAX).replace(/-+$/, "");
  return /^[a-z0-9][a-z0-9-]*$/.test(name) ? name : "bastide";
}
