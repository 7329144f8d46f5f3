// `npm run sheets -- <association.yaml> [--out DIR]`: every member's welcome sheet (HTML and
// text, as the handover folder holds them) and one PDF of all of them for the admin to print,
// printed by Chromium as the DPO's documents are (policies/reports/pdf.ts). From the file
// alone, offline. The sheets hold no secret; they name people and their addresses all the
// same, so the folders are 0700 and the files 0600, as in the handover folder.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { printPdf } from "../../policies/reports/pdf.ts";
import { loadAssociation } from "../../stacks/config/load.ts";
import { failure } from "../../stacks/offline/failure.ts";
import { desiredState } from "../desired.ts";
import { FILE_MODE, FOLDER_MODE, WELCOME_FILES } from "../handover/content.ts";
import { welcomeBooklet, welcomeSheets } from "./sheet.ts";

export const BOOKLET_FILE = "welcome-sheets.pdf";

const USAGE = `usage: npm run sheets -- <association.yaml> [--out DIR]
  writes each member's welcome sheet (DIR/<member>/welcome.html, welcome.txt) and all of
  them in one printable PDF (DIR/${BOOKLET_FILE}); DIR defaults to out/welcome.`;

export interface SheetFiles {
  members: Record<string, { html: string; text: string }>;
  pdf?: string;
}

function privateFolder(path: string): string {
  mkdirSync(path, { recursive: true, mode: FOLDER_MODE });
  // The umask may have taken bits away; mkdir never changes an existing folder's.
  chmodSync(path, FOLDER_MODE);
  return path;
}

function privateFile(path: string, content: string | Buffer): string {
  writeFileSync(path, content, { mode: FILE_MODE });
  chmodSync(path, FILE_MODE);
  return path;
}

export async function writeSheets(options: { file: string; out: string; pdf: boolean; chromium?: string }): Promise<SheetFiles> {
  const config = loadAssociation(options.file);
  const sheets = await welcomeSheets(config, desiredState(config));
  const out = privateFolder(resolve(options.out));
  const files: SheetFiles = { members: {} };
  for (const member of config.members) {
    const sheet = sheets[member.id]!;
    const folder = privateFolder(join(out, member.id));
    files.members[member.id] = {
      html: privateFile(join(folder, WELCOME_FILES.html), sheet.html),
      text: privateFile(join(folder, WELCOME_FILES.text), sheet.text),
    };
  }
  if (options.pdf) {
    // Chromium reads the booklet from a private scratch folder, removed afterwards.
    const scratch = mkdtempSync(join(out, ".booklet-"));
    try {
      const html = privateFile(join(scratch, "booklet.html"), welcomeBooklet(config, sheets));
      const pdf = join(out, BOOKLET_FILE);
      printPdf(html, pdf, options.chromium ? { chromium: options.chromium } : {});
      chmodSync(pdf, FILE_MODE);
      files.pdf = pdf;
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  return files;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { out: { type: "string", default: "out/welcome" }, "no-pdf": { type: "boolean", default: false }, help: { type: "boolean", short: "h", default: false } },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const file = positionals[0];
  if (!file) throw new Error(`which association file? ${USAGE}`);
  const files = await writeSheets({ file, out: values.out!, pdf: !values["no-pdf"] });
  console.log(`${Object.keys(files.members).length} welcome sheets written under ${resolve(values.out!)} (files 0600)`);
  if (files.pdf) console.log(`all of them in one PDF to print: ${files.pdf}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(failure(error));
    process.exit(1);
  });
}
