// The Matrix entry of provisioners/services.ts: builds the client from the connection
// the stack passes, converges, and always ends the bot's session.
import type { Change, ConvergeResult } from "../model.ts";
import { converge } from "../model.ts";
import type { RunRequest } from "../run.ts";
import { resolveEndpoint, type DockerTarget, type Endpoint } from "../connections.ts";
import { createMatrixClient, matrixProvisioner } from "./index.ts";

/** What the stack passes in `connection` (a Pulumi secret: it holds the shared secret). */
export interface MatrixConnection {
  endpoint: Endpoint;
  /** The stack's Docker engine, to read Caddy's local CA on the local target. */
  docker?: DockerTarget;
  registrationSharedSecret: string;
  /** Defaults to the desired state's server name. */
  serverName?: string;
  /** The proxy's provisioning token: /_synapse/admin is otherwise reachable from the VPN only. */
  provisioningHeader?: Record<string, string>;
}

/** Kept between runs in the provider's state, as a Pulumi secret. */
export interface MatrixState {
  accessToken: string;
}

export async function runMatrix(request: RunRequest): Promise<ConvergeResult<Change> & { state?: unknown }> {
  const connection = request.connection as unknown as MatrixConnection;
  const serverName = connection.serverName ?? request.desired.matrix?.serverName;
  if (!connection.endpoint || !connection.registrationSharedSecret || !serverName)
    throw new Error("matrix: the connection needs an endpoint and registrationSharedSecret (and a server name)");
  const { baseUrl, dispatcher } = await resolveEndpoint(connection.endpoint, connection.docker);
  const client = createMatrixClient({
    baseUrl,
    dispatcher,
    registrationSharedSecret: connection.registrationSharedSecret,
    serverName,
    headers: connection.provisioningHeader,
    counter: request.counter,
    accessToken: (request.previousState as MatrixState | undefined)?.accessToken,
  });
  // The session is kept (its token goes to the provider's secret state), so the next
  // run checks it with a read instead of logging in again: an unchanged run writes nothing.
  const result = await converge(matrixProvisioner, request.desired, client, { concurrency: request.concurrency, dryRun: request.dryRun });
  const accessToken = await client.sessionToken();
  client.detach();
  return { ...result, state: accessToken ? { accessToken } : request.previousState };
}
