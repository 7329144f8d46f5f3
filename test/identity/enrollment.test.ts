// Enrollment through the identity provider, against a real Keycloak 26.7.3: one temporary
// password per member that Keycloak makes them replace (with a second factor where their role
// requires it), Keycloak's execute-actions e-mail when the file has a mail relay, and
// `npm run first-password` doing either for many members at once.
import test from "ava";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { desiredState, type DesiredState } from "../../provisioners/desired.ts";
import { enrollMembers, formatEnrollment, temporaryPassword } from "../../provisioners/identity/enroll.ts";
import { createIdentityClient, identityProvisioner } from "../../provisioners/identity/index.ts";
import { converge } from "../../provisioners/model.ts";
import { CREDENTIAL_ENV, IDENTITY_ADMIN } from "../../provisioners/first-password/credentials.ts";
import { ENDPOINT_ENV } from "../../provisioners/first-password/connect.ts";
import type { Association } from "../../stacks/config/schema.ts";
import { exampleAssociation, exampleInput } from "../support/association.ts";
import { CLIENT_SECRETS_FOR_TESTS, startKeycloak, type RealKeycloak } from "../support/keycloak.ts";
import { runCommand } from "../support/cli.ts";

const SECRETS = CLIENT_SECRETS_FOR_TESTS;
const NO_DEPARTURES = { disable: [], erase: [], enable: [] };

let keycloak: RealKeycloak;

test.before(async (t) => {
  t.timeout(240_000);
  keycloak = await startKeycloak();
});

test.after.always(async () => {
  await keycloak?.stop();
});

/** The command works in the realm `bastide`; a test that needs a realm of its own names it. */
const client = (realm = "bastide") => createIdentityClient({ baseUrl: keycloak.url, realm, admin: keycloak.admin, clientSecrets: SECRETS });

async function provision(config: Association, realm = "bastide"): Promise<DesiredState> {
  const state = desiredState(config);
  const desired = { ...state, identity: { ...state.identity!, realm }, departures: NO_DEPARTURES };
  const result = await converge(identityProvisioner, desired, client(realm), { concurrency: 4 });
  if (result.failed.length > 0) throw new Error(result.failed.map((f) => f.error.message).join("\n"));
  return desired;
}

/**
 * What Keycloak answers a password login through admin-cli (direct grant, on in every realm):
 * a right password with required actions pending is "Account is not fully set up", a wrong one
 * "Invalid user credentials".
 */
