// The inbound rules of a cloud server's firewall, derived from the same blueprints
// that publish the ports: a port is open exactly when an enabled service needs it.
import { isIPv4, isIPv6 } from "node:net";
import type { Association } from "../config/schema.ts";
import type { PublishedPort, ServiceBlueprint } from "../services/blueprint.ts";
import { blueprints } from "../services/catalog.ts";

export const ANYWHERE = ["0.0.0.0/0", "::/0"] as const;

export const SSH_PORT = 22;

export interface FirewallRule {
  port: number;
  protocol: "tcp" | "udp";
  /** Networks allowed in, in CIDR notation. */
  sources: string[];
  /** Why it is open: shown in the cloud console and in the security measures. */
  purpose: string;
}

/** Cloud firewalls want networks: a bare address becomes a one-address network. */
export function asCidr(address: string): string {
  if (address.includes("/")) return address;
  if (isIPv4(address)) return `${address}/32`;
  if (isIPv6(address)) return `${address}/128`;
  throw new Error(`"${address}" is neither an IP address nor a network`);
}

const byProtocolThenPort = (a: FirewallRule, b: FirewallRule) =>
  a.protocol === b.protocol ? a.port - b.port : a.protocol === "tcp" ? -1 : 1;

/** SSH from the admin's networks, plus each port the blueprints publish, once, from anywhere. */
export function rulesFor(adminAddresses: readonly string[], services: readonly ServiceBlueprint[]): FirewallRule[] {
  const published = new Map<string, PublishedPort>();
  for (const port of services.flatMap((s) => s.containers.flatMap((c) => c.ports ?? []))) {
    if (port.port === SSH_PORT && port.protocol === "tcp")
      throw new Error("a service publishes 22/tcp, which would open SSH to the whole Internet");
    const key = `${port.port}/${port.protocol}`;
    if (!published.has(key)) published.set(key, port);
  }
  const ssh: FirewallRule[] =
    adminAddresses.length > 0
      ? [{ port: SSH_PORT, protocol: "tcp", sources: adminAddresses.map(asCidr), purpose: "SSH, for the admin and the Docker provider only" }]
      : [];
  const open = [...published.values()].map(
    (p): FirewallRule => ({ port: p.port, protocol: p.protocol, sources: [...ANYWHERE], purpose: p.purpose }),
  );
  return [...ssh, ...open.sort(byProtocolThenPort)];
}

/**
 * The firewall of the configured host. Only cloud targets have admin addresses;
 * for `local` and `ssh` targets (whose firewall Bastide does not manage) the
 * result lists the published ports alone.
 */
export function firewallRules(config: Association): FirewallRule[] {
  const host = config.host;
  const admins = host.target === "hetzner" || host.target === "scaleway" ? host.adminAddresses : [];
  return rulesFor(admins, blueprints(config));
}
