// Staff devices on the VPN: stable addresses, per-device keys checked by `wg`, the device
// profile read by `wg-quick strip` and brought up by `wg-quick`, a real tunnel between the
// server conf and a device profile in network namespaces (ping through it, revocation
// stops it), QR codes decoded by zbarimg, and the server's peer list planned from the config.
import test from "ava";
import { wgPubkey, wgQuickStrip, wgSections } from "../support/wireguard.ts";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { assignPeerAddresses, peerCapacity } from "../../provisioners/vpn/addresses.ts";
import { PEER_SEED_LENGTH, peerKeyPair, peerSeedSecretName } from "../../provisioners/vpn/keys.ts";
import { peerConfig, peerNetwork, tunnelName, type PeerConfigInput } from "../../provisioners/vpn/peer-config.ts";
import { peerQrCode } from "../../provisioners/vpn/qr.ts";
import { activePeers, peerLedger, planServerPeers, serverConfWithPeers, serverPeers, type PeerLedger } from "../../provisioners/vpn/server.ts";
import { deviceProfiles } from "../../provisioners/vpn/profiles.ts";
import { desiredState, type DesiredState } from "../../provisioners/desired.ts";
import { ProvisionError } from "../../provisioners/model.ts";
import { serverPrivateKey, serverPublicKey } from "../../stacks/services/vpn/blueprint.ts";
import { vpnAddressing } from "../../stacks/services/vpn/addressing.ts";
import { EDGE_ADDRESSES } from "../../stacks/platform/network.ts";
import { hostnames } from "../../stacks/services/catalog.ts";
import type { Association } from "../../stacks/config/schema.ts";
import { exampleAssociation } from "../support/association.ts";
import { requireProgram, run, scratch } from "../support/programs.ts";

// Fake seeds, for tests only: the real ones are generated Pulumi secrets.
const SERVER_SEED = "fakeServerSeedForTestsOnly0123456789abcdefghijklmnopqrstuvwxyzAB";
const seedOf = (peerId: string, generation = 0) => `fakePeerSeed-${peerId}-${generation}`.padEnd(PEER_SEED_LENGTH, "x");
const seedsFor = (desired: Pick<DesiredState, "vpn">, generation = 0) =>
  Object.fromEntries((desired.vpn?.peers ?? []).map((p) => [p.id, seedOf(p.id, generation)]));

const SUBNET = "10.13.13.0/24";
const ids = (...names: string[]) => names.map((id) => ({ id }));

// --- the real tools -----------------------------------------------------------------------

// This sandbox has no WireGuard kernel module: wg-quick falls back to wireguard-go, as it
// does anywhere. Everything runs in network, mount and PID namespaces of its own: a private
// /run (wireguard-go's sockets, `ip netns`), a private /etc/hosts (the endpoint's name) and
// a stand-in resolvconf that records what wg-quick would give the system resolver.
const HARNESS = `set -eu
D="$1"
mount -t tmpfs bastide-run /run
mkdir -p /run/netns /run/wireguard
mount --bind "$D/hosts" /etc/hosts
export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1
export PATH="$D/bin:$PATH"
ip link set lo up
. "$D/scenario.sh"
`;

const RESOLVCONF_SHIM = `#!/bin/sh
{ echo "resolvconf $*"; cat; } >> "$(dirname "$0")/../resolvconf.log"
`;

/** The endpoint's address in the namespaces: TEST-NET-1, on the veth between device and server. */
const SERVER_UNDERLAY = "192.0.2.1";
const DEVICE_UNDERLAY = "192.0.2.2";

interface NamespaceRun {
  out: Map<string, string>;
  resolvconf: string;
}

