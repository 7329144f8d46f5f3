// Reads the association file and returns a validated config, or throws a
// ConfigError listing every problem with its field path, its line and the fix.
// Nothing is registered with Pulumi before this returns.
import { readFileSync } from "node:fs";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type YAMLError } from "yaml";
import type { z } from "zod";
import { associationSchema, type Association } from "./schema.ts";
import { sizingProblems } from "./sizing.ts";

export interface ConfigProblem {
  /** Dotted field path, e.g. `members[2].teams[0]`. */
  path: string;
  message: string;
  line?: number;
}

export class ConfigError extends Error {
  readonly source: string;
  readonly problems: ConfigProblem[];

  constructor(source: string, problems: ConfigProblem[]) {
    const lines = problems.map((p) => `  - ${p.path || "(file)"}${p.line ? ` (line ${p.line})` : ""}: ${p.message}`);
    super(`${source} is not valid; nothing was created or changed:\n${lines.join("\n")}`);
    this.name = "ConfigError";
    this.source = source;
    this.problems = problems;
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) => (typeof key === "number" ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    "",
  );
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

function problemsOf(issue: z.core.$ZodIssue, input: unknown, lineOf: (path: readonly PropertyKey[]) => number | undefined): ConfigProblem[] {
  // An unknown key is reported on its parent; point at each key itself, with its line.
  if (issue.code === "unrecognized_keys") {
    const allowed = allowedKeys(associationSchema as unknown as Schema, input, issue.path);
    return issue.keys.map((key) => {
      const path = [...issue.path, key];
      return { path: formatPath(path), message: unknownField(key, allowed), line: lineOf(path) };
    });
  }
  return [{ path: formatPath(issue.path), message: explain(issue), line: lineOf(issue.path) }];
}

/** Validates an already-parsed document. `lineOf` maps a path to its line, when known. */
export function validateAssociation(
  input: unknown,
  source = "the association config",
  lineOf: (path: readonly PropertyKey[]) => number | undefined = () => undefined,
): Association {
  // reportInput: tells a missing field (input undefined) from a wrong one.
  const parsed = associationSchema.safeParse(input, { error: adminWording, reportInput: true });
  if (!parsed.success) throw new ConfigError(source, parsed.error.issues.flatMap((issue) => problemsOf(issue, input, lineOf)));
  const sizing = sizingProblems(parsed.data);
  if (sizing.length > 0) throw new ConfigError(source, sizing.map((p) => ({ ...p, line: lineOf(p.path.split(".")) })));
  return parsed.data;
}

const YAML_FIXES: Partial<Record<YAMLError["code"], string>> = {
  DUPLICATE_KEY: "this key appears twice in the same block; keep one of them",
  TAB_AS_INDENT: "indent with spaces, not tabs",
};

function yamlProblem(error: YAMLError, lineCounter: LineCounter): ConfigProblem {
  const what = error.message.split("\n")[0];
  // The parser often notices a missing bracket or quote only on the next line.
  const fix = YAML_FIXES[error.code] ?? "check the indentation, colons, quotes and brackets on this line or just above";
  return { path: "", message: `YAML syntax: ${what}; ${fix}`, line: lineCounter.linePos(error.pos[0]).line };
}

/** One syntax mistake can trip the parser twice at the same place; say it once. */
function uniqueProblems(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.line}:${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
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

export function parseAssociation(text: string, source: string): Association {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) throw new ConfigError(source, uniqueProblems(doc.errors.map((e) => yamlProblem(e, lineCounter))));
  return validateAssociation(doc.toJS(), source, lineFinder(doc.contents, lineCounter));
}

export function loadAssociation(file: string): Association {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(file, [{ path: "", message: `cannot be read (${(error as NodeJS.ErrnoException).code}); check bastide:config in the stack settings` }]);
  }
  return parseAssociation(text, file);
}
