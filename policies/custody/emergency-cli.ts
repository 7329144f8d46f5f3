// `npm run emergency-sheet -- <association.yaml> [--out DIR] [--lang fr|en] [--holder NAME] [--again] [--stack NAME] [--no-pdf]`:
// the emergency sheet (policies/custody/emergency.ts) from the stack's backup output, as HTML and
// PDF, 0600, once per stack unless --again. The password goes into the files only.
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { answerHelp, languageOf, localeLanguage, requireAssociationFile, usageLine, UsageError, type Localized } from "../../cli/command.ts";
import { adminStack, type Env } from "../../cli/stack.ts";
import { loadAssociation } from "../../stacks/config/load.ts";
import { failure } from "../../stacks/offline/failure.ts";
import type { Language } from "../rgpd/model.ts";
import { emergencySheet, readSheetRecord, SheetExists, writeSheetRecord } from "./emergency.ts";
import { readBackupOutput } from "./output.ts";
import { languageOption, writePage } from "./page.ts";

const USAGE: Localized = {
  en: `usage: npm run emergency-sheet -- <path/to/association.yaml> [--out out/emergency] [--lang fr|en] [--holder NAME] [--again] [--stack NAME] [--no-pdf]

Writes, once, the emergency sheet that gets the data back if the server is lost: the backup
repository's address and password, how the storage is reached, the restore steps, and where the
Pulumi state and its passphrase are. Read from the deployed stack (npm run deploy's, "local" unless
--stack). The password is never shown on the terminal: it is only in the sheet's files
(out/emergency/emergency-sheet.html and .pdf, mode 0600). Print it, keep it locked away, delete the
files. A record in the stack's folder (~/.bastide) says when it was made and, with --holder, who
keeps it; a second sheet needs --again.`,
  fr: `usage : npm run emergency-sheet -- <chemin/vers/association.yaml> [--out out/emergency] [--lang fr|en] [--holder NOM] [--again] [--stack NOM] [--no-pdf]

Écrit, une fois, la fiche d'urgence qui permet de récupérer les données si le serveur est perdu :
l'adresse et le mot de passe du dépôt des sauvegardes, l'accès au stockage, les étapes de la
restauration, et où sont l'état Pulumi et sa phrase secrète. Lue dans la pile déployée (celle de
npm run deploy, « local » sauf --stack). Le mot de passe n'est jamais affiché dans le terminal : il
n'est que dans les fichiers de la fiche (out/emergency/emergency-sheet.html et .pdf, mode 0600).
Imprimez-la, gardez-la sous clé, supprimez les fichiers. Une trace dans le dossier de la pile
(~/.bastide) dit quand elle a été faite et, avec --holder, qui la garde ; une seconde fiche demande
--again.`,
};

export interface SheetOptions {
  file: string;
  out: string;
  language?: Language;
  holder?: string;
  again: boolean;
  stack?: string;
  pdf: boolean;
  env?: Env;
  /** The Pulumi CLI to run (tests pass a stand-in). */
  program?: string;
  now?: Date;
}

export interface SheetResult {
  files: string[];
  record: string;
}

export function writeEmergencySheet(options: SheetOptions): SheetResult {
  const env = options.env ?? process.env;
  const config = loadAssociation(options.file);
  const language = options.language ?? languageOf(config);
  const stack = adminStack({ stack: options.stack, env });
  // Refused before the stack is even read: nothing is written, no secret is fetched.
  const earlier = readSheetRecord(stack);
  if (earlier && !options.again) throw new SheetExists(earlier, language);
  const output = readBackupOutput(config, { stack: options.stack, env, language, program: options.program });
  const now = options.now ?? new Date();
  const page = emergencySheet({ config, output, stack, file: options.file, language, now });
  const files = writePage(page, join(resolve(options.out), "emergency-sheet.html"), { pdf: options.pdf });
  const record = writeSheetRecord(stack, { version: 1, stack: stack.stack, producedAt: now.toISOString(), files, holder: options.holder ?? null });
  return { files, record };
}

function main(argv: string[]): void {
  answerHelp(argv, USAGE);
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: "string", default: "out/emergency" },
      lang: { type: "string" },
      holder: { type: "string" },
      again: { type: "boolean", default: false },
      stack: { type: "string" },
      "no-pdf": { type: "boolean", default: false },
    },
  });
  const result = writeEmergencySheet({
    file: requireAssociationFile(positionals[0], "emergency-sheet"),
    out: values.out!,
    language: languageOption(values.lang),
    holder: values.holder,
    again: values.again!,
    stack: values.stack,
    pdf: !values["no-pdf"],
  });
  // Where the password is, never the password.
  for (const file of result.files) console.log(`written: ${file} (holds the repository password: mode 0600; print it, keep it locked away, then delete it)`);
  console.log(`recorded: ${result.record} (when the sheet was made: a second one needs --again)`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    console.error(failure(error));
    if (error instanceof UsageError) console.error(usageLine(USAGE[localeLanguage()]));
    process.exit(error instanceof UsageError ? 2 : 1);
  }
}
