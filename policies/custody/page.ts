// The emergency sheet and the handover page share one shape: a title, a warning, and sections
// of paragraphs, labelled facts and numbered steps. One self-contained HTML page (inline CSS,
// the DPO documents' print style, no script), every value HTML-escaped: a password or a
// member's name is text, never markup. Printed to PDF by Chromium as the other documents are.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Handlebars from "handlebars";
import { LANGUAGES, type Language } from "../rgpd/model.ts";
import { UsageError } from "../../cli/command.ts";
import { printPdf } from "../reports/pdf.ts";

export interface Fact {
  label: string;
  value: string;
  /** Set apart as code: an address, a key, a command, a password. */
  code: boolean;
  /** An anchor, for the facts a reader (or a test) looks for. */
  id?: string;
}

export interface Step {
  text: string;
  command?: string;
}

export interface PageSection {
  id: string;
  heading: string;
  paragraphs: string[];
  facts: Fact[];
  steps: Step[];
}

export interface CustodyPage {
  language: Language;
  title: string;
  organisation: string;
  generatedText: string;
  warning?: string;
  sections: PageSection[];
}

export const section = (id: string, heading: string, parts: Partial<Omit<PageSection, "id" | "heading">> = {}): PageSection => ({
  id,
  heading,
  paragraphs: parts.paragraphs ?? [],
  facts: parts.facts ?? [],
  steps: parts.steps ?? [],
});

const TEMPLATE = fileURLToPath(new URL("../../templates/custody/page.hbs", import.meta.url));
const STYLE = fileURLToPath(new URL("../../templates/reports/document.css", import.meta.url));
let compiled: HandlebarsTemplateDelegate | undefined;

export function renderPage(page: CustodyPage): string {
  // A separate environment: no helper or partial registered elsewhere can reach it.
  compiled ??= Handlebars.create().compile(readFileSync(TEMPLATE, "utf8"), { strict: true });
  return compiled({ warning: "", ...page, style: readFileSync(STYLE, "utf8") });
}

export const PRIVATE_FILE = 0o600;

/** Writes the page as HTML (and PDF when asked), readable by its owner only; returns the files. */
export function writePage(page: CustodyPage, htmlFile: string, options: { pdf: boolean; chromium?: string }): string[] {
  mkdirSync(dirname(htmlFile), { recursive: true, mode: 0o700 });
  const html = renderPage(page);
  writeFileSync(htmlFile, html, { mode: PRIVATE_FILE });
  chmodSync(htmlFile, PRIVATE_FILE);
  if (!options.pdf) return [htmlFile];
  const pdf = htmlFile.replace(/\.html$/, ".pdf");
  // Chromium writes where it is told; the file is made private before anything else reads the folder.
  const scratch = mkdtempSync(join(dirname(htmlFile), ".print-"));
  try {
    const printed = join(scratch, "page.pdf");
    printPdf(htmlFile, printed, options.chromium ? { chromium: options.chromium } : {});
    chmodSync(printed, PRIVATE_FILE);
    writeFileSync(pdf, readFileSync(printed), { mode: PRIVATE_FILE });
    chmodSync(pdf, PRIVATE_FILE);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return [htmlFile, pdf];
}

/** `--lang`: one of the documents' languages, else a usage error; absent, the association's. */
export function languageOption(value: string | undefined): Language | undefined {
  if (value === undefined) return undefined;
  if ((LANGUAGES as readonly string[]).includes(value)) return value as Language;
  throw new UsageError(`--lang ${value}: must be ${LANGUAGES.join(" or ")}`);
}
