// `npm run report -- <config.yaml> [--lang fr|en] [--out out/report] [--no-pdf] [--history FILE]`:
// the DPO's documents from the config alone, offline (no Pulumi CLI, no Docker), in French
// and English side by side (one folder per language; --lang keeps one): the register as
// register.json, register.html and register.pdf, and its companion documents (notices,
// DPIA screening, breach and request procedures, processors) as HTML and PDF.
//
// The sheets' references and dates are kept in the history file beside the association
// file (policies/rgpd/history.ts), which the admin commits with it.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { answerHelp, localeLanguage, requireAssociationFile, usageLine, UsageError, type Localized } from "../../cli/command.ts";
import { loadAssociation } from "../../stacks/config/load.ts";
import { failure } from "../../stacks/offline/failure.ts";
import { LANGUAGES, type Language } from "../rgpd/model.ts";
import { historyFileFor, readHistory, writeHistory } from "../rgpd/history.ts";
import { registerDocument, registerHistory } from "./document.ts";
import { companionDocuments, companionFile } from "./companions.ts";
import { renderCompanionHtml, renderHtml } from "./html.ts";
import { printPdfs, type PrintJob } from "./pdf.ts";
import { readDrillRecord } from "./backups.ts";

export interface LanguageFiles {
  json: string;
  html: string;
  pdf?: string;
  companions: { id: string; html: string; pdf?: string }[];
}

export interface ReportFiles {
  history: string;
  languages: Partial<Record<Language, LanguageFiles>>;
}

export interface ReportOptions {
  file: string;
  /** One language only; both by default. */
  language?: Language;
  out: string;
  pdf: boolean;
  generatedAt?: Date;
  /** The history file; beside `file` by default. */
  history?: string;
  /** The last restore drill's record (drill.json, as `npm run audit` saves it); without it no drill is claimed. */
  drill?: string;
}

/** Writes the HTML, and queues its PDF when PDFs are asked for. */
function writeHtml(htmlFile: string, html: string, prints: PrintJob[] | undefined): string | undefined {
  mkdirSync(dirname(htmlFile), { recursive: true });
  writeFileSync(htmlFile, html);
  if (!prints) return undefined;
  const pdf = htmlFile.replace(/\.html$/, ".pdf");
  prints.push({ html: htmlFile, pdf });
  return pdf;
}

export async function writeReport(options: ReportOptions): Promise<ReportFiles> {
  const config = loadAssociation(options.file);
  const generatedAt = options.generatedAt ?? new Date();
  const historyFile = resolve(options.history ?? historyFileFor(options.file));
  // Read (and refused if damaged) before anything is written.
  const history = registerHistory(config, readHistory(historyFile), generatedAt);
  const drill = options.drill ? readDrillRecord(options.drill) : undefined;
  const out = resolve(options.out);
  const files: ReportFiles = { history: historyFile, languages: {} };
  const prints: PrintJob[] | undefined = options.pdf ? [] : undefined;
  for (const language of options.language ? [options.language] : LANGUAGES) {
    const document = registerDocument(config, { language, generatedAt, source: options.file, history, drill });
    const folder = join(out, language);
    mkdirSync(folder, { recursive: true });
    const json = join(folder, "register.json");
    writeFileSync(json, `${JSON.stringify(document, null, 2)}\n`);
    const html = join(folder, "register.html");
    const pdf = writeHtml(html, renderHtml(document), prints);
    const companions = companionDocuments(config, document).map((companion) => {
      const file = join(out, companionFile(companion.id, language));
      return { id: companion.id, html: file, pdf: writeHtml(file, renderCompanionHtml(companion), prints) };
    });
    files.languages[language] = { json, html, pdf, companions };
  }
  if (prints) await printPdfs(prints);
  writeHistory(historyFile, history);
  return files;
}

function language(value: string | undefined): Language | undefined {
  if (value === undefined) return undefined;
  if ((LANGUAGES as readonly string[]).includes(value)) return value as Language;
  throw new Error(`--lang ${value}: must be ${LANGUAGES.join(" or ")}`);
}

const USAGE: Localized = {
  en: `usage: npm run report -- <path/to/association.yaml> [--lang fr|en] [--out out/report] [--no-pdf] [--history FILE] [--drill FILE]

Writes the DPO's documents from the file alone, offline, in French and English side by side
(out/report/fr/ and out/report/en/; --lang keeps one): the register of processing activities
(register.json, .html, .pdf), with the retention schedule, where the data lives and the security
measures, and its companion documents: the information notices, the DPIA screening, the breach
and request procedures and the list of processors. The sheets' references and dates are kept in
<association>.register-history.json beside the file (or FILE): commit it with the file.
--drill FILE: the last restore drill's record (drill.json, which npm run audit saves beside
its report): the security measures then quote its date; without it they say no drill is recorded.`,
  fr: `usage : npm run report -- <chemin/vers/association.yaml> [--lang fr|en] [--out out/report] [--no-pdf] [--history FICHIER] [--drill FICHIER]

Écrit les documents du DPO à partir du seul fichier, hors ligne, en français et en anglais côte à
côte (out/report/fr/ et out/report/en/ ; --lang n'en garde qu'une) : le registre des traitements
(register.json, .html, .pdf), avec les durées de conservation, où sont les données et les mesures
de sécurité, et ses documents d'accompagnement : les mentions d'information, l'analyse préalable
d'impact, les procédures de violation et de demandes, la liste des sous-traitants. Les références
et dates des fiches sont gardées dans <association>.register-history.json à côté du fichier (ou
FICHIER) : versionnez-le avec lui.
--drill FICHIER : la fiche du dernier exercice de restauration (drill.json, que npm run audit
enregistre à côté de son rapport) : les mesures de sécurité citent alors sa date ; sans elle,
elles disent qu'aucun exercice n'est enregistré.`,
};

async function main(): Promise<void> {
  answerHelp(process.argv.slice(2), USAGE);
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      lang: { type: "string" },
      out: { type: "string", default: "out/report" },
      "no-pdf": { type: "boolean", default: false },
      history: { type: "string" },
      drill: { type: "string" },
    },
  });
  const files = await writeReport({
    file: requireAssociationFile(positionals[0], "report"),
    language: language(values.lang),
    out: values.out!,
    pdf: !values["no-pdf"],
    history: values.history,
    drill: values.drill,
  });
  for (const written of Object.values(files.languages))
    for (const file of [written.json, written.html, written.pdf, ...written.companions.flatMap((c) => [c.html, c.pdf])]) if (file) console.log(`written: ${file}`);
  console.log(`written: ${files.history} (the sheets' references and dates: commit it with the association file)`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(failure(error));
    if (error instanceof UsageError) console.error(usageLine(USAGE[localeLanguage()]));
    process.exit(error instanceof UsageError ? 2 : 1);
  });
}
