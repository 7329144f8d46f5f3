// Nextcloud's part of a request.
//
// Export, as the service account (an admin):
// - the account: OCS `GET cloud/users/<id>` (recorded: users-read-list.json): groups,
//   quota and use, last login, e-mail, language...;
// - the association's shared calendars (owned by the service account): the events that
//   name the member as organiser or attendee, over CalDAV (PROPFIND depth 1 asking for
//   calendar-data, as sabre/dav answers it);
// - the member's own calendars and files, through the app container, because an admin
//   cannot read them over DAV: Nextcloud answers another user's calendar home with 404
//   (recorded: caldav-mkcalendar.json, caldav-event.json) and another user's files home
//   with an EMPTY collection (apps/dav/lib/Files/RootCollection.php: "a user is only
//   allowed to see their own home contents"), which would silently export nothing.
//   Calendars: `occ dav:list-calendars` then `occ calendar:export` (Nextcloud 32's dav
//   app; not recorded). Files: Docker's archive API on <datadirectory>/<id>/files,
//   files_trashbin and files_versions, each a tar, bounded in size.
// Not exported, and said so in the record: shares they made (the sharing API lists only
// the caller's own shares), contacts and other apps' data.
//
// Erasure: the Nextcloud provisioner's own `user.delete`, which Nextcloud follows by
// deleting the account's files, calendars, contacts and shares.
import { davRequest } from "tsdav";
import { listCalendars, type CalDavClient } from "../../provisioners/calendars/client.ts";
import { converge } from "../../provisioners/model.ts";
import { isOcsOk, ocs } from "../../provisioners/nextcloud/client.ts";
import { describeResult } from "../../provisioners/nextcloud-settings/occ.ts";
import { nextcloudProvisioner } from "../../provisioners/nextcloud/provisioner.ts";
import { formatBytes, TooLarge } from "./archive.ts";
import { only, part, recordConverge, type EraseContext, type ExportContext } from "./context.ts";
import { safeName, t } from "./model.ts";
import type { NextcloudTarget } from "./targets.ts";

const SERVICE = "nextcloud" as const;

/** The member's folders in Nextcloud's data directory. */
export const FILE_FOLDERS = ["files", "files_trashbin", "files_versions"] as const;

const CALENDAR_DATA_PROPFIND = `<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop>
    <d:getetag/>
    <c:calendar-data/>
  </d:prop>
</d:propfind>
`;

/** The account's details as OCS gives them; undefined when there is no such account. */
export async function nextcloudAccount(target: NextcloudTarget, member: string): Promise<Record<string, unknown> | undefined> {
  const answer = await ocs(target.client, "GET", `users/${encodeURIComponent(member)}`);
  if (answer.statuscode === 404) return undefined;
  if (!isOcsOk(answer.statuscode)) throw new Error(`GET users/${member}: OCS ${answer.statuscode} ${answer.message}`.trim());
  return answer.data as Record<string, unknown>;
}

/** Unfolds iCalendar lines (RFC 5545 3.1). */
const unfold = (ics: string) => ics.replace(/\r?\n[ \t]/g, "").split(/\r?\n/);

/** A property's value: what follows the first colon outside quoted parameters. */
function propertyValue(line: string): string {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') quoted = !quoted;
    else if (c === ":" && !quoted) return line.slice(i + 1);
  }
  return "";
}

/** Whether an event names `email` as its organiser or one of its attendees. */
export function namesAttendee(ics: string, email: string): boolean {
  const wanted = `mailto:${email.trim().toLowerCase()}`;
  return unfold(ics).some((line) => /^(ORGANIZER|ATTENDEE)[;:]/i.test(line) && propertyValue(line).trim().toLowerCase() === wanted);
}

const textOf = (value: unknown): string | undefined =>
  typeof value === "string" ? value : value && typeof value === "object" && "_cdata" in value ? String((value as { _cdata: unknown })._cdata) : undefined;

/** Every event of a calendar of the service account, with its iCalendar data. */
export async function calendarObjects(client: CalDavClient, uri: string): Promise<{ name: string; ics: string }[]> {
  const url = `${client.homeUrl}${encodeURIComponent(uri)}/`;
  const responses = await davRequest({
    url,
    init: { method: "PROPFIND", headers: { "Content-Type": "application/xml; charset=utf-8", depth: "1" }, body: CALENDAR_DATA_PROPFIND },
    convertIncoming: false,
    fetch: client.fetch,
  });
  const first = responses[0];
  if (!first || !("props" in first || first.raw?.multistatus)) throw new Error(`PROPFIND ${new URL(url).pathname}: HTTP ${first?.status ?? "?"} without a multistatus`);
  return responses.flatMap((r) => {
    const ics = textOf(r.props?.calendarData);
    if (!r.href || ics === undefined) return [];
    return [{ name: decodeURIComponent(r.href.replace(/\/+$/, "").split("/").pop() ?? ""), ics }];
  });
}

