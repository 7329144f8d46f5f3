// What an import would change, for the admin to read before anything is written, in the
// association's language.
import { terminalSafe } from "../load.ts";
import type { Member } from "../schema.ts";
import type { ImportedMember, ImportPlan } from "./merge.ts";

export type Language = "fr" | "en";

/** The French or the English of a message, as the association's language asks. */
export const inLanguage = (language: Language) => (fr: string, en: string) => (language === "fr" ? fr : en);

const safe = (text: string) => terminalSafe(text, 120);

const FIELD_NAMES: Record<string, string> = { name: "nom", email: "e-mail", role: "rôle", teams: "équipes", devices: "appareils", language: "langue" };

export function formatPlan(plan: ImportPlan, graceDays: number, language: Language): string {
  const say = inLanguage(language);
  const out: string[] = [];
  const section = (title: string, lines: string[]) => {
    if (lines.length) out.push(`${title}:`, ...lines.map((l) => `  ${l}`));
  };
  const describe = (member: ImportedMember) => {
    const details = [
      member.role,
      member.teams.length ? `${say("équipes", "teams")} ${member.teams.join(", ")}` : "",
      member.devices.length ? say(`${member.devices.length} appareil(s) VPN`, `${member.devices.length} VPN device(s)`) : "",
    ];
    return `${member.id}  ${safe(member.name)} <${safe(member.email)}>  ${details.filter(Boolean).join("; ")}  (${say("ligne", "line")} ${member.line})`;
  };
  const leaver = (member: Member) => `${member.id}  ${safe(member.name)} <${safe(member.email)}>`;
  const field = (name: string) => say(FIELD_NAMES[name] ?? name, name);

  section(say(`${plan.arriving.length} membre(s) arrivent`, `${plan.arriving.length} member(s) arrive`), plan.arriving.map(describe));
  section(
    say(`${plan.changing.length} membre(s) changent`, `${plan.changing.length} member(s) change`),
    plan.changing.map(({ member, changes }) => `${member.id} (${say("ligne", "line")} ${member.line}): ${changes.map((c) => `${field(c.field)} ${safe(c.from)} → ${safe(c.to)}`).join("; ")}`),
  );
  section(
    say(
      `${plan.leaving.length} membre(s) absents de la liste : ils partiraient (comptes désactivés au prochain pulumi up, données effacées ${graceDays} jours plus tard)`,
      `${plan.leaving.length} member(s) are not in the sheet: they would leave (accounts disabled at the next pulumi up, data erased ${graceDays} days later)`,
    ),
    plan.leaving.map(leaver),
  );
  section(
    say(`${plan.newTeams.length} nouvelle(s) équipe(s), chacune avec un agenda et un salon de discussion`, `${plan.newTeams.length} new team(s), each with a calendar and a chat room`),
    plan.newTeams.map((t) => `${t.id}  ${safe(t.name)}`),
  );
  const unchanged = plan.members.length - plan.arriving.length - plan.changing.length;
  out.push(say(`${unchanged} membre(s) inchangé(s).`, `${unchanged} member(s) unchanged.`));
  if (plan.ignoredColumns.length)
    out.push(say(`Colonnes laissées hors du fichier de l'association : ${plan.ignoredColumns.map(safe).join(", ")}.`, `Columns left out of the association file: ${plan.ignoredColumns.map(safe).join(", ")}.`));
  return `${out.join("\n")}\n`;
}

export const hasChanges = (plan: ImportPlan) => plan.arriving.length + plan.changing.length + plan.leaving.length + plan.newTeams.length > 0;
