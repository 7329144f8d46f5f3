// The welcome sheet each member gets: where the services are, their user names, how they
// get their first passwords, their teams' calendars and rooms, their VPN devices. It never
// holds a password or a key, so it can be printed or e-mailed as it is.
//
// First passwords: the server sends no e-mail (no SMTP), and the provisioners create
// accounts without a password anyone knows. The admin runs, for one member at a time,
//   npm run first-password -- <member id> [config.yaml]
// (provisioners/first-password/), which sets a separate temporary password in each of the
// member's services (Nextcloud, Matrix, Jitsi for staff) and shows them once, on a terminal.
// The admin hands them over in person or over an end-to-end encrypted chat, never by
// e-mail nor on this sheet. The member changes the Nextcloud one (personal settings →
// security) and the Element one (all settings → change password) at first sign-in;
// Jitsi's cannot be changed by the member, who asks the admin for a new one.
//
// With the identity provider (services.identity, the default), the sheet explains the one
// login instead: one account at the identity host opens Nextcloud and Element; the member
// chooses their own password and second factor at first login, from one temporary password
// the admin hands over (or a link Keycloak mails, when a relay is configured). Jitsi keeps its
// own account until its token login is wired to the identity provider, and the sheet says so.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import Handlebars from "handlebars";
import type { Association, Member } from "../../stacks/config/schema.ts";
import { ASSOCIATION_CALENDAR, type DesiredState } from "../desired.ts";
import { hostsMeetings } from "../../stacks/services/jitsi/login.ts";
import { tunnelName } from "../vpn/peer-config.ts";
import { IDENTITY_REALM } from "../../stacks/services/identity/blueprint.ts";
import { hostnames } from "../../stacks/services/hosts.ts";
import { qrSvg } from "../vpn/qr.ts";
import { appLinks, calendarAddresses, type AppLink } from "./apps.ts";
import { sheetContacts, type SheetContacts } from "./contacts.ts";

export type SheetLanguage = "fr" | "en";

export interface WelcomeOptions {
  /** Overrides the member's language, then the association's. */
  language?: SheetLanguage;
  /** The poll tool is deployed (not part of DesiredState): listed only when true. */
  polls?: boolean;
  /** Jitsi lets guests in: non-staff members are told how to join. Otherwise Jitsi is not listed for them. */
  jitsiGuests?: boolean;
  /** Nextcloud enforces a second factor for admins: admins are told to have an authenticator app ready. */
  adminTwoFactor?: boolean;
  /** The identity provider: members log in once there. Absent or false: each service has its own password. */
  identity?: IdentityOptions | false;
  /** Who to ask and the privacy notice (from the association file); absent: not on the sheet. */
  contacts?: SheetContacts;
}

export interface IdentityOptions {
  /** e.g. connexion.asso-exemple.fr */
  host: string;
  /** Whether each role must enrol a second factor (services.identity.twoFactor.<role>.required). */
  twoFactor: Record<Member["role"], boolean>;
  /** A mail relay is configured: Keycloak mails the enrolment link instead of the admin handing a temporary password. */
  byMail: boolean;
}

export interface WelcomeSheet {
  language: SheetLanguage;
  html: string;
  text: string;
  /** The page's content without its head: what the admin's booklet of every sheet is made of. */
  body: string;
}

/** What the templates get: every value computed, every key present (they are strict). */
export interface SheetData {
  organisation: string;
  member: { id: string; name: string; email: string };
  contacts: { admins: { name: string; email: string }[]; association: string; dpo: { name: string; email: string }; privacyNotice: string | false } | false;
  /** The one login, when the identity provider is deployed; `services` are those it opens. */
  identity: { url: string; accountUrl: string; username: string; services: string; byMail: boolean; twoFactor: boolean } | false;
  nextcloud:
    | {
        url: string;
        loginUrl: string;
        username: string;
        twoFactor: boolean;
        calendars: { name: string; readOnly: boolean }[];
        apps: AppLink[];
        /** What a calendar app is given. `oneLogin`: the account opens through the identity provider, which a calendar app cannot use, so it takes an app password (Nextcloud's own). */
        calendarSync: { base: string; principal: string; davx5: AppLink[]; oneLogin: boolean };
      }
    | false;
  /** `homeserver`: what the mobile apps ask for (Element web already knows it). */
  matrix: { url: string; homeserver: string; userId: string; space: string; rooms: { name: string; alias: string }[]; apps: AppLink[] } | false;
  /** `account`: a Prosody account (no identity provider); `host`: opens meetings with the one login. */
  jitsi: { url: string; account: { username: string; jid: string } | false; host: boolean; apps: AppLink[] } | false;
  polls: { url: string } | false;
  /** `admin`: the member runs the services, whose admin pages only open through the VPN. */
  vpn: { tunnel: string; fileName: string; devices: string[]; apps: AppLink[]; admin: boolean } | false;
}
/** "Nextcloud, Element et Jitsi Meet": the language's own list, from the runtime's ICU data. */
const listOf = (names: string[], language: SheetLanguage) => new Intl.ListFormat(language, { style: "long", type: "conjunction" }).format(names);

