// `npm run handover-page -- <association.yaml> [--out out/handover] [--lang fr|en] [--passphrase-holder NAME] [--stack NAME] [--no-pdf]`:
// the handover page (policies/custody/handover.ts), offline: from the file, the admin's stack
// settings (cli/stack.ts) and the emergency sheet's record. It holds no secret.
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { answerHelp, languageOf, localeLanguage, requireAssociationFile, usageLine, UsageError, type Localized } from "../../cli/command.ts";
import { adminStack, type Env } from "../../cli/stack.ts";
import { loadAssociation } from "../../stacks/config/load.ts";
import { failure } from "../../stacks/offline/failure.ts";
import type { Language } from "../rgpd/model.ts";
import { readSheetRecord } from "./emergency.ts";
import { handoverPage } from "./handover.ts";
import { languageOption, writePage } from "./page.ts";

const USAGE: Localized = {
  en: `usage: npm run handover-page -- <path/to/association.yaml> [--out out/handover] [--lang fr|en] [--passphrase-holder NAME] [--stack NAME] [--no-pdf]

Writes the page the association keeps for its next admin (out/handover/handover.html and .pdf):
where the Pulumi state is (BASTIDE_BACKEND, or the local folder), who holds the passphrase and the
emergency sheet, how to restore and rehearse a restore, and how to hand the admin role over. It
holds no secret. Offline: the file, the stack's settings and the emergency sheet's record only.`,
  fr: `usage : npm run handover-page -- <chemin/vers/association.yaml> [--out out/handover] [--lang fr|en] [--passphrase-holder NOM] [--stack NOM] [--no-pdf]

Écrit la page que l'association garde pour son prochain administrateur (out/handover/handover.html
et .pdf) : où est l'état Pulumi (BASTIDE_BACKEND, ou le dossier local), qui détient la phrase
secrète et la fiche d'urgence, comment restaurer et s'exercer, et comment passer le rôle
d'administrateur. Aucun secret. Hors ligne : le fichier, les réglages de la pile et la trace de la
fiche d'urgence seulement.`,
};

export interface HandoverOptions {
  file: string;
  out: string;
  language?: Language;
  passphraseHolder?: string;
  stack?: string;
  pdf: boolean;
  env?: Env;
  now?: Date;
}

export function writeHandoverPage(options: HandoverOptions): string[] {
  const env = options.env ?? process.env;
  const config = loadAssociation(options.file);
  const stack = adminStack({ stack: options.stack, env });
  const page = handoverPage({
    config,
    stack,
    sheet: readSheetRecord(stack),
    passphraseHolder: options.passphraseHolder,
    file: options.file,
    language: options.language ?? languageOf(config),
    now: options.now ?? new Date(),
  });
  return writePage(page, join(resolve(options.out), "handover.html"), { pdf: options.pdf });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const argv = process.argv.slice(2);
    answerHelp(argv, USAGE);
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: "string", default: "out/handover" },
        lang: { type: "string" },
        "passphrase-holder": { type: "string" },
        stack: { type: "string" },
        "no-pdf": { type: "boolean", default: false },
      },
    });
    const files = writeHandoverPage({
      file: requireAssociationFile(positionals[0], "handover-page"),
      out: values.out!,
      language: languageOption(values.lang),
      passphraseHolder: values["passphrase-holder"],
      stack: values.stack,
      pdf: !values["no-pdf"],
    });
    for (const file of files) console.log(`written: ${file}`);
  } catch (error) {
    console.error(failure(error));
    if (error instanceof UsageError) console.error(usageLine(USAGE[localeLanguage()]));
    process.exit(error instanceof UsageError ? 2 : 1);
  }
}
