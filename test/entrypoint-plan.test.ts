// `npm run plan`, `npm run report` and the program as command-line entries: a bad file
// stops them with the message alone (no stack trace), the plan renders a file whose
// mail relay needs a password (a placeholder stands for it, and the plan says which
// `npm run pulumi -- config set --secret` command to run), and no value computed from a secret
// (the VPN server's private key) appears in a rendered file.
import test from "ava";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { RunError } from "@pulumi/pulumi/errors.js";
import { ConfigError } from "../stacks/config/load.ts";
import { SMTP_PASSWORD_SECRET } from "../stacks/config/mail.ts";
import { DERIVED_SECRET, maskDerivedSecrets, offlinePlan, suppliedSecretsNote } from "../stacks/offline/plan.ts";
import { failure } from "../stacks/offline/failure.ts";
import { exampleAssociation, exampleInput } from "./support/association.ts";
import { CONTAINER, secretPlaceholder } from "./support/program.ts";
import { scratch } from "./support/programs.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RELAY = { host: "smtp.asso-exemple.fr", from: "ne-pas-repondre@asso-exemple.fr", username: "ne-pas-repondre@asso-exemple.fr" };
/** A 32-byte key in standard base64, as `wg genkey` prints it. */
const WIREGUARD_KEY = /[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=/;

const withRelay = () => exampleAssociation((i) => (i.mail = RELAY));

test.serial("the plan of a file with a relay login renders, the password a placeholder, and names the command to set it", async (t) => {
  const config = withRelay();
  const resources = await offlinePlan(config);
  const app = resources.find((r) => r.type === CONTAINER && r.name === "bastide-nextcloud-app")!;
  t.truthy(app, "the Nextcloud container is planned");
  t.true((app.inputs.envs as string[]).includes(`SMTP_PASSWORD=${secretPlaceholder(SMTP_PASSWORD_SECRET)}`));
  t.true(app.secretInputs.includes("envs"), "still a Pulumi secret");
  t.regex(suppliedSecretsNote(config), /npm run pulumi -- config set --secret bastide:smtpPassword '<value>'/);
  t.is(suppliedSecretsNote(exampleAssociation()), "", "the example needs none");
});

test.serial("the plan's wg0.conf shows the server key as a placeholder, and no key-like value anywhere", async (t) => {
  const resources = await offlinePlan(exampleAssociation());
  const uploads = resources
    .filter((r) => r.type === CONTAINER)
    .flatMap((r) => (r.inputs.uploads as { file: string; content: string }[] | undefined) ?? []);
  const wg0 = uploads.find((u) => u.file.endsWith("/wg0.conf"));
  t.truthy(wg0, "the VPN's configuration is planned");
  t.regex(wg0!.content, new RegExp(`^PrivateKey = ${DERIVED_SECRET}$`, "m"));
  for (const upload of uploads) t.notRegex(upload.content, WIREGUARD_KEY, `${upload.file} shows no key`);
});

test("masking keeps placeholders and plain text, and hides what was computed from a secret", (t) => {
  const first = "user = <secret:db>\nkey = AbC123+/xyz=\nport = 5432";
  const second = "user = <secret:db>~2\nkey = QqQ999+/zzz=\nport = 5432";
  t.is(maskDerivedSecrets(first, second, "~2"), `user = <secret:db>\nkey = ${DERIVED_SECRET}\nport = 5432`);
  t.is(maskDerivedSecrets("a <secret:x> b", "a <secret:x>~2 b", "~2"), "a <secret:x> b");
  t.is(maskDerivedSecrets("one\ntwo", "one", "~2"), DERIVED_SECRET, "a different shape shows nothing");
});

test("a configuration error is a Pulumi RunError, so pulumi up prints its message without a stack", (t) => {
  const error = new ConfigError("association.yaml", [{ path: "domain", message: "must be a domain name" }]);
  t.true(RunError.isInstance(error));
  t.is(failure(error, false), error.message);
  t.regex(failure(new TypeError("boom"), true), /at /, "BASTIDE_DEBUG shows the stack");
});

const BOMB = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]', ..."bcdefghi".split("").map((n, i) => `${n}: &${n} [${Array(9).fill(`*${"abcdefghi"[i]}`).join(",")}]`)].join("\n");

function run(script: string, ...args: string[]) {
  const result = spawnSync(process.execPath, ["--import", "tsx", script, ...args], { cwd: ROOT, encoding: "utf8", timeout: 90_000, env: { ...process.env, BASTIDE_DEBUG: "" } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const STACK_FRAME = /^\s+at /m;

test("plan and report refuse a bad file with its problems and no stack trace", (t) => {
  const dir = scratch({ "bomb.yaml": BOMB, "syntax.yaml": "organisation:\n  name: x\n   country: FR\n" });
  for (const script of ["stacks/offline/plan.ts", "policies/reports/cli.ts"]) {
    for (const [file, expected] of [
      ["bomb.yaml", /aliases/],
      ["syntax.yaml", /YAML syntax/],
      ["missing.yaml", /does not exist/],
    ] as const) {
      const { status, stderr } = run(script, join(dir, file), "--out", join(dir, "out"));
      t.is(status, 1, `${script} ${file}`);
      t.regex(stderr, expected, `${script} ${file}`);
      t.notRegex(stderr, STACK_FRAME, `${script} ${file}: no stack trace`);
    }
  }
});

test("plan --secret-keys lists the config keys npm run deploy checks before pulumi up", (t) => {
  const input = exampleInput();
  input.mail = RELAY;
  const dir = scratch({ "relay.yaml": stringify(input) });
  const { status, stdout } = run("stacks/offline/plan.ts", join(dir, "relay.yaml"), "--secret-keys");
  t.is(status, 0);
  t.is(stdout, "bastide:smtpPassword\n");
});