/** Names come from a YAML file: one line each, so they cannot fake lines of the sheet. */
const oneLine = (text: string) => text.replace(/\s+/g, " ").trim();
const https = (host: string) => `https://${host}`;
const roomAlias = (alias: string, serverName: string) => `#${alias}:${serverName}`;

export function sheetData(member: Member, desired: DesiredState, options: WelcomeOptions = {}): SheetData {
  const { hostnames } = desired;
  const language = sheetLanguage(member, desired, options);
  const missing = (service: string) => new Error(`welcome sheet: member ${member.id} has no ${service} account in the desired state`);

  let nextcloud: SheetData["nextcloud"] = false;
  if (desired.nextcloud) {
    const user = desired.nextcloud.users.find((u) => u.id === member.id);
    if (!user) throw missing("Nextcloud");
    nextcloud = {
      url: https(hostnames.cloud),
      loginUrl: `${https(hostnames.cloud)}/login`,
      username: user.id,
      // With the identity provider, the second factor is asked there, not by Nextcloud.
      twoFactor: member.role === "admin" && options.adminTwoFactor === true && !options.identity,
      calendars: desired.nextcloud.calendars
        .filter((c) => user.groups.includes(c.group))
        // The association-wide calendar last, after the member's teams'.
        .sort((a, b) => Number(a.uri === ASSOCIATION_CALENDAR) - Number(b.uri === ASSOCIATION_CALENDAR))
        .map((c) => ({ name: oneLine(c.displayName), readOnly: c.access === "read" })),
      apps: appLinks("nextcloud", language),
      calendarSync: { ...calendarAddresses(hostnames.cloud, user.id), davx5: appLinks("davx5", language), oneLogin: Boolean(options.identity) },
    };
  }

  let matrix: SheetData["matrix"] = false;
  if (desired.matrix) {
    const { serverName } = desired.matrix;
    const user = desired.matrix.users.find((u) => u.localpart === member.id);
    if (!user) throw missing("Matrix");
    matrix = {
      url: https(hostnames.element),
      homeserver: https(hostnames.matrix),
      userId: user.id,
      space: roomAlias(desired.matrix.space.alias, serverName),
      rooms: desired.matrix.rooms
        .filter((r) => r.members.includes(user.id))
        .map((r) => ({ name: oneLine(r.name), alias: roomAlias(r.alias, serverName) })),
      apps: appLinks("element", language),
    };
  }

  let jitsi: SheetData["jitsi"] = false;
  if (desired.jitsi || desired.identity?.meetingKey) {
    // Hosts open meetings with a Prosody account, or, with the identity provider, with its token,
    // whose room claim it gives them (the two are never both there).
    const account = desired.jitsi?.accounts.find((a) => a.member === member.id);
    const host = desired.identity?.meetingKey !== undefined && desired.identity.users.some((u) => u.username === member.id.toLowerCase() && u.meetingRooms !== undefined);
    if (hostsMeetings(member) && !account && !host) throw missing("Jitsi");
    if (account || host || options.jitsiGuests)
      jitsi = {
        url: https(hostnames.meet),
        account: account ? { username: account.username, jid: `${account.username}@${desired.jitsi!.domain}` } : false,
        host,
        apps: appLinks("jitsi", language),
      };
  }

  const devices = (desired.vpn?.peers ?? []).filter((p) => p.member === member.id).map((p) => p.device);
  const tunnel = tunnelName(hostnames);
  const vpn: SheetData["vpn"] =
    devices.length > 0 ? { tunnel, fileName: `${tunnel}.conf`, devices, apps: appLinks("wireguard", language), admin: member.role === "admin" } : false;

  const identity: SheetData["identity"] = options.identity
    ? {
        url: https(options.identity.host),
        accountUrl: `${https(options.identity.host)}/realms/${IDENTITY_REALM}/account`,
        username: member.id,
        services: listOf([nextcloud && "Nextcloud", matrix && "Element", jitsi && jitsi.host && "Jitsi Meet"].filter((name): name is string => typeof name === "string"), language),
        byMail: options.identity.byMail,
        twoFactor: options.identity.twoFactor[member.role],
      }
    : false;

  const { contacts } = options;
  return {
    organisation: oneLine(desired.organisation.name),
    member: { id: member.id, name: oneLine(member.name), email: member.email },
    contacts: contacts
      ? {
          admins: contacts.admins.map((a) => ({ name: oneLine(a.name), email: a.email })),
          association: contacts.association,
          dpo: { name: oneLine(contacts.dpo.name), email: contacts.dpo.email },
          privacyNotice: contacts.privacyNotice && contacts.privacyNotice[language],
        }
      : false,
    identity,
    nextcloud,
    matrix,
    jitsi,
    polls: options.polls ? { url: https(hostnames.polls) } : false,
    vpn,
  };
}

