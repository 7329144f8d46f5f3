// A member spreadsheet as rows of known fields, each with the line it came from. The columns
// are the ones an association already keeps, headed in French or English; the rest (phone,
// address...) is left out of the association file and named in the summary.
//
// CSV is read by csv-parse (adaltas/node-csv): `,`, `;` or tab, UTF-8 with or without its
// byte-order mark, CRLF, LF or CR line ends, quoted cells with the delimiter or line breaks.
// An .xlsx workbook's first sheet is read by read-excel-file (catamphetamine/read-excel-file).
import { parse as parseCsv, CsvError } from "csv-parse/sync";
import { readSheet as readXlsxSheet } from "read-excel-file/node";
import { ConfigError, type ConfigProblem } from "../load.ts";
import { shown } from "../fields.ts";
import { foldWord } from "./ids.ts";

export const FIELDS = ["id", "name", "givenName", "surname", "email", "role", "teams", "devices", "language"] as const;
export type Field = (typeof FIELDS)[number];

/**
 * Headers as written in French and English lists, compared folded (accents, case, spaces,
 * hyphens and apostrophes left out: "Nombre d'appareils" → nombredappareils).
 */
const HEADERS: Record<Field, string[]> = {
  id: ["id", "identifiant", "login", "username", "userid"],
  name: ["nom", "name", "nomcomplet", "fullname", "nometprenom", "prenometnom", "prenomnom", "nomprenom", "displayname", "membre", "member", "personne"],
  givenName: ["prenom", "prenoms", "firstname", "givenname", "forename"],
  surname: ["nomdefamille", "nomfamille", "lastname", "surname", "familyname"],
  email: ["email", "mail", "courriel", "adressemail", "adresseemail", "adressecourriel", "adresseelectronique", "emailaddress"],
  role: ["role", "statut", "status"],
  teams: ["equipe", "equipes", "team", "teams", "groupe", "groupes", "group", "groups", "pole", "poles"],
  devices: ["appareils", "appareil", "appareilsvpn", "nombredappareils", "nbappareils", "vpn", "devices", "device", "numberofdevices", "vpndevices"],
  language: ["langue", "language", "lang"],
};

const headerKey = (header: string) => foldWord(header).replace(/-/g, "");

export interface SheetRow {
  /** The line of the sheet the row starts on (1 is the header). */
  line: number;
  cells: Partial<Record<Field, string>>;
}

export interface Sheet {
  source: string;
  /** Each recognised field and its header as written. */
  headers: Partial<Record<Field, string>>;
  /** Headers of the columns left out. */
  ignored: string[];
  rows: SheetRow[];
}

/** A problem at a cell: the header as written names the column. */
export const cellProblem = (line: number, header: string | undefined, message: string): ConfigProblem => ({
  path: header === undefined ? "" : `column ${shown(header)}`,
  line,
  message,
});

export const sheetError = (source: string, problems: ConfigProblem[]) => new ConfigError(source, problems, "cannot be imported");

const DELIMITERS = [";", ",", "\t"] as const;

