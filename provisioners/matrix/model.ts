// What the Matrix provisioner compares and changes, as plain data: the live state it
// reads back from Synapse, and the changes its plan is made of.
import type { Change } from "../model.ts";

/** Megolm, the only algorithm Element offers for rooms. */
export const ENCRYPTION_ALGORITHM = "m.megolm.v1.aes-sha2";

/** Order of the plan's phases: a room exists before it is linked or anyone is put in it. */
export const PHASES = { bot: 0, users: 1, rooms: 2, roomState: 3, invites: 4 } as const;

/** Where the bot's rate-limit override lives (synapse/rest/admin/users.py RateLimitRestServlet). */
export const ratelimitPath = (userId: string) => `/_synapse/admin/v1/users/${encodeURIComponent(userId)}/override_ratelimit`;

/** Synapse's override for "no rate limit at all" (0 per second, 0 burst). */
export const UNLIMITED = { messages_per_second: 0, burst_count: 0 } as const;

export interface LiveMatrixUser {
  id: string;
  displayName: string | null;
  deactivated: boolean;
  /** Deactivated with erasure (the admin API's `erased`, synapse/handlers/admin.py). */
  erased: boolean;
}

/**
 * Who decides who is in a room: only the bot (power 100; in room version 12, Synapse
 * 1.163's default, the creator is above every level). The `private_chat` preset gives
 * `invite: 0` (synapse/handlers/room.py, PRESET_PRIVATE_CHAT in _presets_dict), which
 * lets any member bring anyone in.
 */
export const INVITE_LEVEL = 100;

export interface LiveRoom {
  /** Full alias, e.g. #bureau:matrix.example.org. */
  alias: string;
  roomId: string;
  name: string | undefined;
  /** m.room.retention content, when set. */
  retention: Record<string, unknown> | undefined;
  /** m.room.encryption algorithm, when set. */
  encryption: string | undefined;
  /** User id → membership (join, invite, leave, ban). */
  members: Record<string, string>;
  /** For the space: room ids it lists as children (m.space.child with a `via`). */
  children: string[];
  /** For a room: space ids it lists as parents (m.space.parent with a `via`). */
  parents: string[];
  /** m.room.power_levels content. */
  powerLevels: Record<string, unknown> | undefined;
}

export interface LiveMatrix {
  /** By user id; Synapse's own users included. */
  users: Record<string, LiveMatrixUser>;
  /** By local alias (`bureau`, the space's too); null when the alias resolves to nothing. */
  rooms: Record<string, LiveRoom | null>;
  /**
   * By local alias: a room the alias points to that the bot created but nobody is in,
   * not even the bot. Left by a creation cut short (a 429 after the room and its alias
   * were made, before the creator joined); it is replaced.
   */
  stillborn?: Record<string, string>;
  /** The bot's own rate-limit override; {} when it has none. */
  botRatelimit?: { messages_per_second?: number; burst_count?: number };
}

export type RoomKind = "space" | "room";

type UserPayload = { userId: string; displayName: string };

/** Every write the provisioner makes, as data. */
export type MatrixChange =
  /** Lifts Synapse's rate limits for the bot: a real Synapse allows ~0.3 invites a second per room. */
  | Change<"bot.unlimit", { userId: string }>
  | Change<"user.create", UserPayload>
  | Change<"user.update", UserPayload>
  /** Re-activation after a departure the member came back from. */
  | Change<"user.enable", UserPayload>
  /** Deactivation without erasure: the account and its messages stay, nobody can log in. */
  | Change<"user.disable", { userId: string }>
  /** Deactivation with GDPR erasure. */
  | Change<"user.erase", { userId: string }>
  /** `replaces`: a stillborn room at the alias, deleted first. */
  | Change<"room.create", { alias: string; localAlias: string; name: string; kind: RoomKind; retention: { max_lifetime: number }; replaces?: string }>
  | Change<"room.name", { alias: string; name: string }>
  | Change<"room.retention", { alias: string; retention: { max_lifetime: number } }>
  | Change<"room.encryption", { alias: string; algorithm: string }>
  /** m.space.child in the space, for a room. */
  | Change<"space.child", { space: string; room: string }>
  /** m.space.parent in a room, for the space. */
  | Change<"space.parent", { space: string; room: string }>
  /** Only the bot may invite: m.room.power_levels with INVITE_LEVEL, the rest as it is. */
  | Change<"room.power", { alias: string; content: Record<string, unknown> }>
  /**
   * Puts the member in the room, as if they had accepted an invitation: Synapse's admin join
   * (POST /_synapse/admin/v1/join/{roomIdOrAlias}, synapse/rest/admin/rooms.py
   * JoinRoomAliasServlet, 1.163.2) invites them as the bot when the room is not public, then
   * joins them, both with ratelimit=False. A pending invitation is completed the same way.
   */
  | Change<"room.join", { alias: string; userId: string }>
  /** Out of a room the member's teams no longer include (a pending invite is revoked the same way). */
  | Change<"room.kick", { alias: string; userId: string }>;

export type MatrixChangeKind = MatrixChange["kind"];
