// `npm run report -- <config.yaml> [--lang fr|en] [--out out/report] [--no-pdf]`: the
// DPO's documents from the config alone, offline (no Pulumi CLI, no Docker):
// register.json, register.html and register.pdf.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { answerHelp, localeLanguage, requireAssociationFile, usageLine, UsageError, type Localized } from "../../cli/command.ts";
import { loadAssociation } from "../../stacks/config/load.ts";
import { failure } from "../../stacks/offline/failure.ts";
import { LANGUAGES, type Language } from "../rgpd/model.ts";
import { registerDocument } from "./document.ts";
import { renderHtml } from "./html.ts";
import { printPdf } from "./pdf.ts";

export interface ReportFiles {
  json: string;
  html: string;
  pdf?: string;
}

export interface ReportOptions {
  file: string;
  language?: Language;
  out: string;
  pdf: boolean;
  generatedAt?: Date;
}

export function writeReport(options: ReportOptions): ReportFiles {
  const config = loadAssociation(options.file);
  const language = options.language ?? config.organisation.language;
  const document = registerDocument(config, { language, generatedAt: options.generatedAt ?? new Date(), source: options.file });
  const out = resolve(options.out);
  mkdirSync(out, { recursive: true });
  const files: ReportFiles = { json: join(out, "register.json"), html: join(out, "register.html") };
  writeFileSync(files.json, `${JSON.stringify(document, null, 2)}\n`);
  writeFileSync(files.html, renderHtml(document));
  if (options.pdf) {
    files.pdf = join(out, "register.pdf");
    printPdf(files.html, files.pdf);
  }
  return files;
}

function language(value: string | undefined): Language | undefined {
  if (value === undefined) return undefined;
  if ((LANGUAGES as readonly string[]).includes(value)) return value as Language;
  throw new Error(`--lang ${value}: must be ${LANGUAGES.join(" or ")}`);
}

const USAGE: Localized = {
  en: `usage: npm run report -- <path/to/association.yaml> [--lang fr|en] [--out out/report] [--no-pdf]

Writes the DPO's documents from the file alone, offline: the register of processing activities,
the retention schedule, where the data lives and the security measures, as register.json,
register.html and register.pdf under out/report/ (in the association's language unless --lang).`,
  fr: `usage : npm run report -- <chemin/vers/association.yaml> [--lang fr|en] [--out out/report] [--no-pdf]

Écrit les documents du DPO à partir du seul fichier, hors ligne : le registre des traitements,
les durées de conservation, où sont les données et les mesures de sécurité, en register.json,
register.html et register.pdf dans out/report/ (dans la langue de l'association, sauf --lang).`,
};

function main(): void {
  answerHelp(process.argv.slice(2), USAGE);
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      lang: { type: "string" },
      out: { type: "string", default: "out/report" },
      "no-pdf": { type: "boolean", default: false },
    },
  });
  const files = writeReport({
    file: requireAssociationFile(positionals[0], "report"),
    language: language(values.lang),
    out: values.out!,
    pdf: !values["no-pdf"],
  });
  for (const file of Object.values(files)) console.log(`written: ${file}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    main();
  } catch (error) {
    console.error(failure(error));
    if (error instanceof UsageError) console.error(usageLine(USAGE[localeLanguage()]));
    process.exit(error instanceof UsageError ? 2 : 1);
  }
}
