// A Hetzner Cloud server in an EU location, with Docker installed by cloud-init and
// a firewall that opens only what the services publish.
// Credentials: the default hcloud provider reads the API token from HCLOUD_TOKEN
// (or `pulumi config set --secret hcloud:token ...`); nothing here holds it.
import type * as pulumi from "@pulumi/pulumi";
import * as hcloud from "@pulumi/hcloud";
import type { Association } from "../config/schema.ts";
import type { HostSettings } from "./settings.ts";
import type { CloudServer } from "./index.ts";
import { firewallRules, type FirewallRule } from "./firewall.ts";
import { cloudConfig, MANAGED_BY, serverName, waitForDocker } from "./cloud.ts";

export const HETZNER_IMAGE = "debian-12";

export function hetznerFirewallRules(rules: readonly FirewallRule[]): hcloud.types.input.FirewallRule[] {
  return rules.map((r) => ({
    direction: "in",
    protocol: r.protocol,
    port: String(r.port),
    sourceIps: r.sources,
    description: r.purpose,
  }));
}

export function hetznerServer(config: Association, host: Extract<HostSettings, { target: "hetzner" }>, parent: pulumi.Resource): CloudServer {
  const name = serverName(config);
  const labels = { "managed-by": MANAGED_BY };

  // Hetzner refuses a second key with the same fingerprint in one project: an admin
  // whose key is already uploaded there must remove that copy first.
  const key = new hcloud.SshKey("hetzner-admin-key", { name: `${name}-admin`, publicKey: host.sshPublicKey, labels }, { parent });

  const firewall = new hcloud.Firewall(
    "hetzner-firewall",
    { name, labels, rules: hetznerFirewallRules(firewallRules(config)) },
    { parent },
  );

  const server = new hcloud.Server(
    "hetzner-server",
    {
      name,
      location: host.location,
      serverType: host.serverType,
      image: HETZNER_IMAGE,
      userData: cloudConfig(host),
      sshKeys: [key.id],
      // Attached at creation, so the server is never reachable unfiltered.
      firewallIds: [firewall.id.apply(Number)],
      labels,
      publicNets: [{ ipv4Enabled: true, ipv6Enabled: true }],
      deleteProtection: true,
      rebuildProtection: true,
      backups: false,
    },
    {
      parent,
      // Every Docker volume lives on this disk: destroying or replacing the server loses them.
      protect: true,
      // Both only matter at first boot; a change would otherwise replace the server.
      ignoreChanges: ["userData", "sshKeys"],
    },
  );

  return {
    publicAddress: server.ipv4Address,
    dockerReady: waitForDocker("hetzner-docker-ready", server.ipv4Address, server, parent),
  };
}