/** Runs `scenario` (sh) in fresh namespaces, with `files` (mode 0600) beside it in $D. */
function inNamespaces(scenario: string, files: Record<string, string>, hostname: string): NamespaceRun {
  const unshare = requireProgram("unshare", "util-linux");
  for (const [program, pkg] of [["wg-quick", "wireguard-tools"], ["wireguard-go", "wireguard-go"], ["ip", "iproute2"], ["iptables", "iptables"], ["ping", "iputils-ping"]] as const) {
    requireProgram(program, pkg);
  }
  const dir = scratch({ "harness.sh": HARNESS, "scenario.sh": scenario, hosts: `127.0.0.1 localhost\n${SERVER_UNDERLAY} ${hostname}\n`, "resolvconf.log": "" });
  try {
    mkdirSync(join(dir, "bin"));
    writeFileSync(join(dir, "bin", "resolvconf"), RESOLVCONF_SHIM, { mode: 0o755 });
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(join(dir, name, ".."), { recursive: true });
      writeFileSync(join(dir, name), content);
      chmodSync(join(dir, name), 0o600);
    }
    // A PID namespace too: wireguard-go daemonises, and whatever is left of it is killed
    // and reaped with the namespace when the scenario ends, even half-way.
    const result = run(unshare, ["--net", "--mount", "--pid", "--fork", "--mount-proc", "sh", join(dir, "harness.sh"), dir]);
    if (result.status !== 0) throw new Error(`the namespace scenario failed (${result.status}): ${result.stderr.trim()}`);
    const out = new Map<string, string>();
    for (const chunk of result.stdout.split("@@").slice(1)) {
      const [name, ...body] = chunk.split("\n");
      out.set(name!.trim(), body.join("\n").trim());
    }
    return { out, resolvconf: readFileSync(join(dir, "resolvconf.log"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// --- addresses ----------------------------------------------------------------------------

test("new devices get the lowest free hosts, after the server's", (t) => {
  t.deepEqual(assignPeerAddresses(ids("a", "b", "c"), {}, SUBNET), { a: "10.13.13.2", b: "10.13.13.3", c: "10.13.13.4" });
  t.deepEqual(assignPeerAddresses(ids("a"), {}, "10.77.5.9/16"), { a: "10.77.0.2" });
});

test("a device keeps its address when others are added or removed", (t) => {
  const first = assignPeerAddresses(ids("a", "b", "c"), {}, SUBNET);
  const withoutB = assignPeerAddresses(ids("a", "c"), first, SUBNET);
  t.deepEqual(withoutB, { a: "10.13.13.2", c: "10.13.13.4" });
  // A newcomer listed first takes the freed host; the others do not move.
  const withD = assignPeerAddresses(ids("d", "a", "c"), withoutB, SUBNET);
  t.deepEqual(withD, { d: "10.13.13.3", a: "10.13.13.2", c: "10.13.13.4" });
  t.deepEqual(Object.keys(withD), ["d", "a", "c"], "in the order of the peers");
});

test("addresses that no longer fit are given again", (t) => {
  const previous = {
    outside: "10.99.0.2", // the subnet changed
    server: "10.13.13.1",
    broadcast: "10.13.13.255",
    network: "10.13.13.0",
    garbage: "not an address",
    first: "10.13.13.7",
    duplicate: "10.13.13.7", // a corrupt ledger: the first peer listed keeps it
  };
  const assigned = assignPeerAddresses(ids("first", "duplicate", "outside", "server", "broadcast", "network", "garbage"), previous, SUBNET);
  t.is(assigned.first, "10.13.13.7");
  const others = ["duplicate", "outside", "server", "broadcast", "network", "garbage"].map((id) => assigned[id]);
  t.deepEqual(others, ["10.13.13.2", "10.13.13.3", "10.13.13.4", "10.13.13.5", "10.13.13.6", "10.13.13.8"]);
});

test("a full subnet is refused, naming services.vpn.subnet", (t) => {
  t.is(peerCapacity("10.13.13.8/30"), 1);
  t.is(peerCapacity("10.13.13.0/29"), 5);
  t.is(peerCapacity(SUBNET), 253);
  const five = ids("a", "b", "c", "d", "e");
  t.deepEqual(Object.values(assignPeerAddresses(five, {}, "10.13.13.0/29")), ["10.13.13.2", "10.13.13.3", "10.13.13.4", "10.13.13.5", "10.13.13.6"]);
  const error = t.throws(() => assignPeerAddresses([...five, { id: "f" }], {}, "10.13.13.0/29"));
  t.regex(error!.message, /^services\.vpn\.subnet: 10\.13\.13\.0\/29 has room for 5 devices besides the server, but 6 are listed; choose a larger subnet/);
  t.throws(() => assignPeerAddresses(ids("a", "b"), {}, "10.13.13.8/30"), { message: /room for 1 device besides/ });
  t.throws(() => assignPeerAddresses(ids("a", "a"), {}, SUBNET), { message: /"a" is listed twice/ });
});

test("over many runs of adds and removes, present devices never move and never share", (t) => {
  // A fixed pseudo-random sequence: the same every run, bounded.
  let state = 12345;
  const random = (n: number) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
  const subnet = "10.13.13.0/28"; // 13 devices: often full, so freed hosts are reused
  const addressing = vpnAddressing(subnet);
  let present: string[] = [];
  let previous: Record<string, string> = {};
  let next = 0;
  for (let runIndex = 0; runIndex < 300; runIndex++) {
    const kept = present.filter(() => random(4) !== 0);
    const added = Array.from({ length: random(4) }, () => `device-${next++}`).slice(0, peerCapacity(subnet) - kept.length);
    // Newcomers anywhere in the list, as in a config.
    present = [...kept];
    for (const id of added) present.splice(random(present.length + 1), 0, id);
    const assigned = assignPeerAddresses(ids(...present), previous, subnet);
    for (const id of kept) t.is(assigned[id], previous[id], `run ${runIndex}: ${id} moved`);
    const addresses = Object.values(assigned);
    t.is(new Set(addresses).size, addresses.length, `run ${runIndex}: shared address`);
    t.true(addresses.every((a) => addressing.isPeerAddress(a)));
    previous = assigned;
  }
});

// --- keys ---------------------------------------------------------------------------------

test("each device's key pair comes from its own seed; `wg pubkey` agrees", (t) => {
  const desired = desiredState(exampleAssociation());
  const seeds = seedsFor(desired);
  const pairs = Object.values(seeds).map(peerKeyPair);
  for (const pair of pairs) t.is(pair.publicKey, wgPubkey(pair.privateKey));
  t.is(new Set(pairs.map((p) => p.privateKey)).size, pairs.length);
  t.deepEqual(peerKeyPair(seeds["karim.benali-phone"]!), peerKeyPair(seeds["karim.benali-phone"]!), "stable across runs");
  t.not(peerKeyPair(seedOf("karim.benali-phone", 1)).publicKey, pairs[2]!.publicKey, "a new seed, a new key");
  const names = desired.vpn!.peers.map((p) => peerSeedSecretName(p.id));
  t.deepEqual(names, ["peer-claire.dubois-laptop-key-seed", "peer-karim.benali-laptop-key-seed", "peer-karim.benali-phone-key-seed"]);
});

// --- the device profile -------------------------------------------------------------------

function exampleProfileInput(config: Association = exampleAssociation()): PeerConfigInput {
  const desired = desiredState(config);
  const peer = desired.vpn!.peers[0]!;
  return {
    peer,
    privateKey: peerKeyPair(seedOf(peer.id)).privateKey,
    address: "10.13.13.2",
    serverPublicKey: serverPublicKey(SERVER_SEED),
    ...peerNetwork({ hostnames: hostnames(config), port: config.services.vpn.port, subnet: config.services.vpn.subnet }),
  };
}

test("the shared part of every profile: the VPN host and port, the server's resolver, the subnet and the proxy", (t) => {
  const config = exampleAssociation();
  t.deepEqual(peerNetwork({ hostnames: hostnames(config), port: 51820, subnet: "10.13.13.0/24" }), {
    endpoint: "vpn.jardins-canal.localhost:51820",
    dns: "10.13.13.1",
    allowedIps: ["10.13.13.0/24", `${EDGE_ADDRESSES.proxy}/32`],
  });
  const custom = exampleAssociation((input) => {
    input.services.vpn = { port: 51999, subnet: "10.77.5.0/16", subdomain: "tunnel" };
  });
  t.deepEqual(peerNetwork({ hostnames: hostnames(custom), port: 51999, subnet: "10.77.5.0/16" }), {
    endpoint: "tunnel.jardins-canal.localhost:51999",
    dns: "10.77.0.1",
    allowedIps: ["10.77.0.0/16", `${EDGE_ADDRESSES.proxy}/32`],
  });
  t.is(tunnelName(hostnames(config)), "jardins-canal");
  t.is(tunnelName({ vpn: "vpn.association-des-jardins.fr" }), "association-des", "cut to an interface name, no trailing hyphen");
  t.regex(tunnelName({ vpn: "vpn.les-amis-du-quartier-nord.org" }), /^[a-z0-9-]{1,15}$/);
});

test("the profile is what wg-quick expects, and `wg-quick strip` reads it", (t) => {
  const input = exampleProfileInput();
  const conf = peerConfig(input);
  const [iface, peer, ...rest] = wgSections(conf);
  t.is(rest.length, 0);
  t.is(iface!.name, "Interface");
  t.deepEqual(iface!.values, { PrivateKey: input.privateKey, Address: "10.13.13.2/32", DNS: "10.13.13.1" });
  t.is(peer!.name, "Peer");
  t.deepEqual(peer!.values, {
    PublicKey: serverPublicKey(SERVER_SEED),
    Endpoint: "vpn.jardins-canal.localhost:51820",
    AllowedIPs: `10.13.13.0/24, ${EDGE_ADDRESSES.proxy}/32`,
  });
  t.true(conf.startsWith("# VPN profile of claire.dubois (laptop)"));

  const stripped = wgSections(wgQuickStrip(conf, "jardins-canal"));
  t.notRegex(JSON.stringify(stripped), /Address|DNS/, "wg-quick keeps its own keys");
  t.deepEqual(stripped[0]!.values, { PrivateKey: input.privateKey });
  t.deepEqual(stripped[1]!.values, peer!.values);
});

test("a device profile comes up with wg-quick: its key, the server as peer, routes for the subnet and proxy only, the VPN resolver", (t) => {
  const input = exampleProfileInput();
  const scenario = `
wg-quick up "$D/jardins-canal.conf" >&2
echo "@@showconf"; wg showconf jardins-canal
echo "@@address"; ip -4 -o address show dev jardins-canal
echo "@@routes"; ip -4 route show
wg-quick down "$D/jardins-canal.conf" >&2
echo "@@after-down"; ip link show
`;
  const { out, resolvconf } = inNamespaces(scenario, { "jardins-canal.conf": peerConfig(input) }, "vpn.jardins-canal.localhost");
  const [iface, server] = wgSections(out.get("showconf")!);
  t.is(iface!.values.PrivateKey, input.privateKey);
  t.is(server!.values.PublicKey, serverPublicKey(SERVER_SEED));
  t.is(server!.values.Endpoint, `${SERVER_UNDERLAY}:51820`, "the VPN host name resolved");
  t.deepEqual(server!.values.AllowedIPs!.split(/,\s*/).sort(), ["10.13.13.0/24", `${EDGE_ADDRESSES.proxy}/32`].sort());
  t.regex(out.get("address")!, /inet 10\.13\.13\.2\/32 /);
  const routes = out.get("routes")!.split("\n");
  t.true(routes.some((r) => r.startsWith("10.13.13.0/24 dev jardins-canal")));
  t.true(routes.some((r) => r.startsWith(`${EDGE_ADDRESSES.proxy} dev jardins-canal`)));
  t.false(routes.some((r) => r.startsWith("default")), "the device's other traffic does not go through the VPN");
  t.regex(resolvconf, /resolvconf -a jardins-canal .*\nnameserver 10\.13\.13\.1\n/);
  t.notRegex(out.get("after-down")!, /jardins-canal/);
});

test("profiles that cannot work are refused with the reason", (t) => {
  const input = exampleProfileInput();
  const refuse = (change: Partial<PeerConfigInput>, message: RegExp) => t.throws(() => peerConfig({ ...input, ...change }), { message });
  refuse({ privateKey: "AAAA" }, /VPN profile of claire\.dubois-laptop: the private key must be 32 bytes/);
  refuse({ serverPublicKey: "nope" }, /the server's public key must be 32 bytes/);
  refuse({ address: "10.13.13.300" }, /not an IPv4 address/);
  refuse({ address: "10.13.13.1" }, /the server's own address/);
  refuse({ dns: "resolver" }, /DNS "resolver"/);
  refuse({ endpoint: "vpn.jardins-canal.localhost" }, /endpoint .* must be <host name or IPv4 address>:<port>/);
  refuse({ endpoint: "vpn.jardins-canal.localhost:70000" }, /endpoint/);
  refuse({ endpoint: "vpn bad:51820" }, /endpoint/);
  refuse({ allowedIps: [] }, /AllowedIPs must not be empty/);
  refuse({ allowedIps: ["10.13.13.0/24", "0.0.0.0/33"] }, /"0\.0\.0\.0\/33" is not an IPv4 network/);
  refuse({ peer: { ...input.peer, device: "laptop\nPostUp = rm -rf /" } }, /may hold lower-case letters/);
  t.notThrows(() => peerConfig({ ...input, endpoint: "203.0.113.7:51820" }));
});

// --- a real tunnel ------------------------------------------------------------------------

test("through a real tunnel, a device reaches the server and the proxy; a removed device no longer connects", (t) => {
  const config = exampleAssociation();
  const desired = desiredState(config);
  const seeds = seedsFor(desired);
  const { subnet, port } = config.services.vpn;
  const network = peerNetwork({ hostnames: hostnames(config), port, subnet });

  // First run: three devices. Then karim.benali's phone is removed from the config.
  const before = serverPeers(desired, { subnet, seeds, previous: {} });
  const profiles = deviceProfiles(before, { seeds, network, serverPublicKey: serverPublicKey(SERVER_SEED) });
  const withoutPhone = structuredClone(desired);
  withoutPhone.vpn!.peers = withoutPhone.vpn!.peers.filter((p) => p.id !== "karim.benali-phone");
  const after = serverPeers(withoutPhone, { subnet, seeds, previous: peerLedger(before) });
  const conf = serverConfWithPeers({ subnet, port, privateKey: serverPrivateKey(SERVER_SEED), peers: after });

  // Three namespaces: the device, the VPN server, and the proxy on the edge network. The
  // proxy has no route back to the VPN subnet: replies only come back if the server
  // masquerades the device behind its edge address, as its PostUp rules do.
  const scenario = `
for n in device server proxy; do ip netns add $n; ip -n $n link set lo up; done
ip link add underlay netns device type veth peer name underlay netns server
ip -n device address add ${DEVICE_UNDERLAY}/24 dev underlay; ip -n device link set underlay up
ip -n server address add ${SERVER_UNDERLAY}/24 dev underlay; ip -n server link set underlay up
ip link add edge netns server type veth peer name edge netns proxy
ip -n server address add ${EDGE_ADDRESSES.vpn}/24 dev edge; ip -n server link set edge up
ip -n proxy address add ${EDGE_ADDRESSES.proxy}/24 dev edge; ip -n proxy link set edge up
ip netns exec server sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
probe() { if ip netns exec device ping -n -q -c 1 -w 4 "$1" >/dev/null 2>&1; then echo "@@$2"; echo reached; else echo "@@$2"; echo unreachable; fi; }

ip netns exec server wg-quick up "$D/wg0.conf" >&2
ip netns exec device wg-quick up "$D/laptop/jardins-canal.conf" >&2
probe ${vpnAddressing(subnet).serverAddress} laptop-server
probe ${EDGE_ADDRESSES.proxy} laptop-proxy
echo "@@handshakes"; ip netns exec server wg show wg0 latest-handshakes
ip netns exec device wg-quick down "$D/laptop/jardins-canal.conf" >&2

ip netns exec device wg-quick up "$D/phone/jardins-canal.conf" >&2
probe ${vpnAddressing(subnet).serverAddress} phone-server
probe ${EDGE_ADDRESSES.proxy} phone-proxy
ip netns exec device wg-quick down "$D/phone/jardins-canal.conf" >&2
ip netns exec server wg-quick down "$D/wg0.conf" >&2
`;
  const { out } = inNamespaces(
    scenario,
    {
      "wg0.conf": conf,
      "laptop/jardins-canal.conf": profiles["karim.benali-laptop"]!,
      "phone/jardins-canal.conf": profiles["karim.benali-phone"]!,
    },
    "vpn.jardins-canal.localhost",
  );
  t.is(out.get("laptop-server"), "reached");
  t.is(out.get("laptop-proxy"), "reached", "through the tunnel, masqueraded to the proxy");
  t.is(out.get("phone-server"), "unreachable", "the removed device's key is no longer accepted");
  t.is(out.get("phone-proxy"), "unreachable");

  const laptopKey = after.find((p) => p.id === "karim.benali-laptop")!.publicKey;
  const handshakes = new Map(out.get("handshakes")!.split("\n").map((l) => l.split("\t") as [string, string]));
  t.true(Number(handshakes.get(laptopKey)) > 0, "the laptop completed a handshake");
  t.is(handshakes.get(before.find((p) => p.id === "karim.benali-phone")!.publicKey), undefined, "the phone is not in the server's list");
});

// --- QR codes -----------------------------------------------------------------------------

const zbarimg = () => requireProgram("zbarimg", "zbar-tools");

function decodeQr(png: Buffer): string {
  const dir = scratch();
  try {
    writeFileSync(join(dir, "code.png"), png, { mode: 0o600 });
    const result = run(zbarimg(), ["--raw", "--quiet", join(dir, "code.png")]);
    if (result.status !== 0) throw new Error(`zbarimg found no QR code (${result.status}): ${result.stderr.trim()}`);
    // zbarimg ends each decoded symbol with a newline of its own.
    return result.stdout.replace(/\n$/, "");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The SVG as a browser draws it, as a PNG: Chromium renders, zbarimg decodes. */
function svgScreenshot(svg: string): Buffer {
  const chromium = requireProgram("chromium", "chromium");
  const dir = scratch({ "code.svg": svg });
  try {
    const shot = join(dir, "shot.png");
    const result = run(chromium, [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run",
      `--user-data-dir=${join(dir, "profile")}`, "--hide-scrollbars", "--window-size=700,700", `--screenshot=${shot}`, `file://${join(dir, "code.svg")}`,
    ]);
    if (result.status !== 0) throw new Error(`chromium could not render the SVG: ${result.stderr.trim()}`);
    return readFileSync(shot);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The terminal rendering back to an image. Each character is two modules, one above the
 * other: the glyph's half is drawn in the current foreground colour, the rest is background.
 * qrcode draws dark modules in black on a white background; its outer border rows use
 * white glyphs on the terminal's own background, which count as light.
 */
function terminalToPbm(terminal: string): string {
  const GLYPHS: Record<string, [boolean, boolean]> = { " ": [false, false], "▀": [true, false], "▄": [false, true], "█": [true, true] };
  const rows: boolean[][] = [];
  for (const line of terminal.split("\n")) {
    let foregroundBlack = false;
    const cells: [boolean, boolean][] = [];
    for (const token of line.match(/\x1b\[[0-9;]*m|[^\x1b]/gu) ?? []) {
      if (token.startsWith("\x1b")) {
        const codes = token.slice(2, -1).split(";");
        if (codes.includes("0")) foregroundBlack = false;
        if (codes.includes("30")) foregroundBlack = true;
        if (codes.includes("37")) foregroundBlack = false;
        continue;
      }
      const glyph = GLYPHS[token];
      if (!glyph) throw new Error(`unexpected character ${JSON.stringify(token)} in the terminal QR code`);
      cells.push(foregroundBlack ? glyph : [false, false]);
    }
    if (cells.length > 0) rows.push(cells.map(([top]) => top), cells.map(([, bottom]) => bottom));
  }
  const scale = 4;
  const quiet = 4;
  const width = (rows[0]!.length + 2 * quiet) * scale;
  const blank = Array<string>(width).fill("0").join(" ");
  const lines: string[] = [];
  for (let q = 0; q < quiet * scale; q++) lines.push(blank);
  for (const row of rows) {
    const padded = [...Array<boolean>(quiet).fill(false), ...row, ...Array<boolean>(quiet).fill(false)];
    const line = padded.flatMap((dark) => Array<string>(scale).fill(dark ? "1" : "0")).join(" ");
    for (let s = 0; s < scale; s++) lines.push(line);
  }
  for (let q = 0; q < quiet * scale; q++) lines.push(blank);
  return `P1\n${width} ${lines.length}\n${lines.join("\n")}\n`;
}

test("the profile's QR code, as PNG, SVG and terminal art, decodes to the exact profile", async (t) => {
  const profile = peerConfig(exampleProfileInput());
  const qr = await peerQrCode(profile);
  t.deepEqual([...qr.png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "a PNG");
  t.is(decodeQr(qr.png), profile);
  t.is(decodeQr(svgScreenshot(qr.svg)), profile);

  const dir = scratch({ "code.pbm": terminalToPbm(qr.terminal) });
  try {
    const result = run(zbarimg(), ["--raw", "--quiet", join(dir, "code.pbm")]);
    t.is(result.stdout.replace(/\n$/, ""), profile);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the QR decode is not vacuous: another profile gives another code", async (t) => {
  const input = exampleProfileInput();
  const one = peerConfig(input);
  const other = peerConfig({ ...input, address: "10.13.13.9" });
  t.not(decodeQr((await peerQrCode(other)).png), one);
  t.throws(() => decodeQr(Buffer.from("not a png")), { message: /zbarimg found no QR code/ });
});

// --- the server's peer list ---------------------------------------------------------------

const exampleRun = (edit?: (input: Record<string, any>) => void, previous: PeerLedger = {}) => {
  const desired = desiredState(exampleAssociation(edit));
  const peers = serverPeers(desired, { subnet: SUBNET, seeds: seedsFor(desired), previous });
  return { desired, peers, changes: planServerPeers(peers, previous) };
};

test("a first run adds one peer per device, with its derived public key and the lowest hosts", (t) => {
  const { peers, changes } = exampleRun();
  t.deepEqual(
    peers.map((p) => [p.id, p.member, p.device, p.address]),
    [
      ["claire.dubois-laptop", "claire.dubois", "laptop", "10.13.13.2"],
      ["karim.benali-laptop", "karim.benali", "laptop", "10.13.13.3"],
      ["karim.benali-phone", "karim.benali", "phone", "10.13.13.4"],
    ],
  );
  for (const peer of peers) t.is(peer.publicKey, wgPubkey(peerKeyPair(seedOf(peer.id)).privateKey));
  t.deepEqual(changes.map((c) => [c.kind, c.subject, c.member, c.phase]), [
    ["peer.add", "VPN peer claire.dubois-laptop (10.13.13.2)", "claire.dubois", 1],
    ["peer.add", "VPN peer karim.benali-laptop (10.13.13.3)", "karim.benali", 1],
    ["peer.add", "VPN peer karim.benali-phone (10.13.13.4)", "karim.benali", 1],
  ]);
  t.true(changes.every((c) => c.service === "vpn"));
});

test("a second run with the same config changes nothing", (t) => {
  const first = exampleRun();
  const second = exampleRun(undefined, peerLedger(first.peers));
  t.deepEqual(second.changes, []);
  t.deepEqual(second.peers, first.peers);
});

test("removing a device removes its peer only; the others keep their addresses", (t) => {
  const first = exampleRun();
  const second = exampleRun((input) => {
    input.members[1].devices = [{ name: "phone" }];
  }, peerLedger(first.peers));
  t.deepEqual(second.changes.map((c) => [c.kind, c.subject, c.phase]), [["peer.remove", "VPN peer karim.benali-laptop (10.13.13.3)", 0]]);
  t.deepEqual(second.peers.map((p) => [p.id, p.address]), [["claire.dubois-laptop", "10.13.13.2"], ["karim.benali-phone", "10.13.13.4"]]);
  // A device added next takes the freed host, after the removal in phase order.
  const third = exampleRun((input) => {
    input.members[1].devices = [{ name: "phone" }];
    input.members[0].devices.push({ name: "tablet" });
  }, peerLedger(second.peers));
  t.deepEqual(third.changes.map((c) => [c.kind, c.subject]), [["peer.add", "VPN peer claire.dubois-tablet (10.13.13.3)"]]);
});

test("a departed member's devices all leave the server's list", (t) => {
  const first = exampleRun();
  // Removed from the config: the ledger of departures lists them as disabled this run.
  const desired = desiredState(exampleAssociation((input) => {
    input.members = input.members.filter((m: { id: string }) => m.id !== "karim.benali");
  }));
  desired.departures.disable = ["karim.benali"];
  const peers = serverPeers(desired, { subnet: SUBNET, seeds: seedsFor(desired), previous: peerLedger(first.peers) });
  t.deepEqual(planServerPeers(peers, peerLedger(first.peers)).map((c) => [c.kind, c.member, c.subject]), [
    ["peer.remove", "karim.benali", "VPN peer karim.benali-laptop (10.13.13.3)"],
    ["peer.remove", "karim.benali", "VPN peer karim.benali-phone (10.13.13.4)"],
  ]);
  // Even if their devices were still listed, a departed member connects no more.
  const listed = desiredState(exampleAssociation());
  for (const list of [["disable"], ["erase"]] as const) {
    const state = { ...listed, departures: { disable: [], erase: [], enable: [], [list[0]]: ["karim.benali"] } };
    t.deepEqual(activePeers(state).map((p) => p.id), ["claire.dubois-laptop"]);
  }
});

test("a device listed again gets a new seed, hence a new key: the peer is updated, not kept", (t) => {
  const first = exampleRun();
  const desired = desiredState(exampleAssociation());
  const seeds = { ...seedsFor(desired), "karim.benali-phone": seedOf("karim.benali-phone", 1) };
  const peers = serverPeers(desired, { subnet: SUBNET, seeds, previous: peerLedger(first.peers) });
  const changes = planServerPeers(peers, peerLedger(first.peers));
  t.deepEqual(changes.map((c) => [c.kind, c.subject]), [["peer.update", "VPN peer karim.benali-phone (10.13.13.4)"]]);
  t.is(changes[0]!.payload.publicKey, peerKeyPair(seedOf("karim.benali-phone", 1)).publicKey);
});

test("a device without its generated seed is an error naming the member and the service", (t) => {
  const desired = desiredState(exampleAssociation());
  const { "karim.benali-phone": _missing, ...seeds } = seedsFor(desired);
  const error = t.throws(() => serverPeers(desired, { subnet: SUBNET, seeds, previous: {} }), { instanceOf: ProvisionError });
  t.is(error!.message, 'vpn (member karim.benali): device phone: the generated secret "peer-karim.benali-phone-key-seed" is missing');
  const peers = serverPeers(desired, { subnet: SUBNET, seeds: seedsFor(desired), previous: {} });
  const network = peerNetwork({ hostnames: desired.hostnames, port: 51820, subnet: SUBNET });
  t.throws(() => deviceProfiles(peers, { seeds, network, serverPublicKey: serverPublicKey(SERVER_SEED) }), {
    message: /member karim\.benali.*peer-karim\.benali-phone-key-seed/,
  });
  const wrongSeed = { ...seedsFor(desired), "karim.benali-phone": seedOf("other") };
  t.throws(() => deviceProfiles(peers, { seeds: wrongSeed, network, serverPublicKey: serverPublicKey(SERVER_SEED) }), {
    message: /does not give the public key the server lists/,
  });
});

test("the server conf lists exactly the devices, with their keys and addresses, and wg-quick strip reads it", (t) => {
  const { peers } = exampleRun();
  const conf = serverConfWithPeers({ subnet: SUBNET, port: 51820, privateKey: serverPrivateKey(SERVER_SEED), peers });
  const stripped = wgSections(wgQuickStrip(conf, "wg0"));
  t.deepEqual(stripped[0]!.values, { PrivateKey: serverPrivateKey(SERVER_SEED), ListenPort: "51820" });
  t.deepEqual(stripped.slice(1).map((s) => s.values), peers.map((p) => ({ PublicKey: p.publicKey, AllowedIPs: `${p.address}/32` })));
  t.true(conf.includes("# karim.benali phone\n"));
});

test("private keys appear in device profiles only: never in the plan, the ledger or the server conf", (t) => {
  const config = exampleAssociation();
  const desired = desiredState(config);
  const seeds = seedsFor(desired);
  const { peers, changes } = exampleRun();
  const conf = serverConfWithPeers({ subnet: SUBNET, port: 51820, privateKey: serverPrivateKey(SERVER_SEED), peers });
  const profiles = deviceProfiles(peers, { seeds, network: peerNetwork({ hostnames: hostnames(config), port: 51820, subnet: SUBNET }), serverPublicKey: serverPublicKey(SERVER_SEED) });
  const publicText = JSON.stringify([changes, peerLedger(peers), peers]);
  for (const peer of peers) {
    const { privateKey } = peerKeyPair(seeds[peer.id]!);
    for (const text of [publicText, conf]) {
      t.false(text.includes(privateKey));
      t.false(text.includes(seeds[peer.id]!));
    }
    t.true(profiles[peer.id]!.includes(`PrivateKey = ${privateKey}`));
    for (const [other, profile] of Object.entries(profiles)) if (other !== peer.id) t.false(profile.includes(privateKey));
  }
  t.false(publicText.includes(serverPrivateKey(SERVER_SEED)));
  for (const profile of Object.values(profiles)) t.false(profile.includes(serverPrivateKey(SERVER_SEED)));
});
