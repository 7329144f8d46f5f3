// The sheet's rows against the association file's members and teams: who arrives, who
// changes, who is no longer listed, and the ids of the new ones. Pure: the file and the
// sheet are read, and the result written, by the command (cli.ts).
//
// A member already in the file is matched by id (a sheet exported by `members export` has
// them) or else by e-mail, compared as the config compares them (fields.ts `emailKey`), and
// keeps their id, their devices' names (a device's name names its VPN key) and every field
// the sheet has no column for. A column present in the sheet is the truth for its field: an
// empty cell means the field's default (no team, no device, role volunteer).
import type { ConfigProblem } from "../load.ts";
import { emailKey, emailProblem, identifier, shown } from "../fields.ts";
import { ROLES, type Association, type Member, type Team } from "../schema.ts";
import { foldWord, IdPool, memberIdBase, splitFullName, teamIdBase } from "./ids.ts";
import { cellProblem, sheetError, type Field, type Sheet, type SheetRow } from "./sheet.ts";

type Role = (typeof ROLES)[number];
type Language = "fr" | "en";

/** Role words of French and English lists, folded (accents and case left out). */
const ROLE_WORDS: Record<string, Role> = {
  admin: "admin", administrateur: "admin", administratrice: "admin", administrator: "admin", "admin-e": "admin",
  staff: "staff", salarie: "staff", salariee: "staff", "salarie-e": "staff", permanent: "staff", permanente: "staff", employe: "staff", employee: "staff",
  volunteer: "volunteer", benevole: "volunteer", membre: "volunteer", member: "volunteer", adherent: "volunteer", adherente: "volunteer", "adherent-e": "volunteer",
};

const LANGUAGE_WORDS: Record<string, Language> = { fr: "fr", francais: "fr", french: "fr", en: "en", anglais: "en", english: "en" };

/** Words that stand for one device or none in a "VPN" column. */
const YES_NO: Record<string, number> = { oui: 1, yes: 1, non: 0, no: 0 };

/** A device count past this is a typo, not a member's laptops and phones. */
const MAX_DEVICES = 20;

/** Team cells list their teams separated by commas, semicolons or line breaks. */
const teamNames = (cell: string) => cell.split(/[,;\n]/).map((t) => t.trim()).filter(Boolean);

export interface ImportedMember {
  id: string;
  name: string;
  email: string;
  role: Role;
  /** Team ids. */
  teams: string[];
  /** Device names. */
  devices: string[];
  language?: Language;
  /** The sheet line the member comes from. */
  line: number;
  /** The member as the file had them, when they were there. */
  before?: Member;
}

export interface FieldChange {
  field: "name" | "email" | "role" | "teams" | "devices" | "language";
  from: string;
  to: string;
}

export interface ImportPlan {
  /** Every member of the sheet, in its order. */
  members: ImportedMember[];
  arriving: ImportedMember[];
  changing: { member: ImportedMember; changes: FieldChange[] }[];
  /** Members of the file the sheet does not list. */
  leaving: Member[];
  newTeams: Team[];
  /** Headers of the columns left out of the file. */
  ignoredColumns: string[];
}

export interface ImportOptions {
  /** Device names are `<word>-<n>`: appareil-1 in French, device-1 in English. */
  deviceWord: string;
  /** What starts an id folded from a name that gives none: membre, equipe. */
  memberFallback: string;
  teamPrefix: string;
}

export const importOptions = (language: Language): ImportOptions =>
  language === "fr" ? { deviceWord: "appareil", memberFallback: "membre", teamPrefix: "equipe" } : { deviceWord: "device", memberFallback: "member", teamPrefix: "team" };

function parseRole(cell: string): Role | undefined {
  return ROLE_WORDS[foldWord(cell)];
}

function parseDevices(cell: string): number | undefined {
  const word = foldWord(cell);
  if (word in YES_NO) return YES_NO[word];
  return /^\d+$/.test(cell) && Number(cell) <= MAX_DEVICES ? Number(cell) : undefined;
}

/** The devices a member keeps: their first `count` names, then new ones `<word>-<n>` with the lowest free n. */
function deviceNames(existing: string[], count: number, word: string): string[] {
  const kept = existing.slice(0, count);
  for (let n = 1; kept.length < count; n++) if (!kept.includes(`${word}-${n}`)) kept.push(`${word}-${n}`);
  return kept;
}

interface Cells {
  row: SheetRow;
  header: Partial<Record<Field, string>>;
}

/** Row-level problems: a cell that cannot mean anything, named by line and column. */
function rowProblems({ row, header }: Cells): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const at = (field: Field, message: string) => problems.push(cellProblem(row.line, header[field], message));
  const { cells } = row;
  const name = cells.name ?? [cells.givenName, cells.surname].filter(Boolean).join(" ");
  if (!name.trim()) at(header.name ? "name" : "surname", "is empty: every member needs a name");
  if (!cells.email) at("email", "is empty: every member needs an e-mail address");
  else {
    const problem = emailProblem(cells.email);
    if (problem) at("email", problem);
  }
  if (cells.role && !parseRole(cells.role))
    at("role", `${shown(cells.role)} is not a role: write admin, staff or volunteer (or administrateur, salarié, bénévole)`);
  if (cells.devices && parseDevices(cells.devices) === undefined)
    at("devices", `${shown(cells.devices)} is not a number of devices: write 0 to ${MAX_DEVICES}, or oui/non`);
  if (cells.language && !LANGUAGE_WORDS[foldWord(cells.language)]) at("language", `${shown(cells.language)} is not a language Bastide writes: fr or en`);
  if (cells.id && !identifier.safeParse(cells.id).success)
    at("id", `${shown(cells.id)} is not an id: leave it empty and one is made from the name, or write 2-32 lower-case letters, digits, dots, hyphens (e.g. alice.martin)`);
  return problems;
}

