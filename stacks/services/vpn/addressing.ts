// The VPN subnet's addresses. Pure, so that the config schema and the blueprint
// check the subnet the same way.
import { EDGE_NETWORK } from "../../platform/network.ts";

const ipv4ToNumber = (address: string) => address.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
const numberToIpv4 = (n: number) => [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join(".");
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export interface VpnAddressing {
  /** The subnet in canonical form, e.g. `10.13.13.0/24`. */
  subnet: string;
  /** The server's tunnel address: the subnet's first host. */
  serverAddress: string;
  /** Whether `address` is a host of the subnet a peer may take. */
  isPeerAddress(address: string): boolean;
}

/** A /30 is the smallest subnet that leaves a host for a peer besides the server. */
const MAX_PREFIX = 30;

export function vpnAddressing(cidr: string): VpnAddressing {
  const [address = "", prefixText = ""] = cidr.split("/");
  const prefix = Number(prefixText);
  if (!IPV4.test(address) || !/^\d{1,2}$/.test(prefixText) || prefix > 32) {
    throw new Error(`"${cidr}" is not an IPv4 network such as 10.13.13.0/24`);
  }
  if (prefix > MAX_PREFIX) {
    throw new Error(`/${prefix} leaves no address for peers; use /${MAX_PREFIX} or larger, e.g. /24`);
  }
  const size = 2 ** (32 - prefix);
  const network = Math.floor(ipv4ToNumber(address) / size) * size;
  const server = network + 1;
  if (overlapsEdgeNetwork(network, size)) throw new Error(`${cidr} overlaps the edge network ${EDGE_NETWORK.subnet}; choose another range`);
  return {
    subnet: `${numberToIpv4(network)}/${prefix}`,
    serverAddress: numberToIpv4(server),
    isPeerAddress: (candidate) => {
      if (!IPV4.test(candidate)) return false;
      const n = ipv4ToNumber(candidate);
      return n > server && n < network + size - 1;
    },
  };
}

function overlapsEdgeNetwork(network: number, size: number): boolean {
  const [edgeAddress = "", edgePrefix = "32"] = EDGE_NETWORK.subnet.split("/");
  const edgeSize = 2 ** (32 - Number(edgePrefix));
  const edgeNetwork = ipv4ToNumber(edgeAddress);
  return network < edgeNetwork + edgeSize && edgeNetwork < network + size;
}
