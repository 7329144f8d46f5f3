// Reads Synapse back through its APIs: what an outsider gets when trying to register, to
// come in as a guest or to federate, and, as Bastide's bot, every account's state and
// each provisioned room's m.room.retention.
import type { Dispatcher } from "undici";
import { createMatrixClient, TOOL_DEVICES } from "../../provisioners/matrix/index.ts";
import { describeError, errcodeOf } from "../../provisioners/matrix/client.ts";
import { HttpClient, type HttpResponse } from "../../provisioners/runtime/http.ts";
import type { HttpTuning } from "./nextcloud.ts";
import type { MatrixProbes, MatrixStateFacts, ProbeAnswer } from "./observed.ts";

export interface MatrixAuditConnection {
  /** Synapse's client API, e.g. https://matrix.example.org. */
  baseUrl: string;
  dispatcher?: Dispatcher;
  serverName: string;
  registrationSharedSecret: string;
  /** The proxy's provisioning header: /_synapse/admin is otherwise reachable from the VPN only. */
  headers?: Record<string, string>;
}

function probeAnswer(response: HttpResponse): ProbeAnswer {
  const json = response.json && typeof response.json === "object" ? (response.json as Record<string, any>) : {};
  const server = json.server && typeof json.server === "object" ? `${json.server.name ?? "?"} ${json.server.version ?? ""}`.trim() : null;
  return {
    status: response.status,
    errcode: typeof json.errcode === "string" ? json.errcode : null,
    error: typeof json.error === "string" ? json.error.slice(0, 200) : null,
    server,
  };
}

/**
 * Unauthenticated requests, as anyone on the Internet could send them. Registering with an
 * empty body never creates an account: Synapse refuses it (403) when registration is
 * closed, and otherwise answers 401 with the steps to complete. A guest registration,
 * though, succeeds at once on a server that (wrongly) allows guests: one guest account is
 * then created, and the check that reports it fails.
 */
export async function readMatrixProbes(connection: MatrixAuditConnection, tuning: HttpTuning = {}): Promise<MatrixProbes> {
  const http = new HttpClient({ service: "matrix", baseUrl: connection.baseUrl, dispatcher: connection.dispatcher, ...tuning });
  const [register, guest, federation] = await Promise.all([
    http.request("POST", "/_matrix/client/v3/register", { body: {} }),
    http.request("POST", "/_matrix/client/v3/register?kind=guest", { body: {} }),
    http.request("GET", "/_matrix/federation/v1/version"),
  ]);
  return { register: probeAnswer(register), guest: probeAnswer(guest), federation: probeAnswer(federation) };
}

/** As Bastide's bot: every account (deactivated ones too) and each room's retention rule. */
export async function readMatrixState(connection: MatrixAuditConnection, rooms: readonly string[], tuning: HttpTuning = {}): Promise<MatrixStateFacts> {
  const client = createMatrixClient({ ...connection, ...tuning, deviceId: TOOL_DEVICES.audit });
  try {
    const users = await client.listUsers().catch((error) => {
      throw new Error(`listing accounts as ${client.botUserId}: ${describeError(error)}`);
    });
    const sdk = await client.sdk();
    const found: MatrixStateFacts["rooms"] = {};
    for (const alias of rooms) {
      const full = `#${alias}:${connection.serverName}`;
      const roomId = await client.roomIdFor(full);
      if (!roomId) {
        found[alias] = null;
        continue;
      }
      let retention: Record<string, unknown> | null = null;
      try {
        retention = (await sdk.getStateEvent(roomId, "m.room.retention", "")) as Record<string, unknown>;
      } catch (error) {
        if (errcodeOf(error) !== "M_NOT_FOUND") throw new Error(`reading m.room.retention of ${full}: ${describeError(error)}`);
      }
      found[alias] = { roomId, retention };
    }
    return { accounts: users.map((u) => ({ id: u.name, deactivated: Boolean(u.deactivated) })), rooms: found };
  } finally {
    await client.close().catch(() => undefined);
  }
}
