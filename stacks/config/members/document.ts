// The import written into the association file's YAML document: members and teams edited in
// place through the yaml package's Document API, so their comments and key order stay where
// the admin put them and only the fields that change are touched. Only the `members:` and
// `teams:` blocks are written back: the rest of the file is kept byte for byte (yaml 2.9.1
// re-renders a whole document with comments moved: a comment block at the left margin after
// `services:` comes back indented under it, where uncommenting it would change its meaning).
// The result is then held to the config's own validation (load.ts), and a problem in a
// member it made is named by that member's sheet line and column.
import { Document, isMap, isScalar, isSeq, parseDocument, YAMLMap, type Node, type Pair, type YAMLSeq } from "yaml";
import { ConfigError, parseAssociation, type ConfigProblem } from "../load.ts";
import type { Association } from "../schema.ts";
import type { ImportedMember, ImportPlan } from "./merge.ts";
import type { Field, Sheet } from "./sheet.ts";
import { cellProblem } from "./sheet.ts";

/** The document of an association file, read as the loader reads it (comments kept). */
export const associationDocument = (text: string) => parseDocument(text, { uniqueKeys: true });

function sequence(doc: Document, key: string): YAMLSeq {
  const found = doc.get(key, true);
  if (isSeq(found)) return found;
  const created = doc.createNode([]) as YAMLSeq;
  // A pair whose key is a node, as the parsed ones are, so the file's text can be edited alike.
  if (isMap(doc.contents)) doc.contents.items.push(doc.createPair(key, created));
  else doc.set(key, created);
  return created;
}

/** Sets a scalar in place when there is one, so a comment beside the value stays. */
function setScalar(map: YAMLMap, key: string, value: string): void {
  const node = map.get(key, true);
  if (isScalar(node)) node.value = value;
  else map.set(key, value);
}

function flowList(doc: Document, values: string[]): Node {
  const node = doc.createNode(values) as YAMLSeq;
  node.flow = true;
  return node;
}

/** The devices as `- name: ...` items, the ones kept reused as they were written. */
function devicesNode(doc: Document, existing: unknown, names: string[]): Node {
  const items = isSeq(existing) ? existing.items : [];
  const kept = new Map(items.flatMap((item) => (isMap(item) ? [[String(item.get("name")), item] as const] : [])));
  const node = doc.createNode([]) as YAMLSeq;
  node.items = names.map((name) => kept.get(name) ?? doc.createNode({ name }));
  return node;
}

function setList(map: YAMLMap, key: "teams" | "devices", node: Node | undefined): void {
  if (node === undefined) map.delete(key);
  else map.set(key, node);
}

function updateMember(doc: Document, node: YAMLMap, member: ImportedMember): void {
  const before = member.before!;
  if (before.name !== member.name) setScalar(node, "name", member.name);
  if (before.email !== member.email) setScalar(node, "email", member.email);
  if (before.role !== member.role) setScalar(node, "role", member.role);
  if (before.language !== member.language) {
    if (member.language) setScalar(node, "language", member.language);
    else node.delete("language");
  }
  if (before.teams.join() !== member.teams.join()) setList(node, "teams", member.teams.length ? flowList(doc, member.teams) : undefined);
  if (before.devices.map((d) => d.name).join() !== member.devices.join())
    setList(node, "devices", member.devices.length ? devicesNode(doc, node.get("devices", true), member.devices) : undefined);
}

function newMember(doc: Document, member: ImportedMember): Node {
  const node = doc.createNode({ id: member.id, name: member.name, email: member.email, role: member.role, ...(member.language ? { language: member.language } : {}) }) as YAMLMap;
  if (member.teams.length) node.set("teams", flowList(doc, member.teams));
  if (member.devices.length) node.set("devices", devicesNode(doc, undefined, member.devices));
  return node;
}

