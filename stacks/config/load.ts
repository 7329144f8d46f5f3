// Reads the association file and returns a validated config, or throws a
// ConfigError listing every problem with its field path, its line and the fix.
// Nothing is registered with Pulumi before this returns.
import { readFileSync } from "node:fs";
import { isMap, isSeq, LineCounter, parseDocument, type Node } from "yaml";
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

function explain(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys")
    return `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}: remove ${issue.keys.length > 1 ? "them" : "it"} or check the spelling`;
  if (issue.code === "invalid_type" && issue.input === undefined) return `is required: ${issue.message.replace(/^Invalid input: /, "")}`;
  return issue.message;
}

/** Validates an already-parsed document. `lineOf` maps a path to its line, when known. */
export function validateAssociation(
  input: unknown,
  source = "the association config",
  lineOf: (path: readonly PropertyKey[]) => number | undefined = () => undefined,
): Association {
  const parsed = associationSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      source,
      parsed.error.issues.map((issue) => {
        // An unknown key is reported on its parent; point at the key itself.
        const path = issue.code === "unrecognized_keys" && issue.keys.length === 1 ? [...issue.path, issue.keys[0]!] : issue.path;
        return { path: formatPath(path), message: explain(issue), line: lineOf(path) };
      }),
    );
  }
  const sizing = sizingProblems(parsed.data);
  if (sizing.length > 0) throw new ConfigError(source, sizing.map((p) => ({ ...p, line: lineOf(p.path.split(".")) })));
  return parsed.data;
}

export function parseAssociation(text: string, source: string): Association {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => ({ path: "", message: `YAML syntax: ${e.message.split("\n")[0]}`, line: e.linePos?.[0]?.line })),
    );
  }
  const lineOf = (path: readonly PropertyKey[]) => {
    let node: unknown = doc.contents;
    let last: Node | undefined;
    for (const key of path) {
      if (!isMap(node) && !isSeq(node)) break;
      last = node as Node;
      node = node.get(key as never, true);
    }
    const at = (node as Node | undefined)?.range?.[0] ?? last?.range?.[0];
    return at === undefined ? undefined : lineCounter.linePos(at).line;
  };
  return validateAssociation(doc.toJS(), source, lineOf);
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
