// The WireGuard VPN: staff devices join it to reach the admin pages, which the proxy
// opens only to requests coming from this container's edge address.
//
// The linuxserver image has two modes. With PEERS set ("server mode") it writes
// /config/wg_confs/wg0.conf itself, from its own templates and a key it generates, and
// rewrites it whenever its env differs from what it saved last: it would overwrite ours.
// Without PEERS ("client mode") it generates nothing and runs `wg-quick up` on every
// /config/wg_confs/*.conf. WireGuard has no client/server roles: a conf with a
// ListenPort and peers without an Endpoint is a server. So Bastide runs the image without
// PEERS and uploads its own wg0.conf; SERVERURL, SERVERPORT, PEERDNS, INTERNAL_SUBNET and
// ALLOWEDIPS are read only in server mode, so they are not set. Client mode turns CoreDNS
// off unless USE_COREDNS=true; Bastide turns it on with its own Corefile, which the image
// keeps (it copies its default only when none exists).
import type { Hostnames, ServiceModule } from "../blueprint.ts";
import { IMAGES } from "../images.ts";
import { render } from "../../platform/templates.ts";
import { EDGE_ADDRESSES } from "../../platform/network.ts";
import { decodeWireguardKey, wireguardPrivateKey, wireguardPublicKey } from "./keys.ts";
import { vpnAddressing, type VpnAddressing } from "./addressing.ts";

/** The generated secret the server's WireGuard key is derived from. */
export const SERVER_KEY_SECRET = "server-key-seed";
export const SERVER_CONF_PATH = "/config/wg_confs/wg0.conf";
export const COREFILE_PATH = "/config/coredns/Corefile";

/**
 * Where peers' other DNS queries go: Quad9, a non-profit foundation under Swiss privacy
 * law (adequate under the GDPR) that keeps no client IP addresses, over DNS-over-TLS so
 * the hosting provider cannot read the queries either.
 */
export const DNS_UPSTREAM = {
  name: "Quad9",
  servers: ["9.9.9.9", "149.112.112.112"],
  tlsServerName: "dns.quad9.net",
} as const;

/** The server's key pair, from its generated seed; the public key is fine to show. */
export const serverPrivateKey = (seed: string) => wireguardPrivateKey(seed);
export const serverPublicKey = (seed: string) => wireguardPublicKey(wireguardPrivateKey(seed));

// --- wg0.conf ----------------------------------------------------------------------------

/** One staff device. */
export interface VpnPeer {
  /** Shown as a comment, e.g. `claire.dubois laptop`. */
  name: string;
  publicKey: string;
  /** Its tunnel address, a host of the VPN subnet. */
  address: string;
}

export interface ServerConfInput {
  subnet: string;
  port: number;
  privateKey: string;
  peers: VpnPeer[];
}

const PEER_NAME = /^[\p{L}\p{N} ._@-]+$/u;

function checkPeers(peers: VpnPeer[], addressing: VpnAddressing): void {
  const seen = new Set<string>();
  for (const peer of peers) {
    const label = `VPN peer "${peer.name}"`;
    // The name becomes a comment line: no line breaks, no `#` (which wg-quick cuts at).
    if (!PEER_NAME.test(peer.name)) throw new Error(`${label}: the name may hold letters, digits, spaces and . _ @ - only`);
    decodeWireguardKey(peer.publicKey, `${label}: the public key`);
    if (!addressing.isPeerAddress(peer.address)) {
      throw new Error(`${label}: ${peer.address} is not a free host of ${addressing.subnet} (the server has ${addressing.serverAddress})`);
    }
    for (const unique of [`key ${peer.publicKey}`, `address ${peer.address}`]) {
      if (seen.has(unique)) throw new Error(`${label}: another peer already has the ${unique}`);
      seen.add(unique);
    }
  }
}

interface FirewallRule {
  table?: "nat";
  chain: string;
  spec: string;
}

/** What peers may reach: the proxy, seen as coming from the VPN's own edge address. */
function firewallRules(subnet: string): FirewallRule[] {
  const proxy = `${EDGE_ADDRESSES.proxy}/32`;
  return [
    { chain: "FORWARD", spec: `-i %i -d ${proxy} -j ACCEPT` },
    { chain: "FORWARD", spec: "-i %i -j DROP" },
    { table: "nat", chain: "POSTROUTING", spec: `-s ${subnet} -d ${proxy} -j MASQUERADE` },
  ];
}

const iptables = (action: "-A" | "-D", rule: FirewallRule) =>
  `iptables ${rule.table ? `-t ${rule.table} ` : ""}${action} ${rule.chain} ${rule.spec}`;

