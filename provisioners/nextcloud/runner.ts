// The Nextcloud entry of provisioners/services.ts: users, groups and memberships.
import { resolveEndpoint, type DockerTarget, type Endpoint } from "../connections.ts";
import { converge } from "../model.ts";
import type { ServiceRunner } from "../run.ts";
import { createNextcloudClient, nextcloudProvisioner } from "./index.ts";

/** What the stack passes in `connection` (a Pulumi secret: it holds the password). */
export interface NextcloudConnection {
  endpoint: Endpoint;
  /** The stack's Docker engine, to read Caddy's local CA on the local target. */
  docker?: DockerTarget;
  user: string;
  password: string;
  /** The proxy's provisioning token: Nextcloud's admin API is VPN-only otherwise (stacks/services/nextcloud/blueprint.ts ADMIN_PATHS). */
  provisioningHeader?: Record<string, string>;
}

export const runNextcloud: ServiceRunner = async (request) => {
  const connection = request.connection as unknown as NextcloudConnection;
  const { baseUrl, dispatcher } = await resolveEndpoint(connection.endpoint, connection.docker);
  const client = createNextcloudClient({ baseUrl, user: connection.user, password: connection.password, counter: request.counter, dispatcher, concurrency: request.concurrency, headers: connection.provisioningHeader });
  return converge(nextcloudProvisioner, request.desired, client, { concurrency: request.concurrency, dryRun: request.dryRun });
};
