// Reads the association file and returns a validated config, or throws a
// ConfigError listing every problem with its field path, its line and the fix.
// Nothing is registered with Pulumi before this returns.
import { readFileSync, statSync } from "node:fs";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node, type YAMLError } from "yaml";
import type { z } from "zod";
import { RunError } from "@pulumi/pulumi/errors.js";
import { formatPath, shown } from "./fields.ts";
import { associationSchema, type Association } from "./schema.ts";
import { sizingProblems } from "./sizing.ts";

export interface ConfigProblem {
  /** Dotted field path, e.g. `members[2].teams[0]`. */
  path: string;
  message: string;
  line?: number;
}

/**
 * A message fit for a terminal: the messages quote what the file holds, so control,
 * zero-width and bidi characters are shown as \u escapes (they could hide or reorder what
 * the admin reads), and a very long message is cut.
 */
export function terminalSafe(text: string, max: number): string {
  const cut = [...text].length > max ? `${[...text].slice(0, max).join("")}… (${[...text].length} characters)` : text;
  // eslint-disable-next-line no-control-regex
  return cut.replace(/[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g, (c) =>
    c === "\n" ? "\\n" : c === "\t" ? "\\t" : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** One line per problem; the text is escaped because the messages quote what the file holds. */
function problemLine(p: ConfigProblem): string {
  return `  - ${terminalSafe(p.path, 200) || "(file)"}${p.line ? ` (line ${p.line})` : ""}: ${terminalSafe(p.message, 600)}`;
}

/**
 * A RunError, so that `pulumi up` and `pulumi preview` print the message alone: Pulumi's
 * Node runtime prints the stack of any other error thrown by a program
 * (@pulumi/pulumi 3.270.0, cmd/run/run.js: "Always hide the stack for RunErrors").
 */
export class ConfigError extends RunError {
  readonly source: string;
  readonly problems: ConfigProblem[];

  constructor(source: string, problems: ConfigProblem[], headline = "is not valid") {
    super(`${source} ${headline}; nothing was created or changed:\n${problems.map(problemLine).join("\n")}`);
    this.name = "ConfigError";
    this.source = source;
    this.problems = problems;
  }
}


// zod's own wording ("Invalid input: expected boolean, received string") is for
// developers. Fields with their own message keep it; the rest get these.
const EXPECTED: Record<string, string> = {
  boolean: "must be true or false",
  number: "must be a number",
  int: "must be a whole number",
  string: "must be text",
  array: "must be a list: one '- item' per line, or [a, b]",
  object: "must be a block of 'key: value' lines, indented below it",
};

function bound(origin: string, limit: number | bigint, inclusive: boolean | undefined, side: "least" | "most"): string {
  if (origin === "string") {
    if (side === "least" && Number(limit) <= 1) return "must not be empty";
    return `must be at ${side} ${limit} characters`;
  }
  if (origin === "array") return `must list at ${side} ${limit} item${Number(limit) === 1 ? "" : "s"}`;
  if (inclusive === false) return `must be ${side === "least" ? "more" : "less"} than ${limit}`;
  return `must be at ${side} ${limit}`;
}

const adminWording: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case "invalid_type": {
      if (issue.input !== undefined) return EXPECTED[issue.expected];
      // "is required: must be text" says nothing more than "is required".
      const what = issue.expected === "string" ? undefined : EXPECTED[issue.expected];
      return what ? `is required: ${what}` : "is required";
    }
    case "too_small":
      return bound(issue.origin, issue.minimum, issue.inclusive, "least");
    case "too_big":
      return bound(issue.origin, issue.maximum, issue.inclusive, "most");
    default:
      return undefined;
  }
};

type SchemaDef = {
  type: string;
  shape?: Record<string, Schema>;
  innerType?: Schema;
  in?: Schema;
  element?: Schema;
  options?: Schema[];
  discriminator?: string;
  values?: unknown[];
};
type Schema = { _zod: { def: SchemaDef } };

/** The fields the schema allows at `path`, following the input through unions (host.target). */
function allowedKeys(schema: Schema, input: unknown, path: readonly PropertyKey[]): string[] {
  const def = schema._zod.def;
  if (def.innerType) return allowedKeys(def.innerType, input, path);
  if (def.type === "pipe" && def.in) return allowedKeys(def.in, input, path);
  if (def.type === "union" && def.options) {
    const discriminator = def.discriminator;
    const chosen = (input as Record<string, unknown> | undefined)?.[discriminator ?? ""];
    const options = def.options.filter(
      (o) => !discriminator || (o._zod.def.shape?.[discriminator]?._zod.def.values ?? []).includes(chosen),
    );
    return [...new Set(options.flatMap((o) => allowedKeys(o, input, path)))];
  }
  if (path.length === 0) return def.type === "object" ? Object.keys(def.shape ?? {}) : [];
  const [key, ...rest] = path;
  const next = (input as Record<PropertyKey, unknown> | undefined)?.[key as PropertyKey];
  if (def.type === "object") {
    const child = def.shape?.[String(key)];
    return child ? allowedKeys(child, next, rest) : [];
  }
  if (def.type === "array" && def.element) return allowedKeys(def.element, next, rest);
  return [];
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++)
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

function unknownField(key: string, allowed: string[]): string {
  const near = allowed
    .map((name) => ({ name, distance: editDistance(key.toLowerCase(), name.toLowerCase()) }))
    .filter((c) => c.distance <= Math.max(1, Math.floor(key.length / 3)))
    .sort((a, b) => a.distance - b.distance)[0];
  if (near) return `unknown field "${key}": did you mean "${near.name}"? Otherwise remove it`;
  const list = allowed.length > 0 ? `; allowed here: ${allowed.join(", ")}` : "";
  return `unknown field "${key}": remove it or check the spelling${list}`;
}

function explain(issue: z.core.$ZodIssue): string {
  if (issue.path.length === 0 && issue.code === "invalid_type")
    return "must be a YAML mapping with organisation:, domain:, host: and members: (start from examples/association.yaml)";
  if (issue.input === undefined && issue.path.length > 0 && !issue.message.startsWith("is required"))
    return `is required: ${issue.message}`;
  return issue.message;
}

type LineOf = (path: readonly PropertyKey[]) => number | undefined;

/** The value the admin wrote, when it is one scalar and the message does not quote it already. */
function withValue(message: string, input: unknown): string {
  if (typeof input !== "string" && typeof input !== "number" && typeof input !== "boolean") return message;
  const value = String(input);
  return message.includes(value) || message.includes(shown(input)) ? message : `${message} (got ${shown(input)})`;
}

function problemsOf(issue: z.core.$ZodIssue, input: unknown, lineOf: LineOf): ConfigProblem[] {
  // An unknown key is reported on its parent; point at each key itself, with its line.
  if (issue.code === "unrecognized_keys") {
    const allowed = allowedKeys(associationSchema as unknown as Schema, input, issue.path);
    return issue.keys.map((key) => {
      const path = [...issue.path, key];
      return { path: formatPath(path), message: unknownField(key, allowed), line: lineOf(path) };
    });
  }
  return [{ path: formatPath(issue.path), message: withValue(explain(issue), issue.input), line: lineOf(issue.path) }];
}

/** Problems in file order; those without a line (rare) last. Stable, so zod's order breaks ties. */
const byLine = (a: ConfigProblem, b: ConfigProblem) => (a.line ?? Infinity) - (b.line ?? Infinity);

/** Validates an already-parsed document. `lineOf` maps a path to its line, when known. */
export function validateAssociation(input: unknown, source = "the association config", lineOf: LineOf = () => undefined): Association {
  // reportInput: tells a missing field (input undefined) from a wrong one.
  const parsed = associationSchema.safeParse(input, { error: adminWording, reportInput: true });
  if (!parsed.success) {
    // The schema runs its cross-field checks even when fields fail (schema.ts, zod's `when`):
    // one pass gives every problem; the admin reads them in the file's order.
    const problems = parsed.error.issues.flatMap((issue) => problemsOf(issue, input, lineOf));
    throw new ConfigError(source, problems.sort(byLine));
  }
  const sizing = sizingProblems(parsed.data);
  if (sizing.length > 0) throw new ConfigError(source, sizing.map((p) => ({ ...p, line: lineOf(p.path.split(".")) })));
  return parsed.data;
}

const YAML_FIXES: Partial<Record<YAMLError["code"], string>> = {
  DUPLICATE_KEY: "this key appears twice in the same block; keep one of them",
  TAB_AS_INDENT: "indent with spaces, not tabs",
};

const NESTED_TOO_DEEPLY = "is nested too deeply to be an association file; start from examples/association.yaml";

function yamlProblem(error: YAMLError, lineCounter: LineCounter): ConfigProblem {
  const line = lineCounter.linePos(error.pos[0]).line;
  // Thousands of `[[[[` exhaust the parser's stack; it says so in its own words.
  if (/stack overflow|call stack/i.test(error.message)) return { path: "", message: NESTED_TOO_DEEPLY, line };
  const what = error.message.split("\n")[0];
  // The parser often notices a missing bracket or quote only on the next line.
  const fix = YAML_FIXES[error.code] ?? "check the indentation, colons, quotes and brackets on this line or just above";
  return { path: "", message: `YAML syntax: ${what}; ${fix}`, line };
}

/**
 * The first syntax error only: after it the parser is lost and what it says next is noise.
 * Repeated keys are each a mistake of their own, so all of them are said when nothing else is wrong.
 */
function syntaxProblems(errors: readonly YAMLError[], lineCounter: LineCounter): ConfigProblem[] {
  const inOrder = [...errors].sort((a, b) => a.pos[0] - b.pos[0]);
  const broken = inOrder.find((e) => e.code !== "DUPLICATE_KEY");
  return (broken ? [broken] : inOrder).map((e) => yamlProblem(e, lineCounter));
}

/** The line of the deepest part of `path` found in the document: a key's own line, an item's first line. */
function lineFinder(contents: unknown, lineCounter: LineCounter) {
  return (path: readonly PropertyKey[]): number | undefined => {
    let node = contents;
    let at = (contents as Node | undefined)?.range?.[0];
    for (const key of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
        if (!pair) break;
        at = (pair.key as Node).range?.[0] ?? at;
        node = pair.value;
      } else if (isSeq(node) && typeof key === "number") {
        const item = node.items[key] as Node | undefined;
        if (!item) break;
        at = item.range?.[0] ?? at;
        node = item;
      } else break;
    }
    return at === undefined ? undefined : lineCounter.linePos(at).line;
  };
}

