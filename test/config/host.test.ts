// Issue 9, items 3, 4 and 5: SSH open to the Internet however it is written, the SSH
// host's fields, and lookups that must not find an object's inherited keys.
import test from "ava";
import { SSH_OPEN_BOUND, sshExposureProblem } from "../../stacks/config/networks.ts";
import { hetznerHost, refusedAt, sshHost, validated, type Input } from "./support.ts";

const scalewayHost = (edit: Input = {}) => ({ ...hetznerHost(), target: "scaleway", zone: "fr-par-1", serverType: "DEV1-XL", location: undefined, ...edit });

// Item 3: every way of writing "the whole Internet", and large parts of it
const OPEN: [string, string[]][] = [
  ["two halves of IPv4", ["0.0.0.0/1", "128.0.0.0/1"]],
  ["::0/0", ["::0/0"]],
  ["0::/0", ["0::/0"]],
  ["all IPv4, IPv4-mapped", ["::ffff:0.0.0.0/96"]],
  ["all global IPv6 unicast", ["2000::/3"]],
  ["four /2s", ["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"]],
  ["0.0.0.0/0", ["0.0.0.0/0"]],
  ["a /8 of public IPv4", ["203.0.113.7/32", "8.0.0.0/8"]],
  ["a /15 of public IPv4, as two /16s", ["81.10.0.0/16", "81.11.0.0/16"]],
  ["a /31 of IPv6", ["2001:db8::/31"]],
];
for (const [what, adminAddresses] of OPEN) {
  test(`SSH: refuses ${what}`, (t) => {
    refusedAt(t, (i) => (i.host = hetznerHost({ adminAddresses })), "host.adminAddresses", "nor to a large part of it", "Keep only the networks the admin connects from");
    refusedAt(t, (i) => (i.host = scalewayHost({ adminAddresses })), "host.adminAddresses", "nor to a large part of it");
  });
}

const NARROW: [string, string[]][] = [
  ["one address", ["203.0.113.7"]],
  ["a home network and an office /48", ["198.51.100.0/24", "2001:db8:1::/48"]],
  ["exactly a /16", ["81.10.0.0/16"]],
  ["the same /16 listed twice", ["81.10.0.0/16", "81.10.0.0/17"]],
  ["exactly a /32 of IPv6", ["2001:db8::/32"]],
  ["a large private network (not the Internet)", ["10.0.0.0/8"]],
];
for (const [what, adminAddresses] of NARROW) {
  test(`SSH: accepts ${what}`, (t) => {
    const config = validated((i) => (i.host = hetznerHost({ adminAddresses })));
    t.deepEqual(config.host.target === "hetzner" ? config.host.adminAddresses : [], adminAddresses);
  });
}

test("SSH: the bound is a /16 of IPv4 and a /32 of IPv6, and the message says it", (t) => {
  t.deepEqual(SSH_OPEN_BOUND, { ipv4Prefix: 16, ipv6Prefix: 32 });
  t.is(sshExposureProblem(["81.10.0.0/16"]), undefined);
  t.regex(sshExposureProblem(["81.10.0.0/16", "81.12.0.0/32"]) ?? "", /more than a \/16.*at most a \/16 of IPv4 and a \/32 of IPv6/);
});

test("SSH: an entry that is no network is refused with its value", (t) => {
  refusedAt(t, (i) => (i.host = hetznerHost({ adminAddresses: ["0x7f.1/8"] })), "host.adminAddresses[0]", '"0x7f.1/8"', "such as 203.0.113.7/32");
});

// Item 4: the SSH host's address, user and public address
const BAD_SSH: [string, Input, string, string][] = [
  ["an ssh option as address", { address: "-oProxyCommand=touch /tmp/pwned" }, "host.address", "no @, spaces, options or commands"],
  ["user@host@host as address", { address: "root@203.0.113.7@evil.example" }, "host.address", "is not a server name or IP address"],
  ["a command after the address", { address: "203.0.113.7;reboot" }, "host.address", "is not a server name or IP address"],
  ["user with @", { user: "root@evil.example" }, "host.user", "must be a login name"],
  ["user starting with -", { user: "-oProxyCommand=x" }, "host.user", "must be a login name"],
  ["a ; in the public address", { publicAddress: "203.0.113.7;8.8.8.8" }, "host.publicAddress", "public IPv4 address"],
  ["loopback as public address", { publicAddress: "127.0.0.1" }, "host.publicAddress", "loopback"],
  ["a private public address", { publicAddress: "192.168.1.10" }, "host.publicAddress", "private address"],
  ["a private address and no public address", { address: "10.0.0.5" }, "host.publicAddress", "set host.publicAddress"],
];
for (const [what, edit, path, says] of BAD_SSH) {
  test(`ssh host: refuses ${what}, showing it`, (t) => {
    const value = Object.values(edit)[0] as string;
    refusedAt(t, (i) => (i.host = sshHost(edit)), path, says, JSON.stringify(value).slice(0, 12));
  });
}

test("ssh host: a name, a login and a public address are accepted", (t) => {
  const config = validated((i) => (i.host = sshHost({ address: "serveur.asso-exemple.fr", user: "deploy", publicAddress: "198.51.100.20" })));
  t.like(config.host, { address: "serveur.asso-exemple.fr", user: "deploy", publicAddress: "198.51.100.20" });
  t.like(validated((i) => (i.host = sshHost({ address: "10.0.0.5", publicAddress: "198.51.100.20" }))).host, { address: "10.0.0.5" });
});

// Item 5: lookups that must not find inherited keys
for (const key of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
  test(`lookups: ${key} is no Hetzner location, server type, Scaleway zone or type`, (t) => {
    refusedAt(t, (i) => (i.host = hetznerHost({ location: key })), "host.location", `"${key}" is not a known Hetzner location`);
    refusedAt(t, (i) => (i.host = hetznerHost({ serverType: key })), "host.serverType", `"${key}" is not a known Hetzner server type`);
    refusedAt(t, (i) => (i.host = scalewayHost({ zone: key })), "host.zone", `"${key}" is not an EU Scaleway zone`);
    refusedAt(t, (i) => (i.host = scalewayHost({ serverType: key })), "host.serverType", `"${key}" is not a known Scaleway instance type`);
  });
}
