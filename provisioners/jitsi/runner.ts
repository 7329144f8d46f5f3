// The Jitsi runner for provisioners/run.ts: its connection names the Docker engine the stack
// runs on and the prosody container; prosodyctl runs there through dockerode exec.
import type { DockerTarget } from "../connections.ts";
import { converge } from "../model.ts";
import type { ServiceRunner } from "../run.ts";
import { dockerProsody } from "./commands.ts";
import { dockerFor } from "../runtime/docker.ts";
import { jitsiProvisioner } from "./provisioner.ts";

export interface JitsiConnection {
  docker: DockerTarget;
  /** The prosody container; Bastide's own by default. */
  container?: string;
  /** Prosody's config inside the container; the docker-jitsi-meet image's by default. */
  configFile?: string;
}

export const runJitsi: ServiceRunner = (request) => {
  const connection = request.connection as unknown as JitsiConnection;
  const commands = dockerProsody({
    docker: dockerFor(connection.docker),
    ...(connection.container ? { container: connection.container } : {}),
    ...(connection.configFile ? { configFile: connection.configFile } : {}),
  });
  return converge(jitsiProvisioner, request.desired, { commands, ...(request.counter ? { counter: request.counter } : {}) }, {
    concurrency: request.concurrency,
    ...(request.dryRun ? { dryRun: true } : {}),
  });
};
