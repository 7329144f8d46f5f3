// `npm run members` as the admin runs it: --help, a 40-member sheet of a French association
// into a copy of the example with one command, the question about leavers, a dry run.
import test from "ava";
import { copyFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAssociation } from "../../stacks/config/load.ts";
import { identifier } from "../../stacks/config/fields.ts";
import { runCommand } from "../support/cli.ts";
import { EXAMPLE_FILE } from "../support/association.ts";

const CLI = "stacks/config/members/cli.ts";
const SHEET_40 = new URL("../fixtures/members/association-40.csv", import.meta.url).pathname;

function scratchCopy(): string {
  const file = join(mkdtempSync(join(tmpdir(), "bastide-members-")), "association.yaml");
  copyFileSync(EXAMPLE_FILE, file);
  return file;
}

test("--help prints the usage of import and export", async (t) => {
  const run = await runCommand(CLI, ["--help"], { tty: false });
  t.is(run.status, 0);
  t.regex(run.stdout, /npm run members -- import <members\.csv\|\.xlsx> <association\.yaml>/);
  t.regex(run.stdout, /npm run members -- export <association\.yaml>/);
});

test("a command without its files says what is missing, with the usage", async (t) => {
  const run = await runCommand(CLI, ["import", "members.csv"], { tty: false });
  t.is(run.status, 2);
  t.regex(run.output, /give the association file \(\.yaml\) to read and write\n\nusage:/);
  const unknown = await runCommand(CLI, ["import", "members.csv", "a.yaml", "--remove-everyone"], { tty: false });
  t.is(unknown.status, 2);
  t.regex(unknown.output, /Unknown option '--remove-everyone'[^\n]*\n\nusage:/);
});

