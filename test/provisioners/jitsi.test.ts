// Jitsi accounts: the plan alone (pure), then the provisioner against real servers that the
// tests start: Debian's Prosody on this machine (prosodyctl as the prosody user), and the same
// Prosody in a container of a real Docker engine, driven through dockerode exec.
// Hosts have Prosody accounts only without the identity provider (with it, they come with its
// token: stacks/services/jitsi/login.ts), so the association here has it off.
import test from "ava";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { stringify } from "yaml";
import { join } from "node:path";
import { desiredState, type DesiredState } from "../../provisioners/desired.ts";
import { EMPTY_LEDGER, reconcileDepartures, type Ledger } from "../../provisioners/departures.ts";
import { converge, ProvisionError } from "../../provisioners/model.ts";
import { CallCounter } from "../../provisioners/runtime/http.ts";
import {
  createAccount,
  deleteAccount,
  describeResult,
  jid,
  parseUserList,
  readablePassword,
  unusablePassword,
} from "../../provisioners/jitsi/accounts.ts";
import {
  dockerProsody,
  handOverPassword,
  jitsiProvisioner,
  localProsody,
  planJitsi,
  PHASES,
  runJitsi,
  type JitsiClient,
  type ProsodyCommands,
} from "../../provisioners/jitsi/index.ts";
import { staffAccount } from "../../provisioners/jitsi/handover.ts";
import { containerName } from "../../stacks/services/blueprint.ts";
import { XMPP } from "../../stacks/services/jitsi/blueprint.ts";
import type { Association } from "../../stacks/config/schema.ts";
import { exampleAssociation, exampleInput } from "../support/association.ts";
import { startDockerEngine, type DockerEngine } from "../support/docker.ts";
import { runCommand } from "../support/cli.ts";
import { prosodyTestImage, signIn, startLocalProsody, startProsodyContainer, type LocalProsody, type ProsodyContainer } from "../support/prosody.ts";

const DOMAIN = XMPP.domain;
const STAFF = ["claire.dubois", "karim.benali"];
const identityOff = (input: Record<string, any>) => (input.services.identity = { enabled: false });
const example = exampleAssociation(identityOff);
const withoutKarim = exampleAssociation((input) => {
  identityOff(input);
  input.members = input.members.filter((m: { id: string }) => m.id !== "karim.benali");
});

/** The desired state of a run, with departures from the ledger of the runs before it. */
function runOf(config: Association, previous: Ledger, now = new Date("2026-11-21T10:00:00Z")): { desired: DesiredState; ledger: Ledger } {
  const { departures, ledger } = reconcileDepartures(previous, config.members.map((m) => m.id), config.departures.graceDays, now);
  return { desired: { ...desiredState(config), departures }, ledger };
}

const live = (accounts: string[]) => ({ domain: DOMAIN, accounts });
const kinds = (changes: { kind: string; member?: string }[]) => changes.map((c) => `${c.kind} ${c.member}`);

// --- The plan (pure) -----------------------------------------------------------------------

test("plan: a first run creates an account for each admin and staff member, none for volunteers", (t) => {
  const changes = planJitsi(desiredState(example), live([]));
  t.deepEqual(kinds(changes), ["account.create claire.dubois", "account.create karim.benali"]);
  t.deepEqual(changes[0], {
    service: "jitsi",
    kind: "account.create",
    member: "claire.dubois",
    subject: "account claire.dubois@meet.jitsi",
    phase: PHASES.create,
    payload: { username: "claire.dubois", domain: "meet.jitsi" },
  });
});

test("plan: nothing to do when the accounts are there, whatever else the server holds", (t) => {
  t.deepEqual(planJitsi(desiredState(example), live([...STAFF, "admin.by.hand"])), []);
});

test("plan: a departed member's account is deleted, whether disabled or erased; other accounts are left alone", (t) => {
  const desired: DesiredState = { ...desiredState(withoutKarim), departures: { disable: ["karim.benali"], erase: ["old.member", "never.had.one"], enable: [] } };
  const changes = planJitsi(desired, live(["claire.dubois", "karim.benali", "old.member", "admin.by.hand"]));
  t.deepEqual(kinds(changes), ["account.delete karim.benali", "account.delete old.member"]);
  t.true(changes.every((c) => c.phase === PHASES.delete));
  t.true(PHASES.delete < PHASES.create);
});

test("plan: a staff member back in the config gets an account again; no Jitsi, no changes", (t) => {
  const back: DesiredState = { ...desiredState(example), departures: { disable: [], erase: [], enable: ["karim.benali"] } };
  t.deepEqual(kinds(planJitsi(back, live(["claire.dubois"]))), ["account.create karim.benali"]);
  const noJitsi = exampleAssociation((input) => {
    identityOff(input);
    input.services.jitsi = { enabled: false };
  });
  t.deepEqual(planJitsi(desiredState(noJitsi), live(["claire.dubois"])), []);
});

