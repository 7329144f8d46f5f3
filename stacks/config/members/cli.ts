// `npm run members -- import <sheet.csv|.xlsx> <association.yaml> [--dry-run] [--remove-missing | --keep-missing]`
// `npm run members -- export <association.yaml> [members.csv]`
//
// The edge of the member import: reads the sheet and the association file, shows what would
// change, asks about members no longer listed, and writes the file whole under a temporary
// name before renaming it over the old one, so an interrupted import leaves the old file.
import { readFileSync, statSync } from "node:fs";
import { extname } from "node:path";
import { createInterface } from "node:readline/promises";
import { parseArgs } from "node:util";
import { writeAtomically } from "../../../provisioners/handover/provisioner.ts";
import { failure } from "../../offline/failure.ts";
import { loadAssociation } from "../load.ts";
import { applyImport, associationDocument, validatedText } from "./document.ts";
import { localeLanguage, UsageError, type Localized } from "../../../cli/command.ts";
import { exportCsv } from "./export.ts";
import { importOptions, planImport } from "./merge.ts";
import { decodeUtf8, readCsv, readXlsx, sheetError, type Sheet } from "./sheet.ts";
import { formatPlan, hasChanges, inLanguage } from "./summary.ts";

export const USAGE: Localized = {
  en: `usage: npm run members -- import <members.csv|.xlsx> <association.yaml> [--dry-run] [--remove-missing | --keep-missing]
       npm run members -- export <association.yaml> [members.csv]

import   reads a member list (CSV with , or ; or tabs, UTF-8 with or without BOM, or the first
         sheet of an .xlsx workbook; .ods: save it as .xlsx or CSV first) with the columns
         Nom (or Prénom and Nom), E-mail, Rôle, Équipes, Appareils, Langue, Identifiant (English
         headers too: Name, E-mail, Role, Teams, Devices, Language, Id; other columns are left out),
         and writes the members: and teams: of the association file, keeping its comments.
         Ids are made from the names; a member already in the file keeps theirs.
         It shows what changes before writing. Members of the file missing from the sheet would
         leave: it asks, or, when not run on a terminal, needs --remove-missing or --keep-missing.
         --dry-run shows the changes and checks the result, and writes nothing.
export   writes the file's members as the same columns (to the CSV file given, or to the terminal).`,
  fr: `usage : npm run members -- import <membres.csv|.xlsx> <association.yaml> [--dry-run] [--remove-missing | --keep-missing]
        npm run members -- export <association.yaml> [membres.csv]

import   lit une liste de membres (CSV séparé par , ; ou des tabulations, en UTF-8 avec ou sans BOM,
         ou la première feuille d'un classeur .xlsx ; un .ods : l'enregistrer d'abord en .xlsx ou en CSV)
         avec les colonnes Nom (ou Prénom et Nom), E-mail, Rôle, Équipes, Appareils, Langue,
         Identifiant (les en-têtes anglais aussi ; les autres colonnes sont laissées de côté), et écrit
         les members: et teams: du fichier d'association en gardant ses commentaires.
         Les identifiants sont faits à partir des noms ; un membre déjà dans le fichier garde le sien.
         Il montre les changements avant d'écrire. Les membres du fichier absents de la feuille
         partiraient : il le demande, ou, hors d'un terminal, il faut --remove-missing ou --keep-missing.
         --dry-run montre les changements et vérifie le résultat, sans rien écrire.
export   écrit les membres du fichier dans les mêmes colonnes (dans le fichier CSV indiqué, ou à l'écran).`,
};

/** A member list is a few kilobytes; past this it is not one. */
const MAX_SHEET_BYTES = 5 * 1024 * 1024;

async function readSheet(file: string): Promise<Sheet> {
  const kind = extname(file).toLowerCase();
  if ([".ods", ".xls", ".numbers"].includes(kind))
    throw sheetError(file, [{ path: "", message: `is an ${kind} workbook, which Bastide cannot read: save the sheet as .xlsx, or as CSV (LibreOffice: File > Save a copy > "Text CSV", character set UTF-8; Excel: "CSV UTF-8")` }]);
  let size: number;
  try {
    size = statSync(file).size;
  } catch (error) {
    throw sheetError(file, [{ path: "", message: `cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): check the path` }]);
  }
  if (size > MAX_SHEET_BYTES) throw sheetError(file, [{ path: "", message: `is ${size} bytes; a member list is far smaller (at most ${MAX_SHEET_BYTES}): check that this is the right file` }]);
  const bytes = readFileSync(file);
  return kind === ".xlsx" ? readXlsx(bytes, file) : readCsv(decodeUtf8(bytes, file), file);
}

async function confirmLeaving(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await prompt.question(question);
    return /^(y|yes|o|oui)$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}

interface ImportArguments {
  sheet: string;
  file: string;
  dryRun: boolean;
  removeMissing: boolean;
  keepMissing: boolean;
}

