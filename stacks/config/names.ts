// Member and team ids become names in the services: Nextcloud users and groups, Matrix
// localparts and room aliases, Prosody accounts, calendar URIs, WireGuard peers and the
// Pulumi resources named after them. An id that is already one of Bastide's or a service's
// own names would hand its account, group or room to a member (a team `admin` makes its
// members Nextcloud administrators; a member `bastide` gets the Matrix bot, a server admin).
//
// Normalisation: Synapse lower-cases localparts and refuses a user id equal to another one
// in any case (synapse/handlers/register.py, check_username, get_users_by_id_case_insensitive);
// Nextcloud logins are case-insensitive; Prosody applies nodeprep (lower case, NFKC). Ids are
// already lower-case ASCII (fields.ts `identifier`), so each service's normal form is the id
// itself; names are still compared in lower case so that loosening `identifier` one day
// cannot let two spellings of one account through.
import { EVERYONE_GROUP, MATRIX_BOT, NEXTCLOUD_ADMIN_GROUP, NEXTCLOUD_SERVICE_GROUP } from "../services/reserved-names.ts";

export const normalName = (id: string) => id.normalize("NFKC").toLowerCase();

/** Why a member may not take an id: whose it already is. */
const MEMBER_IDS: Record<string, string> = {
  // provisioners/desired.ts MATRIX_BOT: created by shared-secret registration, server admin.
  [MATRIX_BOT]: "Bastide's Matrix account, a server administrator",
  // docker-jitsi-meet stable-11146-1, prosody/rootfs/etc/s6-overlay/scripts/register-setup: the
  // accounts of Jitsi's own components (JVB_AUTH_USER, JIBRI_XMPP_USER, JIBRI_RECORDER_USER,
  // JIGASI_XMPP_USER, JIGASI_TRANSCRIBER_USER defaults, and focus for jicofo), which
  // defaults/conf.d/jitsi-meet.cfg.lua names as admins and recorder/transcriber prefixes.
  // They live on other XMPP domains than members, but a member named like them would read as
  // Jitsi's focus, bridge or recorder in logs and in a meeting's participant list.
  focus: "the account of Jitsi's conference focus (jicofo)",
  jvb: "the account of Jitsi's video bridge",
  jibri: "the account of Jitsi's recorder (jibri)",
  recorder: "the account Jitsi's recorder joins meetings with",
  jigasi: "the account of Jitsi's telephone gateway (jigasi)",
  transcriber: "the account of Jitsi's transcriber",
  // Nextcloud refuses these user ids, which are names in its data folder
  // (nextcloud/server lib/private/User/Manager.php, verifyUid).
  files_external: "a folder of Nextcloud's data directory (Nextcloud refuses it as a user id)",
  "owncloud.log": "a file of Nextcloud's data directory (Nextcloud refuses it as a user id)",
  "nextcloud.log": "a file of Nextcloud's data directory (Nextcloud refuses it as a user id)",
  "updater.log": "a file of Nextcloud's data directory (Nextcloud refuses it as a user id)",
  "audit.log": "a file of Nextcloud's data directory (Nextcloud refuses it as a user id)",
};

/** Why a team may not take an id: team ids become Nextcloud groups, Matrix room aliases and calendars. */
const TEAM_IDS: Record<string, string> = {
  [NEXTCLOUD_ADMIN_GROUP]: "Nextcloud's administrators group: its members would become Nextcloud administrators",
  [EVERYONE_GROUP]: "the association-wide group, calendar and Matrix space Bastide gives every member",
  [NEXTCLOUD_SERVICE_GROUP]: "a Nextcloud group earlier versions made for Bastide's service account",
};

/** Nextcloud's app data folder, `appdata_<instanceid>`, is refused as a user id too (verifyUid). */
const NEXTCLOUD_APPDATA = /^appdata_/;

/** Whose name `id` already is, when a member may not take it. */
export function reservedMemberId(id: string): string | undefined {
  const name = normalName(id);
  if (Object.hasOwn(MEMBER_IDS, name)) return MEMBER_IDS[name];
  if (NEXTCLOUD_APPDATA.test(name)) return "Nextcloud's app data folder (Nextcloud refuses appdata_... as a user id)";
  return undefined;
}

/** Whose name `id` already is, when a team may not take it. */
export function reservedTeamId(id: string): string | undefined {
  const name = normalName(id);
  return Object.hasOwn(TEAM_IDS, name) ? TEAM_IDS[name] : undefined;
}

/** A device's WireGuard peer id, which also names its key's Pulumi secret (provisioners/desired.ts). */
export const peerId = (member: string, device: string) => `${member}-${device}`;
