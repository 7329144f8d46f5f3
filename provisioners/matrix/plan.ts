// The Matrix plan: pure, from the desired state and what Synapse holds to the list of
// writes. Nothing already right is touched, so a second run plans nothing. Every write
// into a room has that room's alias as its lane, so writes into one room go one after
// another and the requests in flight go to different rooms: Synapse 1.163.2 creates one
// room's events one at a time (memberships: RoomMemberHandler.member_linearizer keyed by
// room id, synapse/handlers/room_member.py:120 and :670; other events: the
// room_event_creation_limit Linearizer, max_count=1, synapse/handlers/message.py:518 and
// :1093, "so that we don't fork the DAG too much"), so a second request into the same room
// only waits there, and the adaptive limiter reads that wait as a busy server.
import type { DesiredState } from "../desired.ts";
import { matrixUserId } from "../desired.ts";
import { ProvisionError } from "../model.ts";
import { ENCRYPTION_ALGORITHM, INVITE_LEVEL, PHASES, UNLIMITED, type LiveMatrix, type LiveMatrixUser, type LiveRoom, type MatrixChange, type RoomKind } from "./model.ts";
import { sameContent } from "../runtime/same-content.ts";

type DesiredMatrix = NonNullable<DesiredState["matrix"]>;

const localpartOf = (userId: string) => userId.slice(1, userId.indexOf(":"));
const fullAlias = (local: string, serverName: string) => `#${local}:${serverName}`;


const isErased = (user: LiveMatrixUser) => user.deactivated && user.erased;

/**
 * A member in the config whose account was erased earlier. Re-activating it would undo the
 * erasure: Synapse's activate_account marks the user "not erased" (Synapse 1.163.2,
 * synapse/handlers/deactivate_account.py), so the old messages would show again to anyone
 * who joins later. Refused, naming the member, before anything is changed.
 */
function refuseErased(localpart: string, userId: string): ProvisionError {
  return new ProvisionError(
    "matrix",
    localpart,
    `${userId} was erased (right to erasure) and cannot be given back without undoing the erasure. ` +
      `Give this member a new id in the config file (members[].id), e.g. "${localpart}2"; their other accounts follow the same id.`,
  );
}

function planUsers(matrix: DesiredMatrix, departures: DesiredState["departures"], live: LiveMatrix): { changes: MatrixChange[]; active: Set<string> } {
  const changes: MatrixChange[] = [];
  /** Accounts that will be usable after this run: only those are put in rooms. */
  const active = new Set<string>();
  const comingBack = new Set(departures.enable);
  for (const user of matrix.users) {
    const existing = live.users[user.id];
    const payload = { userId: user.id, displayName: user.displayName };
    const base = { service: "matrix" as const, subject: `user ${user.localpart}`, member: user.localpart, phase: PHASES.users };
    if (!existing) {
      changes.push({ ...base, kind: "user.create", payload });
      active.add(user.id);
    } else if (isErased(existing)) {
      throw refuseErased(user.localpart, user.id);
    } else if (existing.deactivated) {
      // Deactivated by hand and not a returning departure: left as the admin made it.
      if (comingBack.has(user.localpart)) {
        changes.push({ ...base, kind: "user.enable", payload });
        active.add(user.id);
      }
    } else {
      if (existing.displayName !== user.displayName) changes.push({ ...base, kind: "user.update", payload });
      active.add(user.id);
    }
  }
  for (const member of departures.disable) {
    const userId = matrixUserId(member, matrix.serverName);
    const existing = live.users[userId];
    if (existing && !existing.deactivated)
      changes.push({ service: "matrix", kind: "user.disable", subject: `user ${member}`, member, phase: PHASES.users, payload: { userId } });
  }
  for (const member of departures.erase) {
    const userId = matrixUserId(member, matrix.serverName);
    const existing = live.users[userId];
    if (existing && !isErased(existing))
      changes.push({ service: "matrix", kind: "user.erase", subject: `user ${member}`, member, phase: PHASES.users, payload: { userId } });
  }
  return { changes, active };
}

interface Target {
  localAlias: string;
  alias: string;
  name: string;
  kind: RoomKind;
  members: string[];
}

/** The power levels that keep invitations to the bot; undefined when they already do. */
function lockedInvites(powerLevels: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  // An absent `invite` means 0 (Matrix spec, m.room.power_levels).
  if (powerLevels?.invite === INVITE_LEVEL) return undefined;
  return { ...powerLevels, invite: INVITE_LEVEL };
}

/** Who the plan leaves alone in a room: the bot, and accounts this run disables or erases (deactivation parts them). */
interface Outsiders {
  bot: string;
  leaving: Set<string>;
}

