// Makes one planned change. A create retried after the first attempt took effect
// (its answer lost) is read as success: users are PUT (idempotent), rooms are found by
// their alias. Any other refusal becomes a ProvisionError naming the member.
import { randomBytes } from "node:crypto";
import { ProvisionError } from "../model.ts";
import { describeError, errcodeOf, MatrixApiError, type MatrixClient } from "./client.ts";
import { ENCRYPTION_ALGORITHM, INVITE_LEVEL, ratelimitPath, UNLIMITED, type MatrixChange } from "./model.ts";

/**
 * Synapse's default event power levels for room version 12, its default (Synapse 1.163.2,
 * synapse/handlers/room.py, _send_events_for_new_room; synapse/config/server.py
 * DEFAULT_ROOM_VERSION); power_level_content_override replaces the whole map.
 */
const DEFAULT_EVENT_LEVELS = {
  "m.room.name": 50,
  "m.room.power_levels": 100,
  "m.room.history_visibility": 100,
  "m.room.canonical_alias": 50,
  "m.room.avatar": 50,
  // Above every member: in room version 12 only the creators (the bot) can end a room.
  "m.room.tombstone": 150,
  "m.room.server_acl": 100,
  "m.room.encryption": 100,
};
/** Only the bot (power 100) sets retention: moderators cannot shorten or lengthen it. */
const EVENT_LEVELS = { ...DEFAULT_EVENT_LEVELS, "m.room.retention": 100 };

const adminUserPath = (userId: string) => `/_synapse/admin/v2/users/${encodeURIComponent(userId)}`;

async function putState(client: MatrixClient, roomId: string, type: string, content: Record<string, unknown>, stateKey = ""): Promise<void> {
  const sdk = await client.sdk();
  await (sdk.sendStateEvent as (r: string, t: string, c: object, k: string) => Promise<unknown>).call(sdk, roomId, type, content, stateKey);
}

async function existingRoom(client: MatrixClient, alias: string): Promise<string> {
  const roomId = await client.roomIdFor(alias);
  if (!roomId) throw new Error(`${alias} does not exist`);
  return roomId;
}

async function membershipOf(client: MatrixClient, roomId: string, userId: string): Promise<string | undefined> {
  try {
    return ((await (await client.sdk()).getStateEvent(roomId, "m.room.member", userId)) as { membership?: string }).membership;
  } catch (error) {
    if (errcodeOf(error) === "M_NOT_FOUND") return undefined;
    throw error;
  }
}

async function expectStatus(promise: Promise<{ status: number; json: any; text: string }>, accepted: number[]): Promise<void> {
  const response = await promise;
  if (!accepted.includes(response.status))
    throw new MatrixApiError(response.status, response.json?.errcode, response.json?.error ?? (response.text.slice(0, 200) || "no message"));
}

function createRoomRequest(change: Extract<MatrixChange, { kind: "room.create" }>["payload"]) {
  const retention = { type: "m.room.retention", state_key: "", content: change.retention };
  if (change.kind === "space")
    return {
      preset: "private_chat",
      visibility: "private",
      name: change.name,
      room_alias_name: change.localAlias,
      creation_content: { type: "m.space" },
      initial_state: [retention],
      // Members read the space; only the bot posts in it.
      power_level_content_override: { events_default: 100, invite: INVITE_LEVEL, events: EVENT_LEVELS },
    };
  return {
    preset: "private_chat",
    visibility: "private",
    name: change.name,
    room_alias_name: change.localAlias,
    initial_state: [retention, { type: "m.room.encryption", state_key: "", content: { algorithm: ENCRYPTION_ALGORITHM } }],
    power_level_content_override: { invite: INVITE_LEVEL, events: EVENT_LEVELS },
  };
}

/**
 * True when the room is one the bot created and nobody is in, the bot included: what a
 * creation cut short leaves (Synapse 1.163.2, synapse/handlers/room.py create_room binds
 * the alias before _send_events_for_new_room makes the creator join). Read through the
 * admin API, which answers whether or not the bot is in the room.
 */
export async function isStillborn(client: MatrixClient, roomId: string): Promise<boolean> {
  const response = await client.admin("GET", `/_synapse/admin/v1/rooms/${encodeURIComponent(roomId)}`);
  if (response.status !== 200) return false;
  return response.json?.creator === client.botUserId && response.json?.joined_members === 0;
}

/** Deletes a stillborn room and, with it, its alias (purge removes room_aliases rows: synapse/storage/databases/main/purge_events.py). */
async function discardRoom(client: MatrixClient, alias: string, roomId: string): Promise<void> {
  await expectStatus(client.admin("DELETE", `/_synapse/admin/v1/rooms/${encodeURIComponent(roomId)}`, { purge: true, block: false }), [200]);
  client.forgetRoom(alias);
}

