// The identity entry of provisioners/services.ts: builds the client from the connection
// the stack passes and converges. It runs before nextcloud and matrix: their logins need
// the clients it makes.
import type { Change, ConvergeResult } from "../model.ts";
import { converge } from "../model.ts";
import type { RunRequest } from "../run.ts";
import { resolveEndpoint, type DockerTarget, type Endpoint } from "../connections.ts";
import { createIdentityClient, identityProvisioner } from "./index.ts";

/** What the stack passes in `connection` (a Pulumi secret: it holds the administrator's password and the client secrets). */
export interface IdentityConnection {
  endpoint: Endpoint;
  /** The stack's Docker engine, to read Caddy's local CA on the local target. */
  docker?: DockerTarget;
  /** Keycloak's bootstrap administrator of the master realm (IDENTITY_SECRETS.admin). */
  admin: { username: string; password: string };
  /** By clientId (`nextcloud`, `matrix`): the secret each relying party's blueprint generated. */
  clientSecrets: Record<string, string>;
  /** The mail relay's password, when the file has a relay that logs in. */
  smtpPassword?: string;
  /** The proxy's provisioning header, if the admin API is otherwise reachable from the VPN only. */
  provisioningHeader?: Record<string, string>;
}

export async function runIdentity(request: RunRequest): Promise<ConvergeResult<Change>> {
  const connection = request.connection as unknown as IdentityConnection;
  if (!connection.endpoint || !connection.admin?.username || !connection.admin?.password)
    throw new Error("identity: the connection needs an endpoint and Keycloak's administrator (admin.username, admin.password)");
  const { baseUrl, dispatcher } = await resolveEndpoint(connection.endpoint, connection.docker);
  const client = createIdentityClient({
    baseUrl,
    dispatcher,
    admin: connection.admin,
    clientSecrets: connection.clientSecrets ?? {},
    ...(connection.smtpPassword ? { smtpPassword: connection.smtpPassword } : {}),
    headers: connection.provisioningHeader,
    counter: request.counter,
  });
  return converge(identityProvisioner, request.desired, client, { concurrency: request.concurrency, dryRun: request.dryRun });
}