/** The server's wg-quick configuration; the next issue only passes more peers. */
export function serverConf(input: ServerConfInput): string {
  const addressing = vpnAddressing(input.subnet);
  decodeWireguardKey(input.privateKey, "the VPN server's private key");
  checkPeers(input.peers, addressing);
  const prefix = addressing.subnet.split("/")[1];
  const rules = firewallRules(addressing.subnet);
  return render("vpn/wg0.conf", {
    address: `${addressing.serverAddress}/${prefix}`,
    port: input.port,
    privateKey: input.privateKey,
    postUp: rules.map((rule) => iptables("-A", rule)),
    postDown: [...rules].reverse().map((rule) => iptables("-D", rule)),
    peers: input.peers,
  });
}

// --- Corefile ----------------------------------------------------------------------------

/**
 * The names peers resolve to the proxy: every Bastide name but the VPN's own, which is
 * the tunnel's endpoint and must keep resolving to the server's public address.
 */
export function proxiedHostnames(hostnames: Hostnames): string[] {
  const { vpn: _endpoint, ...served } = hostnames;
  return [...new Set(Object.values(served))];
}

export function corefile(hostnames: Hostnames, subnet: string): string {
  const addressing = vpnAddressing(subnet);
  return render("vpn/Corefile", {
    upstreamName: DNS_UPSTREAM.name,
    // Peers, and the container itself (the image's readiness check asks on loopback).
    allowedSources: `${addressing.subnet} 127.0.0.1/32`,
    proxyAddress: EDGE_ADDRESSES.proxy,
    hostnames: proxiedHostnames(hostnames),
    upstreams: DNS_UPSTREAM.servers.map((server) => `tls://${server}`).join(" "),
    upstreamTlsName: DNS_UPSTREAM.tlsServerName,
  });
}

// --- the module --------------------------------------------------------------------------

export const vpn: ServiceModule = {
  name: "vpn",
  enabled: (config) => config.services.vpn.enabled,
  blueprint: (config, { hostnames }) => {
    const settings = config.services.vpn;
    // Fails here, before anything is deployed, on a subnet that cannot work.
    vpnAddressing(settings.subnet);
    return {
      service: "vpn",
      title: "VPN (WireGuard)",
      containers: [
        {
          name: "wireguard",
          image: IMAGES.wireguard,
          memoryMb: { small: 64, standard: 128 },
          env: {
            // The image's own default user; a Docker volume has no host owner to match.
            PUID: "911",
            PGID: "911",
            TZ: "Etc/UTC",
            // Only read in server mode, which Bastide does not use: set so that peer
            // configurations can never reach the logs should PEERS ever be set.
            LOG_CONFS: "false",
            USE_COREDNS: "true",
          },
          ports: [{ port: settings.port, protocol: "udp", purpose: "WireGuard VPN: staff devices reach the admin pages through it" }],
          volumes: [{ volume: "config", path: "/config" }],
          files: [SERVER_CONF_PATH, COREFILE_PATH],
          networks: ["edge"],
          edgeAddress: EDGE_ADDRESSES.vpn,
          // The only capability added in the whole stack: creating the wg0 interface and
          // setting its firewall and NAT rules needs NET_ADMIN, in the container's own
          // network namespace only. SYS_MODULE, which the image's docs also list, is not
          // given: the host kernel's WireGuard (part of Linux since 5.6) is used.
          addCapabilities: ["NET_ADMIN"],
          // Namespaced to the container: mark-based routing for wg-quick, and forwarding
          // from the tunnel to the proxy.
          sysctls: { "net.ipv4.conf.all.src_valid_mark": "1", "net.ipv4.ip_forward": "1" },
          // `listen-port` only: the full `wg show` lists peers' endpoints, i.e. staff
          // members' IP addresses, which Docker would keep in the health log.
          healthcheck: { test: ["CMD", "wg", "show", "wg0", "listen-port"], intervalSeconds: 30, retries: 3, startPeriodSeconds: 30 },
        },
      ],
      volumes: [
        {
          name: "config",
          path: "/config",
          holds: "WireGuard server configuration (server private key, peers' public keys and tunnel addresses); DNS configuration for peers",
        },
      ],
      secrets: [{ name: SERVER_KEY_SECRET, length: 64 }],
      routes: [],
      files: (secrets) => {
        const seed = secrets[SERVER_KEY_SECRET];
        if (!seed) throw new Error(`vpn: the generated secret "${SERVER_KEY_SECRET}" is missing`);
        return [
          {
            container: "wireguard",
            path: SERVER_CONF_PATH,
            content: serverConf({ subnet: settings.subnet, port: settings.port, privateKey: serverPrivateKey(seed), peers: [] }),
            holdsSecrets: true,
            mode: "0600",
          },
          { container: "wireguard", path: COREFILE_PATH, content: corefile(hostnames, settings.subnet), holdsSecrets: false },
        ];
      },
    };
  },
};
