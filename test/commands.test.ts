// Bastide's commands as the admin meets them (issue 12, part 1): each answers --help and -h,
// none guesses the association file, each says what to do when the stack, the Pulumi CLI
// or the Docker engine is missing, in the association's language; `npm run deploy` and
// `npm run pulumi` run Pulumi on the admin's stack (cli/stack.ts). The real Pulumi CLI cannot
// run here (DESIGN.md): a stand-in on the PATH records how it was called.
import test from "ava";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { silenceSqliteWarning } from "../cli/command.ts";
import { findPulumiCli, isFound } from "../cli/pulumi-cli.ts";
import { exampleInput } from "./support/association.ts";
import { deployedStackState, runCommand, type CommandRun } from "./support/cli.ts";
import { startDockerEngine } from "./support/docker.ts";

const require = createRequire(import.meta.url);
const LAUNCHER = require.resolve("pulumi/run.js");
const PULUMI_VERSION = (require("pulumi/package.json") as { version: string }).version;

/** The admin's commands, by npm script name, with the program each runs (from package.json: one list). */
const COMMANDS: Record<string, string> = (() => {
  const scripts = (require("../package.json") as { scripts: Record<string, string> }).scripts;
  const names = ["deploy", "pulumi", "plan", "report", "audit", "first-password", "jitsi-password", "export-member", "erase-member", "members", "updates", "emergency-sheet", "handover-page", "restore-drill", "restore"];
  return Object.fromEntries(names.map((name) => [name, /^node --import tsx (\S+\.ts)$/.exec(scripts[name] ?? "")![1]!]));
})();

const ENGLISH = { LANG: "C.UTF-8", LC_ALL: "", LC_MESSAGES: "" };
const FRENCH = { LANG: "fr_FR.UTF-8", LC_ALL: "", LC_MESSAGES: "" };

// Generous: each run loads TypeScript through tsx, on a machine the tests share.
const command = (name: string, args: string[], env: Record<string, string>, tty = false, timeoutMs = 180_000): Promise<CommandRun> =>
  runCommand(COMMANDS[name]!, args, { tty, env, timeoutMs });

function scratch(): string {
  return mkdtempSync(join(tmpdir(), "bastide-commands-"));
}

/** The example (French), or the same association in English. */
function associationFile(dir: string, language: "fr" | "en", edit: (input: Record<string, any>) => void = () => {}): string {
  const input = exampleInput();
  input.organisation.language = language;
  edit(input);
  const file = join(dir, `association-${language}.yaml`);
  writeFileSync(file, stringify(input));
  return file;
}

/** A PATH with only the npm launcher's `pulumi` link on it, which is not a CLI (it would download one). */
function pathWithLauncherOnly(dir: string): string {
  const bin = join(dir, "launcher-bin");
  mkdirSync(bin, { recursive: true });
  symlinkSync(LAUNCHER, join(bin, "pulumi"));
  return bin;
}

/**
 * A `pulumi` that appends each call to `calls.jsonl`: its folder, arguments and the variables
 * that choose the backend and the passphrase; `config get` fails (the key is not set).
 */