async function passwordAnswer(username: string, password: string, realm = "bastide"): Promise<string> {
  const response = await fetch(`${keycloak.url}/realms/${realm}/protocol/openid-connect/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "password", client_id: "admin-cli", username, password }),
  });
  const body = (await response.json()) as { error_description?: string; access_token?: string };
  return body.access_token ? "signed in" : String(body.error_description);
}

async function userNamed(username: string, realm = "bastide"): Promise<{ id: string; requiredActions: string[] }> {
  const c = client(realm);
  const [user] = await c.json("GET", c.path(`/users?${new URLSearchParams({ username, exact: "true" })}`));
  return user;
}

/** An SMTP server that accepts every message and keeps it: Keycloak's mail has to go somewhere. */
async function mailSink(): Promise<{ port: number; messages: { to: string[]; data: string }[]; stop: () => Promise<void> }> {
  const messages: { to: string[]; data: string }[] = [];
  const server: Server = createServer((socket) => {
    let buffer = "";
    let to: string[] = [];
    let inData = false;
    socket.write("220 sink ESMTP\r\n");
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      for (let guard = 0; guard < 10_000; guard++) {
        if (inData) {
          const end = buffer.indexOf("\r\n.\r\n");
          if (end < 0) return;
          messages.push({ to, data: buffer.slice(0, end) });
          buffer = buffer.slice(end + 5);
          inData = false;
          to = [];
          socket.write("250 kept\r\n");
          continue;
        }
        const line = buffer.indexOf("\r\n");
        if (line < 0) return;
        const command = buffer.slice(0, line);
        buffer = buffer.slice(line + 2);
        const verb = command.slice(0, 4).toUpperCase();
        if (verb === "EHLO" || verb === "HELO") socket.write("250 sink\r\n");
        else if (verb === "RCPT") (to.push(command.replace(/^RCPT TO:\s*<?([^>]*)>?.*$/i, "$1")), socket.write("250 ok\r\n"));
        else if (verb === "DATA") (inData = true, socket.write("354 go on\r\n"));
        else if (verb === "QUIT") (socket.write("221 bye\r\n"), socket.end());
        else socket.write("250 ok\r\n");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return { port, messages, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** The command as the admin runs it, on a pseudo-terminal when `tty`. */
const firstPassword = (args: string[], options: { tty: boolean; env: Record<string, string> }) =>
  runCommand("provisioners/first-password/cli.ts", args, { ...options, timeoutMs: 90_000 });

/** The command acts as Bastide's administrator of Keycloak (IDENTITY_ADMIN): made here in the master realm, as the image's bootstrap makes it. */
const cliAdminPassword = randomBytes(18).toString("base64url");
let cliAdmin: Promise<void> | undefined;
function bastideAdmin(): Promise<void> {
  cliAdmin ??= (async () => {
    const master = createIdentityClient({ baseUrl: keycloak.url, realm: "master", admin: keycloak.admin });
    await master.json("POST", master.path("/users"), {
      body: { username: IDENTITY_ADMIN.username, enabled: true, credentials: [{ type: "password", value: cliAdminPassword, temporary: false }] },
    });
    const [user] = await master.json("GET", master.path(`/users?${new URLSearchParams({ username: IDENTITY_ADMIN.username, exact: "true" })}`));
    const role = await master.json("GET", master.path("/roles/admin"));
    await master.json("POST", master.path(`/users/${user.id}/role-mappings/realm`), { body: [role] });
  })();
  return cliAdmin;
}

const cliEnv = async () => {
  await bastideAdmin();
  return { [ENDPOINT_ENV.identity]: keycloak.url, [CREDENTIAL_ENV.identityPassword]: cliAdminPassword, PATH: process.env.PATH ?? "" };
};

/** The passwords the table shows, by login. */
function shownPasswords(output: string): Record<string, string> {
  return Object.fromEntries([...output.replaceAll("\r", "").matchAll(/^ {2}(\S+) {2,}(\S+-\S+) {2,}\S/gm)].map((m) => [m[1]!, m[2]!]));
}

test("a temporary password is long enough for the realm's policy", (t) => {
  t.true(temporaryPassword(12).length >= 12);
  t.true(temporaryPassword(40).length >= 40);
});

test.serial("without mail: one temporary password per member, which Keycloak makes them replace, with the second factor their role requires", async (t) => {
  t.timeout(240_000);
  const config = exampleAssociation((input) => {
    input.services = { ...input.services, identity: { twoFactor: { volunteer: { required: false, relaxedBecause: "Volunteers only read the planning." } } } };
  });
  const realm = "relaxed";
  const desired = await provision(config, realm);
  const users = desired.identity!.users.filter((u) => ["claire.dubois", "tom.martin"].includes(u.username));
  const result = await enrollMembers(client(realm), users, { byMail: false, minimumLength: 12 });
  t.deepEqual(result.failed, []);
  const claire = result.enrolled.find((e) => e.member === "claire.dubois")!;
  const tom = result.enrolled.find((e) => e.member === "tom.martin")!;
  t.not(claire.temporaryPassword, tom.temporaryPassword);
  t.is(await passwordAnswer("claire.dubois", claire.temporaryPassword!, realm), "Account is not fully set up");
  t.is(await passwordAnswer("claire.dubois", "not-her-password-at-all", realm), "Invalid user credentials");
  t.deepEqual((await userNamed("claire.dubois", realm)).requiredActions.sort(), ["CONFIGURE_TOTP", "UPDATE_PASSWORD"]);
  t.deepEqual((await userNamed("tom.martin", realm)).requiredActions, ["UPDATE_PASSWORD"], "a volunteer's second factor is optional here");

  const text = formatEnrollment(result, "https://connexion.jardins-canal.localhost");
  t.deepEqual(shownPasswords(text), { "claire.dubois": claire.temporaryPassword, "tom.martin": tom.temporaryPassword });
  t.regex(text, /tom\.martin .* \(second factor optional\)/);
});

test.serial("a member without an account, or a departed one, is refused before any password changes", async (t) => {
  t.timeout(120_000);
  const desired = await provision(exampleAssociation());
  const lea = await userNamed("lea.moreau");
  const c = client();
  const full = await c.json("GET", c.path(`/users/${lea.id}`));
  await c.json("PUT", c.path(`/users/${lea.id}`), { body: { ...full, enabled: false } });
  const ghost = { ...desired.identity!.users[0]!, username: "nobody.here", email: "nobody@jardins-canal.localhost" };
  const karim = desired.identity!.users.find((u) => u.username === "karim.benali")!;
  const before = (await userNamed("karim.benali")).requiredActions;
  const error = await t.throwsAsync(enrollMembers(client(), [karim, ghost, desired.identity!.users.find((u) => u.username === "lea.moreau")!], { byMail: false, minimumLength: 12 }));
  t.regex(error!.message, /nothing was changed: nobody\.here has no account in Keycloak yet: run `pulumi up` first; lea\.moreau's account is disabled/);
  t.deepEqual((await userNamed("karim.benali")).requiredActions, before);
  await c.json("PUT", c.path(`/users/${lea.id}`), { body: { ...full, enabled: true } });
});

test.serial("with a mail relay: Keycloak mails each member their enrollment link, and nobody sees a password", async (t) => {
  t.timeout(240_000);
  const sink = await mailSink();
  const dir = mkdtempSync(join(tmpdir(), "bastide-enroll-"));
  try {
    const input = exampleInput();
    input.mail = { host: "127.0.0.1", port: sink.port, security: "starttls", from: "ne-pas-repondre@jardins-canal.localhost" };
    const file = join(dir, "association.yaml");
    writeFileSync(file, stringify(input));
    await provision(exampleAssociation((i) => Object.assign(i, { mail: input.mail })));
    // No terminal needed: nothing secret is printed.
    const run = await firstPassword(["--all", file], { tty: false, env: await cliEnv() });
    t.is(run.status, 0, run.output);
    t.regex(run.stdout, /Enrollment e-mail sent \(the link is valid 7 days\) to:/);
    t.regex(run.stdout, /lea\.moreau {2}lea\.moreau@jardins-canal\.localhost/);
    t.deepEqual(shownPasswords(run.stdout), {});
    const recipients = sink.messages.flatMap((m) => m.to).sort();
    t.deepEqual(recipients, ["claire.dubois@jardins-canal.localhost", "karim.benali@jardins-canal.localhost", "lea.moreau@jardins-canal.localhost", "tom.martin@jardins-canal.localhost"]);
    const toLea = sink.messages.find((m) => m.to.includes("lea.moreau@jardins-canal.localhost"))!;
    t.regex(toLea.data.replace(/=\r\n/g, ""), /\/realms\/bastide\/login-actions\/action-token\?key=/);
  } finally {
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial("the command, without mail: a table of one password per member on a terminal, refused through a pipe", async (t) => {
  t.timeout(240_000);
  const dir = mkdtempSync(join(tmpdir(), "bastide-enroll-"));
  try {
    const file = join(dir, "association.yaml");
    writeFileSync(file, stringify(exampleInput()));
    await provision(exampleAssociation());
    const piped = await firstPassword(["lea.moreau", "tom.martin", file], { tty: false, env: await cliEnv() });
    t.is(piped.status, 2);
    // The example association speaks French.
    t.regex(piped.output, /n'affiche les mots de passe que sur un terminal.*Rien n'a été modifié/);
    t.deepEqual((await userNamed("lea.moreau")).requiredActions, ["CONFIGURE_TOTP"], "untouched");

    const shown = await firstPassword(["lea.moreau", "tom.martin", file], { tty: true, env: await cliEnv() });
    t.is(shown.status, 0, shown.output);
    const passwords = shownPasswords(shown.stdout);
    t.deepEqual(Object.keys(passwords).sort(), ["lea.moreau", "tom.martin"]);
    t.is(await passwordAnswer("lea.moreau", passwords["lea.moreau"]!), "Account is not fully set up");
    t.false(shown.output.includes(cliAdminPassword));

    const unknown = await firstPassword(["lea.moreau", "nobody", file], { tty: true, env: await cliEnv() });
    t.is(unknown.status, 2);
    t.regex(unknown.output, /not in .*association\.yaml: nobody \(members\[\]\.id\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