/** The delimiter the header line uses most, outside quotes; a one-column sheet has none and gets `,`. */
export function headerDelimiter(text: string): string {
  const counts = new Map<string, number>();
  let quoted = false;
  for (const char of text) {
    if (char === '"') quoted = !quoted;
    else if (!quoted && char === "\n") break;
    else if (!quoted && (DELIMITERS as readonly string[]).includes(char)) counts.set(char, (counts.get(char) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? ",";
}

/** The text of a UTF-8 file, without its byte-order mark; another encoding is refused with the line of its first foreign byte. */
export function decodeUtf8(bytes: Uint8Array, source: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    const lenient = new TextDecoder("utf-8").decode(bytes);
    const line = lenient.slice(0, lenient.indexOf("\uFFFD")).split("\n").length;
    throw sheetError(source, [
      cellProblem(line, undefined, "is not UTF-8 text (probably Windows-1252 or Latin-1): save the sheet as \"CSV UTF-8\" (Excel) or with the character set \"Unicode (UTF-8)\" (LibreOffice), then import it again"),
    ]);
  }
}

const CSV_FIXES: Partial<Record<string, string>> = {
  // csv-parse reports the line it reached, the file's end: the quote is on a line above.
  CSV_QUOTE_NOT_CLOSED: "the sheet ends inside a quoted cell: a quote (\") on this line or one above is never closed; close it or remove it",
  CSV_RECORD_INCONSISTENT_FIELDS_LENGTH: "this line has more cells than the header has columns: a cell holds the delimiter without quotes around it; quote that cell or remove the extra delimiter",
  CSV_INVALID_CLOSING_QUOTE: "text follows a closing quote in the same cell; put the whole cell between quotes, with any quote inside it doubled (\"\")",
  INVALID_OPENING_QUOTE: "a quote (\") appears inside a cell that does not start with one; put the whole cell between quotes, with the quote doubled (\"\")",
};

function csvRecords(text: string, source: string): { line: number; cells: string[] }[] {
  // One kind of line end, so that csv-parse counts lines as an editor does.
  const lines = text.replace(/\r\n?/g, "\n");
  try {
    const records = parseCsv(lines, {
      delimiter: headerDelimiter(lines),
      info: true,
      skip_empty_lines: true,
      relax_column_count_less: true,
    }) as unknown as { info: { lines: number }; record: string[] }[];
    // info.lines is the line a record ends on; a quoted cell may span several.
    return records.map(({ info, record }) => ({ line: info.lines - record.join("").split("\n").length + 1, cells: record }));
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    const line = typeof error.lines === "number" ? error.lines : undefined;
    throw sheetError(source, [{ path: "", ...(line ? { line } : {}), message: CSV_FIXES[error.code] ?? `cannot be read as CSV: ${error.message}` }]);
  }
}

/** Which field each column holds; a field headed twice is refused naming both columns. */
function recogniseHeaders(headers: string[], source: string): { fieldOf: (Field | undefined)[]; headers: Sheet["headers"]; ignored: string[] } {
  const keys = headers.map(headerKey);
  const hasGivenName = keys.some((k) => HEADERS.givenName.includes(k));
  const fieldOf = keys.map((key): Field | undefined => {
    // "Nom" beside "Prénom" is the surname, alone it is the whole name.
    if (hasGivenName && ["nom", "name"].includes(key)) return "surname";
    return FIELDS.find((field) => HEADERS[field].includes(key));
  });
  const found: Sheet["headers"] = {};
  const problems: ConfigProblem[] = [];
  fieldOf.forEach((field, i) => {
    if (!field) return;
    if (found[field] !== undefined) problems.push(cellProblem(1, headers[i], `holds the same thing as column ${shown(found[field])}; keep one of the two, or rename one`));
    else found[field] = headers[i]!;
  });
  if (found.email === undefined)
    problems.push(cellProblem(1, undefined, `has no e-mail column: head one "E-mail" (or Courriel, Email) (found ${headers.map((h) => shown(h)).join(", ")})`));
  if (found.name === undefined && (found.givenName === undefined || found.surname === undefined))
    problems.push(cellProblem(1, undefined, `has no name column: head one "Nom" (or Name), or two "Prénom" and "Nom" (found ${headers.map((h) => shown(h)).join(", ")})`));
  if (found.name !== undefined && (found.givenName !== undefined || found.surname !== undefined))
    problems.push(cellProblem(1, found.name, `gives the whole name, and other columns give parts of it; keep either the whole name or "Prénom" and "Nom de famille"`));
  if (problems.length > 0) throw sheetError(source, problems);
  const ignored = headers.filter((h, i) => fieldOf[i] === undefined && h.trim() !== "");
  return { fieldOf, headers: found, ignored };
}

/** Rows of known fields from CSV text (BOM already removed or not). */
export function readCsv(text: string, source: string): Sheet {
  return sheetOf(csvRecords(text.replace(/^\uFEFF/, ""), source), source);
}

/** The apostrophe export.ts `guardFormula` puts before a cell a spreadsheet would run as a formula. */
const FORMULA_GUARD = /^'(?=[=+\-@])/;

/** Rows of known fields from a grid of cells (the first record is the header). */
export function sheetOf(records: { line: number; cells: string[] }[], source: string): Sheet {
  const [header, ...body] = records;
  if (!header) throw sheetError(source, [{ path: "", message: "is empty: it needs a header line (Nom;E-mail;Rôle;Équipes;Appareils) and one line per member" }]);
  const { fieldOf, headers, ignored } = recogniseHeaders(header.cells.map((c) => c.trim()), source);
  const rows = body
    .map(({ line, cells }) => {
      const known: SheetRow["cells"] = {};
      cells.forEach((cell, i) => {
        const field = fieldOf[i];
        if (field) known[field] = cell.trim().replace(FORMULA_GUARD, "");
      });
      return { line, cells: known };
    })
    // A line of empty cells (;;;;) is a spacer, not a member.
    .filter((row) => Object.values(row.cells).some((cell) => cell !== ""));
  return { source, headers, ignored, rows };
}

/** A cell of a workbook as the text a CSV would hold: numbers as written, dates as YYYY-MM-DD. */
function cellText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  return String(value);
}

/** Rows of known fields from the first sheet of an .xlsx workbook; a sheet's row number is its line. */
export async function readXlsx(bytes: Buffer, source: string): Promise<Sheet> {
  let rows: unknown[][];
  try {
    rows = await readXlsxSheet(bytes);
  } catch (error) {
    throw sheetError(source, [{ path: "", message: `cannot be read as an .xlsx workbook (${(error as Error).message}); open it in a spreadsheet and save it again as .xlsx or as CSV UTF-8` }]);
  }
  return sheetOf(rows.map((cells, i) => ({ line: i + 1, cells: cells.map(cellText) })), source);
}