async function createRoom(client: MatrixClient, payload: Extract<MatrixChange, { kind: "room.create" }>["payload"]): Promise<void> {
  if (payload.replaces) await discardRoom(client, payload.alias, payload.replaces);
  const sdk = await client.sdk();
  const request = createRoomRequest(payload) as Parameters<typeof sdk.createRoom>[0];
  // Twice at most: a creation cut short in this very run leaves a stillborn room at the alias.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const { room_id } = await sdk.createRoom(request);
      client.rememberRoom(payload.alias, room_id);
      return;
    } catch (error) {
      if (errcodeOf(error) !== "M_ROOM_IN_USE") throw error;
      const existing = await client.roomIdFor(payload.alias);
      if (!existing) throw error;
      // The alias is taken by a room this run made: either whole (an attempt whose answer
      // was lost, nothing to do) or stillborn (replaced).
      if (!(await isStillborn(client, existing))) return;
      await discardRoom(client, payload.alias, existing);
    }
  }
  throw new Error(`${payload.alias} was left half-created twice in a row`);
}

async function applyChange(change: MatrixChange, client: MatrixClient): Promise<void> {
  const via = [client.serverName];
  switch (change.kind) {
    case "bot.unlimit":
      return expectStatus(client.admin("POST", ratelimitPath(change.payload.userId), { ...UNLIMITED }), [200]);
    case "user.create":
      // 201 created; 200 when a retried create had already taken effect. No password: members
      // log in through the identity provider (or, without one, set theirs with first-password).
      return expectStatus(client.admin("PUT", adminUserPath(change.payload.userId), { displayname: change.payload.displayName }), [200, 201]);
    case "user.update":
      return expectStatus(client.admin("PUT", adminUserPath(change.payload.userId), { displayname: change.payload.displayName }), [200]);
    case "user.enable":
      // The password is random and never kept, so it opens nothing: the member comes back in
      // through the identity provider (or, without one, sets a password with first-password).
      return expectStatus(
        client.admin("PUT", adminUserPath(change.payload.userId), {
          deactivated: false,
          password: randomBytes(32).toString("base64url"),
          displayname: change.payload.displayName,
        }),
        [200],
      );
    case "user.disable":
    case "user.erase":
      // 404: the account is gone already, which is what was asked.
      return expectStatus(
        client.admin("POST", `/_synapse/admin/v1/deactivate/${encodeURIComponent(change.payload.userId)}`, { erase: change.kind === "user.erase" }),
        [200, 404],
      );
    case "room.create":
      return createRoom(client, change.payload);
    case "room.name":
      return putState(client, await existingRoom(client, change.payload.alias), "m.room.name", { name: change.payload.name });
    case "room.retention":
      return putState(client, await existingRoom(client, change.payload.alias), "m.room.retention", change.payload.retention);
    case "room.encryption":
      return putState(client, await existingRoom(client, change.payload.alias), "m.room.encryption", { algorithm: change.payload.algorithm });
    case "space.child": {
      const [spaceId, roomId] = [await existingRoom(client, change.payload.space), await existingRoom(client, change.payload.room)];
      return putState(client, spaceId, "m.space.child", { via, suggested: true }, roomId);
    }
    case "space.parent": {
      const [spaceId, roomId] = [await existingRoom(client, change.payload.space), await existingRoom(client, change.payload.room)];
      return putState(client, roomId, "m.space.parent", { via, canonical: true }, spaceId);
    }
    case "room.power":
      return putState(client, await existingRoom(client, change.payload.alias), "m.room.power_levels", change.payload.content);
    case "room.join": {
      const roomId = await existingRoom(client, change.payload.alias);
      const response = await client.admin("POST", `/_synapse/admin/v1/join/${encodeURIComponent(roomId)}`, { user_id: change.payload.userId });
      // A retried join whose first answer was lost finds the member in already: Synapse then
      // refuses its own invite step (403 "… is already in the room.", recorded in
      // test/contracts/recordings/synapse-1.163/rooms.json), which is what was asked.
      if (response.status === 403 && (await membershipOf(client, roomId, change.payload.userId)) === "join") return;
      return expectStatus(Promise.resolve(response), [200]);
    }
    case "room.kick": {
      const roomId = await existingRoom(client, change.payload.alias);
      // A kick also revokes a pending invite (Matrix spec, /kick: "the target's membership … leave").
      await (await client.sdk()).kick(roomId, change.payload.userId, "no longer in this team (Bastide)");
      return;
    }
  }
}

export async function applyMatrixChange(change: MatrixChange, client: MatrixClient): Promise<void> {
  try {
    await applyChange(change, client);
  } catch (error) {
    throw new ProvisionError("matrix", change.member, `${change.subject}: ${describeError(error)}`, { cause: error });
  }
}
