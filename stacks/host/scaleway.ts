// A Scaleway instance in an EU zone, with Docker installed by cloud-init and a
// security group that drops everything inbound except what the services publish.
// Credentials: the default scaleway provider reads SCW_ACCESS_KEY, SCW_SECRET_KEY
// and SCW_DEFAULT_PROJECT_ID from the environment; nothing here holds them.
import type * as pulumi from "@pulumi/pulumi";
import * as scaleway from "@pulumiverse/scaleway";
import type { Association } from "../config/schema.ts";
import type { HostSettings } from "./settings.ts";
import type { CloudServer } from "./index.ts";
import { firewallRules, type FirewallRule } from "./firewall.ts";
import { cloudConfig, MANAGED_BY, serverName, waitForDocker } from "./cloud.ts";

export const SCALEWAY_IMAGE = "debian_bookworm";

/** Room for the images and the services' data; an SBS root volume can grow later, never shrink. */
export const SCALEWAY_ROOT_VOLUME_GB = 80;

/** Scaleway rules take one network each: one rule per (port, source). */
export function scalewayInboundRules(rules: readonly FirewallRule[]): scaleway.types.input.instance.SecurityGroupInboundRule[] {
  return rules.flatMap((r) =>
    r.sources.map((ipRange) => ({ action: "accept", protocol: r.protocol.toUpperCase(), port: r.port, ipRange })),
  );
}

export function scalewayServer(config: Association, host: Extract<HostSettings, { target: "scaleway" }>, parent: pulumi.Resource): CloudServer {
  const name = serverName(config);
  const zone = host.zone;
  const tags = [MANAGED_BY];

  // DNS records point at this address: it outlives a replaced server.
  const ip = new scaleway.instance.Ip("scaleway-ip", { zone, tags }, { parent, protect: true });

  const securityGroup = new scaleway.instance.SecurityGroup(
    "scaleway-firewall",
    {
      name,
      zone,
      tags,
      stateful: true,
      inboundDefaultPolicy: "drop",
      outboundDefaultPolicy: "accept",
      inboundRules: scalewayInboundRules(firewallRules(config)),
    },
    { parent },
  );

  const server = new scaleway.instance.Server(
    "scaleway-server",
    {
      name,
      zone,
      type: host.serverType,
      image: SCALEWAY_IMAGE,
      ipId: ip.id,
      securityGroupId: securityGroup.id,
      rootVolume: { volumeType: "sbs_volume", sizeInGb: SCALEWAY_ROOT_VOLUME_GB },
      userData: { "cloud-init": cloudConfig(host) },
      protected: true,
      tags,
    },
    {
      parent,
      // Every Docker volume lives on this disk: destroying or replacing the server loses them.
      protect: true,
      // cloud-init reads it at first boot only.
      ignoreChanges: ["userData"],
    },
  );

  return {
    publicAddress: ip.address,
    dockerReady: waitForDocker("scaleway-docker-ready", ip.address, server, parent),
  };
}
