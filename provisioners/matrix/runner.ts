// The Matrix entry of provisioners/services.ts: builds the client from the connection
// the stack passes, converges, and always ends the bot's session.
import type { Change, ConvergeResult } from "../model.ts";
import { converge } from "../model.ts";
import type { RunRequest } from "../run.ts";
import { createMatrixClient, matrixProvisioner } from "./index.ts";

/** What the stack passes in `connection` (a Pulumi secret: it holds the shared secret). */
export interface MatrixConnection {
  baseUrl: string;
  registrationSharedSecret: string;
  /** Defaults to the desired state's server name. */
  serverName?: string;
  headers?: Record<string, string>;
}

export async function runMatrix(request: RunRequest): Promise<ConvergeResult<Change>> {
  const connection = request.connection as unknown as MatrixConnection;
  const serverName = connection.serverName ?? request.desired.matrix?.serverName;
  if (!connection.baseUrl || !connection.registrationSharedSecret || !serverName)
    throw new Error("matrix: the connection needs baseUrl and registrationSharedSecret (and a server name)");
  const client = createMatrixClient({
    baseUrl: connection.baseUrl,
    registrationSharedSecret: connection.registrationSharedSecret,
    serverName,
    headers: connection.headers,
    counter: request.counter,
  });
  try {
    return await converge(matrixProvisioner, request.desired, client, { concurrency: request.concurrency, dryRun: request.dryRun });
  } finally {
    await client.close().catch(() => undefined);
  }
}
