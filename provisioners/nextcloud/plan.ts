// What Nextcloud must change so its accounts and groups match the config. Pure: it
// compares the desired state with what a read found, and says nothing about HTTP.
//
// Bastide only touches what it manages: the members of the config and those leaving,
// the groups it creates (teams, the everyone group, the admins' two-factor group) and
// `admin` for admins. Of the service account only the display name is kept in line (it
// shows beside the calendars it shares); anyone else in Nextcloud is never read, changed
// or removed.
import type { Change } from "../model.ts";
import { NEXTCLOUD_ADMIN_GROUP, type DesiredNextcloudUser, type DesiredState } from "../desired.ts";

export type NextcloudDesired = Pick<DesiredState, "nextcloud" | "departures">;

export interface LiveNextcloudUser {
  id: string;
  displayName: string;
  /**
   * null when Nextcloud does not say: right after a creation with an e-mail, GET user
   * may answer `"email": null` for a while although the address is set. Treated as
   * unknown, never rewritten, so a re-run stays silent.
   */
  email: string | null;
  /** The effective quota in bytes; negative (-3) or 0 when unlimited; undefined when not reported. */
  quotaBytes: number | undefined;
  language: string;
  enabled: boolean;
  groups: string[];
}

export interface NextcloudLive {
  /** Every group, by id. */
  groups: Map<string, { displayName: string }>;
  /** The managed users (wanted or departing) that exist, by id. */
  users: Map<string, LiveNextcloudUser>;
  /** The service account, read only when the desired state names it. */
  serviceAccount?: LiveNextcloudUser;
}

/** Account fields Bastide keeps in line with the config, by their OCS key. */
export type UserKey = "displayname" | "email" | "quota" | "language";

export type NextcloudChange =
  | Change<"group.create" | "group.rename", { group: string; displayName: string }>
  | Change<"user.create", DesiredNextcloudUser>
  | Change<"user.update", { id: string; key: UserKey; value: string }>
  | Change<"user.enable" | "user.disable" | "user.delete", { id: string }>
  | Change<"membership.add" | "membership.remove", { id: string; group: string }>;

/**
 * Departures first: a departed member loses access even when something later fails.
 * Groups before users (a new user is created straight into its groups), users before
 * the edits and memberships of existing ones.
 */
export const NEXTCLOUD_PHASES = { departures: 0, groups: 0, users: 1, details: 2 } as const;

const SERVICE = "nextcloud" as const;

/** Bytes, as Nextcloud's computerFileSize reads "5 GB" (powers of 1024); undefined for "none". */
export function quotaBytes(quota: string): number | undefined {
  const match = /^(\d+) ?([kmgtp]?b?)$/i.exec(quota.trim());
  if (!match) return undefined;
  const unit = match[2]!.toLowerCase().replace(/b$/, "");
  const power = ["", "k", "m", "g", "t", "p"].indexOf(unit);
  return Number(match[1]) * 1024 ** power;
}

/** Does the live quota already say what the config asks? Unknown counts as yes: no blind rewrite. */
export function quotaMatches(desired: string, live: number | undefined): boolean {
  if (live === undefined) return true;
  const bytes = quotaBytes(desired);
  return bytes === undefined ? live <= 0 : live === bytes;
}

const sameEmail = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

/** The field edits an existing account needs, one change per field. */
export function userEdits(desired: DesiredNextcloudUser, live: LiveNextcloudUser): { key: UserKey; value: string }[] {
  const edits: { key: UserKey; value: string }[] = [];
  if (live.displayName !== desired.displayName) edits.push({ key: "displayname", value: desired.displayName });
  // Nextcloud stores addresses in lower case; null means "not said", see LiveNextcloudUser.
  if (live.email !== null && !sameEmail(live.email, desired.email)) edits.push({ key: "email", value: desired.email });
  if (!quotaMatches(desired.quota, live.quotaBytes)) edits.push({ key: "quota", value: desired.quota });
  if (live.language !== desired.language) edits.push({ key: "language", value: desired.language });
  return edits;
}