/** Edits `doc` to hold the plan's members and teams; leavers are removed only when `removeLeaving`. */
export function applyImport(doc: Document, plan: ImportPlan, removeLeaving: boolean): void {
  const byId = new Map(plan.members.map((m) => [m.id, m]));
  const leaving = new Set(plan.leaving.map((m) => m.id));
  const members = sequence(doc, "members");
  members.items = members.items.filter((item) => !(removeLeaving && isMap(item) && leaving.has(String(item.get("id")))));
  for (const item of members.items) {
    const member = isMap(item) ? byId.get(String(item.get("id"))) : undefined;
    if (member?.before) updateMember(doc, item as YAMLMap, member);
  }
  for (const member of plan.arriving) members.items.push(newMember(doc, member));
  if (plan.newTeams.length > 0) {
    const teams = sequence(doc, "teams");
    for (const team of plan.newTeams) teams.items.push(doc.createNode({ id: team.id, name: team.name }));
  }
}

/** Flow lists as the example writes them: [bureau, evenements]. */
const RENDERING = { flowCollectionPadding: false } as const;

/** One top-level `key: value` block alone, without the comments around it that the file's text keeps. */
function renderPair(pair: Pair<Node, Node>): string {
  pair.key.commentBefore = null;
  pair.key.spaceBefore = false;
  pair.value!.comment = null;
  const alone = new Document();
  const map = new YAMLMap();
  map.items.push(pair);
  alone.contents = map;
  return alone.toString(RENDERING);
}

/** The file's text with its edited `teams:` and `members:` blocks written in place, and any new one appended. */
export function editedText(original: string, doc: Document): string {
  const pairs = (isMap(doc.contents) ? doc.contents.items : []) as Pair<Node, Node>[];
  const edited = pairs.filter((p) => isScalar(p.key) && ["teams", "members"].includes(String(p.key.value)));
  let text = original;
  // From the end of the file, so that earlier offsets stay true.
  const placed = edited.filter((p) => p.key.range && p.value?.range).sort((a, b) => b.key.range![0] - a.key.range![0]);
  for (const pair of placed) {
    const [start, end] = [pair.key.range![0], pair.value!.range![1]];
    // The parser's range ends after the block's last line break, or at the file's end without one.
    const rendered = text.slice(start, end).endsWith("\n") ? renderPair(pair) : renderPair(pair).replace(/\n$/, "");
    text = `${text.slice(0, start)}${rendered}${text.slice(end)}`;
  }
  const added = edited.filter((p) => !placed.includes(p));
  for (const pair of added) text = `${text.replace(/\n*$/, "\n")}\n${renderPair(pair)}`;
  return text;
}

/** Which sheet column gives each member field. */
const COLUMN_OF: Record<string, Field[]> = {
  id: ["id"],
  name: ["name", "surname"],
  email: ["email"],
  role: ["role"],
  teams: ["teams"],
  devices: ["devices", "role"],
  language: ["language"],
};

/**
 * The edited file, validated as `pulumi up` would validate it. A problem of a member from the
 * sheet is said at that member's sheet line and column; any other at its field in the file.
 */
export function validatedText(original: string, doc: Document, plan: ImportPlan, sheet: Sheet, file: string): { text: string; config: Association } {
  const text = editedText(original, doc);
  try {
    return { text, config: parseAssociation(text, file) };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const edited = (doc.toJS() as { members?: { id?: unknown }[] }).members ?? [];
    const lineOf = new Map(plan.members.map((m) => [m.id, m.line]));
    const problems = error.problems.map((problem): ConfigProblem => {
      const at = /^members\[(\d+)\](?:\.(\w+))?/.exec(problem.path);
      const line = at ? lineOf.get(String(edited[Number(at[1])]?.id)) : undefined;
      if (!at || line === undefined) return { path: `${file}: ${problem.path}`, message: problem.message };
      const column = (COLUMN_OF[at[2] ?? ""] ?? []).map((f) => sheet.headers[f]).find((h) => h !== undefined);
      return cellProblem(line, column, problem.message);
    });
    throw new ConfigError(sheet.source, problems, `cannot be imported into ${file}`);
  }
}
