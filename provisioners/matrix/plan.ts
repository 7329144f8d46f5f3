// The Matrix plan: pure, from the desired state and what Synapse holds to the list of
// writes. Nothing already right is touched, so a second run plans nothing.
import type { DesiredState } from "../desired.ts";
import { matrixUserId } from "../desired.ts";
import { ENCRYPTION_ALGORITHM, PHASES, UNLIMITED, type LiveMatrix, type LiveMatrixUser, type LiveRoom, type MatrixChange, type RoomKind } from "./model.ts";

type DesiredMatrix = NonNullable<DesiredState["matrix"]>;

const localpartOf = (userId: string) => userId.slice(1, userId.indexOf(":"));
const fullAlias = (local: string, serverName: string) => `#${local}:${serverName}`;

/** Same JSON whatever the key order. */
export function sameContent(a: unknown, b: unknown): boolean {
  const canonical = (v: unknown): string =>
    Array.isArray(v)
      ? `[${v.map(canonical).join(",")}]`
      : v && typeof v === "object"
        ? `{${Object.keys(v)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
            .join(",")}}`
        : JSON.stringify(v);
  return canonical(a) === canonical(b);
}

/** Erasure blanks the display name; Synapse 1.67 has no other sign of it in the admin API. */
const looksErased = (user: LiveMatrixUser) => user.deactivated && user.displayName === null;

function planUsers(matrix: DesiredMatrix, departures: DesiredState["departures"], live: LiveMatrix): { changes: MatrixChange[]; active: Set<string> } {
  const changes: MatrixChange[] = [];
  /** Accounts that will be usable after this run: only those get invites. */
  const active = new Set<string>();
  const comingBack = new Set(departures.enable);
  for (const user of matrix.users) {
    const existing = live.users[user.id];
    const payload = { userId: user.id, displayName: user.displayName };
    const base = { service: "matrix" as const, subject: `user ${user.localpart}`, member: user.localpart, phase: PHASES.users };
    if (!existing) {
      changes.push({ ...base, kind: "user.create", payload });
      active.add(user.id);
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
    if (existing && !looksErased(existing))
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

function planRoom(target: Target, live: LiveRoom | null, retention: { max_lifetime: number }, active: Set<string>): MatrixChange[] {
  const changes: MatrixChange[] = [];
  const { alias } = target;
  const room = { service: "matrix" as const, subject: `${target.kind} ${alias}` };
  if (!live) {
    changes.push({ ...room, kind: "room.create", phase: PHASES.rooms, payload: { alias, localAlias: target.localAlias, name: target.name, kind: target.kind, retention } });
  } else {
    if (live.name !== target.name) changes.push({ ...room, kind: "room.name", phase: PHASES.roomState, payload: { alias, name: target.name } });
    if (!sameContent(live.retention, retention)) changes.push({ ...room, kind: "room.retention", phase: PHASES.roomState, payload: { alias, retention } });
    // An algorithm once set cannot be changed; a missing one is added.
    if (target.kind === "room" && !live.encryption)
      changes.push({ ...room, kind: "room.encryption", phase: PHASES.roomState, payload: { alias, algorithm: ENCRYPTION_ALGORITHM } });
  }
  for (const userId of target.members) {
    const membership = live?.members[userId];
    // Joined and invited need nothing; a ban is a moderator's decision and stands.
    if (!active.has(userId) || membership === "join" || membership === "invite" || membership === "ban") continue;
    const member = localpartOf(userId);
    changes.push({ service: "matrix", kind: "room.invite", subject: `${member} → ${alias}`, member, phase: PHASES.invites, payload: { alias, userId } });
  }
  return changes;
}

function planLinks(space: Target, liveSpace: LiveRoom | null, room: Target, liveRoom: LiveRoom | null): MatrixChange[] {
  const changes: MatrixChange[] = [];
  const payload = { space: space.alias, room: room.alias };
  if (!liveSpace || !liveRoom || !liveSpace.children.includes(liveRoom.roomId))
    changes.push({ service: "matrix", kind: "space.child", subject: `${room.alias} in ${space.alias}`, phase: PHASES.roomState, payload });
  if (!liveSpace || !liveRoom || !liveRoom.parents.includes(liveSpace.roomId))
    changes.push({ service: "matrix", kind: "space.parent", subject: `${space.alias} as parent of ${room.alias}`, phase: PHASES.roomState, payload });
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
  const limited = live.botRatelimit?.messages_per_second !== UNLIMITED.messages_per_second || live.botRatelimit?.burst_count !== UNLIMITED.burst_count;
  const unlimit: MatrixChange[] = limited
    ? [{ service: "matrix", kind: "bot.unlimit", subject: `no rate limit for ${matrix.bot}`, phase: PHASES.bot, payload: { userId: matrix.bot } }]
    : [];
  return [
    ...unlimit,
    ...userChanges,
    ...planRoom(space, liveOf(space), retention, active),
    ...rooms.flatMap((r) => [...planRoom(r, liveOf(r), retention, active), ...planLinks(space, liveOf(space), r, liveOf(r))]),
  ];
}
