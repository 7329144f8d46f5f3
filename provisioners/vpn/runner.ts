// The VPN entry of provisioners/services.ts: wg runs in the WireGuard container.
import { converge } from "../model.ts";
import type { ServiceRunner } from "../run.ts";
import type { DockerTarget } from "../connections.ts";
import { dockerFor, execInContainer } from "../runtime/docker.ts";
import { SERVER_CONF_PATH } from "../../stacks/services/vpn/blueprint.ts";
import { vpnProvisioner, type VpnClient, type WgCommands } from "./provisioner.ts";
import type { PeerLedger } from "./server.ts";

/** What the stack passes in `connection` (a Pulumi secret: it holds the key seeds). */
export interface VpnConnection {
  docker: DockerTarget;
  container: string;
  subnet: string;
  port: number;
  serverKeySeed: string;
  seeds: Record<string, string>;
}

export function dockerWg(docker: DockerTarget, container: string): WgCommands {
  const engine = dockerFor(docker);
  return { where: `container ${container}`, run: (cmd, input) => execInContainer(engine, container, cmd, input === undefined ? {} : { input }) };
}

export const runVpn: ServiceRunner = async (request) => {
  const connection = request.connection as unknown as VpnConnection;
  const client: VpnClient = {
    commands: dockerWg(connection.docker, connection.container),
    confPath: SERVER_CONF_PATH,
    subnet: connection.subnet,
    port: connection.port,
    serverKeySeed: connection.serverKeySeed,
    seeds: connection.seeds,
    previous: (request.previousState as PeerLedger | undefined) ?? {},
    counter: request.counter,
  };
  const result = await converge(vpnProvisioner, request.desired, client, { concurrency: request.concurrency, dryRun: request.dryRun });
  // Keep the addresses the server now has, for the day its file starts empty again.
  return { ...result, state: Object.fromEntries(result.live ? result.live.next.map((p) => [p.id, p]) : []) };
};
