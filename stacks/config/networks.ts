// Addresses and networks, parsed as networks: "0.0.0.0/1 + 128.0.0.0/1", "::0/0" or
// "::ffff:0.0.0.0/96" are the whole Internet however they are written.
import ipaddr from "ipaddr.js";

/** An inclusive range of addresses of one family; IPv4-mapped IPv6 (::ffff:a.b.c.d) counts as IPv4. */
export interface AddressRange {
  family: 4 | 6;
  first: bigint;
  last: bigint;
}

const BITS = { 4: 32, 6: 128 } as const;

function toBigInt(bytes: number[]): bigint {
  return bytes.reduce((n, byte) => (n << 8n) | BigInt(byte), 0n);
}

function rangeOf(family: 4 | 6, base: bigint, prefix: number): AddressRange {
  const hostBits = BigInt(BITS[family] - prefix);
  const first = (base >> hostBits) << hostBits;
  return { family, first, last: first + (1n << hostBits) - 1n };
}

/** Only the dotted four-part decimal form: ipaddr.js would also read 0x7f.1 or 2130706433 as IPv4. */
const isIpv4 = (text: string) => ipaddr.IPv4.isValidFourPartDecimal(text);
const isIpv6 = (text: string) => !text.includes("%") && ipaddr.IPv6.isValid(text);

/** An address (a /32 or /128) or a network in CIDR form; undefined when it is neither. */
export function parseNetwork(text: string): AddressRange | undefined {
  const [address = "", prefixText, ...rest] = text.trim().split("/");
  if (rest.length > 0 || (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText))) return undefined;
  if (isIpv4(address)) {
    const prefix = prefixText === undefined ? 32 : Number(prefixText);
    return prefix <= 32 ? rangeOf(4, toBigInt(ipaddr.IPv4.parse(address).toByteArray()), prefix) : undefined;
  }
  if (isIpv6(address)) {
    const prefix = prefixText === undefined ? 128 : Number(prefixText);
    if (prefix > 128) return undefined;
    const parsed = ipaddr.IPv6.parse(address);
    if (parsed.isIPv4MappedAddress() && prefix >= 96) return rangeOf(4, toBigInt(parsed.toIPv4Address().toByteArray()), prefix - 96);
    return rangeOf(6, toBigInt(parsed.toByteArray()), prefix);
  }
  return undefined;
}

/** `ranges` merged where they overlap or touch, per family, sorted. */
function union(ranges: AddressRange[]): AddressRange[] {
  const sorted = [...ranges].sort((a, b) => a.family - b.family || (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const merged: AddressRange[] = [];
  for (const range of sorted) {
    const last = merged.at(-1);
    if (last && last.family === range.family && range.first <= last.last + 1n) {
      if (range.last > last.last) last.last = range.last;
    } else merged.push({ ...range });
  }
  return merged;
}

const size = (r: AddressRange) => r.last - r.first + 1n;
const overlap = (a: AddressRange, b: AddressRange): bigint => {
  if (a.family !== b.family) return 0n;
  const first = a.first > b.first ? a.first : b.first;
  const last = a.last < b.last ? a.last : b.last;
  return last >= first ? last - first + 1n : 0n;
};

const cidr = (text: string) => parseNetwork(text)!;

/**
 * IPv4 that is not the public Internet (RFC 6890): "this network", private, shared (CGNAT),
 * loopback, link-local, multicast and reserved. Documentation ranges count as public: the
 * examples use them.
 */
const IPV4_NOT_PUBLIC = union(
  ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4"].map(cidr),
);
/** Where the public IPv6 Internet is: global unicast (RFC 4291 2.4). */
const IPV6_PUBLIC = cidr("2000::/3");

function publicAddressesIn(merged: AddressRange[]): { ipv4: bigint; ipv6: bigint } {
  let ipv4 = 0n;
  let ipv6 = 0n;
  for (const range of merged) {
    if (range.family === 4) ipv4 += size(range) - IPV4_NOT_PUBLIC.reduce((n, r) => n + overlap(range, r), 0n);
    else ipv6 += overlap(range, IPV6_PUBLIC);
  }
  return { ipv4, ipv6 };
}

/**
 * The most of the public Internet `host.adminAddresses` may open SSH to, all entries together:
 * a /16 of IPv4 (65,536 addresses, a large provider's block for a city) and a /32 of IPv6 (a
 * whole provider's allocation). An admin connects from a home or office network, far smaller.
 */
export const SSH_OPEN_BOUND = { ipv4Prefix: 16, ipv6Prefix: 32 } as const;

/** Why `entries` open SSH to too much of the Internet, or undefined. Entries that do not parse are skipped (reported on their own). */
export function sshExposureProblem(entries: readonly string[]): string | undefined {
  const ranges = entries.map(parseNetwork).filter((r): r is AddressRange => r !== undefined);
  const { ipv4, ipv6 } = publicAddressesIn(union(ranges));
  const ipv4Bound = 1n << BigInt(32 - SSH_OPEN_BOUND.ipv4Prefix);
  const ipv6Bound = 1n << BigInt(128 - SSH_OPEN_BOUND.ipv6Prefix);
  const over: string[] = [];
  if (ipv4 > ipv4Bound) over.push(`${ipv4.toLocaleString("en")} public IPv4 addresses (more than a /${SSH_OPEN_BOUND.ipv4Prefix})`);
  if (ipv6 > ipv6Bound) over.push(`about 2^${ipv6.toString(2).length - 1} public IPv6 addresses (more than a /${SSH_OPEN_BOUND.ipv6Prefix})`);
  if (over.length === 0) return undefined;
  return (
    `${JSON.stringify(entries).slice(0, 200)} must not open SSH to the whole Internet, nor to a large part of it: together they open it to ${over.join(" and ")}. ` +
    `Keep only the networks the admin connects from, i.e. list the admin's own addresses (at most a /${SSH_OPEN_BOUND.ipv4Prefix} of IPv4 and a /${SSH_OPEN_BOUND.ipv6Prefix} of IPv6 in all), e.g. 203.0.113.7/32`
  );
}

/** The kind of a single IPv4 address, when it is not one the Internet can reach (ipaddr.js ranges). */
export function nonPublicIpv4Kind(address: string): string | undefined {
  if (!isIpv4(address)) return undefined;
  const range = ipaddr.IPv4.parse(address).range();
  const kinds: Record<string, string> = {
    unspecified: "the unspecified address",
    broadcast: "the broadcast address",
    multicast: "a multicast address",
    linkLocal: "a link-local address",
    loopback: "a loopback address (this machine only)",
    private: "a private address (RFC 1918)",
    carrierGradeNat: "a provider's shared (CGNAT) address",
  };
  return kinds[range];
}

/** The private ranges a VPN subnet may take (RFC 1918). */
export const PRIVATE_IPV4 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] as const;

/** Whether the IPv4 network `text` lies wholly inside a private range. */
export function isPrivateIpv4Network(text: string): boolean {
  const range = parseNetwork(text);
  return range?.family === 4 && PRIVATE_IPV4.map(cidr).some((p) => p.first <= range.first && range.last <= p.last);
}

export { isIpv4, isIpv6 };
