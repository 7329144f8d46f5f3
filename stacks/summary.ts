// The plan in plain words, for the person who runs it: where each service answers, how many
// accounts each gets, which teams get a calendar and a room, which devices a VPN profile,
// and, against the members of an earlier run, who arrives, who leaves, who changes team.
// Read from the desired state the provisioners work from, so it says what the run will do.
// In the association's language; every line fits an 80-column terminal.
import wrapAnsi from "wrap-ansi";
import { desiredState, type DesiredState } from "../provisioners/desired.ts";
import type { Association } from "./config/schema.ts";
import { longestRetentionDays } from "./backups/settings.ts";
import { SERVICE_HOSTS, type HostKey } from "./services/hosts.ts";

export const TERMINAL_WIDTH = 80;

/** Who was deployed: what a run keeps of its members to compare the next one with (a stack output). */
export interface RosterEntry {
  id: string;
  name: string;
  teams: string[];
}

export const rosterOf = (config: Association): RosterEntry[] => config.members.map((m) => ({ id: m.id, name: m.name, teams: [...m.teams] }));


const WORDS = {
  fr: {
    /** French puts a space before the colon. */
    colon: " :",
    title: (name: string) => `Résumé pour ${name}`,
    addresses: "Adresses",
    hosts: {
      identity: "Connexion unique (Keycloak)",
      meet: "Visioconférence (Jitsi Meet)",
      cloud: "Fichiers et agendas (Nextcloud)",
      element: "Discussion (Element)",
      matrix: "Serveur Matrix (Synapse)",
      polls: "Sondages",
      vpn: "VPN (WireGuard, UDP)",
    } satisfies Record<HostKey, string>,
    accounts: "Comptes",
    staffOnly: "admins et salariés",
    hostsWithOneLogin: "animateurs, par la connexion unique",
    teams: "Équipes",
    calendar: "agenda",
    room: "salon",
    neither: "ni agenda ni salon",
    noTeam: "aucune équipe",
    vpn: (n: number) => `Profils VPN (${n})`,
    noVpn: "aucun appareil",
    changes: (since: string) => `Changements depuis ${since}`,
    lastRun: "le dernier pulumi up",
    arrivals: "Arrivées",
    departed: (days: number) => `comptes désactivés aussitôt, effacés après ${days} jours`,
    departures: "Départs",
    moves: "Changements d'équipe",
    none: "aucun",
    firstRun: "Aucun déploiement précédent enregistré : rien à comparer (npm run plan -- <fichier> --since <ancien fichier>).",
    backups: "Sauvegardes",
    backupsTo: (time: string, where: string, days: number) => `chaque jour à ${time} UTC, chiffrées, vers ${where} ; gardées ${days} jours au plus`,
    noBackups: "AUCUNE : sans section backups: dans le fichier, une panne de disque peut tout faire perdre",
    secondDisk: "un second disque",
  },
  en: {
    colon: ":",
    title: (name: string) => `Summary for ${name}`,
    addresses: "Addresses",
    hosts: {
      identity: "One login (Keycloak)",
      meet: "Video meetings (Jitsi Meet)",
      cloud: "Files and calendars (Nextcloud)",
      element: "Chat (Element)",
      matrix: "Matrix server (Synapse)",
      polls: "Polls",
      vpn: "VPN (WireGuard, UDP)",
    } satisfies Record<HostKey, string>,
    accounts: "Accounts",
    staffOnly: "admins and staff",
    hostsWithOneLogin: "hosts, through the one login",
    teams: "Teams",
    calendar: "calendar",
    room: "room",
    neither: "no calendar, no room",
    noTeam: "no team",
    vpn: (n: number) => `VPN profiles (${n})`,
    noVpn: "no device",
    changes: (since: string) => `Changes since ${since}`,
    lastRun: "the last pulumi up",
    arrivals: "Arriving",
    departed: (days: number) => `accounts disabled at once, erased after ${days} days`,
    departures: "Leaving",
    moves: "Changing team",
    none: "none",
    firstRun: "No earlier deployment on record: nothing to compare with (npm run plan -- <file> --since <old file>).",
    backups: "Backups",
    backupsTo: (time: string, where: string, days: number) => `daily at ${time} UTC, encrypted, to ${where}; kept ${days} days at most`,
    noBackups: "NONE: without a backups: section in the file, a disk failure can lose everything",
    secondDisk: "a second disk",
  },
} as const;

type Words = (typeof WORDS)[Association["organisation"]["language"]];

/** A paragraph wrapped at the terminal's width. */
export const wrapText = (text: string, width = TERMINAL_WIDTH): string => wrapAnsi(text, width, { hard: true, trim: true });

/** `label: item, item, …` wrapped at the terminal's width, continuation lines indented. */
function listLine(words: Words, label: string, items: string[], indent = 2): string {
  const hang = " ".repeat(indent + 2);
  return wrapAnsi(`${label}${words.colon} ${items.join(", ")}`, TERMINAL_WIDTH - indent, { hard: true, trim: true })
    .split("\n")
    .map((line, i) => (i === 0 ? " ".repeat(indent) : hang) + line)
    .join("\n");
}

function addressLines(config: Association, desired: DesiredState, words: Words): string[] {
  const width = Math.max(...Object.values(words.hosts).map((h) => h.length));
  return (Object.keys(SERVICE_HOSTS) as HostKey[])
    .filter((key) => config.services[SERVICE_HOSTS[key].service].enabled)
    .map((key) => {
      const host = desired.hostnames[key];
      const address = key === "vpn" ? `${host}:${config.services.vpn.port}` : `https://${host}`;
      const line = `  ${words.hosts[key].padEnd(width)}  ${address}`;
      return line.length <= TERMINAL_WIDTH ? line : `  ${words.hosts[key]}\n    ${address}`;
    });
}