function standInPulumi(dir: string): { bin: string; calls: () => { cwd: string; args: string[]; backend: string; passphraseFile: string; passphrase: string | null }[] } {
  const bin = join(dir, "stand-in-bin");
  mkdirSync(bin, { recursive: true });
  const log = join(dir, "calls.jsonl");
  writeFileSync(
    join(bin, "pulumi"),
    `#!/usr/bin/env node
const { appendFileSync } = require("node:fs");
const args = process.argv.slice(2);
appendFileSync(${JSON.stringify(log)}, JSON.stringify({ cwd: process.cwd(), args, backend: process.env.PULUMI_BACKEND_URL, passphraseFile: process.env.PULUMI_CONFIG_PASSPHRASE_FILE, passphrase: process.env.PULUMI_CONFIG_PASSPHRASE ?? null }) + "\\n");
process.exit(args[0] === "config" && args[1] === "get" ? 1 : 0);
`,
  );
  chmodSync(join(bin, "pulumi"), 0o755);
  return { bin, calls: () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").map((line) => JSON.parse(line)) : []) };
}

test("every command answers --help and -h with its usage and exits 0, in the admin's language, with no Node warning", async (t) => {
  // Two Node starts per command, one after the other: minutes on a loaded 2-CPU machine.
  t.timeout(10 * 60_000);
  for (const name of Object.keys(COMMANDS)) {
    const english = await command(name, ["-h"], ENGLISH);
    t.is(english.status, 0, `${name} -h: ${english.output}`);
    t.true(english.stdout.startsWith(`usage: npm run ${name} -- `), `${name} -h: ${english.stdout}`);
    t.notRegex(english.output, /Warning/, name);
    const french = await command(name, ["--help"], FRENCH);
    t.is(french.status, 0, `${name} --help: ${french.output}`);
    t.true(french.stdout.startsWith(`usage : npm run ${name} -- `), `${name} --help: ${french.stdout}`);
  }
});

test("no command falls back to the example: without a file each says what is missing and how to give it", async (t) => {
  t.timeout(10 * 60_000);
  const withoutFile: Record<string, string[]> = {
    deploy: [],
    plan: [],
    report: [],
    audit: [],
    "first-password": ["lea.moreau"],
    "jitsi-password": ["claire.dubois"],
    "export-member": ["lea.moreau"],
    "erase-member": ["lea.moreau", "--confirm"],
    "emergency-sheet": [],
    "handover-page": [],
    "restore-drill": [],
    restore: [],
  };
  for (const [name, args] of Object.entries(withoutFile)) {
    const english = await command(name, args, ENGLISH, true);
    t.is(english.status, 2, `${name}: ${english.output}`);
    t.true(english.output.includes(`No association file given. Give its path: npm run ${name} -- path/to/association.yaml (the example is examples/association.yaml).`), `${name}: ${english.output}`);
    const french = await command(name, args, FRENCH, true);
    t.true(french.output.includes(`Aucun fichier d'association indiqué. Donnez son chemin : npm run ${name} -- chemin/vers/association.yaml`), `${name}: ${french.output}`);
  }
});

test("a command that reads the stack says there is none yet, and how to make one, before Pulumi runs", async (t) => {
  const dir = scratch();
  try {
    const pulumi = standInPulumi(dir);
    const nowhere = { ...ENGLISH, BASTIDE_STATE_DIR: join(dir, "never-deployed"), PATH: `${pulumi.bin}:${process.env.PATH}` };
    const french = await command("export-member", ["lea.moreau", associationFile(dir, "fr")], nowhere);
    t.is(french.status, 1, french.output);
    t.regex(french.output, /Aucune pile Bastide sur cette machine : .*never-deployed\/passphrase n'existe pas\. Déployez d'abord avec npm run deploy -- chemin\/vers\/association\.yaml/);
    const english = await command("erase-member", ["ancien.membre", associationFile(dir, "en")], nowhere);
    t.is(english.status, 1, english.output);
    t.regex(english.output, /No Bastide stack on this machine yet: .*never-deployed\/passphrase does not exist\. Deploy first with npm run deploy -- path\/to\/association\.yaml/);

    const deployed = { ...ENGLISH, ...deployedStackState(dir, "local"), PATH: nowhere.PATH };
    const otherStack = await command("export-member", ["lea.moreau", associationFile(dir, "en"), "--stack", "prod"], deployed);
    t.regex(otherStack.output, /The stack "prod" has no state in .*bastide-state\/pulumi\. Deploy it first with npm run deploy -- path\/to\/association\.yaml, or name the stack you deployed with --stack NAME\./);

    // The audit goes on without the stack, and says why each service could not be read.
    const audit = await command("audit", [associationFile(dir, "fr"), "--out", join(dir, "audit")], nowhere);
    t.is(audit.status, 2, audit.output);
    t.regex(audit.output, /no credentials: set BASTIDE_NEXTCLOUD_PASSWORD \(the stack's outputs could not be read: Aucune pile Bastide sur cette machine/);
    // first-password with the identity provider: the missing credentials, and why the stack could not give them.
    const enrol = await command("first-password", ["lea.moreau", associationFile(dir, "fr")], nowhere, true);
    t.is(enrol.status, 1, enrol.output);
    t.regex(enrol.output, /missing credentials: BASTIDE_IDENTITY_ADMIN_PASSWORD .*Aucune pile Bastide sur cette machine/s);
    t.deepEqual(pulumi.calls(), [], "Pulumi never ran");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("without a Pulumi CLI a command says what to run to get one, and from where it comes; the npm launcher is not one", async (t) => {
  const dir = scratch();
  try {
    const env = { ...deployedStackState(dir), PATH: pathWithLauncherOnly(dir), PULUMI_HOME: join(dir, "pulumi-home") };
    const tarball = `pulumi-v${PULUMI_VERSION}-${process.platform === "darwin" ? "darwin" : "linux"}-${process.arch === "arm64" ? "arm64" : "x64"}.tar.gz`;
    const french = await command("export-member", ["lea.moreau", associationFile(dir, "fr")], { ...FRENCH, ...env });
    t.is(french.status, 1, french.output);
    t.true(
      french.output.includes(
        `La commande Pulumi n'est pas installée : aucun pulumi dans le PATH ni dans ${join(dir, "pulumi-home", "versions", PULUMI_VERSION)}. Lancez une fois npm run pulumi -- version pour télécharger Pulumi ${PULUMI_VERSION} (le script https://get.pulumi.com/install.sh récupère https://github.com/pulumi/pulumi/releases/download/v${PULUMI_VERSION}/${tarball})`,
      ),
      french.output,
    );
    const english = await command("export-member", ["lea.moreau", associationFile(dir, "en")], { ...ENGLISH, ...env });
    t.regex(english.output, /The Pulumi CLI is not installed: there is no pulumi on the PATH and none in .*pulumi-home\/versions\/.*Run npm run pulumi -- version once/);
    t.notRegex(english.output, /Downloading|fetch failed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("when the launcher must download the CLI, it is said first from where, and a failed download says what to do, not just `fetch failed`", async (t) => {
  const dir = scratch();
  try {
    // A version that does not exist: no download can succeed, with or without the Internet.
    const env = { ...ENGLISH, BASTIDE_STATE_DIR: join(dir, "state"), PATH: pathWithLauncherOnly(dir), PULUMI_HOME: join(dir, "pulumi-home"), PULUMI_VERSION: "0.0.0" };
    const run = await command("pulumi", ["version"], env);
    t.is(run.status, 1, run.output);
    const announced = run.output.indexOf(
      `The Pulumi CLI is not on your PATH nor in ${join(dir, "pulumi-home", "versions", "0.0.0")}: downloading Pulumi 0.0.0 there, with Pulumi's install script https://get.pulumi.com/install.sh, from https://github.com/pulumi/pulumi/releases/download/v0.0.0/`,
    );
    const failed = run.output.search(/Pulumi 0\.0\.0 could not be downloaded \(.+\)\. Either let this machine reach get\.pulumi\.com and github\.com .* or install the Pulumi CLI yourself \(https:\/\/www\.pulumi\.com\/docs\/iac\/download-install\/\) and put it on your PATH\.\nNothing was created or changed\./);
    t.true(announced >= 0 && failed > announced, run.output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the CLI is the admin's own on the PATH, else the npm launcher's download, else what the launcher would fetch", (t) => {
  const dir = scratch();
  try {
    const launcherOnly = pathWithLauncherOnly(dir);
    const home = join(dir, "pulumi-home");
    const missing = findPulumiCli({ PATH: launcherOnly, PULUMI_HOME: home });
    t.false(isFound(missing));
    t.like(missing, { version: PULUMI_VERSION, installRoot: join(home, "versions", PULUMI_VERSION), installScript: "https://get.pulumi.com/install.sh" });
    t.deepEqual(
      (missing as { tarballs: string[] }).tarballs.map((url) => new URL(url).origin),
      ["https://github.com", "https://get.pulumi.com"],
    );
    t.like(findPulumiCli({ PATH: launcherOnly, PULUMI_HOME: home, PULUMI_VERSION: "3.200.0" }), { version: "3.200.0", installRoot: join(home, "versions", "3.200.0") });

    const cached = join(home, "versions", PULUMI_VERSION, "bin", "pulumi");
    mkdirSync(join(cached, ".."), { recursive: true });
    writeFileSync(cached, "#!/bin/sh\n", { mode: 0o755 });
    t.deepEqual(findPulumiCli({ PATH: launcherOnly, PULUMI_HOME: home }), { path: cached, from: "cache" });
    const own = standInPulumi(dir).bin;
    t.deepEqual(findPulumiCli({ PATH: `${launcherOnly}:${own}`, PULUMI_HOME: home }), { path: join(own, "pulumi"), from: "PATH" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("deploy checks the Docker engine before anything: unreachable, it says what to do and creates nothing", async (t) => {
  const dir = scratch();
  try {
    const pulumi = standInPulumi(dir);
    const state = join(dir, "state");
    const env = { BASTIDE_STATE_DIR: state, PATH: `${pulumi.bin}:${process.env.PATH}` };
    const french = await command("deploy", [associationFile(dir, "fr")], { ...FRENCH, ...env, DOCKER_HOST: `unix://${join(dir, "no-engine.sock")}` });
    t.is(french.status, 1, french.output);
    t.regex(french.output, /Aucun moteur Docker ne répond à unix:\/\/.*no-engine\.sock \(connect ENOENT .*\)\. Démarrez Docker .*ou donnez l'adresse du moteur dans DOCKER_HOST\.\nRien n'a été créé ni modifié\./);
    const english = await command("deploy", [associationFile(dir, "en")], { ...ENGLISH, ...env, DOCKER_HOST: "tcp://127.0.0.1:1" });
    t.is(english.status, 1, english.output);
    t.regex(english.output, /No Docker engine answers at tcp:\/\/127\.0\.0\.1:1 \(connect ECONNREFUSED 127\.0\.0\.1:1\)\. Start Docker/);
    t.false(existsSync(state), "no state, no passphrase");
    t.deepEqual(pulumi.calls(), [], "Pulumi never ran");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("deploy, with an engine that answers: the passphrase made once and never shown, Pulumi run on the local stack with its backend, a missing secret stops it before pulumi up", async (t) => {
  const engine = await startDockerEngine();
  const dir = scratch();
  try {
    const pulumi = standInPulumi(dir);
    const state = join(dir, "state");
    const env = { ...ENGLISH, BASTIDE_STATE_DIR: state, PATH: `${pulumi.bin}:${process.env.PATH}`, DOCKER_HOST: `unix://${engine.socketPath}`, PULUMI_CONFIG_PASSPHRASE: "not the stack's" };
    const file = associationFile(dir, "en");
    const first = await command("deploy", [file], env);
    t.is(first.status, 0, first.output);
    const passphrase = readFileSync(join(state, "passphrase"), "utf8");
    t.regex(passphrase, /^[A-Za-z0-9_-]{43}$/);
    t.is(statSync(join(state, "passphrase")).mode & 0o777, 0o600);
    t.is(statSync(state).mode & 0o777, 0o700);
    t.false(first.output.includes(passphrase), "the passphrase is never printed");
    t.true(first.output.includes(`The passphrase that encrypts the stack's secrets is in ${join(state, "passphrase")} (readable by you only; Pulumi reads it from there, it is never shown).`), first.output);
    const root = process.cwd();
    t.deepEqual(
      pulumi.calls(),
      [
        ["stack", "select", "--create", "local"],
        ["config", "set", "--stack", "local", "bastide:config", file],
        ["up", "--yes", "--stack", "local"],
      ].map((args) => ({ cwd: root, args, backend: `file://${state}/pulumi`, passphraseFile: join(state, "passphrase"), passphrase: null })),
    );
    // Again: the same passphrase (a new one would lock the stack's secrets away).
    const again = await command("deploy", [file], env);
    t.is(again.status, 0, again.output);
    t.is(readFileSync(join(state, "passphrase"), "utf8"), passphrase);
    t.notRegex(again.output, /The passphrase that encrypts/, "said once, when it is made");

    // A relay login needs its password in the stack's secrets: without it, no pulumi up.
    const relay = associationFile(dir, "fr", (input) => (input.mail = { host: "smtp.asso-exemple.fr", from: "ne-pas-repondre@asso-exemple.fr", username: "ne-pas-repondre@asso-exemple.fr" }));
    const before = pulumi.calls().length;
    const refused = await command("deploy", [relay], env);
    t.is(refused.status, 1, refused.output);
    t.true(refused.output.includes(`${relay} demande le secret bastide:smtpPassword, que la pile n'a pas. Donnez-le, puis relancez npm run deploy :\n  npm run pulumi -- config set --secret --stack local bastide:smtpPassword '<valeur>'`), refused.output);
    t.deepEqual(pulumi.calls().slice(before).map((c) => c.args.slice(0, 2)), [["stack", "select"], ["config", "set"], ["config", "get"]]);
  } finally {
    await engine.release();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("npm run pulumi runs Pulumi on the admin's stack as given; before any deploy it says so, except for commands that need no stack", async (t) => {
  const dir = scratch();
  try {
    const pulumi = standInPulumi(dir);
    const path = `${pulumi.bin}:${process.env.PATH}`;
    const none = await command("pulumi", ["preview"], { ...FRENCH, BASTIDE_STATE_DIR: join(dir, "never-deployed"), PATH: path });
    t.is(none.status, 2, none.output);
    t.regex(none.output, /Aucune pile Bastide sur cette machine/);
    t.deepEqual(pulumi.calls(), []);
    t.is((await command("pulumi", ["version"], { ...ENGLISH, BASTIDE_STATE_DIR: join(dir, "never-deployed"), PATH: path })).status, 0);

    const never = join(dir, "never-deployed");
    t.deepEqual(pulumi.calls(), [{ cwd: process.cwd(), args: ["version"], backend: `file://${never}/pulumi`, passphraseFile: join(never, "passphrase"), passphrase: null }]);

    const { BASTIDE_STATE_DIR: state } = deployedStackState(dir);
    const run = await command("pulumi", ["stack", "output", "--json"], { ...ENGLISH, BASTIDE_STATE_DIR: state, PATH: path, PULUMI_CONFIG_PASSPHRASE: "not the stack's" });
    t.is(run.status, 0, run.output);
    t.deepEqual(pulumi.calls()[1], { cwd: process.cwd(), args: ["stack", "output", "--json"], backend: `file://${state}/pulumi`, passphraseFile: join(state, "passphrase"), passphrase: null });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("Node's warning about node:sqlite, which @pulumi/pulumi's closure serialization loads, is dropped; every other warning is kept", async (t) => {
  const seen: string[] = [];
  const listener = (warning: Error) => seen.push(warning.message);
  process.on("warning", listener);
  try {
    silenceSqliteWarning();
    process.emitWarning("SQLite is an experimental feature and might change at any time", "ExperimentalWarning");
    process.emitWarning("Something else is an experimental feature", "ExperimentalWarning");
    process.emitWarning("SQLite is an experimental feature and might change at any time", "DeprecationWarning");
    await new Promise((resolve) => setImmediate(resolve));
    t.deepEqual(seen, ["Something else is an experimental feature", "SQLite is an experimental feature and might change at any time"]);
  } finally {
    process.off("warning", listener);
  }
  // The real thing: the offline plan serializes the dynamic provider.
  const dir = scratch();
  try {
    const plan = await command("plan", [associationFile(dir, "en"), "--out", join(dir, "plan")], ENGLISH);
    t.is(plan.status, 0, plan.output);
    t.notRegex(plan.output, /ExperimentalWarning/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
