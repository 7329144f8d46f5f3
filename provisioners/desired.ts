// What the config asks of each service, as plain data. Pure: the provisioners compare
// it with what runs, the welcome sheets and the DPO's register read it too.
import type { Association, Member } from "../stacks/config/schema.ts";
import type { Hostnames } from "../stacks/services/blueprint.ts";
import { hostnames as hostnamesOf } from "../stacks/services/catalog.ts";
import { EVERYONE_GROUP, MATRIX_BOT, NEXTCLOUD_ADMIN_GROUP, NEXTCLOUD_ADMIN_USER, NEXTCLOUD_TWO_FACTOR_GROUP } from "../stacks/services/reserved-names.ts";
// Names Bastide takes in the services: defined with every other reserved name (a module that imports nothing).
export { EVERYONE_GROUP, MATRIX_BOT, NEXTCLOUD_ADMIN_GROUP };
import { XMPP } from "../stacks/services/jitsi/blueprint.ts";
import { hostsMeetings } from "../stacks/services/jitsi/login.ts";
import { desiredNextcloudSettings, type NextcloudSettingsDesired } from "./nextcloud-settings/desired.ts";
import { desiredIdentity, type DesiredIdentity } from "./identity/desired.ts";

/** The display name of NEXTCLOUD_TWO_FACTOR_GROUP, in the association's language. */
export const TWO_FACTOR_GROUP_NAME = { fr: "Admins (double authentification)", en: "Admins (two-factor login)" } as const;
/** Calendar URI of the association-wide calendar. */
export const ASSOCIATION_CALENDAR = "association";

/** Member ids whose accounts a run must disable, erase, or enable again. */
export interface Departures {
  disable: string[];
  erase: string[];
  /** Back in the config while still disabled: their accounts come back as they were. */
  enable: string[];
}

export interface DesiredNextcloudUser {
  id: string;
  displayName: string;
  email: string;
  quota: string;
  language: string;
  /** Team groups, the everyone group, and `admin` for admins. */
  groups: string[];
}

export interface DesiredCalendar {
  /** The calendar's URI under the service account's home. */
  uri: string;
  displayName: string;
  /** Group it is shared with, and how. */
  group: string;
  access: "read-write" | "read";
}

export interface DesiredRoom {
  /** Local part of the room alias, e.g. `bureau` for #bureau:matrix.example.org. */
  alias: string;
  name: string;
  /** Matrix user ids invited. */
  members: string[];
}

export interface DesiredPeer {
  member: string;
  device: string;
  /** `<member>-<device>`, unique. */
  id: string;
}

export interface DesiredState {
  organisation: { name: string; language: "fr" | "en" };
  hostnames: Hostnames;
  /** Members removed from the config since the last run are disabled, then erased after this. */
  graceDays: number;
  /** Filled from the ledger of earlier runs (see departures.ts); empty on a first run. */
  departures: Departures;
  /** Nextcloud's RGPD settings: occ commands and the files_retention rule. */
  nextcloudSettings?: NextcloudSettingsDesired;
  nextcloud?: {
    serviceAccount: string;
    /** Its display name, which shows beside the calendars it shares; left as it is when absent. */
    serviceAccountName?: string;
    users: DesiredNextcloudUser[];
    groups: { id: string; displayName: string }[];
    calendars: DesiredCalendar[];
  };
  matrix?: {
    serverName: string;
    bot: string;
    users: { id: string; localpart: string; displayName: string }[];
    space: { alias: string; name: string; members: string[] };
    rooms: DesiredRoom[];
    /** m.room.retention max_lifetime, in milliseconds. */
    retentionMs: number;
  };
  jitsi?: {
    /** The secure XMPP domain staff log in to. */
    domain: string;
    accounts: { member: string; username: string }[];
  };
  vpn?: { peers: DesiredPeer[] };
  /** The identity provider: realm settings, users, team groups, the services' clients. */
  identity?: DesiredIdentity;
}

const DAY_MS = 86_400_000;

export const matrixUserId = (localpart: string, serverName: string) => `@${localpart}:${serverName}`;

export function desiredState(config: Association): DesiredState {
  const hostnames = hostnamesOf(config);
  const services = config.services;
  const members = config.members;
  const state: DesiredState = {
    organisation: { name: config.organisation.name, language: config.organisation.language },
    hostnames,
    graceDays: config.departures.graceDays,
    departures: { disable: [], erase: [], enable: [] },
  };

  if (services.nextcloud.enabled) {
    state.nextcloudSettings = desiredNextcloudSettings(config);
    const twoFactor = services.nextcloud.adminTwoFactor;
    const adminGroups = twoFactor ? [NEXTCLOUD_ADMIN_GROUP, NEXTCLOUD_TWO_FACTOR_GROUP] : [NEXTCLOUD_ADMIN_GROUP];
    state.nextcloud = {
      serviceAccount: NEXTCLOUD_ADMIN_USER,
      // Shared calendars show their owner's name: "Bureau (Jardins du canal)", not "(_bastide)".
      serviceAccountName: config.organisation.name,
      users: members.map((m) => ({
        id: m.id,
        displayName: m.name,
        email: m.email,
        quota: m.quota ?? services.nextcloud.defaultQuota,
        language: m.language ?? config.organisation.language,
        groups: [...m.teams, EVERYONE_GROUP, ...(m.role === "admin" ? adminGroups : [])].sort(),
      })),
      groups: [
        { id: EVERYONE_GROUP, displayName: config.organisation.name },
        ...config.teams.map((t) => ({ id: t.id, displayName: t.name })),
        ...(twoFactor ? [{ id: NEXTCLOUD_TWO_FACTOR_GROUP, displayName: TWO_FACTOR_GROUP_NAME[config.organisation.language] }] : []),
      ],
      calendars: [
        ...config.teams
          .filter((t) => t.calendar)
          .map((t) => ({ uri: `team-${t.id}`, displayName: t.name, group: t.id, access: "read-write" as const })),
        { uri: ASSOCIATION_CALENDAR, displayName: config.organisation.name, group: EVERYONE_GROUP, access: "read" },
      ],
    };
  }

  if (services.matrix.enabled) {
    const serverName = hostnames.matrix;
    const id = (m: Member) => matrixUserId(m.id, serverName);
    state.matrix = {
      serverName,
      bot: matrixUserId(MATRIX_BOT, serverName),
      users: members.map((m) => ({ id: id(m), localpart: m.id, displayName: m.name })),
      space: { alias: EVERYONE_GROUP, name: config.organisation.name, members: members.map(id) },
      rooms: config.teams
        .filter((t) => t.room)
        .map((t) => ({ alias: t.id, name: t.name, members: members.filter((m) => m.teams.includes(t.id)).map(id) })),
      retentionMs: services.matrix.retention.messagesDays * DAY_MS,
    };
  }

  // With the identity provider, hosts come with its token (stacks/services/jitsi/login.ts):
  // Prosody keeps no account of theirs, and there is nothing to provision in it.
  if (services.jitsi.enabled && !services.identity.enabled) {
    state.jitsi = {
      domain: XMPP.domain,
      accounts: members.filter(hostsMeetings).map((m) => ({ member: m.id, username: m.id })),
    };
  }

  if (services.vpn.enabled) {
    state.vpn = {
      peers: members.flatMap((m) => m.devices.map((d) => ({ member: m.id, device: d.name, id: `${m.id}-${d.name}` }))),
    };
  }

  const identity = desiredIdentity(config, hostnames);
  if (identity) state.identity = identity;

  return state;
}