function planRoom(target: Target, live: LiveRoom | null, retention: { max_lifetime: number }, active: Set<string>, others: Outsiders, stillborn?: string): MatrixChange[] {
  const changes: MatrixChange[] = [];
  const { alias } = target;
  const room = { service: "matrix" as const, subject: `${target.kind} ${alias}`, lane: alias };
  if (!live) {
    const payload = { alias, localAlias: target.localAlias, name: target.name, kind: target.kind, retention, ...(stillborn ? { replaces: stillborn } : {}) };
    changes.push({ ...room, kind: "room.create", phase: PHASES.rooms, payload });
  } else {
    const power = lockedInvites(live.powerLevels);
    if (power) changes.push({ ...room, kind: "room.power", phase: PHASES.roomState, payload: { alias, content: power } });
    if (live.name !== target.name) changes.push({ ...room, kind: "room.name", phase: PHASES.roomState, payload: { alias, name: target.name } });
    if (!sameContent(live.retention, retention)) changes.push({ ...room, kind: "room.retention", phase: PHASES.roomState, payload: { alias, retention } });
    // An algorithm once set cannot be changed; a missing one is added.
    if (target.kind === "room" && !live.encryption)
      changes.push({ ...room, kind: "room.encryption", phase: PHASES.roomState, payload: { alias, algorithm: ENCRYPTION_ALGORITHM } });
  }
  for (const userId of target.members) {
    const membership = live?.members[userId];
    // Members land in their rooms without an invitation to find and accept: a pending one
    // (left by an earlier release, or a join cut short) is completed. A ban is a
    // moderator's decision and stands.
    if (!active.has(userId) || membership === "join" || membership === "ban") continue;
    const member = localpartOf(userId);
    changes.push({ service: "matrix", kind: "room.join", subject: `${member} → ${alias}`, member, phase: PHASES.invites, lane: alias, payload: { alias, userId } });
  }
  // Only the config says who is in: anyone else joined or invited is taken out.
  const wanted = new Set(target.members);
  for (const [userId, membership] of Object.entries(live?.members ?? {})) {
    if ((membership !== "join" && membership !== "invite") || wanted.has(userId) || userId === others.bot || others.leaving.has(userId)) continue;
    const member = localpartOf(userId);
    changes.push({ service: "matrix", kind: "room.kick", subject: `${member} out of ${alias}`, member, phase: PHASES.invites, lane: alias, payload: { alias, userId } });
  }
  return changes;
}

function planLinks(space: Target, liveSpace: LiveRoom | null, room: Target, liveRoom: LiveRoom | null): MatrixChange[] {
  const changes: MatrixChange[] = [];
  const payload = { space: space.alias, room: room.alias };
  if (!liveSpace || !liveRoom || !liveSpace.children.includes(liveRoom.roomId))
    changes.push({ service: "matrix", kind: "space.child", subject: `${room.alias} in ${space.alias}`, phase: PHASES.roomState, lane: space.alias, payload });
  if (!liveSpace || !liveRoom || !liveRoom.parents.includes(liveSpace.roomId))
    changes.push({ service: "matrix", kind: "space.parent", subject: `${space.alias} as parent of ${room.alias}`, phase: PHASES.roomState, lane: room.alias, payload });
  return changes;
}

export function planMatrix(desired: DesiredState, live: LiveMatrix): MatrixChange[] {
  const matrix = desired.matrix;
  if (!matrix) return [];
  const { changes: userChanges, active } = planUsers(matrix, desired.departures, live);
  const retention = { max_lifetime: matrix.retentionMs };
  const target = (localAlias: string, name: string, kind: RoomKind, members: string[]): Target => ({
    localAlias,
    alias: fullAlias(localAlias, matrix.serverName),
    name,
    kind,
    members,
  });
  const space = target(matrix.space.alias, matrix.space.name, "space", matrix.space.members);
  const rooms = matrix.rooms.map((r) => target(r.alias, r.name, "room", r.members));
  const liveOf = (t: Target) => live.rooms[t.localAlias] ?? null;
  const leaving = new Set([...desired.departures.disable, ...desired.departures.erase].map((m) => matrixUserId(m, matrix.serverName)));
  for (const [id, user] of Object.entries(live.users)) if (user.deactivated) leaving.add(id);
  const others: Outsiders = { bot: matrix.bot, leaving };
  const roomPlan = (t: Target) => planRoom(t, liveOf(t), retention, active, others, live.stillborn?.[t.localAlias]);
  const limited = live.botRatelimit?.messages_per_second !== UNLIMITED.messages_per_second || live.botRatelimit?.burst_count !== UNLIMITED.burst_count;
  const unlimit: MatrixChange[] = limited
    ? [{ service: "matrix", kind: "bot.unlimit", subject: `no rate limit for ${matrix.bot}`, phase: PHASES.bot, payload: { userId: matrix.bot } }]
    : [];
  return [
    ...unlimit,
    ...userChanges,
    ...roomPlan(space),
    ...rooms.flatMap((r) => [...roomPlan(r), ...planLinks(space, liveOf(space), r, liveOf(r))]),
  ];
}