test("a 40-member sheet of a French association becomes a valid association file with one command and no hand-written id", async (t) => {
  const file = scratchCopy();
  const run = await runCommand(CLI, ["import", SHEET_40, file], { tty: false });
  t.is(run.status, 0, run.output);
  const config = loadAssociation(file);
  t.is(config.members.length, 40);
  t.true(config.members.every((m) => identifier.safeParse(m.id).success));
  t.is(new Set(config.members.map((m) => m.id)).size, 40);
  const byEmail = (email: string) => config.members.find((m) => m.email === email);
  // The example's members are matched by e-mail and keep their ids and devices.
  t.is(byEmail("claire.dubois@jardins-canal.localhost")?.id, "claire.dubois");
  t.deepEqual(byEmail("karim.benali@jardins-canal.localhost")?.devices, [{ name: "laptop" }, { name: "phone" }]);
  // Names as written, ids folded; clashing names and reserved names get a suffix.
  t.is(byEmail("anh.nguyen@jardins-canal.localhost")?.name, "Thị Ánh Nguyễn");
  t.is(byEmail("marie.dupont.2@jardins-canal.localhost")?.id, "marie.dupont-2");
  t.is(byEmail("recorder@jardins-canal.localhost")?.id, "recorder-2");
  t.is(byEmail("émilie.faure@jardins-canal.localhost")?.id, "mathilde.faure");
  t.deepEqual(config.teams.map((team) => team.id), ["bureau", "potager", "evenements", "communication-reseaux", "atelier-velo", "cuisine-partagee", "association-2"]);
  t.regex(run.stdout, /36 membre\(s\) arrivent/);
  t.regex(run.stdout, /Colonnes laissées hors du fichier de l'association : Téléphone\./);
  t.is(statSync(file).mode & 0o777, statSync(EXAMPLE_FILE).mode & 0o777);
});

test("members missing from the sheet: without a terminal nothing is written until a flag says what to do", async (t) => {
  const file = scratchCopy();
  const sheet = join(file, "../members.csv");
  writeFileSync(sheet, "Nom;E-mail;Rôle\nClaire Dubois;claire.dubois@jardins-canal.localhost;admin\n");
  const refused = await runCommand(CLI, ["import", sheet, file], { tty: false });
  t.is(refused.status, 1);
  t.regex(refused.output, /3 membre\(s\) absents de la liste : ils partiraient/);
  t.regex(refused.output, /Relancez avec --remove-missing pour les retirer \(ils partent\), ou --keep-missing pour les garder/);
  t.is(readFileSync(file, "utf8"), readFileSync(EXAMPLE_FILE, "utf8"));

  const dry = await runCommand(CLI, ["import", sheet, file, "--remove-missing", "--dry-run"], { tty: false });
  t.is(dry.status, 0, dry.output);
  t.regex(dry.output, /Essai à blanc : le résultat est valide \(1 membres, 3 équipes\)/);
  t.is(readFileSync(file, "utf8"), readFileSync(EXAMPLE_FILE, "utf8"));

  const removed = await runCommand(CLI, ["import", sheet, file, "--remove-missing"], { tty: false });
  t.is(removed.status, 0, removed.output);
  t.deepEqual(loadAssociation(file).members.map((m) => m.id), ["claire.dubois"]);
});

test("an English association gets the summary in English", async (t) => {
  const file = scratchCopy();
  writeFileSync(file, readFileSync(file, "utf8").replace("  language: fr\n", "  language: en\n"));
  const sheet = join(file, "../members.csv");
  writeFileSync(sheet, "Name,E-mail,Role,Teams\nClaire Dubois,claire.dubois@jardins-canal.localhost,admin,\"Bureau, Garden tools\"\n");
  const run = await runCommand(CLI, ["import", sheet, file, "--keep-missing"], { tty: false });
  t.is(run.status, 0, run.output);
  t.regex(run.stdout, /1 member\(s\) change:\n  claire\.dubois \(line 2\): teams bureau → bureau, garden-tools\n/, "no devices column: the devices stay");
  t.regex(run.stdout, /1 new team\(s\), each with a calendar and a chat room:\n  garden-tools  Garden tools\n/);
  t.regex(run.stdout, /Written: /);
});

test("on a terminal it asks before members leave; answering no keeps them", async (t) => {
  const file = scratchCopy();
  const sheet = join(file, "../members.csv");
  writeFileSync(sheet, "Nom;E-mail;Rôle\nClaire Dubois;claire.dubois@jardins-canal.localhost;admin\nNouveau Venu;nv@asso.fr;\n");
  const run = await runCommand(CLI, ["import", sheet, file], { tty: true, input: "n\n" });
  t.regex(run.output, /Retirer ces 3 membre\(s\) du fichier \? \[o\/N\]/);
  t.is(run.status, 0, run.output);
  t.deepEqual(loadAssociation(file).members.map((m) => m.id), ["claire.dubois", "karim.benali", "lea.moreau", "tom.martin", "nouveau.venu"]);

  const other = scratchCopy();
  const yes = await runCommand(CLI, ["import", sheet, other], { tty: true, input: "oui\n" });
  t.is(yes.status, 0, yes.output);
  t.deepEqual(loadAssociation(other).members.map((m) => m.id), ["claire.dubois", "nouveau.venu"]);
});

test("a sheet it cannot read is refused with its line and column, and the file is untouched", async (t) => {
  const file = scratchCopy();
  const sheet = join(file, "../members.csv");
  writeFileSync(sheet, "Nom;E-mail;Rôle\nClaire Dubois;claire.dubois@jardins-canal.localhost;présidente\n");
  const run = await runCommand(CLI, ["import", sheet, file], { tty: false });
  t.is(run.status, 1);
  t.regex(run.output, /members\.csv cannot be imported; nothing was created or changed:\n  - column "Rôle" \(line 2\): "présidente" is not a role/);
  t.is(readFileSync(file, "utf8"), readFileSync(EXAMPLE_FILE, "utf8"));
});

test("export writes the same columns back, 0600, with the BOM Excel needs", async (t) => {
  const file = scratchCopy();
  const target = join(file, "../export.csv");
  const run = await runCommand(CLI, ["export", file, target], { tty: false });
  t.is(run.status, 0, run.output);
  t.is(statSync(target).mode & 0o777, 0o600);
  t.is(readFileSync(target, "utf8").split("\r\n")[1], "claire.dubois;Claire Dubois;claire.dubois@jardins-canal.localhost;admin;Bureau;1;");
});

test("an .xlsx workbook saved by LibreOffice imports to the same file as its CSV", async (t) => {
  const fromCsv = scratchCopy();
  const fromXlsx = scratchCopy();
  t.is((await runCommand(CLI, ["import", SHEET_40, fromCsv], { tty: false })).status, 0);
  const run = await runCommand(CLI, ["import", SHEET_40.replace(/\.csv$/, ".xlsx"), fromXlsx], { tty: false });
  t.is(run.status, 0, run.output);
  t.is(readFileSync(fromXlsx, "utf8"), readFileSync(fromCsv, "utf8"));
});

test("a cell of a workbook is named by its row and column; an .ods is refused with what to do", async (t) => {
  const file = scratchCopy();
  const bad = await runCommand(CLI, ["import", new URL("../fixtures/members/role-error.xlsx", import.meta.url).pathname, file], { tty: false });
  t.is(bad.status, 1);
  t.regex(bad.output, /role-error\.xlsx cannot be imported; nothing was created or changed:\n  - column "Rôle" \(line 4\): "présidente" is not a role/);
  const ods = await runCommand(CLI, ["import", "members.ods", file], { tty: false });
  t.is(ods.status, 1);
  t.regex(ods.output, /members\.ods cannot be imported; nothing was created or changed:\n  - \(file\): is an \.ods workbook, which Bastide cannot read: save the sheet as \.xlsx, or as CSV/);
  t.is(readFileSync(file, "utf8"), readFileSync(EXAMPLE_FILE, "utf8"));
});