/** An association file is a few kilobytes; anything near this is not one, and is not read. */
export const MAX_FILE_BYTES = 1024 * 1024;

const oversized = (source: string, size: string) =>
  new ConfigError(source, [{ path: "", message: `is ${size}; an association file is a few kilobytes (at most ${MAX_FILE_BYTES} bytes): check that this is the right file` }]);
/**
 * Anchors and aliases (`&a`, `*a`) let a few lines expand to gigabytes (the "billion
 * laughs"). An association file has no use for many: the yaml package's own guard counts
 * each alias weighted by the aliases inside what it repeats, and refuses past this.
 */
const MAX_ALIAS_COUNT = 100;

function firstAliasLine(doc: Document, lineCounter: LineCounter): number | undefined {
  let at: number | undefined;
  visit(doc, {
    Alias: (_key, node) => {
      at = node.range?.[0];
      return visit.BREAK;
    },
  });
  return at === undefined ? undefined : lineCounter.linePos(at).line;
}

/** The document as plain data, or the reason it cannot become data (an alias bomb, an unknown alias, nesting too deep). */
function documentData(doc: Document, lineCounter: LineCounter): { data: unknown } | { problem: ConfigProblem } {
  try {
    return { data: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) };
  } catch (error) {
    const line = firstAliasLine(doc, lineCounter);
    const message =
      error instanceof RangeError
        ? NESTED_TOO_DEEPLY
        : /resource exhaustion/.test((error as Error).message)
          ? `YAML aliases (*name) repeat content so many times that the file would expand beyond any association's size; write the values out instead of repeating them with &anchors and *aliases`
          : `YAML syntax: ${(error as Error).message.split("\n")[0]}; write the value out, or define its &anchor before the *alias`;
    return { problem: { path: "", message, line } };
  }
}