// --- rendering ---------------------------------------------------------------------------

const TEMPLATES = fileURLToPath(new URL("../../templates/welcome/", import.meta.url));
// Its own instance: the shared renderer (platform/templates.ts) turns HTML escaping off,
// which is right for config files and wrong for a web page made of members' names.
const handlebars = Handlebars.create();
handlebars.registerPartial("style", readFileSync(`${TEMPLATES}style.hbs`, "utf8"));
const compiled = new Map<string, HandlebarsTemplateDelegate>();

function template(language: SheetLanguage, format: "html" | "text" | "body" | "booklet"): HandlebarsTemplateDelegate {
  const name = { html: `sheet.${language}.html`, text: `sheet.${language}.text`, body: `body.${language}.html`, booklet: `booklet.${language}.html` }[format];
  let found = compiled.get(name);
  if (!found) {
    found = handlebars.compile(readFileSync(`${TEMPLATES}${name}.hbs`, "utf8"), { strict: true, noEscape: format === "text" });
    compiled.set(name, found);
  }
  return found;
}

export function sheetLanguage(member: Pick<Member, "language">, desired: Pick<DesiredState, "organisation">, options: WelcomeOptions = {}): SheetLanguage {
  return options.language ?? member.language ?? desired.organisation.language;
}

/**
 * QR codes a phone's camera reads, so nobody types a long address: each service's address
 * and the calendar address. SVG, drawn by the same helper as the VPN profiles' codes.
 */
async function qrCodes(data: SheetData): Promise<Record<string, string>> {
  const addresses: Record<string, string | undefined> = {
    identity: data.identity ? data.identity.url : undefined,
    nextcloud: data.nextcloud ? data.nextcloud.url : undefined,
    calendar: data.nextcloud ? data.nextcloud.calendarSync.base : undefined,
    element: data.matrix ? data.matrix.url : undefined,
    jitsi: data.jitsi ? data.jitsi.url : undefined,
    polls: data.polls ? data.polls.url : undefined,
  };
  const entries = await Promise.all(Object.entries(addresses).map(async ([key, url]) => [key, url ? await qrSvg(url) : ""] as const));
  return Object.fromEntries(entries);
}

export async function welcomeSheet(member: Member, desired: DesiredState, options: WelcomeOptions = {}): Promise<WelcomeSheet> {
  const language = sheetLanguage(member, desired, options);
  const data = sheetData(member, desired, options);
  const body = template(language, "body")({ ...data, qr: await qrCodes(data) });
  return { language, body, html: template(language, "html")({ ...data, body }), text: template(language, "text")(data) };
}

/** The services' switches the desired state does not carry, read from the config. */
export const welcomeOptions = (config: Association): Omit<WelcomeOptions, "language"> => ({
  polls: config.services.polls.enabled,
  jitsiGuests: config.services.jitsi.guests.allowed,
  adminTwoFactor: config.services.nextcloud.adminTwoFactor,
  identity: identityOptions(config),
  contacts: sheetContacts(config),
});

function identityOptions(config: Association): IdentityOptions | false {
  const { identity } = config.services;
  if (!identity.enabled) return false;
  const twoFactor = { admin: identity.twoFactor.admin.required, staff: identity.twoFactor.staff.required, volunteer: identity.twoFactor.volunteer.required };
  return { host: hostnames(config).identity, twoFactor, byMail: config.mail !== undefined };
}

/** Every member's sheet, by member id. */
export async function welcomeSheets(config: Association, desired: DesiredState): Promise<Record<string, WelcomeSheet>> {
  const options = welcomeOptions(config);
  return Object.fromEntries(await Promise.all(config.members.map(async (m) => [m.id, await welcomeSheet(m, desired, options)] as const)));
}

/**
 * Every sheet in one page, one member per printed page, for the admin to print at once; in
 * the association's language around the sheets, each sheet in its member's.
 */
export function welcomeBooklet(config: Association, sheets: Record<string, WelcomeSheet>): string {
  const ordered = config.members.map((m) => {
    const sheet = sheets[m.id];
    if (!sheet) throw new Error(`welcome booklet: no sheet for member ${m.id}`);
    return { language: sheet.language, body: sheet.body };
  });
  return template(config.organisation.language, "booklet")({ organisation: oneLine(config.organisation.name), sheets: ordered });
}