async function runImport(args: ImportArguments, out: (text: string) => void): Promise<number> {
  const config = loadAssociation(args.file);
  const sheet = await readSheet(args.sheet);
  const language = config.organisation.language;
  const say = inLanguage(language);
  const plan = planImport(sheet, config, importOptions(language));
  out(formatPlan(plan, config.departures.graceDays, language));
  if (!hasChanges(plan)) {
    out(say(`${args.file} dit déjà ce que dit ${args.sheet} : rien à écrire.\n`, `${args.file} already says what ${args.sheet} says; nothing to write.\n`));
    return 0;
  }
  let removeLeaving = args.removeMissing;
  if (plan.leaving.length > 0 && !args.removeMissing && !args.keepMissing) {
    if (!process.stdin.isTTY) {
      out(
        say(
          `Rien n'a été écrit : ${plan.leaving.length} membre(s) de ${args.file} ne sont pas dans la liste. Relancez avec --remove-missing pour les retirer (ils partent), ou --keep-missing pour les garder.\n`,
          `Nothing was written: ${plan.leaving.length} member(s) of ${args.file} are not in the sheet. Run again with --remove-missing to remove them (they leave), or --keep-missing to keep them.\n`,
        ),
      );
      return 1;
    }
    removeLeaving = await confirmLeaving(say(`Retirer ces ${plan.leaving.length} membre(s) du fichier ? [o/N] `, `Remove these ${plan.leaving.length} member(s) from the file? [y/N] `));
    if (!removeLeaving) out(say("Ils restent dans le fichier.\n", "They stay in the file.\n"));
  }
  const original = readFileSync(args.file, "utf8");
  const doc = associationDocument(original);
  applyImport(doc, plan, removeLeaving);
  const { text, config: written } = validatedText(original, doc, plan, sheet, args.file);
  if (args.dryRun) {
    out(
      say(
        `Essai à blanc : le résultat est valide (${written.members.length} membres, ${written.teams.length} équipes) ; ${args.file} n'a pas été modifié.\n`,
        `Dry run: the result is valid (${written.members.length} members, ${written.teams.length} teams); ${args.file} was not changed.\n`,
      ),
    );
    return 0;
  }
  writeAtomically(args.file, Buffer.from(text, "utf8"), statSync(args.file).mode & 0o777);
  out(
    say(
      `Écrit : ${args.file} (${written.members.length} membres, ${written.teams.length} équipes). Vérifiez-le avec npm run plan -- ${args.file}\n`,
      `Written: ${args.file} (${written.members.length} members, ${written.teams.length} teams). Check it with npm run plan -- ${args.file}\n`,
    ),
  );
  return 0;
}

function runExport(file: string, target: string | undefined, out: (text: string) => void): number {
  const config = loadAssociation(file);
  if (target === undefined) {
    out(exportCsv(config, { bom: false }));
    return 0;
  }
  // The byte-order mark tells Excel the file is UTF-8; the list holds personal data: 0600.
  writeAtomically(target, Buffer.from(exportCsv(config, { bom: true }), "utf8"), 0o600);
  out(inLanguage(config.organisation.language)(`Écrit : ${target} (${config.members.length} membres)\n`, `Written: ${target} (${config.members.length} members)\n`));
  return 0;
}

const isYaml = (path: string) => /\.ya?ml$/i.test(path);

export async function main(argv: string[], out: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: "boolean", short: "h" },
      "dry-run": { type: "boolean" },
      "remove-missing": { type: "boolean" },
      "keep-missing": { type: "boolean" },
    },
  });
  if (values.help) {
    out(`${USAGE[localeLanguage()]}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  const files = rest.filter(isYaml);
  const others = rest.filter((p) => !isYaml(p));
  if (files.length !== 1) throw new UsageError(files.length ? `one association file, not ${files.join(" and ")}` : "give the association file (.yaml) to read and write");
  if (command === "import") {
    if (others.length !== 1) throw new UsageError(others.length ? `one sheet to import, not ${others.join(" and ")}` : "give the sheet to import (.csv)");
    if (values["remove-missing"] && values["keep-missing"]) throw new UsageError("--remove-missing or --keep-missing, not both");
    return runImport({ sheet: others[0]!, file: files[0]!, dryRun: values["dry-run"] === true, removeMissing: values["remove-missing"] === true, keepMissing: values["keep-missing"] === true }, out);
  }
  if (command === "export") {
    if (others.length > 1) throw new UsageError(`one CSV file to write, not ${others.join(" and ")}`);
    return runExport(files[0]!, others[0], out);
  }
  throw new UsageError(command === undefined ? "say import or export" : `unknown command ${JSON.stringify(command)}: import or export`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      // parseArgs's own refusals (an unknown option, a value given to a flag) are usage errors too.
      const usage = error instanceof UsageError || /^ERR_PARSE_ARGS_/.test(String((error as { code?: unknown }).code));
      console.error(usage ? `${(error as Error).message}\n\n${USAGE[localeLanguage()]}` : failure(error));
      process.exit(usage ? 2 : 1);
    },
  );
}