test("with the identity provider, Prosody holds no host account: nothing to plan, nothing read, no password to hand over", async (t) => {
  const desired = desiredState(exampleAssociation());
  t.is(desired.jitsi, undefined, "the example has the identity provider on");
  t.deepEqual(planJitsi(desired, live(["claire.dubois"])), []);
  const calls: string[][] = [];
  const commands: ProsodyCommands = { where: "nowhere", prosodyctl: async (args) => (calls.push([...args]), { exitCode: 0, stdout: "", stderr: "" }) };
  const result = await converge(jitsiProvisioner, desired, { commands }, { concurrency: 1 });
  t.deepEqual(result.planned, []);
  t.deepEqual(calls, [], "no prosodyctl call");
  t.throws(() => staffAccount(desired, "claire.dubois"), { instanceOf: ProvisionError, message: /hosts open meetings with the one login .*npm run first-password/ });
});

test("the member list is read from prosodyctl's output, among its warnings and banners", (t) => {
  const output = [
    "",
    "**************************",
    "Prosody was unable to find lua-unbound",
    "certmanager         error\tError indexing certificate directory /etc/prosody/certs",
    "claire.dubois@meet.jitsi",
    "karim.benali@meet.jitsi",
    "focus@auth.meet.jitsi",
    "| lea@meet.jitsi",
    "OK: Showing all 3 users",
  ].join("\n");
  t.deepEqual(parseUserList(output, DOMAIN), ["claire.dubois", "karim.benali", "lea"]);
  t.deepEqual(parseUserList("OK: Showing all 0 users\n", DOMAIN), []);
});

test("user names and domains are checked before any command runs; messages never show a password", (t) => {
  t.is(jid("claire.dubois", DOMAIN), "claire.dubois@meet.jitsi");
  for (const bad of ["", "a b", "x;rm", "Claire", "a@b", "-flag"]) t.throws(() => jid(bad, DOMAIN), undefined, bad);
  t.throws(() => jid("alice", "meet.jitsi; ls"));
  const message = describeResult({ exitCode: 1, stdout: "Enter new password: \x1b[08m\x1b[00m\nsecret-pw rejected", stderr: "" }, ["secret-pw"]);
  t.is(message, "exit 1: <password> rejected");
});

test("passwords: new accounts get 256 random bits; handed-over ones are readable and differ every time", (t) => {
  t.regex(unusablePassword(), /^[A-Za-z0-9_-]{43}$/);
  t.not(unusablePassword(), unusablePassword());
  const readable = readablePassword();
  t.regex(readable, /^[a-hjkmnp-z2-9]{5}(-[a-hjkmnp-z2-9]{5}){3}$/);
  t.not(readable, readablePassword());
});

/** Runs `npm run jitsi-password -- ...`'s program, on a pseudo-terminal when `tty`. */
/** The example association, identity provider off, as a file the command can read. */
function identityOffFile(): string {
  const input = exampleInput();
  identityOff(input);
  const file = join(mkdtempSync(join(tmpdir(), "bastide-jitsi-")), "association.yaml");
  writeFileSync(file, stringify(input));
  return file;
}

const passwordCli = (args: string[], options: { tty: boolean; env?: Record<string, string> }) => runCommand("provisioners/jitsi/password-cli.ts", args, options);

