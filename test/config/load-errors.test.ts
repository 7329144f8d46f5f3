// How a bad file is refused: every problem at once (field and cross-field together, in
// file order), one message per YAML syntax error, alias bombs and deep nesting refused
// before they cost memory, a missing file said to be missing, values shown escaped.
import test from "ava";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, loadAssociation, MAX_FILE_BYTES, parseAssociation, terminalSafe } from "../../stacks/config/load.ts";
import { EXAMPLE_FILE } from "../support/association.ts";
import { scratch } from "../support/programs.ts";

const EXAMPLE_TEXT = readFileSync(EXAMPLE_FILE, "utf8");

function refusal(text: string): ConfigError {
  try {
    parseAssociation(text, "association.yaml");
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw new Error(`expected a ConfigError, got ${(error as Error).stack ?? String(error)}`);
  }
  throw new Error("the file was accepted");
}

const lineOf = (text: string, marker: string) => text.slice(0, text.indexOf(marker)).split("\n").length;

function edited(...replacements: [string, string][]): string {
  let text = EXAMPLE_TEXT;
  for (const [from, to] of replacements) {
    if (!text.includes(from)) throw new Error(`the example no longer contains ${JSON.stringify(from)}`);
    text = text.replace(from, to);
  }
  return text;
}

/** Nine levels of nine aliases: 9^9 (387 million) strings once expanded. */
const BILLION_LAUGHS = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ..."bcdefghi".split("").map((name, i) => {
    const previous = "abcdefghi"[i]!;
    return `${name}: &${name} [${Array(9).fill(`*${previous}`).join(",")}]`;
  }),
].join("\n");

test("a billion-laughs file is refused at once, with the line of its first alias", (t) => {
  const started = Date.now();
  const error = refusal(BILLION_LAUGHS);
  t.true(Date.now() - started < 5000, "refused without expanding");
  t.is(error.problems.length, 1);
  t.is(error.problems[0]!.path, "");
  t.is(error.problems[0]!.line, 2);
  t.regex(error.problems[0]!.message, /aliases .* write the values out/);
  t.notRegex(error.message, /ReferenceError|    at /, "no stack trace, no parser class name");
});

test("the same bomb inside an otherwise valid association is refused too", (t) => {
  const text = edited(["organisation:\n  name: Les Jardins", `${BILLION_LAUGHS.replace(/^(\w): /gm, "x$1: ")}\norganisation:\n  name: Les Jardins`]);
  const error = refusal(text);
  t.regex(error.message, /aliases/);
});

test("a few aliases within the limit are still read as YAML allows", (t) => {
  const text = edited(["  - id: bureau\n    name: Bureau\n", "  - id: bureau\n    name: &b Bureau\n"], ["  - id: evenements\n    name: Événements\n", "  - id: evenements\n    name: *b\n"]);
  t.is(parseAssociation(text, "association.yaml").teams[2]!.name, "Bureau");
});

test("thousands of nested brackets are refused as too deep, not with a stack overflow", (t) => {
  const error = refusal(`organisation: ${"[".repeat(20000)}${"]".repeat(20000)}\n`);
  t.is(error.problems.length, 1);
  t.regex(error.problems[0]!.message, /nested too deeply/);
  t.notRegex(error.message, /RangeError|Maximum call stack|Stack overflow/i);
});

test("a YAML syntax error is said once, with its line, without the parser's follow-up noise", (t) => {
  // The parser reports this one mistake twice: "Nested mappings are not allowed..." and "Implicit keys need to be on a single line".
  const text = edited(["  country: FR\n", "   country: FR\n"]);
  const error = refusal(text);
  t.is(error.problems.length, 1, error.message);
  // The parser notices it on the value above the misindented key; the message says "this line or just above".
  const country = lineOf(text, "   country: FR");
  t.true([country - 1, country].includes(error.problems[0]!.line!), `line ${error.problems[0]!.line}`);
  t.regex(error.problems[0]!.message, /^YAML syntax: /);
});

test("repeated keys are each reported when the file has no other syntax error", (t) => {
  const text = edited(["    name: Tom Martin\n", "    name: Tom Martin\n    name: Tom M.\n"], ["    name: Bureau\n", "    name: Bureau\n    name: Le bureau\n"]);
  const error = refusal(text);
  t.deepEqual(
    error.problems.map((p) => p.line),
    [lineOf(text, "name: Le bureau"), lineOf(text, "name: Tom M.")],
  );
});

test("field errors and cross-field errors come together, in file order", (t) => {
  // A field error (a bad e-mail) used to hide the undeclared team until it was fixed.
  const text = edited(
    ["    email: lea.moreau@jardins-canal.localhost\n", "    email: lea at jardins\n"],
    ["    teams: [potager, evenements]\n", "    teams: [potager, evenement]\n"],
    ["  country: FR\n", "  country: US\n"],
  );
  const error = refusal(text);
  t.deepEqual(
    error.problems.map((p) => [p.path, p.line]),
    [
      ["organisation.country", lineOf(text, "country: US")],
      ["members[2].email", lineOf(text, "lea at jardins")],
      ["members[3].teams[1]", lineOf(text, "[potager, evenement]")],
    ],
  );
  t.regex(error.problems[2]!.message, /team "evenement" is not declared/);
});

test("a cross-field check does not guess from a field that is already wrong", (t) => {
  // The only admin's role is mistyped: say that, not also "no member is an admin".
  const error = refusal(edited(["    role: admin\n", "    role: adimn\n"]));
  t.deepEqual(error.problems.map((p) => p.path), ["members[0].role"]);
});

test("the value refused is shown, cut and with control and bidi characters escaped", (t) => {
  const error = refusal(edited(["    role: staff\n", `    role: "st\\u202Eaff\\u0000${"x".repeat(200)}"\n`]));
  const line = error.message.split("\n").find((l) => l.includes("members[1].role"))!;
  t.true(line.includes("\\u202e") && line.includes("\\u0000"), line);
  t.false(/[\u0000\u202e]/.test(error.message), "no raw control or bidi character reaches the terminal");
  t.true(line.length < 400, "a long value is cut");
  t.is(terminalSafe("a\u200bb\nc", 60), "a\\u200bb\\nc");
});

test("a missing file is said to be missing", (t) => {
  const file = join(scratch(), "nowhere.yaml");
  const error = t.throws(() => loadAssociation(file), { instanceOf: ConfigError })!;
  t.true(error.message.startsWith(`${file} does not exist;`), error.message);
  t.regex(error.message, /examples\/association\.yaml/);
});

test("a folder or an oversized file is refused before it is read", (t) => {
  const dir = scratch();
  const folder = join(dir, "folder.yaml");
  mkdirSync(folder);
  t.regex(t.throws(() => loadAssociation(folder), { instanceOf: ConfigError })!.message, /is not a file/);
  const big = join(dir, "big.yaml");
  writeFileSync(big, `# ${"x".repeat(MAX_FILE_BYTES)}\n`);
  t.regex(t.throws(() => loadAssociation(big), { instanceOf: ConfigError })!.message, /a few kilobytes/);
});