function accountLines(desired: DesiredState, words: Words): string[] {
  const counts: string[] = [];
  if (desired.identity) counts.push(`Keycloak ${desired.identity.users.length}`);
  if (desired.nextcloud) counts.push(`Nextcloud ${desired.nextcloud.users.length}`);
  if (desired.matrix) counts.push(`Matrix ${desired.matrix.users.length}`);
  if (desired.jitsi) counts.push(`Jitsi ${desired.jitsi.accounts.length} (${words.staffOnly})`);
  // With the identity provider, Jitsi holds no account: its hosts are the members Keycloak gives a room claim.
  else if (desired.identity?.meetingKey) counts.push(`Jitsi ${desired.identity.users.filter((u) => u.meetingRooms).length} (${words.hostsWithOneLogin})`);
  return counts.length ? [listLine(words, words.accounts, counts, 0)] : [];
}

function teamLines(config: Association, desired: DesiredState, words: Words): string[] {
  if (config.teams.length === 0) return [listLine(words, words.teams, [words.noTeam], 0)];
  const calendars = new Set((desired.nextcloud?.calendars ?? []).map((c) => c.group));
  const rooms = new Set((desired.matrix?.rooms ?? []).map((r) => r.alias));
  return [
    `${words.teams}${words.colon}`,
    ...config.teams.map((t) => {
      const gets = [calendars.has(t.id) ? words.calendar : "", rooms.has(t.id) ? words.room : ""].filter(Boolean);
      return listLine(words, t.name, gets.length ? [gets.join(" + ")] : [words.neither]);
    }),
  ];
}

function vpnLines(desired: DesiredState, words: Words): string[] {
  if (!desired.vpn) return [];
  const peers = desired.vpn.peers;
  if (peers.length === 0) return [listLine(words, words.vpn(0), [words.noVpn], 0)];
  const byMember = new Map<string, string[]>();
  for (const p of peers) byMember.set(p.member, [...(byMember.get(p.member) ?? []), p.device]);
  return [`${words.vpn(peers.length)}${words.colon}`, ...[...byMember].map(([member, devices]) => listLine(words, member, devices))];
}

/** Where the backups go, or that none are made: the admin sees it before every run. */
function backupLines(config: Association, words: Words): string[] {
  const backups = config.backups;
  if (!backups) return [listLine(words, words.backups, [words.noBackups], 0)];
  const { destination } = backups;
  const where = destination.type === "sftp" ? `sftp ${destination.host}` : destination.type === "s3" ? `s3 ${destination.endpoint}/${destination.bucket}` : `${words.secondDisk} (${destination.path})`;
  return [listLine(words, words.backups, [words.backupsTo(backups.time, where, longestRetentionDays(backups.retention))], 0)];
}

const person = (m: { id: string; name: string }) => `${m.name} (${m.id})`;

/** Arrivals, departures and team changes between an earlier roster and this config. */
export function rosterChanges(before: RosterEntry[], config: Association) {
  const now = rosterOf(config);
  const earlier = new Map(before.map((m) => [m.id, m]));
  const current = new Set(now.map((m) => m.id));
  const teamName = (id: string) => config.teams.find((t) => t.id === id)?.name ?? id;
  return {
    arrivals: now.filter((m) => !earlier.has(m.id)),
    departures: before.filter((m) => !current.has(m.id)),
    moves: now.flatMap((m) => {
      const was = earlier.get(m.id);
      if (!was) return [];
      const joined = m.teams.filter((t) => !was.teams.includes(t)).map((t) => `+ ${teamName(t)}`);
      const left = was.teams.filter((t) => !m.teams.includes(t)).map((t) => `- ${teamName(t)}`);
      return joined.length || left.length ? [{ member: m, changes: [...joined, ...left] }] : [];
    }),
  };
}

/** The members of the run to compare with, and where they come from (absent: the stack's last run). */
export interface Previous {
  roster: RosterEntry[];
  source?: string;
}

function changeLines(config: Association, previous: Previous | undefined, words: Words): string[] {
  if (!previous) return [wrapText(words.firstRun)];
  const { arrivals, departures, moves } = rosterChanges(previous.roster, config);
  const section = (title: string, items: string[]) => [listLine(words, items.length ? `${title} (${items.length})` : title, items.length ? items : [words.none])];
  return [
    wrapText(`${words.changes(previous.source ?? words.lastRun)}${words.colon}`),
    ...section(words.arrivals, arrivals.map(person)),
    ...section(words.departures, departures.map(person)),
    ...(departures.length ? [`    ${words.departed(config.departures.graceDays)}`] : []),
    ...(moves.length
      ? [`  ${words.moves} (${moves.length})${words.colon}`, ...moves.map((m) => listLine(words, person(m.member), m.changes, 4))]
      : section(words.moves, [])),
  ];
}

/**
 * The summary printed before the resource table. `previous`: the members of the run to compare
 * with (an earlier association file, or the stack's last `roster` output).
 */
export function planSummary(config: Association, previous?: Previous): string {
  const words = WORDS[config.organisation.language];
  const desired = desiredState(config);
  return [
    words.title(config.organisation.name),
    "",
    `${words.addresses}${words.colon}`,
    ...addressLines(config, desired, words),
    ...accountLines(desired, words),
    ...teamLines(config, desired, words),
    ...vpnLines(desired, words),
    ...backupLines(config, words),
    "",
    ...changeLines(config, previous, words),
  ].join("\n");
}
