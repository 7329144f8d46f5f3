// The VPN module: keys checked against the real `wg`; the server conf brought up by the real
// `wg-quick` (as the image does) on a userspace WireGuard device, with its iptables rules; the
// Corefile against CoreDNS's grammar; the blueprint against what the image and proxy expect.
import test from "ava";
import { wg, wgPubkey, wgQuickStrip, wgSections } from "../support/wireguard.ts";
import { createHash } from "node:crypto";
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as docker from "@pulumi/docker";
import { wireguardPrivateKey, wireguardPublicKey } from "../../stacks/services/vpn/keys.ts";
import {
  COREFILE_PATH,
  DNS_UPSTREAM,
  SERVER_CONF_PATH,
  SERVER_KEY_SECRET,
  corefile,
  proxiedHostnames,
  serverConf,
  serverPublicKey,
  vpn,
  type VpnPeer,
} from "../../stacks/services/vpn/blueprint.ts";
import { vpnAddressing } from "../../stacks/services/vpn/addressing.ts";
import { blueprintContext, blueprints, hostnames } from "../../stacks/services/catalog.ts";
import { IMAGES } from "../../stacks/services/images.ts";
import { EDGE_ADDRESSES, EDGE_NETWORK } from "../../stacks/platform/network.ts";
import { ServiceComponent } from "../../stacks/platform/component.ts";
import type { Association } from "../../stacks/config/schema.ts";
import { exampleAssociation } from "../support/association.ts";
import { requireProgram, run, scratch } from "../support/programs.ts";
import { CONTAINER, registerUnderMocks, secretPlaceholder } from "../support/program.ts";

const FAKE_SEED = "fakeSeedForTestsOnly0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH";

// --- the real tools -----------------------------------------------------------------------

function wgGenkey(): string {
  const result = run(wg(), ["genkey"]);
  if (result.status !== 0) throw new Error(`wg genkey failed: ${result.stderr}`);
  return result.stdout.trim();
}

// This sandbox has no WireGuard kernel module, so wg-quick falls back to wireguard-go's
// userspace device, as it does anywhere. All of it runs in a network namespace of its own:
// the interface, routes and iptables rules vanish with it.
const WG_QUICK_UP_SCRIPT = `set -eu
conf="$1"
# wireguard-go's control socket lives in /run/wireguard: a private mount keeps
# concurrent test namespaces from colliding over it.
mkdir -p /run/wireguard && mount -t tmpfs tmpfs /run/wireguard
trap 'ip link delete wg0 2>/dev/null || true' EXIT
ip link set lo up
export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1
wg-quick up "$conf" >&2
echo "@@showconf"; wg showconf wg0
echo "@@address"; ip -4 -o address show dev wg0
echo "@@forward"; iptables -S FORWARD
echo "@@nat"; iptables -t nat -S POSTROUTING
wg-quick down "$conf" >&2
echo "@@forward-after-down"; iptables -S FORWARD
echo "@@nat-after-down"; iptables -t nat -S POSTROUTING
`;

interface WgQuickRun {
  showconf: string;
  address: string;
  forward: string[];
  nat: string[];
  forwardAfterDown: string[];
  natAfterDown: string[];
}

