// Picks where the containers run and returns the Docker provider that reaches it.
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import type { Association } from "../config/schema.ts";
import { publicAddressOf } from "../services/catalog.ts";
import { hetznerServer } from "./hetzner.ts";
import { scalewayServer } from "./scaleway.ts";

export interface Host {
  provider: docker.Provider;
  /** The address video and VPN clients reach. */
  publicAddress: pulumi.Output<string>;
}

/** A freshly created VM, reachable over SSH once cloud-init has installed Docker. */
export interface CloudServer {
  publicAddress: pulumi.Output<string>;
  /** Resolves once Docker answers on the server. */
  dockerReady: pulumi.Resource;
}

export function createHost(config: Association, parent: pulumi.Resource): Host {
  const host = config.host;
  switch (host.target) {
    case "local":
      // DOCKER_HOST, when set, wins: the provider reads it like the docker CLI.
      return {
        provider: new docker.Provider("local", {}, { parent }),
        publicAddress: pulumi.output(publicAddressOf(config)),
      };
    case "ssh":
      return {
        provider: new docker.Provider(
          "ssh",
          { host: `ssh://${host.user}@${host.address}:${host.port}`, sshOpts: ["-o", "BatchMode=yes"] },
          { parent },
        ),
        publicAddress: pulumi.output(publicAddressOf(config)),
      };
    case "hetzner":
    case "scaleway": {
      const server = host.target === "hetzner" ? hetznerServer(config, host, parent) : scalewayServer(config, host, parent);
      return {
        provider: new docker.Provider(
          host.target,
          { host: pulumi.interpolate`ssh://root@${server.publicAddress}`, sshOpts: ["-o", "StrictHostKeyChecking=accept-new", "-o", "BatchMode=yes"] },
          { parent, dependsOn: [server.dockerReady] },
        ),
        publicAddress: server.publicAddress,
      };
    }
  }
}