/** The association's calendars' events that name the member; by calendar. */
export async function sharedEventsNaming(target: NextcloudTarget, uris: readonly string[], email: string): Promise<{ uri: string; name: string; ics: string }[]> {
  const present = await listCalendars(target.calendars);
  const found: { uri: string; name: string; ics: string }[] = [];
  for (const uri of uris.filter((u) => present.has(u))) {
    for (const object of await calendarObjects(target.calendars, uri)) if (namesAttendee(object.ics, email)) found.push({ uri, ...object });
  }
  return found;
}

/**
 * `occ dav:list-calendars` prints a Symfony table: | uri | displayname | owner principal |
 * owner display name | writable |. The calendars the user owns (shared ones list another owner).
 * The uri is read from the left and the owner from the right, so a display name with `|` still parses.
 */
export function ownedCalendarUris(table: string, member: string): string[] {
  const rows = table
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.startsWith("|") && line.endsWith("|"))
    .map((line) => line.slice(1, -1).split("|").map((cell) => cell.trim()));
  return rows
    .slice(1)
    .filter((cells) => cells.length >= 5 && cells[cells.length - 3] === `principals/users/${member}`)
    .map((cells) => cells[0]!);
}

async function occ(target: NextcloudTarget, args: string[]): Promise<string> {
  const app = target.app!;
  const result = await app.run(["php", "occ", ...args]);
  if (result.exitCode !== 0) throw new Error(`occ ${args[0]} in ${app.where}: ${describeResult(result)}`);
  return result.stdout;
}

const noDocker = (what: { fr: string; en: string }) =>
  t(
    `${what.fr} non lus : il faut l'accès au moteur Docker du serveur (DOCKER_HOST), un administrateur ne pouvant pas les lire par WebDAV`,
    `${what.en} not read: this needs the server's Docker engine (DOCKER_HOST), since an admin cannot read them over WebDAV`,
  );

export async function exportNextcloud(ctx: ExportContext<NextcloudTarget>): Promise<void> {
  const { rec, member, target, folder } = ctx;
  let exists = false;
  await part(rec, SERVICE, "account", t("compte", "account"), async () => {
    const account = await nextcloudAccount(target, member);
    exists = account !== undefined;
    if (!account) return void rec.add({ service: SERVICE, part: "account", outcome: "none", summary: t("aucun compte", "no account"), count: 0 });
    rec.add({ service: SERVICE, part: "account", outcome: "done", summary: t("détails du compte, groupes, quota, dernière connexion", "account details, groups, quota, last login"), count: 1, files: [folder.writeJson("nextcloud/account.json", account)] });
  });

  await part(rec, SERVICE, "shared-calendars", t("agendas de l'association", "the association's calendars"), async () => {
    const email = ctx.identity.email;
    if (!email) return void rec.add({ service: SERVICE, part: "shared-calendars", outcome: "skipped", summary: t("non lu : aucune adresse e-mail connue pour ce membre", "not read: no e-mail address is known for this member") });
    const uris = (ctx.desired.nextcloud?.calendars ?? []).map((c) => c.uri);
    const events = await sharedEventsNaming(target, uris, email);
    const files = events.map((e) => folder.write(`nextcloud/calendars/association/${safeName(e.uri)}/${safeName(e.name)}`, e.ics));
    rec.add({
      service: SERVICE,
      part: "shared-calendars",
      outcome: events.length > 0 ? "done" : "none",
      summary: t(`${events.length} événement(s) des agendas de l'association où le membre est organisateur ou invité`, `${events.length} event(s) of the association's calendars with the member as organiser or attendee`),
      count: events.length,
      files,
    });
  });

  if (!exists) {
    rec.add({ service: SERVICE, part: "own-calendars", outcome: "none", summary: t("aucun compte, donc aucun agenda", "no account, so no calendar"), count: 0 });
    rec.add({ service: SERVICE, part: "files", outcome: "none", summary: t("aucun compte, donc aucun fichier", "no account, so no file"), count: 0 });
  } else if (!target.app) {
    rec.add({ service: SERVICE, part: "own-calendars", outcome: "skipped", summary: noDocker(t("agendas personnels", "own calendars")) });
    rec.add({ service: SERVICE, part: "files", outcome: "skipped", summary: noDocker(t("fichiers, corbeille et versions", "files, trash and versions")) });
  } else {
    await part(rec, SERVICE, "own-calendars", t("agendas personnels", "own calendars"), async () => {
      const uris = ownedCalendarUris(await occ(target, ["dav:list-calendars", member]), member);
      const files = [];
      for (const uri of uris) files.push(folder.write(`nextcloud/calendars/${safeName(uri)}.ics`, await occ(target, ["calendar:export", member, uri])));
      rec.add({ service: SERVICE, part: "own-calendars", outcome: uris.length > 0 ? "done" : "none", summary: t(`${uris.length} agenda(s) personnel(s), au format iCalendar`, `${uris.length} own calendar(s), as iCalendar`), count: uris.length, files });
    });
    for (const name of FILE_FOLDERS) await exportFolder(ctx, name);
  }

  rec.note(SERVICE, t(
    "Les partages créés par le membre ne sont pas listés : l'API de partage de Nextcloud ne donne à un administrateur que ses propres partages. Les fichiers partagés sont dans l'archive des fichiers. Les contacts et les données des autres applications (activité, commentaires) ne sont pas exportés ; ils sont supprimés avec le compte.",
    "Shares the member made are not listed: Nextcloud's sharing API gives an admin only their own shares. The shared files are in the files archive. Contacts and other apps' data (activity, comments) are not exported; they are deleted with the account.",
  ));
}

