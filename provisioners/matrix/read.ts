// Reads back what Synapse holds for the desired state: every user through the admin
// API, and each room found by its alias, with the state and members the plan compares.
// Read-only: safe for `pulumi preview` (apart from the bot's own login).
import type { DesiredState } from "../desired.ts";
import { ProvisionError } from "../model.ts";
import { mapLimit } from "../runtime/concurrency.ts";
import { isStillborn } from "./apply.ts";
import { describeError, errcodeOf, type MatrixClient } from "./client.ts";
import { ratelimitPath, type LiveMatrix, type LiveMatrixUser, type LiveRoom, type RoomKind } from "./model.ts";

/** Rooms read at once; each read is itself a handful of parallel calls. */
const ROOMS_AT_ONCE = 2;

/** A state event's content, or undefined when the room has none of that type and key. */
async function optionalState(client: MatrixClient, roomId: string, type: string, stateKey = ""): Promise<Record<string, any> | undefined> {
  try {
    return await (await client.sdk()).getStateEvent(roomId, type, stateKey);
  } catch (error) {
    if (errcodeOf(error) === "M_NOT_FOUND") return undefined;
    throw error;
  }
}

const hasVia = (content: Record<string, any> | undefined) => Array.isArray(content?.via) && content.via.length > 0;

async function readMembers(client: MatrixClient, roomId: string): Promise<Record<string, string>> {
  const { chunk } = (await (await client.sdk()).members(roomId)) as unknown as { chunk: { state_key: string; content: { membership: string } }[] };
  return Object.fromEntries(chunk.map((e) => [e.state_key, e.content.membership]));
}

async function readRoom(client: MatrixClient, alias: string, roomId: string, kind: RoomKind, links: { children: string[]; parent?: string }): Promise<LiveRoom> {
  const [name, retention, encryption, members, children, parent, powerLevels] = await Promise.all([
    optionalState(client, roomId, "m.room.name"),
    optionalState(client, roomId, "m.room.retention"),
    kind === "room" ? optionalState(client, roomId, "m.room.encryption") : Promise.resolve(undefined),
    readMembers(client, roomId),
    Promise.all(links.children.map(async (child) => ((hasVia(await optionalState(client, roomId, "m.space.child", child))) ? child : undefined))),
    links.parent ? optionalState(client, roomId, "m.space.parent", links.parent) : Promise.resolve(undefined),
    optionalState(client, roomId, "m.room.power_levels"),
  ]);
  return {
    alias,
    roomId,
    name: name?.name,
    retention,
    encryption: encryption?.algorithm,
    members,
    children: children.filter((c): c is string => c !== undefined),
    parents: links.parent && hasVia(parent) ? [links.parent] : [],
    powerLevels,
  };
}

export async function readMatrix(client: MatrixClient, desired: DesiredState): Promise<LiveMatrix> {
  const matrix = desired.matrix;
  if (!matrix) return { users: {}, rooms: {} };
  const fullAlias = (local: string) => `#${local}:${matrix.serverName}`;
  let users: Record<string, LiveMatrixUser>;
  try {
    users = Object.fromEntries(
      (await client.listUsers()).map((u) => [u.name, { id: u.name, displayName: u.displayname ?? null, deactivated: Boolean(u.deactivated), erased: Boolean(u.erased) }]),
    );
  } catch (error) {
    throw new ProvisionError("matrix", undefined, `reading users: ${describeError(error)}`, { cause: error });
  }

  const targets = [{ local: matrix.space.alias, kind: "space" as const }, ...matrix.rooms.map((r) => ({ local: r.alias, kind: "room" as const }))];
  const ids = await mapLimit(targets, ROOMS_AT_ONCE, async (t) => {
    try {
      return await client.roomIdFor(fullAlias(t.local));
    } catch (error) {
      throw new ProvisionError("matrix", undefined, `looking up ${fullAlias(t.local)}: ${describeError(error)}`, { cause: error });
    }
  });
  const spaceId = ids[0];
  const roomIds = ids.slice(1).filter((id): id is string => id !== undefined);
  const stillborn: Record<string, string> = {};
  const rooms = await mapLimit(targets, ROOMS_AT_ONCE, async (t, i) => {
    const roomId = ids[i];
    if (!roomId) return null;
    const links = t.kind === "space" ? { children: roomIds } : { children: [], parent: spaceId };
    try {
      const room = await readRoom(client, fullAlias(t.local), roomId, t.kind, links);
      if (room.members[client.botUserId] === "join" || !(await isStillborn(client, roomId))) return room;
      stillborn[t.local] = roomId;
      return null;
    } catch (error) {
      if (errcodeOf(error) === "M_FORBIDDEN" && (await isStillborn(client, roomId).catch(() => false))) {
        stillborn[t.local] = roomId;
        return null;
      }
      const hint = errcodeOf(error) === "M_FORBIDDEN" ? ` (is ${client.botUserId} a member of ${roomId}?)` : "";
      throw new ProvisionError("matrix", undefined, `reading ${fullAlias(t.local)}: ${describeError(error)}${hint}`, { cause: error });
    }
  });
  let botRatelimit: LiveMatrix["botRatelimit"];
  try {
    botRatelimit = await client.adminJson("GET", ratelimitPath(client.botUserId));
  } catch (error) {
    throw new ProvisionError("matrix", undefined, `reading the bot's rate limits: ${describeError(error)}`, { cause: error });
  }
  return { users, rooms: Object.fromEntries(targets.map((t, i) => [t.local, rooms[i]!])), botRatelimit, ...(Object.keys(stillborn).length ? { stillborn } : {}) };
}