export function planNextcloud(desired: NextcloudDesired, live: NextcloudLive): NextcloudChange[] {
  const nc = desired.nextcloud;
  if (!nc) return [];
  const changes: NextcloudChange[] = [];
  const wanted = new Set(nc.users.map((u) => u.id));
  // Never the service account, never someone the config still lists.
  const leaving = (id: string) => id !== nc.serviceAccount && !wanted.has(id);
  const managedGroups = new Set([...nc.groups.map((g) => g.id), NEXTCLOUD_ADMIN_GROUP]);
  const { departures } = desired;

  for (const id of departures.erase.filter(leaving)) {
    if (live.users.has(id)) {
      changes.push({ service: SERVICE, kind: "user.delete", subject: `user ${id}`, member: id, phase: NEXTCLOUD_PHASES.departures, payload: { id } });
    }
  }
  for (const id of departures.disable.filter(leaving)) {
    if (departures.erase.includes(id)) continue;
    if (live.users.get(id)?.enabled) {
      changes.push({ service: SERVICE, kind: "user.disable", subject: `user ${id}`, member: id, phase: NEXTCLOUD_PHASES.departures, payload: { id } });
    }
  }

  for (const group of nc.groups) {
    const found = live.groups.get(group.id);
    if (!found) {
      changes.push({ service: SERVICE, kind: "group.create", subject: `group ${group.id}`, phase: NEXTCLOUD_PHASES.groups, payload: { group: group.id, displayName: group.displayName } });
    } else if (found.displayName !== group.displayName) {
      changes.push({ service: SERVICE, kind: "group.rename", subject: `group ${group.id}`, phase: NEXTCLOUD_PHASES.groups, payload: { group: group.id, displayName: group.displayName } });
    }
  }

  const service = live.serviceAccount;
  if (nc.serviceAccountName !== undefined && service && service.displayName !== nc.serviceAccountName) {
    changes.push({
      service: SERVICE,
      kind: "user.update",
      subject: `${nc.serviceAccount}: displayname`,
      phase: NEXTCLOUD_PHASES.details,
      payload: { id: nc.serviceAccount, key: "displayname", value: nc.serviceAccountName },
    });
  }

  for (const user of nc.users) {
    if (user.id === nc.serviceAccount) continue;
    const found = live.users.get(user.id);
    if (!found) {
      changes.push({ service: SERVICE, kind: "user.create", subject: `user ${user.id}`, member: user.id, phase: NEXTCLOUD_PHASES.users, payload: user });
      continue;
    }
    // Only members coming back are re-enabled: an account an admin disabled by hand stays so.
    if (!found.enabled && departures.enable.includes(user.id)) {
      changes.push({ service: SERVICE, kind: "user.enable", subject: `user ${user.id}`, member: user.id, phase: NEXTCLOUD_PHASES.users, payload: { id: user.id } });
    }
    for (const { key, value } of userEdits(user, found)) {
      changes.push({ service: SERVICE, kind: "user.update", subject: `${user.id}: ${key}`, member: user.id, phase: NEXTCLOUD_PHASES.details, payload: { id: user.id, key, value } });
    }
    for (const group of user.groups.filter((g) => !found.groups.includes(g))) {
      changes.push({ service: SERVICE, kind: "membership.add", subject: `${user.id} → ${group}`, member: user.id, phase: NEXTCLOUD_PHASES.details, payload: { id: user.id, group } });
    }
    for (const group of found.groups.filter((g) => managedGroups.has(g) && !user.groups.includes(g))) {
      changes.push({ service: SERVICE, kind: "membership.remove", subject: `${user.id} ↛ ${group}`, member: user.id, phase: NEXTCLOUD_PHASES.details, payload: { id: user.id, group } });
    }
  }
  return changes;
}

/** The user ids a read must look at: wanted and departing, never the service account. */
export function managedUserIds(desired: NextcloudDesired): string[] {
  const nc = desired.nextcloud;
  if (!nc) return [];
  const { disable, erase, enable } = desired.departures;
  return [...new Set([...nc.users.map((u) => u.id), ...disable, ...erase, ...enable])].filter((id) => id !== nc.serviceAccount).sort();
}