export function parseAssociation(text: string, source: string): Association {
  if (text.length > MAX_FILE_BYTES) throw oversized(source, `${text.length} characters`);
  const lineCounter = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  } catch (error) {
    // The parser recurses per nesting level; thousands of `[[[[` exhaust the stack.
    if (!(error instanceof RangeError)) throw error;
    throw new ConfigError(source, [{ path: "", message: NESTED_TOO_DEEPLY }]);
  }
  if (doc.errors.length > 0) throw new ConfigError(source, syntaxProblems(doc.errors, lineCounter));
  const read = documentData(doc, lineCounter);
  if ("problem" in read) throw new ConfigError(source, [read.problem]);
  return validateAssociation(read.data, source, lineFinder(doc.contents, lineCounter));
}

export function loadAssociation(file: string): Association {
  let text: string;
  try {
    const stat = statSync(file);
    if (!stat.isFile())
      throw new ConfigError(file, [{ path: "", message: "is a folder or a device: give the path of the association's YAML file" }], "is not a file");
    // Checked before reading: a mistaken path to a disk image must not be loaded whole.
    if (stat.size > MAX_FILE_BYTES) throw oversized(file, `${stat.size} bytes`);
    text = readFileSync(file, "utf8");
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT")
      throw new ConfigError(file, [{ path: "", message: "there is no file at this path: check the path (bastide:config in the stack settings, or the file given to npm run plan/report/deploy), or copy examples/association.yaml there" }], "does not exist");
    throw new ConfigError(file, [{ path: "", message: `cannot be read (${code ?? (error as Error).message}); check its permissions, and bastide:config in the stack settings` }], "cannot be read");
  }
  return parseAssociation(text, file);
}
