// The association file's members as the sheet `members import` reads: the same columns, in
// the association's language, with the ids so that a re-import keeps them even when an
// e-mail changed. French spreadsheets separate cells with `;` (the comma is their decimal
// mark), English ones with `,`.
import { stringify } from "csv-stringify/sync";
import type { Association } from "../schema.ts";

const HEADERS = {
  fr: ["Identifiant", "Nom", "E-mail", "Rôle", "Équipes", "Appareils", "Langue"],
  en: ["Id", "Name", "E-mail", "Role", "Teams", "Devices", "Language"],
} as const;

/**
 * A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection"):
 * a member's name must not become one on the admin's machine. The leading apostrophe makes it
 * text in Excel and LibreOffice; the import takes it off (sheet.ts `FORMULA_GUARD`).
 */
export const guardFormula = (cell: string) => (/^[=+\-@]/.test(cell) ? `'${cell}` : cell);

export function exportCsv(config: Association, options: { bom: boolean }): string {
  const language = config.organisation.language;
  const teamName = new Map(config.teams.map((t) => [t.id, t.name]));
  const rows = config.members.map((m) => [
    m.id,
    m.name,
    m.email,
    m.role,
    // A name with a separator in it would read back as two teams: its id stands for it.
    m.teams.map((t) => (/[,;\n]/.test(teamName.get(t) ?? ",") ? t : teamName.get(t)!)).join(", "),
    String(m.devices.length),
    m.language ?? "",
  ]);
  return stringify([[...HEADERS[language]], ...rows.map((row) => row.map(guardFormula))], { delimiter: language === "fr" ? ";" : ",", bom: options.bom, record_delimiter: "windows" });
}