async function exportFolder(ctx: ExportContext<NextcloudTarget>, name: (typeof FILE_FOLDERS)[number]): Promise<void> {
  const { rec, member, target, folder, limits } = ctx;
  const path = `${target.dataDirectory}/${member}/${name}`;
  await part(rec, SERVICE, name, t(`dossier ${name}`, `folder ${name}`), async () => {
    const stream = await target.app!.archive(path);
    if (!stream) return void rec.add({ service: SERVICE, part: name, outcome: "none", summary: t(`aucun dossier ${name}`, `no ${name} folder`), count: 0 });
    try {
      const file = await folder.writeStream(`nextcloud/${name}.tar`, stream, limits.fileBytes);
      rec.add({ service: SERVICE, part: name, outcome: "done", summary: t(`dossier ${name} (archive tar, ${formatBytes(file.bytes)})`, `${name} folder (tar archive, ${formatBytes(file.bytes)})`), count: 1, files: [file] });
    } catch (error) {
      if (!(error instanceof TooLarge)) throw error;
      rec.failed(SERVICE, name, t(
        `dossier ${name} trop gros (plus de ${formatBytes(error.limitBytes)}) : relancer avec --max-file-mb plus grand, ou copier ${path} depuis le conteneur (docker cp)`,
        `${name} folder too large (over ${formatBytes(error.limitBytes)}): run again with a larger --max-file-mb, or copy ${path} out of the container (docker cp)`,
      ), error);
    }
  });
}

export async function eraseNextcloud(ctx: EraseContext<NextcloudTarget>): Promise<void> {
  const { rec, member, target } = ctx;
  await part(rec, SERVICE, "user.delete", t("suppression du compte", "account deletion"), async () => {
    const provisioner = only(nextcloudProvisioner, (c) => c.kind === "user.delete" && c.member === member);
    const result = await converge(provisioner, ctx.desired, target.client, { concurrency: ctx.concurrency, dryRun: !ctx.confirm });
    recordConverge(rec, SERVICE, "user.delete", result, ctx.confirm, t("aucun compte à supprimer", "no account to delete"));
  });
  await part(rec, SERVICE, "shared-calendars", t("agendas de l'association", "the association's calendars"), async () => {
    const email = ctx.identity.email;
    if (!email) return;
    const uris = (ctx.desired.nextcloud?.calendars ?? []).map((c) => c.uri);
    const events = await sharedEventsNaming(target, uris, email);
    if (events.length === 0) return;
    // Shared events are the association's: deleting them would take others' data too.
    rec.add({
      service: SERVICE,
      part: "shared-calendars",
      outcome: "skipped",
      summary: t(
        `${events.length} événement(s) des agendas de l'association nomment encore le membre (organisateur ou invité) : à revoir à la main`,
        `${events.length} event(s) of the association's calendars still name the member (organiser or attendee): review them by hand`,
      ),
      count: events.length,
    });
  });
}
