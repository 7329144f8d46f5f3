// The Nextcloud settings entry for provisioners/run.ts: occ through the stack's Docker engine,
// the APIs through the proxy as the service account.
import { resolveEndpoint, type DockerTarget, type Endpoint } from "../connections.ts";
import type { ServiceRunner } from "../run.ts";
import { dockerFor } from "../runtime/docker.ts";
import { createNextcloudClient } from "../nextcloud/client.ts";
import { dockerOcc } from "./occ.ts";
import { convergeNextcloudSettings } from "./provisioner.ts";

/** What the stack passes in `connection` (a Pulumi secret: it holds the password). Nextcloud's, plus the app container. */
export interface NextcloudSettingsConnection {
  endpoint: Endpoint;
  /** The stack's Docker engine: occ runs there, and Caddy's local CA is read from it. */
  docker: DockerTarget;
  user: string;
  password: string;
  /** The app container; Bastide's own when absent. */
  container?: string;
  /** The proxy's provisioning token (Nextcloud's admin API is VPN-only otherwise). */
  provisioningHeader?: Record<string, string>;
  /** NEXTCLOUD_SECRETS.oidcClient, when the identity provider is enabled: user_oidc's client secret. */
  oidcClientSecret?: string;
}

export const runNextcloudSettings: ServiceRunner = async (request) => {
  const desired = request.desired.nextcloudSettings;
  if (!desired) return { planned: [], applied: [], failed: [] };
  const connection = request.connection as unknown as NextcloudSettingsConnection;
  if (!connection.endpoint || !connection.docker || !connection.user || !connection.password)
    throw new Error("nextcloud settings: the connection needs an endpoint, the Docker engine, a user and a password");
  const { baseUrl, dispatcher } = await resolveEndpoint(connection.endpoint, connection.docker);
  const nextcloud = createNextcloudClient({ baseUrl, user: connection.user, password: connection.password, counter: request.counter, dispatcher, headers: connection.provisioningHeader });
  const occ = dockerOcc({ docker: dockerFor(connection.docker), ...(connection.container ? { container: connection.container } : {}) });
  const client = {
    occ,
    nextcloud,
    ...(request.counter ? { counter: request.counter } : {}),
    ...(connection.oidcClientSecret ? { oidcClientSecret: connection.oidcClientSecret } : {}),
  };
  return convergeNextcloudSettings(desired, client, {
    concurrency: request.concurrency,
    ...(request.dryRun ? { dryRun: true } : {}),
  });
};
