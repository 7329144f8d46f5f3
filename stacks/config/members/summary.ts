// What an import would change, for the admin to read before anything is written.
import { terminalSafe } from "../load.ts";
import type { Member } from "../schema.ts";
import type { ImportedMember, ImportPlan } from "./merge.ts";

const safe = (text: string) => terminalSafe(text, 120);

function describe(member: ImportedMember): string {
  const details = [member.role, member.teams.length ? `teams ${member.teams.join(", ")}` : "", member.devices.length ? `${member.devices.length} VPN device(s)` : ""];
  return `${member.id}  ${safe(member.name)} <${safe(member.email)}>  ${details.filter(Boolean).join("; ")}  (line ${member.line})`;
}

const leaver = (member: Member) => `${member.id}  ${safe(member.name)} <${safe(member.email)}>`;

export function formatPlan(plan: ImportPlan, graceDays: number): string {
  const out: string[] = [];
  const section = (title: string, lines: string[]) => {
    if (lines.length) out.push(`${title}:`, ...lines.map((l) => `  ${l}`));
  };
  section(`${plan.arriving.length} member(s) arrive`, plan.arriving.map(describe));
  section(
    `${plan.changing.length} member(s) change`,
    plan.changing.map(({ member, changes }) => `${member.id} (line ${member.line}): ${changes.map((c) => `${c.field} ${safe(c.from)} → ${safe(c.to)}`).join("; ")}`),
  );
  section(
    `${plan.leaving.length} member(s) are not in the sheet: they would leave (accounts disabled at the next pulumi up, data erased ${graceDays} days later)`,
    plan.leaving.map(leaver),
  );
  section(`${plan.newTeams.length} new team(s), each with a calendar and a chat room`, plan.newTeams.map((t) => `${t.id}  ${safe(t.name)}`));
  const unchanged = plan.members.length - plan.arriving.length - plan.changing.length;
  out.push(`${unchanged} member(s) unchanged.`);
  if (plan.ignoredColumns.length) out.push(`Columns left out of the association file: ${plan.ignoredColumns.map(safe).join(", ")}.`);
  return `${out.join("\n")}\n`;
}

export const hasChanges = (plan: ImportPlan) => plan.arriving.length + plan.changing.length + plan.leaving.length + plan.newTeams.length > 0;
