// Networks parsed as networks, never compared as text: `0.0.0.0/1` + `128.0.0.0/1`,
// `::0/0` or `::ffff:0.0.0.0/96` open SSH to the whole Internet as surely as `0.0.0.0/0`.
// How much of the Internet a set of networks lets in, counted on their union, with
// IPv4-mapped IPv6 networks counted as the IPv4 networks they are.
// (Written for the policy pack; the config's adminAddresses check should share it.)
import ipaddr from "ipaddr.js";

/** At most a /16 of IPv4 (65,536 addresses: a large organisation's block). */
export const MAX_SSH_IPV4 = 2n ** 16n;
/** At most a /32 of IPv6 (an Internet provider's whole allocation). */
export const MAX_SSH_IPV6 = 2n ** 96n;

export interface Reach {
  ipv4: bigint;
  ipv6: bigint;
  /** Entries that are neither an address nor a network. */
  unreadable: string[];
}

interface Interval {
  start: bigint;
  size: bigint;
}

const toBigInt = (bytes: number[]) => bytes.reduce((n, b) => (n << 8n) | BigInt(b), 0n);

/** The addresses of a union of intervals, overlaps counted once. */
function unionSize(intervals: Interval[]): bigint {
  let total = 0n;
  let end = -1n;
  for (const { start, size } of [...intervals].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))) {
    const last = start + size - 1n;
    if (last <= end) continue;
    total += last - (start > end ? start : end + 1n) + 1n;
    end = last;
  }
  return total;
}

function interval(entry: string): { family: "ipv4" | "ipv6"; interval: Interval } | undefined {
  const text = entry.trim();
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  let prefix: number;
  try {
    if (text.includes("/")) [address, prefix] = ipaddr.parseCIDR(text);
    else {
      address = ipaddr.parse(text);
      prefix = address.kind() === "ipv4" ? 32 : 128;
    }
  } catch {
    return undefined;
  }
  // ::ffff:a.b.c.d/96+n is the IPv4 network a.b.c.d/n.
  if (address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress() && prefix >= 96) {
    address = (address as ipaddr.IPv6).toIPv4Address();
    prefix -= 96;
  }
  const bits = address.kind() === "ipv4" ? 32 : 128;
  const size = 2n ** BigInt(bits - prefix);
  const start = (toBigInt(address.toByteArray()) / size) * size;
  return { family: address.kind() as "ipv4" | "ipv6", interval: { start, size } };
}

export function reach(networks: readonly string[]): Reach {
  const byFamily: Record<"ipv4" | "ipv6", Interval[]> = { ipv4: [], ipv6: [] };
  const unreadable: string[] = [];
  for (const entry of networks) {
    const parsed = interval(entry);
    if (parsed) byFamily[parsed.family].push(parsed.interval);
    else unreadable.push(entry);
  }
  return { ipv4: unionSize(byFamily.ipv4), ipv6: unionSize(byFamily.ipv6), unreadable };
}

/** Why these networks open SSH too widely, or undefined when they are bounded. */
export function sshReachProblem(networks: readonly string[]): string | undefined {
  const { ipv4, ipv6, unreadable } = reach(networks);
  if (unreadable.length > 0) return `${unreadable.map((u) => JSON.stringify(u)).join(", ")} is not an IP address or network`;
  const parts: string[] = [];
  if (ipv4 > MAX_SSH_IPV4) parts.push(`${ipv4} IPv4 addresses (more than a /16)`);
  if (ipv6 > MAX_SSH_IPV6) parts.push(`${ipv6 >= 2n ** 127n ? "half or more of all" : "a share of"} IPv6 addresses (more than a /32)`);
  return parts.length > 0 ? `together they let ${parts.join(" and ")} reach SSH` : undefined;
}