/** Two rows for one person (the same e-mail, or the same id) would make one account twice. */
function duplicateProblems(rows: SheetRow[], header: Sheet["headers"]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const field of ["email", "id"] as const) {
    const first = new Map<string, number>();
    for (const row of rows) {
      const value = row.cells[field];
      if (!value) continue;
      const key = field === "email" ? emailKey(value) : value;
      const earlier = first.get(key);
      if (earlier !== undefined) problems.push(cellProblem(row.line, header[field], `${shown(value)} is already on line ${earlier}: one line per member; remove or merge one of the two`));
      else first.set(key, row.line);
    }
  }
  return problems;
}

/** A list as the summary shows it; an empty one (or an unset language) as a dash, in either language. */
const NOTHING = "—";
const listed = (values: readonly string[]) => (values.length ? values.join(", ") : NOTHING);

function changesOf(before: Member, after: ImportedMember): FieldChange[] {
  const changes: FieldChange[] = [];
  const compare = (field: FieldChange["field"], from: string, to: string) => {
    if (from !== to) changes.push({ field, from, to });
  };
  compare("name", before.name, after.name);
  compare("email", before.email, after.email);
  compare("role", before.role, after.role);
  compare("teams", listed(before.teams), listed(after.teams));
  compare("devices", listed(before.devices.map((d) => d.name)), listed(after.devices));
  compare("language", before.language ?? NOTHING, after.language ?? NOTHING);
  return changes;
}

/** The members and teams the sheet describes, against the file's; refused, naming line and column, when a cell cannot be read. */
export function planImport(sheet: Sheet, config: Association, options: ImportOptions): ImportPlan {
  const { headers, rows } = sheet;
  const problems = [...rows.flatMap((row) => rowProblems({ row, header: headers })), ...duplicateProblems(rows, headers)];
  if (problems.length > 0) throw sheetError(sheet.source, problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)));

  // Every id of the file stays taken, leavers' included: a newcomer must never get the
  // accounts of someone who left (they are disabled, not yet erased).
  const memberIds = IdPool.forMembers();
  config.members.forEach((m) => memberIds.take(m.id));
  const byId = new Map(config.members.map((m) => [m.id, m]));
  const byEmail = new Map(config.members.map((m) => [emailKey(m.email), m]));
  const matched = rows.map((row) => (row.cells.id ? byId.get(row.cells.id) : undefined) ?? byEmail.get(emailKey(row.cells.email!)));
  const twice = matched.flatMap((member, i) => {
    const first = member ? matched.indexOf(member) : i;
    return first < i ? [cellProblem(rows[i]!.line, headers.id, `is ${member!.id} of the file, as line ${rows[first]!.line} is (one by id, the other by e-mail): one line per member; fix the id or the e-mail`)] : [];
  });
  if (twice.length > 0) throw sheetError(sheet.source, twice);
  // Ids written in the sheet for new members come before any folded from a name.
  rows.forEach((row, i) => {
    if (row.cells.id && !matched[i]) memberIds.take(row.cells.id);
  });

  const teamIds = IdPool.forTeams();
  config.teams.forEach((t) => teamIds.take(t.id));
  // A team is named in the sheet by its name or its id, compared folded.
  const teamByKey = new Map<string, string>();
  config.teams.forEach((t) => {
    teamByKey.set(foldWord(t.name), t.id);
    teamByKey.set(foldWord(t.id), t.id);
  });
  const newTeams: Team[] = [];
  const teamId = (name: string) => {
    const key = foldWord(name);
    const known = teamByKey.get(key);
    if (known) return known;
    const id = teamIds.claim(teamIdBase(name, options.teamPrefix));
    newTeams.push({ id, name, calendar: true, room: true });
    teamByKey.set(key, id);
    return id;
  };

  const members = rows.map((row, i): ImportedMember => {
    const { cells } = row;
    const before = matched[i];
    const person = cells.name !== undefined ? splitFullName(cells.name) : { given: cells.givenName ?? "", surname: cells.surname ?? "" };
    const name = cells.name ?? [cells.givenName, cells.surname].filter(Boolean).join(" ");
    const id = before?.id ?? (cells.id || memberIds.claim(memberIdBase(person, cells.email!, options.memberFallback)));
    const role = headers.role !== undefined ? (cells.role ? parseRole(cells.role)! : "volunteer") : (before?.role ?? "volunteer");
    const teams = headers.teams !== undefined ? [...new Set(teamNames(cells.teams ?? "").map(teamId))] : (before?.teams ?? []);
    const existingDevices = before?.devices.map((d) => d.name) ?? [];
    const devices = headers.devices !== undefined ? deviceNames(existingDevices, cells.devices ? parseDevices(cells.devices)! : 0, options.deviceWord) : existingDevices;
    const language = headers.language !== undefined ? (cells.language ? LANGUAGE_WORDS[foldWord(cells.language)] : undefined) : before?.language;
    return { id, name, email: cells.email!, role, teams, devices, ...(language ? { language } : {}), line: row.line, ...(before ? { before } : {}) };
  });

  const listedIds = new Set(members.map((m) => m.id));
  return {
    members,
    arriving: members.filter((m) => !m.before),
    changing: members.flatMap((m) => {
      const changes = m.before ? changesOf(m.before, m) : [];
      return changes.length > 0 ? [{ member: m, changes }] : [];
    }),
    leaving: config.members.filter((m) => !listedIds.has(m.id)),
    newTeams,
    ignoredColumns: sheet.ignored,
  };
}
