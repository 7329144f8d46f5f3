// services.identity in the association file: a second factor for every role unless a reason
// says why not (never for administrators), and a sub-domain of its own. Each refusal names
// the field, its line in the file and the fix, before anything is created.
import test, { type ExecutionContext } from "ava";
import { readFileSync } from "node:fs";
import { ConfigError, parseAssociation } from "../../stacks/config/load.ts";
import { EXAMPLE_FILE } from "../support/association.ts";

const EXAMPLE_TEXT = readFileSync(EXAMPLE_FILE, "utf8");
const SERVICES = "services:\n";

/** The example with `lines` added at the top of its services section. */
function withServices(lines: string): string {
  if (!EXAMPLE_TEXT.includes(SERVICES)) throw new Error("the example has no services section");
  return EXAMPLE_TEXT.replace(SERVICES, `${SERVICES}${lines}`);
}

function lineOf(text: string, marker: string): number {
  const lines = text.split("\n").flatMap((line, index) => (line.includes(marker) ? [index + 1] : []));
  if (lines.length !== 1) throw new Error(`"${marker}" is on ${lines.length} lines, expected exactly one`);
  return lines[0]!;
}

/** The one problem at `path`, whose message says each of `says`, on the line of `marker`. */
function refusedOnLine(t: ExecutionContext, text: string, path: string, marker: string, ...says: string[]) {
  const error = t.throws(() => parseAssociation(text, "association.yaml"), { instanceOf: ConfigError })!;
  const matching = error.problems.filter((p) => p.path === path && says.every((s) => p.message.includes(s)));
  t.is(matching.length, 1, `one problem at ${path} saying ${JSON.stringify(says)}; got ${JSON.stringify(error.problems)}`);
  t.is(matching[0]?.line, lineOf(text, marker), `${path} is reported on the line of ${marker}`);
  t.true(error.message.includes(`  - ${path} (line ${lineOf(text, marker)}): `), error.message);
}

test("the example gets the identity provider by default: on, at connexion., a second factor for every role", (t) => {
  const config = parseAssociation(EXAMPLE_TEXT, "association.yaml");
  const identity = config.services.identity;
  t.true(identity.enabled);
  t.is(identity.subdomain, "connexion");
  t.deepEqual(
    Object.values(identity.twoFactor).map((r) => r.required),
    [true, true, true],
  );
});

test("refused: administrators without a second factor, even with a reason", (t) => {
  const text = withServices("  identity:\n    twoFactor:\n      admin: { required: false, relaxedBecause: \"Our admins share one laptop and no phone.\" }\n");
  refusedOnLine(t, text, "services.identity.twoFactor.admin.required", "admin: { required: false", "administrators always need a second factor", "remove required: false");
});

test("refused: a role without a second factor and without the reason the register quotes", (t) => {
  const text = withServices("  identity:\n    twoFactor:\n      volunteer: { required: false }\n");
  refusedOnLine(t, text, "services.identity.twoFactor.volunteer.relaxedBecause", "volunteer: { required: false }", "required: false needs relaxedBecause", "register quotes");
});

test("accepted: a role without a second factor, with a real reason", (t) => {
  const reason = "Les bénévoles des jardins n'ont souvent pas de téléphone personnel.";
  const text = withServices(`  identity:\n    twoFactor:\n      volunteer: { required: false, relaxedBecause: "${reason}" }\n`);
  const config = parseAssociation(text, "association.yaml");
  t.deepEqual(config.services.identity.twoFactor.volunteer, { required: false, relaxedBecause: reason });
  t.true(config.services.identity.twoFactor.staff.required);
});

test("refused: a file that already had a service on connexion. is told at that service's own line", (t) => {
  const takes = withServices("  polls:\n    subdomain: connexion\n");
  refusedOnLine(t, takes, "services.polls.subdomain", "subdomain: connexion", "already the sub-domain of services.identity.subdomain", "give each service its own");
});

test("refused: the identity provider on another service's sub-domain", (t) => {
  const taken = withServices("  identity:\n    subdomain: cloud\n");
  const error = t.throws(() => parseAssociation(taken, "association.yaml"), { instanceOf: ConfigError })!;
  t.deepEqual(
    error.problems.map((p) => [p.path, p.message]),
    [["services.nextcloud.subdomain", '"cloud" is already the sub-domain of services.identity.subdomain; give each service its own']],
  );
});

test("refused: a password minimum below 12 or a lock-out after 2 failures, each on its line", (t) => {
  refusedOnLine(t, withServices("  identity:\n    passwords: { minimumLength: 8 }\n"), "services.identity.passwords.minimumLength", "minimumLength: 8", "at least 12");
  refusedOnLine(t, withServices("  identity:\n    lockoutAfterFailures: 2\n"), "services.identity.lockoutAfterFailures", "lockoutAfterFailures: 2", "at least 3");
});