/** What the image does with the file: `wg-quick up` (then down), on a real WireGuard device. */
function wgQuickUp(conf: string): WgQuickRun {
  const unshare = requireProgram("unshare", "util-linux");
  for (const [program, pkg] of [["wg-quick", "wireguard-tools"], ["wireguard-go", "wireguard-go"], ["ip", "iproute2"], ["iptables", "iptables"]]) {
    requireProgram(program!, pkg!);
  }
  const dir = scratch({ "up.sh": WG_QUICK_UP_SCRIPT });
  try {
    const file = join(dir, "wg0.conf");
    writeFileSync(file, conf);
    chmodSync(file, 0o600);
    // A PID namespace too: when the script ends, wireguard-go (which outlives `wg-quick down`) ends with it.
    const result = run(unshare, ["--net", "--mount", "--propagation", "private", "--pid", "--fork", "--mount-proc", "--kill-child", "sh", join(dir, "up.sh"), file]);
    if (result.status !== 0) throw new Error(`wg-quick up refused the configuration (${result.status}): ${result.stderr.trim()}`);
    const parts = new Map<string, string>();
    for (const chunk of result.stdout.split("@@").slice(1)) {
      const [name, ...body] = chunk.split("\n");
      parts.set(name!, body.join("\n").trim());
    }
    const rules = (name: string) => (parts.get(name) ?? "").split("\n").filter((l) => l.startsWith("-A "));
    return {
      showconf: parts.get("showconf") ?? "",
      address: parts.get("address") ?? "",
      forward: rules("forward"),
      nat: rules("nat"),
      forwardAfterDown: rules("forward-after-down"),
      natAfterDown: rules("nat-after-down"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// --- keys ---------------------------------------------------------------------------------

const SEEDS = ["a", FAKE_SEED, "0123456789", "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ", "éèàç-non-ascii", "x".repeat(200)];

test("derived public keys are the ones `wg pubkey` computes", (t) => {
  for (const seed of SEEDS) {
    const privateKey = wireguardPrivateKey(seed);
    t.is(wireguardPublicKey(privateKey), wgPubkey(privateKey), `seed ${JSON.stringify(seed)}`);
    t.is(serverPublicKey(seed), wgPubkey(privateKey));
  }
});

test("the private key is the seed's SHA-256, clamped as WireGuard clamps it", (t) => {
  for (const seed of SEEDS) {
    const digest = createHash("sha256").update(seed).digest();
    const key = Buffer.from(wireguardPrivateKey(seed), "base64");
    t.is(key.length, 32);
    t.deepEqual(key.subarray(1, 31), digest.subarray(1, 31));
    t.is(key[0]! & 7, 0);
    t.is(key[31]! & 0xc0, 0x40);
    // Clamping changes no identity: wg gives the raw digest the same public key.
    t.is(wgPubkey(digest.toString("base64")), wireguardPublicKey(key.toString("base64")));
  }
});

test("the same seed always gives the same key, and different seeds different keys", (t) => {
  t.is(wireguardPrivateKey(FAKE_SEED), wireguardPrivateKey(FAKE_SEED));
  const keys = new Set(SEEDS.map(wireguardPrivateKey));
  t.is(keys.size, SEEDS.length);
  t.throws(() => wireguardPrivateKey(""), { message: /empty/ });
});

test("keys from `wg genkey` round-trip", (t) => {
  for (let i = 0; i < 5; i++) {
    const privateKey = wgGenkey();
    t.is(wireguardPublicKey(privateKey), wgPubkey(privateKey));
  }
});

test("malformed keys are refused, as `wg pubkey` refuses them", (t) => {
  const good = wgGenkey();
  for (const bad of [good.slice(0, -4), `${good}AAAA`, good.replace("=", ""), "not a key at all", ""]) {
    t.throws(() => wireguardPublicKey(bad), { message: /32 bytes in standard base64/ }, JSON.stringify(bad));
    t.not(run(wg(), ["pubkey"], { input: `${bad}\n` }).status, 0, `wg pubkey also refuses ${JSON.stringify(bad)}`);
  }
});

// --- wg0.conf -----------------------------------------------------------------------------

const TWO_PEERS = (): VpnPeer[] => [
  { name: "claire.dubois laptop", publicKey: wireguardPublicKey(wireguardPrivateKey("peer-1")), address: "10.13.13.2" },
  { name: "karim.benali phone", publicKey: wireguardPublicKey(wireguardPrivateKey("peer-2")), address: "10.13.13.3" },
];

test("the server conf with two peers passes wg-quick strip and comes up with wg-quick", (t) => {
  const privateKey = wireguardPrivateKey(FAKE_SEED);
  const peers = TWO_PEERS();
  const conf = serverConf({ subnet: "10.13.13.0/24", port: 51820, privateKey, peers });

  const [iface, ...peerSections] = wgSections(conf);
  t.like(iface!.values, { Address: "10.13.13.1/24", ListenPort: "51820", PrivateKey: privateKey });
  t.deepEqual(
    peerSections.map((s) => s.values),
    peers.map((p) => ({ PublicKey: p.publicKey, AllowedIPs: `${p.address}/32` })),
  );
  t.true(conf.includes("# claire.dubois laptop\n"));

  const stripped = wgQuickStrip(conf);
  t.notRegex(stripped, /Address|PostUp|PostDown/, "wg-quick keeps its own keys out of what it gives wg");

  const up = wgQuickUp(conf);
  const loaded = wgSections(up.showconf);
  t.is(loaded[0]!.values.PrivateKey, privateKey);
  t.is(loaded[0]!.values.ListenPort, "51820");
  // The device lists its peers in no set order.
  const byKey = (a: Record<string, string>, b: Record<string, string>) => a.PublicKey!.localeCompare(b.PublicKey!);
  t.deepEqual(
    loaded.slice(1).map((s) => s.values).sort(byKey),
    peers.map((p) => ({ PublicKey: p.publicKey, AllowedIPs: `${p.address}/32` })).sort(byKey),
  );
  t.regex(up.address, /inet 10\.13\.13\.1\/24 /);
});

test("the device check is not vacuous: wg-quick refuses a broken key", (t) => {
  const conf = serverConf({ subnet: "10.13.13.0/24", port: 51820, privateKey: wireguardPrivateKey(FAKE_SEED), peers: TWO_PEERS() });
  const broken = conf.replace(/PublicKey = \S+/, "PublicKey = AAAA");
  t.throws(() => wgQuickUp(broken), { message: /wg-quick up refused/ });
});

test("PostUp lets peers reach the proxy only, masqueraded behind the VPN's edge address; PostDown undoes it", (t) => {
  const conf = serverConf({ subnet: "10.13.13.0/24", port: 51820, privateKey: wireguardPrivateKey(FAKE_SEED), peers: TWO_PEERS() });
  const proxy = `${EDGE_ADDRESSES.proxy}/32`;
  // The rules as the kernel holds them once wg-quick ran PostUp (`iptables -S` order).
  const up = wgQuickUp(conf);
  t.deepEqual(up.forward, [`-A FORWARD -d ${proxy} -i wg0 -j ACCEPT`, "-A FORWARD -i wg0 -j DROP"]);
  t.deepEqual(up.nat, [`-A POSTROUTING -s 10.13.13.0/24 -d ${proxy} -j MASQUERADE`]);
  t.deepEqual(up.forwardAfterDown, []);
  t.deepEqual(up.natAfterDown, []);
  // MASQUERADE takes the address of the interface towards the proxy: the container's fixed one.
  t.is(vpn.blueprint(exampleAssociation(), blueprintContext(exampleAssociation())).containers[0]!.edgeAddress, EDGE_ADDRESSES.vpn);
});

test("peers that cannot work are refused with the reason", (t) => {
  const privateKey = wireguardPrivateKey(FAKE_SEED);
  const conf = (peers: VpnPeer[]) => serverConf({ subnet: "10.13.13.0/24", port: 51820, privateKey, peers });
  const [one, two] = TWO_PEERS() as [VpnPeer, VpnPeer];
  t.throws(() => conf([{ ...one, address: "10.13.14.2" }]), { message: /not a free host of 10\.13\.13\.0\/24/ });
  t.throws(() => conf([{ ...one, address: "10.13.13.1" }]), { message: /the server has 10\.13\.13\.1/ });
  t.throws(() => conf([{ ...one, address: "10.13.13.255" }]), { message: /not a free host/ });
  t.throws(() => conf([one, { ...two, address: one.address }]), { message: /already has the address/ });
  t.throws(() => conf([one, { ...two, publicKey: one.publicKey }]), { message: /already has the key/ });
  t.throws(() => conf([{ ...one, publicKey: "AAAA" }]), { message: /public key must be 32 bytes/ });
  t.throws(() => conf([{ ...one, name: "laptop\nPostUp = rm -rf /" }]), { message: /the name may hold/ });
  t.throws(() => conf([{ ...one, name: "laptop # x" }]), { message: /the name may hold/ });
});

test("subnets: the server takes the first host; unusable ranges are refused", (t) => {
  t.is(vpnAddressing("10.13.13.0/24").serverAddress, "10.13.13.1");
  t.is(vpnAddressing("10.77.0.0/16").serverAddress, "10.77.0.1");
  t.is(vpnAddressing("10.77.5.9/16").subnet, "10.77.0.0/16");
  t.is(vpnAddressing("192.168.200.8/30").serverAddress, "192.168.200.9");
  t.true(vpnAddressing("192.168.200.8/30").isPeerAddress("192.168.200.10"));
  t.false(vpnAddressing("192.168.200.8/30").isPeerAddress("192.168.200.11"), "broadcast");
  t.throws(() => vpnAddressing("10.13.13.0/31"), { message: /^\/31 leaves no address/ });
  t.throws(() => vpnAddressing(EDGE_NETWORK.subnet), { message: /overlaps the edge network/ });
  t.throws(() => vpnAddressing("172.16.0.0/12"), { message: /overlaps the edge network/ });
});

// --- Corefile -----------------------------------------------------------------------------
// No CoreDNS package exists in Debian, so the Corefile is checked against CoreDNS's grammar
// here: Caddy's lexer (which CoreDNS uses) and the syntax of each plugin used.

interface Directive {
  name: string;
  args: string[];
  block?: Directive[];
  line: number;
}

interface ServerBlock {
  keys: string[];
  directives: Directive[];
}

/** Tokens per line, as Caddy's lexer reads them: `#` starts a comment, quotes group. */
function lexLines(text: string): { line: number; tokens: string[] }[] {
  const lines: { line: number; tokens: string[] }[] = [];
  text.split("\n").forEach((raw, index) => {
    const tokens: string[] = [];
    for (const match of raw.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
      if (match[2]?.startsWith("#")) break;
      tokens.push(match[1] ?? match[2]!);
    }
    if (tokens.length) lines.push({ line: index + 1, tokens });
  });
  return lines;
}

function parseCorefile(text: string): ServerBlock[] {
  const lines = lexLines(text);
  let at = 0;
  const fail = (line: number, why: string): never => {
    throw new Error(`Corefile line ${line}: ${why}`);
  };
  const opens = (tokens: string[]) => tokens.at(-1) === "{";
  const closes = (tokens: string[]) => tokens.length === 1 && tokens[0] === "}";

  function parseBlock(depth: number, openedAt: number): Directive[] {
    const directives: Directive[] = [];
    for (;;) {
      const current = lines[at++];
      if (!current) return fail(openedAt, "block never closed");
      const { tokens, line } = current;
      if (closes(tokens)) return directives;
      if (tokens.includes("}")) fail(line, "`}` must stand alone on its line");
      if (tokens.slice(0, -1).includes("{")) fail(line, "`{` may only end a line");
      if (opens(tokens)) {
        if (depth >= 2) fail(line, "blocks nest deeper than CoreDNS plugins take");
        directives.push({ name: tokens[0]!, args: tokens.slice(1, -1), block: parseBlock(depth + 1, line), line });
      } else directives.push({ name: tokens[0]!, args: tokens.slice(1), line });
    }
  }

  const blocks: ServerBlock[] = [];
  while (at < lines.length) {
    const { tokens, line } = lines[at++]!;
    if (!opens(tokens) || tokens.length < 2) fail(line, "a server block starts with its zones and `{`");
    blocks.push({ keys: tokens.slice(0, -1), directives: parseBlock(1, line) });
  }
  return blocks;
}

const isIpv4 = (s: string) => /^(\d{1,3})(\.\d{1,3}){3}$/.test(s) && s.split(".").every((o) => Number(o) <= 255);
const isCidr = (s: string) => {
  const [address, prefix] = s.split("/");
  return isIpv4(address ?? "") && /^\d{1,2}$/.test(prefix ?? "") && Number(prefix) <= 32;
};
const isHostname = (s: string) => /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/i.test(s);

/** Each plugin Bastide uses, checked for the syntax its documentation gives. */
const PLUGIN_SYNTAX: Record<string, (d: Directive) => string | undefined> = {
  acl: (d) => {
    for (const rule of d.block ?? []) {
      if (!["allow", "block", "filter", "drop"].includes(rule.name)) return `unknown acl action ${rule.name}`;
      const net = rule.args.indexOf("net");
      if (net >= 0 && !rule.args.slice(net + 1).every(isCidr)) return `acl ${rule.name}: net takes CIDRs`;
      if (rule.args.length && net < 0 && rule.args[0] !== "type") return `acl ${rule.name}: unknown arguments`;
    }
    return d.block?.length ? undefined : "acl needs rules";
  },
  hosts: (d) => {
    if (d.args.length > 1) return "hosts takes at most a file";
    for (const entry of d.block ?? []) {
      if (entry.name === "fallthrough" || entry.name === "no_reverse" || entry.name === "ttl" || entry.name === "reload") continue;
      if (!isIpv4(entry.name)) return `hosts entry must start with an address: ${entry.name}`;
      if (!entry.args.length || !entry.args.every(isHostname)) return `hosts entry ${entry.name}: bad names ${entry.args.join(" ")}`;
    }
    return undefined;
  },
  forward: (d) => {
    const [from, ...to] = d.args;
    if (from !== ".") return "forward should take the root zone";
    if (!to.length || !to.every((u) => /^(tls:\/\/)?\d+\.\d+\.\d+\.\d+(:\d+)?$/.test(u) && isIpv4(u.replace(/^tls:\/\//, "").replace(/:\d+$/, "")))) {
      return `forward upstreams must be addresses: ${to.join(" ")}`;
    }
    for (const option of d.block ?? []) {
      if (option.name !== "tls_servername" || option.args.length !== 1 || !isHostname(option.args[0]!)) return `forward option ${option.name}`;
    }
    return undefined;
  },
  cache: (d) => (d.block || d.args.length > 1 || (d.args[0] && !/^\d+$/.test(d.args[0])) ? "cache [TTL]" : undefined),
  errors: (d) => (d.args.length || d.block ? "errors takes no arguments here" : undefined),
  loop: (d) => (d.args.length || d.block ? "loop takes no arguments" : undefined),
  health: (d) => (d.block || d.args.length > 1 || (d.args[0] && !/^[\w.]*:\d+$/.test(d.args[0])) ? "health [ADDRESS:PORT]" : undefined),
};

function checkCorefile(text: string): ServerBlock {
  const blocks = parseCorefile(text);
  if (blocks.length !== 1) throw new Error(`expected one server block, got ${blocks.length}`);
  const [block] = blocks as [ServerBlock];
  const seen = new Set<string>();
  for (const directive of block.directives) {
    const check = PLUGIN_SYNTAX[directive.name];
    if (!check) throw new Error(`Corefile line ${directive.line}: ${directive.name} is not a plugin Bastide expects`);
    if (seen.has(directive.name)) throw new Error(`Corefile line ${directive.line}: ${directive.name} appears twice`);
    seen.add(directive.name);
    const problem = check(directive);
    if (problem) throw new Error(`Corefile line ${directive.line}: ${problem}`);
  }
  return block;
}

const directive = (block: ServerBlock, name: string) => block.directives.find((d) => d.name === name);

/** name → address, from the hosts plugin's entries. */
function hostsMap(block: ServerBlock): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of directive(block, "hosts")?.block ?? []) {
    if (isIpv4(entry.name)) for (const name of entry.args) map.set(name, entry.name);
  }
  return map;
}

test("the grammar check is not vacuous: it refuses broken Corefiles", (t) => {
  const good = corefile(hostnames(exampleAssociation()), "10.13.13.0/24");
  t.notThrows(() => checkCorefile(good));
  t.throws(() => checkCorefile(good.replace(/\n}\n?$/, "\n")), { message: /never closed/ });
  t.throws(() => checkCorefile(good.replace("cache 300", "cahce 300")), { message: /cahce is not a plugin/ });
  t.throws(() => checkCorefile(good.replace("allow net", "permit net")), { message: /unknown acl action/ });
  t.throws(() => checkCorefile(good.replace(`${EDGE_ADDRESSES.proxy} cloud`, "cloud")), { message: /must start with an address/ });
  t.throws(() => checkCorefile(good.replace("tls://9.9.9.9", "tls://dns.quad9")), { message: /upstreams must be addresses/ });
});

test("peers resolve every Bastide web name to the proxy, and the rest through Quad9 over TLS", (t) => {
  const config = exampleAssociation();
  const names = hostnames(config);
  const block = checkCorefile(corefile(names, config.services.vpn.subnet));
  t.deepEqual(block.keys, ["."]);

  const mapped = hostsMap(block);
  for (const [service, name] of Object.entries(names)) {
    if (service === "vpn") continue;
    t.is(mapped.get(name), EDGE_ADDRESSES.proxy, name);
  }
  // The VPN's own name is the tunnel's endpoint: it must keep its public address.
  t.false(mapped.has(names.vpn));
  t.deepEqual([...mapped.keys()].sort(), proxiedHostnames(names).sort());
  t.true(directive(block, "hosts")!.block!.some((d) => d.name === "fallthrough"), "other names go on to forward");

  const forward = directive(block, "forward")!;
  t.deepEqual(forward.args, [".", ...DNS_UPSTREAM.servers.map((s) => `tls://${s}`)]);
  t.deepEqual(forward.block!.map((o) => [o.name, ...o.args]), [["tls_servername", "dns.quad9.net"]]);
  t.falsy(directive(block, "log"), "staff members' queries are not logged");
});

test("only VPN peers and the container itself may query the resolver", (t) => {
  for (const subnet of ["10.13.13.0/24", "10.77.0.0/16"]) {
    const acl = directive(checkCorefile(corefile(hostnames(exampleAssociation()), subnet)), "acl")!;
    t.deepEqual(acl.block!.map((r) => [r.name, ...r.args]), [["allow", "net", subnet, "127.0.0.1/32"], ["block"]]);
  }
});

test("the image's readiness probe finds a health endpoint on loopback", (t) => {
  const text = corefile(hostnames(exampleAssociation()), "10.13.13.0/24");
  // svc-coredns greps the Corefile for "health" and then polls localhost:8080/health.
  t.deepEqual(directive(checkCorefile(text), "health")!.args, ["127.0.0.1:8080"]);
});

// --- the blueprint ------------------------------------------------------------------------

const blueprintOf = (config: Association) => vpn.blueprint(config, blueprintContext(config));
const filesOf = (config: Association, seed = FAKE_SEED) => blueprintOf(config).files({ [SERVER_KEY_SECRET]: seed });

test("the example: one WireGuard container on the edge network, UDP 51820, NET_ADMIN only", (t) => {
  const config = exampleAssociation();
  const blueprint = blueprintOf(config);
  t.is(blueprint.service, "vpn");
  t.deepEqual(blueprint.routes, [], "no web UI, no proxy route");
  t.deepEqual(blueprint.secrets, [{ name: SERVER_KEY_SECRET, length: 64 }]);
  t.deepEqual(blueprint.volumes.map((v) => [v.name, v.path]), [["config", "/config"]]);

  const [container, ...others] = blueprint.containers;
  t.is(others.length, 0);
  t.is(container!.image, IMAGES.wireguard);
  t.deepEqual(container!.memoryMb, { small: 64, standard: 128 });
  t.deepEqual(container!.ports?.map((p) => [p.port, p.protocol]), [[51820, "udp"]]);
  t.deepEqual(container!.networks, ["edge"]);
  t.is(container!.edgeAddress, EDGE_ADDRESSES.vpn);
  t.deepEqual(container!.addCapabilities, ["NET_ADMIN"]);
  t.deepEqual(container!.sysctls, { "net.ipv4.conf.all.src_valid_mark": "1", "net.ipv4.ip_forward": "1" });
  t.deepEqual(container!.healthcheck?.test, ["CMD", "wg", "show", "wg0", "listen-port"]);
  t.deepEqual(container!.volumes, [{ volume: "config", path: "/config" }]);
  t.deepEqual(container!.files, [SERVER_CONF_PATH, COREFILE_PATH]);
  t.deepEqual(
    blueprint.files({ [SERVER_KEY_SECRET]: FAKE_SEED }).map((f) => [f.container, f.path]),
    [["wireguard", SERVER_CONF_PATH], ["wireguard", COREFILE_PATH]],
  );
});

test("the image runs in its bring-your-own-conf mode, with CoreDNS on and no config in the logs", (t) => {
  const env = blueprintOf(exampleAssociation()).containers[0]!.env!;
  // PEERS would make the image generate and overwrite wg0.conf with a key of its own.
  t.false("PEERS" in env);
  t.is(env.USE_COREDNS, "true");
  t.is(env.LOG_CONFS, "false");
  t.deepEqual(Object.keys(env).sort(), ["LOG_CONFS", "PGID", "PUID", "TZ", "USE_COREDNS"]);
});

test("the example's server conf, from the blueprint, comes up with wg-quick", (t) => {
  const [conf] = filesOf(exampleAssociation());
  const loaded = wgSections(wgQuickUp(conf!.content).showconf);
  t.is(loaded[0]!.values.PrivateKey, wireguardPrivateKey(FAKE_SEED));
  t.is(loaded[0]!.values.ListenPort, "51820");
  t.is(loaded.length, 1, "no peers yet");
  t.is(wgPubkey(loaded[0]!.values.PrivateKey!), serverPublicKey(FAKE_SEED));
});

test("a custom port and subnet reach the published port, the conf and the resolver", (t) => {
  const config = exampleAssociation((input) => {
    input.services.vpn = { port: 51999, subnet: "10.77.0.0/16", subdomain: "tunnel" };
  });
  const blueprint = blueprintOf(config);
  t.deepEqual(blueprint.containers[0]!.ports?.map((p) => [p.port, p.protocol]), [[51999, "udp"]]);

  const [conf, dns] = blueprint.files({ [SERVER_KEY_SECRET]: FAKE_SEED });
  const iface = wgSections(conf!.content)[0]!.values;
  t.is(iface.Address, "10.77.0.1/16");
  t.is(iface.ListenPort, "51999");
  t.regex(conf!.content, /-s 10\.77\.0\.0\/16 -d 172\.30\.80\.2\/32 -j MASQUERADE/);
  const up = wgQuickUp(conf!.content);
  t.is(wgSections(up.showconf)[0]!.values.ListenPort, "51999");
  t.regex(up.address, /inet 10\.77\.0\.1\/16 /);

  const block = checkCorefile(dns!.content);
  t.false(hostsMap(block).has("tunnel.jardins-canal.localhost"), "the renamed endpoint keeps its public address");
  t.is(hostsMap(block).get("cloud.jardins-canal.localhost"), EDGE_ADDRESSES.proxy);
  t.deepEqual(directive(block, "acl")!.block![0]!.args, ["net", "10.77.0.0/16", "127.0.0.1/32"]);
});

test("a subnet that overlaps the edge network fails before anything is deployed", (t) => {
  // Validation sizes the blueprints, so the config is refused while it is loaded.
  const load = () => blueprintOf(exampleAssociation((input) => {
    input.services.vpn = { subnet: "172.30.0.0/16" };
  }));
  t.throws(load, { message: /services\.vpn\.subnet: .*overlaps the edge network/ });
});

test("a disabled VPN deploys nothing", (t) => {
  const config = exampleAssociation((input) => {
    input.services.vpn = { enabled: false };
    for (const member of input.members) delete member.devices;
  });
  t.false(vpn.enabled(config));
  t.true(vpn.enabled(exampleAssociation()));
  t.false(blueprints(config).some((b) => b.service === "vpn"));
});

test("the private key appears only in files marked holdsSecrets, and nowhere else", (t) => {
  const config = exampleAssociation();
  const privateKey = wireguardPrivateKey(FAKE_SEED);
  const files = filesOf(config);
  const holding = files.filter((f) => f.content.includes(privateKey));
  t.deepEqual(holding.map((f) => f.path), [SERVER_CONF_PATH]);
  for (const file of holding) {
    t.true(file.holdsSecrets);
    t.is(file.mode, "0600");
  }
  t.false(files.find((f) => f.path === COREFILE_PATH)!.holdsSecrets);
  const blueprint = blueprintOf(config);
  t.false(JSON.stringify(blueprint).includes(privateKey));
  t.false(JSON.stringify(blueprint).includes(FAKE_SEED));
  // A different seed gives a different key in the file: the key really comes from the secret.
  t.false(filesOf(config, `${FAKE_SEED}x`)[0]!.content.includes(privateKey));
});

test.serial("under Pulumi's mocks the container gets NET_ADMIN, UDP and a secret, private conf upload", async (t) => {
  const config = exampleAssociation();
  const blueprint = blueprintOf(config);
  const resources = await registerUnderMocks(() => {
    const provider = new docker.Provider("docker", {});
    const edgeNetwork = new docker.Network("edge", { name: EDGE_NETWORK.name }, { provider });
    new ServiceComponent({ config, blueprint, provider, edgeNetwork, publicAddress: "203.0.113.7" });
  });
  const container = resources.find((r) => r.type === CONTAINER && r.inputs.name === "bastide-vpn-wireguard")!;
  t.truthy(container);
  t.deepEqual(container.inputs.capabilities?.adds, ["NET_ADMIN"]);
  t.is(container.inputs.ports.length, 1);
  t.like(container.inputs.ports[0], { internal: 51820, external: 51820, protocol: "udp" });
  t.deepEqual(container.inputs.sysctls, { "net.ipv4.conf.all.src_valid_mark": "1", "net.ipv4.ip_forward": "1" });
  t.true(container.secretInputs.includes("uploads"), "the uploaded conf is a Pulumi secret");

  const seed = secretPlaceholder(`vpn-${SERVER_KEY_SECRET}`);
  const conf = container.inputs.uploads.find((u: any) => u.file === SERVER_CONF_PATH);
  t.is(conf.permissions, "0600");
  t.true(conf.content.includes(`PrivateKey = ${wireguardPrivateKey(seed)}`));
  const dns = container.inputs.uploads.find((u: any) => u.file === COREFILE_PATH);
  t.true(dns.content.includes(`${EDGE_ADDRESSES.proxy} cloud.jardins-canal.localhost`));
});

