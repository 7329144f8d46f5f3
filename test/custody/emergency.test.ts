// `npm run emergency-sheet` (issue 11): the real command, with a stand-in Pulumi CLI printing the
// stack's `backups` output as `pulumi stack output --show-secrets --json backups` would. The sheet
// holds the repository's address and password, the SSH key or S3 key id, the restore steps and
// where the state and passphrase are (read from the parsed HTML, and from the PDF Chromium
// prints); the password never reaches the terminal; the files are 0600; a second sheet is
// refused without --again, before Pulumi is even asked; a wrong output is named, not quoted.
import test from "ava";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "node-html-parser";
import { parseDocument } from "yaml";
import { BACKUP_STACK_OUTPUT } from "../../stacks/backups/layout.ts";
import { repositoryAddress } from "../../stacks/backups/restic.ts";
import { loadAssociation } from "../../stacks/config/load.ts";
import { EXAMPLE_FILE } from "../support/association.ts";
import { deployedStackState, runCommand } from "../support/cli.ts";
import { pdfText } from "../support/pdf.ts";
import { requireProgram } from "../support/programs.ts";

const PASSWORD = "Rk7-fakeRepositoryPassword-2b9Qz1xW";
const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTheEmergencySheetTest0000000 bastide-backups";
const SFTP = { type: "sftp", host: "u123456.your-storagebox.de", user: "u123456", path: "/backups/bastide", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfQchOBj6ARnpfH+llfBS54nizCaW0mnxg4JOS2emkz", country: "DE" };

const dirs: string[] = [];
test.after.always(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface World {
  dir: string;
  file: string;
  env: Record<string, string>;
  /** What the stand-in Pulumi was asked, one argument a line; absent when it was not run. */
  args: string;
}

/** An association file with `backups`, a deployed stack's state, and a Pulumi stand-in printing `output`. */
function world(backups: Record<string, unknown>, output: (repository: string) => unknown, language = "fr"): World {
  const dir = mkdtempSync(join(tmpdir(), "bastide-emergency-"));
  dirs.push(dir);
  const document = parseDocument(readFileSync(EXAMPLE_FILE, "utf8"));
  document.setIn(["backups"], { destination: backups });
  document.setIn(["organisation", "language"], language);
  const file = join(dir, "association.yaml");
  writeFileSync(file, String(document));
  const repository = repositoryAddress(loadAssociation(file).backups!.destination);
  const bin = join(dir, "bin");
  mkdirSync(bin);
  const payload = join(dir, "payload.json");
  writeFileSync(payload, JSON.stringify(output(repository)));
  const args = join(dir, "args");
  writeFileSync(join(bin, "pulumi"), `#!/bin/sh\nprintf '%s\\n' "$@" > "${args}"\ncat "${payload}"\n`);
  chmodSync(join(bin, "pulumi"), 0o755);
  return { dir, file, env: { ...deployedStackState(dir), PATH: `${bin}:${process.env.PATH}` }, args };
}

const sheet = (w: World, args: string[]) => runCommand("policies/custody/emergency-cli.ts", [w.file, "--out", join(w.dir, "out"), ...args], { tty: false, env: w.env });
const html = (w: World) => parse(readFileSync(join(w.dir, "out", "emergency-sheet.html"), "utf8"));
const text = (root: ReturnType<typeof parse>, selector: string) => root.querySelector(selector)?.text.trim();

test("the sheet holds the repository, its password, the SSH key, the restore steps and where the state is; the terminal never sees the password", async (t) => {
  const w = world(SFTP, (repository) => ({ repository, repositoryPassword: PASSWORD, sshPublicKey: SSH_KEY }), "en");
  const result = await sheet(w, ["--no-pdf", "--holder", "Claire Dubois"]);
  t.is(result.status, 0, result.output);
  t.false(result.output.includes(PASSWORD), "the password is never printed");
  t.regex(result.stdout, /written: .*emergency-sheet\.html \(holds the repository password: mode 0600/);
  // Pulumi was asked for this one output, with its secrets, on the admin's stack.
  t.deepEqual(readFileSync(w.args, "utf8").trim().split("\n"), ["stack", "output", "--show-secrets", "--json", BACKUP_STACK_OUTPUT, "--stack", "local"]);
  const file = join(w.dir, "out", "emergency-sheet.html");
  t.is(statSync(file).mode & 0o777, 0o600);
  const root = html(w);
  t.is(text(root, "h1"), "Emergency sheet: getting the data back");
  t.is(text(root, "#repository-address"), "sftp://u123456@u123456.your-storagebox.de:22//backups/bastide");
  t.is(text(root, "#repository-password"), PASSWORD);
  t.is(text(root, "#ssh-public-key"), SSH_KEY);
  t.is(text(root, "#state"), `${join(w.env.BASTIDE_STATE_DIR!, "pulumi")} (on the admin's computer)`);
  t.is(text(root, "#passphrase-file"), join(w.env.BASTIDE_STATE_DIR!, "passphrase"));
  const steps = root.querySelectorAll("section#restore ol li").map((li) => li.text);
  t.true(steps.some((s) => s.includes(`npm run restore -- ${w.file}`)));
  t.true(steps.some((s) => /restic --repo=sftp:\/\/u123456@u123456\.your-storagebox\.de:22\/\/backups\/bastide --password-file=repository-password .* snapshots/.test(s)));
  t.regex(text(root, "#warning")!, /whoever holds it can read every backup/);
  // The record says when, where and who, never the password.
  const record = JSON.parse(readFileSync(join(w.env.BASTIDE_STATE_DIR!, "emergency-sheet.local.json"), "utf8"));
  t.deepEqual(record.files, [file]);
  t.is(record.holder, "Claire Dubois");
  t.false(JSON.stringify(record).includes(PASSWORD));
});

test("once: a second sheet is refused without --again, before Pulumi is asked; --again makes another", async (t) => {
  const w = world(SFTP, (repository) => ({ repository, repositoryPassword: PASSWORD, sshPublicKey: SSH_KEY }));
  t.is((await sheet(w, ["--no-pdf"])).status, 0);
  rmSync(w.args);
  rmSync(join(w.dir, "out"), { recursive: true });
  const refused = await sheet(w, ["--no-pdf"]);
  t.is(refused.status, 1);
  t.regex(refused.output, /Une fiche d'urgence existe déjà pour la pile « local » : faite le .* Pour en faire une autre, relancez avec --again\./);
  t.false(existsSync(w.args), "Pulumi was not asked for the secrets");
  t.false(existsSync(join(w.dir, "out")), "nothing was written");
  const again = await sheet(w, ["--no-pdf", "--again"]);
  t.is(again.status, 0, again.output);
  t.is(text(html(w), "#repository-password"), PASSWORD);
  t.is(text(html(w), "h1"), "Fiche d'urgence : récupérer les données");
});

test("an S3 destination gives the access key id; a wrong or incomplete output is refused naming the field, never quoting the password", async (t) => {
  const s3 = { type: "s3", endpoint: "s3.fr-par.scw.cloud", bucket: "asso-exemple-backups", country: "FR" };
  const w = world(s3, (repository) => ({ repository, repositoryPassword: PASSWORD, s3AccessKeyId: "SCWFAKEACCESSKEY01" }), "en");
  t.is((await sheet(w, ["--no-pdf"])).status, 0);
  t.is(text(html(w), "#s3-access-key-id"), "SCWFAKEACCESSKEY01");
  t.regex(html(w).querySelector("section#access")!.text, /bastide:backupS3SecretAccessKey/);

  const noKey = world(s3, (repository) => ({ repository, repositoryPassword: PASSWORD }), "en");
  const missing = await sheet(noKey, ["--no-pdf"]);
  t.is(missing.status, 1);
  t.regex(missing.output, /the stack output backups\.s3AccessKeyId is missing/);
  t.false(missing.output.includes(PASSWORD));

  const elsewhere = world(SFTP, () => ({ repository: "sftp://someone@elsewhere.example:22//old", repositoryPassword: PASSWORD, sshPublicKey: SSH_KEY }), "en");
  const stale = await sheet(elsewhere, ["--no-pdf"]);
  t.is(stale.status, 1);
  t.regex(stale.output, /backups\.repository is sftp:\/\/someone@elsewhere\.example:22\/\/old, but the association file says sftp:\/\/u123456@/);
  t.false(stale.output.includes(PASSWORD));
  t.false(existsSync(join(elsewhere.dir, "out")), "nothing was written");

  const short = world(SFTP, (repository) => ({ repository, repositoryPassword: "short", sshPublicKey: SSH_KEY }), "en");
  const bad = await sheet(short, ["--no-pdf"]);
  t.is(bad.status, 1);
  t.regex(bad.output, /the stack output backups\.repositoryPassword is not what Bastide expects/);
});

test("the printed PDF carries the password and the restore command; it is 0600 too", async (t) => {
  requireProgram("chromium", "chromium");
  requireProgram("pdftotext", "poppler-utils");
  const w = world(SFTP, (repository) => ({ repository, repositoryPassword: PASSWORD, sshPublicKey: SSH_KEY }), "en");
  const result = await sheet(w, []);
  t.is(result.status, 0, result.output);
  const pdf = join(w.dir, "out", "emergency-sheet.pdf");
  t.is(statSync(pdf).mode & 0o777, 0o600);
  const printed = pdfText(pdf).replace(/\s+/g, " ");
  t.true(printed.includes(PASSWORD));
  t.true(printed.includes("npm run restore --"));
  t.false(result.output.includes(PASSWORD));
});
