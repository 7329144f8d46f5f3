// Whatever the file holds, validation ends in a config or a ConfigError, never in a
// TypeError or RangeError from a check that trusted its input. The cross-field checks now
// run on partly invalid configs (crossFieldProblems reads `unknown`): this guards them.
// It passes on the code before that change too; it is a guard, not the proof of a fix.
import test from "ava";
import fc from "fast-check";
import { crossFieldProblems } from "../../stacks/config/cross-field.ts";
import { ConfigError, validateAssociation } from "../../stacks/config/load.ts";
import { exampleInput } from "../support/association.ts";

type Json = Record<string, any>;

/** Every path to a value in `value`, objects and lists included. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== "object") return [prefix];
  const children = Array.isArray(value) ? value.map((v, i) => paths(v, [...prefix, i])) : Object.entries(value).map(([k, v]) => paths(v, [...prefix, k]));
  return [prefix, ...children.flat()];
}

function setAt(root: Json, path: (string | number)[], replacement: unknown): Json {
  if (path.length === 0) return replacement as Json;
  let node: any = root;
  for (const key of path.slice(0, -1)) node = node[key];
  node[path.at(-1)!] = replacement;
  return root;
}

const EXAMPLE_PATHS = paths(exampleInput());
const HOSTILE_KEYS = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"];
const hostile = fc.oneof(
  fc.anything({ maxDepth: 2, maxKeys: 3 }),
  fc.constantFrom(...HOSTILE_KEYS),
  fc.constantFrom(null, [], {}, "", "0.0.0.0/0", "::ffff:0.0.0.0/96", "\u0000", "x".repeat(10_000), -1, 1e308, Number.NaN),
);

test("any value at any place of the example ends in a config or a ConfigError", (t) => {
  fc.assert(
    fc.property(fc.constantFrom(...EXAMPLE_PATHS), hostile, (path, replacement) => {
      const input = setAt(exampleInput(), path, replacement);
      try {
        validateAssociation(input, "fuzz.yaml");
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        // Every problem names a field (or the file) and says something.
        for (const problem of error.problems) if (!problem.message) throw new Error(`empty message at ${problem.path}`);
      }
    }),
    { numRuns: 400, seed: 9 },
  );
  t.pass();
});

test("hostile keys as ids, names and lookups end in a config or a ConfigError", (t) => {
  for (const key of HOSTILE_KEYS) {
    for (const edit of [
      (i: Json) => (i.members[3].id = key),
      (i: Json) => (i.teams[0].id = key),
      (i: Json) => (i.members[3].teams = [key]),
      (i: Json) => (i.host = { target: "hetzner", location: key, serverType: key, sshPublicKey: key, adminAddresses: [key] }),
      (i: Json) => (i.host = { target: key }),
      (i: Json) => (i.profile = key),
      (i: Json) => (i.services = { [key]: {} }),
    ]) {
      const input = exampleInput();
      edit(input);
      try {
        validateAssociation(input, "fuzz.yaml");
      } catch (error) {
        t.true(error instanceof ConfigError, `${key}: ${String(error)}`);
      }
    }
  }
});

test("crossFieldProblems reads any value without throwing, and finds problems in a partial config", (t) => {
  for (const value of [undefined, null, 42, "text", [], { members: "x", teams: null, services: [] }, { members: [null, 7, { devices: "x" }] }])
    t.deepEqual(crossFieldProblems(value), [], JSON.stringify(value));
  const partial = { teams: [{ id: "admin" }], members: [{ id: "bastide", role: "admin", teams: ["compost"] }] };
  t.deepEqual(crossFieldProblems(partial).map((p) => p.path.join(".")).sort(), ["members.0.id", "members.0.teams.0", "teams.0.id"]);
});