test("the password command shows a password on a terminal only, in the association's language", async (t) => {
  const piped = await passwordCli(["claire.dubois", "examples/association.yaml"], { tty: false });
  t.is(piped.status, 2);
  t.is(piped.stdout, "");
  // The example association speaks French (organisation.language: fr).
  t.regex(piped.output, /n'affiche le mot de passe que sur un terminal/);
  t.is((await passwordCli([], { tty: false })).status, 2);
});

test("handover is for staff only, and says why", (t) => {
  const desired = desiredState(example);
  t.deepEqual(staffAccount(desired, "claire.dubois"), { domain: DOMAIN, username: "claire.dubois" });
  const volunteer = t.throws(() => staffAccount(desired, "lea.moreau"), { instanceOf: ProvisionError });
  t.regex(volunteer.message, /jitsi \(member lea\.moreau\): only members with role admin or staff/);
});

// --- Shared checks for both transports -------------------------------------------------------

/** Records what each prosodyctl call got on its command line and on its standard input. */
function recording(commands: ProsodyCommands) {
  const calls: { args: readonly string[]; input?: string }[] = [];
  const wrapped: ProsodyCommands = {
    where: commands.where,
    prosodyctl(args, input) {
      calls.push({ args, input });
      return commands.prosodyctl(args, input);
    },
  };
  return { calls, wrapped };
}

const accountsOn = async (commands: ProsodyCommands) => {
  const result = await commands.prosodyctl(["shell", "user", "list", DOMAIN]);
  if (result.exitCode !== 0) throw new Error(describeResult(result));
  return parseUserList(result.stdout, DOMAIN);
};

/** The whole life of the accounts: first run, re-run, handover, departure. */
async function provisionLifecycle(t: import("ava").ExecutionContext, commands: ProsodyCommands, port: number) {
  const counter = new CallCounter();
  const { calls, wrapped } = recording(commands);
  const client: JitsiClient = { commands: wrapped, counter };

  // First run: the example's admin and staff member get accounts, the volunteers none.
  const first = runOf(example, EMPTY_LEDGER);
  const firstRun = await converge(jitsiProvisioner, first.desired, client, { concurrency: 2 });
  t.deepEqual(firstRun.failed, []);
  t.deepEqual(kinds(firstRun.applied).sort(), ["account.create claire.dubois", "account.create karim.benali"]);
  t.deepEqual(await accountsOn(commands), STAFF);
  t.is(counter.writes("jitsi"), 2);
  t.is(counter.reads("jitsi"), 1);

  // The random password of a new account reached prosodyctl on standard input only.
  const creations = calls.filter((c) => c.args[0] === "adduser");
  t.is(creations.length, 2);
  for (const call of creations) {
    const [password, again] = call.input!.split("\n");
    t.is(password, again);
    t.true(password!.length >= 43);
    t.false(call.args.some((arg) => arg.includes(password!)), "password on the command line");
  }

  // Re-run with the same config: reads, and not one write.
  const secondRun = await converge(jitsiProvisioner, runOf(example, first.ledger).desired, client, { concurrency: 2 });
  t.deepEqual(secondRun.planned, []);
  t.is(counter.writes("jitsi"), 2);
  t.is(counter.reads("jitsi"), 2);

  // Handover: the admin's password signs in; a wrong one does not; the password went on stdin.
  const password = await handOverPassword(client, DOMAIN, "karim.benali");
  const passwd = calls.at(-1)!;
  t.deepEqual(passwd.args, ["passwd", "karim.benali@meet.jitsi"]);
  t.is(passwd.input, `${password}\n${password}\n`);
  const wrong = await signIn({ port, domain: DOMAIN, username: "karim.benali", password: `${password}x` });
  t.false(wrong.ok);
  const signedIn = await signIn({ port, domain: DOMAIN, username: "karim.benali", password });
  t.true(signedIn.ok, "the handed-over password signs in");
  t.is(counter.writes("jitsi"), 3);
  t.false(counter.calls.some((c) => c.path.includes(password)), "password in the call log");

  // Karim leaves: his account goes, and his open session is closed at once.
  const third = runOf(withoutKarim, first.ledger);
  t.deepEqual(third.desired.departures.disable, ["karim.benali"]);
  const thirdRun = await converge(jitsiProvisioner, third.desired, client, { concurrency: 2 });
  t.deepEqual(thirdRun.failed, []);
  t.deepEqual(kinds(thirdRun.applied), ["account.delete karim.benali"]);
  t.deepEqual(await accountsOn(commands), ["claire.dubois"]);
  if (signedIn.ok) {
    const lastWords = await Promise.race([signedIn.session.closed, new Promise<string>((resolve) => setTimeout(() => resolve("still open after 10 s"), 10_000))]);
    signedIn.session.close();
    t.regex(lastWords, /not-authorized|Account deleted/, "the departed member's session was not closed");
  }
  t.false((await signIn({ port, domain: DOMAIN, username: "karim.benali", password })).ok);

  // And once more: nothing left to do.
  const fourthRun = await converge(jitsiProvisioner, runOf(withoutKarim, third.ledger).desired, client, { concurrency: 2 });
  t.deepEqual(fourthRun.planned, []);
  t.is(counter.writes("jitsi"), 4);
}

// --- Debian's Prosody on this machine -------------------------------------------------------

let localServer: Promise<LocalProsody> | undefined;
const local = () => (localServer ??= startLocalProsody(DOMAIN));
test.after.always(async () => {
  if (localServer) await (await localServer.catch(() => undefined))?.stop();
});

test.serial("local Prosody: staff get accounts, a re-run writes nothing, the handover password works, a departure deletes the account", async (t) => {
  const server = await local();
  try {
    await provisionLifecycle(t, server.commands, server.port);
    // Prosody keeps accounts as files named with dots percent-encoded, host and user alike;
    // Bastide reads them through the server, so it never has to decode them.
    const accounts = join(server.dataDir, "meet%2ejitsi", "accounts");
    t.true(existsSync(join(accounts, "claire%2edubois.dat")));
    t.false(existsSync(join(accounts, "karim%2ebenali.dat")));
  } catch (error) {
    t.log(server.log());
    throw error;
  }
});

test.serial("local Prosody: a retried write is harmless, and failures name the service and the member", async (t) => {
  const server = await local();
  const client: JitsiClient = { commands: server.commands };
  t.is(await createAccount(client, "tom.retry", DOMAIN, unusablePassword()), "created");
  t.is(await createAccount(client, "tom.retry", DOMAIN, unusablePassword()), "already-there");
  t.is(await deleteAccount(client, "tom.retry", DOMAIN), "deleted");
  t.is(await deleteAccount(client, "tom.retry", DOMAIN), "not-there");

  // A host Prosody does not serve is an error, never an account created on the side.
  const error = await t.throwsAsync(() => jitsiProvisioner.read(client, { ...desiredState(example), jitsi: { domain: "other.jitsi", accounts: [] } }), { instanceOf: ProvisionError });
  t.regex(error.message, /^jitsi: cannot list the accounts of other\.jitsi \(prosody on this machine\): exit 1: .*No such host/);

  // A broken Prosody (its config is missing): the failure names the member it was for.
  const broken: JitsiClient = { commands: localProsody({ configFile: join(server.dataDir, "missing.cfg.lua"), user: "prosody" }) };
  const [create] = planJitsi(desiredState(example), live(["karim.benali"]));
  const failure = await t.throwsAsync(() => jitsiProvisioner.apply(create!, broken), { instanceOf: ProvisionError });
  t.is(failure.member, "claire.dubois");
  t.regex(failure.message, /^jitsi \(member claire\.dubois\): cannot create claire\.dubois@meet\.jitsi \(prosody on this machine\): exit \d+/);

  // Every command is bounded.
  await t.throwsAsync(() => localProsody({ configFile: server.configFile, user: "prosody", timeoutMs: 1 }).prosodyctl(["about"]), {
    message: "prosodyctl did not finish within 1 ms",
  });
});

// --- The same Prosody in a container, through a real Docker engine --------------------------

test.serial("Docker: the same provisioning through dockerode exec, in a container named like Bastide's", async (t) => {
  const started = Date.now();
  const engine: DockerEngine = await startDockerEngine();
  let container: ProsodyContainer | undefined;
  try {
    const image = await prosodyTestImage(engine.docker);
    const ready = Date.now();
    container = await startProsodyContainer(engine.docker, { name: containerName("jitsi", "prosody"), image: image.reference, domain: DOMAIN });
    t.is(container.name, "bastide-jitsi-prosody");
    t.log(`engine ${engine.started ? "started" : "reused"}, image ${image.outcome} in ${ready - started} ms; container up after ${Date.now() - ready} ms`);

    // The transport as the stack makes it: Bastide's container name and the image's config path.
    const commands = dockerProsody({ docker: engine.docker });
    t.is(commands.where, "container bastide-jitsi-prosody");
    await provisionLifecycle(t, commands, container.port);

    // Through provisioners/run.ts's runner, as `pulumi preview` asks: Karim back in the
    // config is planned, and a dry run writes nothing.
    const counter = new CallCounter();
    const preview = await runJitsi({
      service: "jitsi",
      desired: runOf(example, EMPTY_LEDGER).desired,
      connection: { docker: { socketPath: engine.socketPath }, container: container.name },
      concurrency: 2,
      dryRun: true,
      counter,
    });
    t.deepEqual(kinds(preview.planned), ["account.create karim.benali"]);
    t.deepEqual(preview.applied, []);
    t.is(counter.writes("jitsi"), 0);
    t.is(counter.reads("jitsi"), 1);

    // The admin's command, on a terminal (script(1) gives it one): the password it shows signs in.
    // (An association without the identity provider: with it, hosts have no Prosody password.)
    const shown = await passwordCli(["claire.dubois", identityOffFile()], { tty: true, env: { DOCKER_HOST: `unix://${engine.socketPath}` } });
    t.is(shown.status, 0, shown.output);
    const password = shown.output.match(/^\s+([a-z2-9]{5}(?:-[a-z2-9]{5}){3})\s*$/m)?.[1];
    t.truthy(password, shown.output);
    t.true((await signIn({ port: container.port, domain: DOMAIN, username: "claire.dubois", password: password! })).ok);

    // Bounded and explicit when it cannot work.
    await t.throwsAsync(() => dockerProsody({ docker: engine.docker, container: "bastide-no-such-container" }).prosodyctl(["about"]), {
      message: /cannot exec in container bastide-no-such-container: No such container/,
    });
    await t.throwsAsync(() => dockerProsody({ docker: engine.docker, configFile: container!.configFile, timeoutMs: 1 }).prosodyctl(["about"]), {
      message: /did not (finish|report its exit) within 1 ms/,
    });
    t.log(`docker test took ${Date.now() - started} ms`);
  } catch (error) {
    if (container) t.log(await container.logs().catch(() => ""));
    throw error;
  } finally {
    await container?.stop();
    await engine.release();
  }
});
