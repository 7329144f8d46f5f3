// The audit on the admin's terminal: one line per check (rule, service, declared,
// observed, PASS/FAIL, read at), then the unreachable sources and the verdict. Long
// values are cut here; audit.json and audit.html keep them whole.
import type { AuditReport } from "./model.ts";

const WIDTHS = { rule: 56, service: 9, declared: 44, observed: 44, status: 6, readAt: 8 } as const;
const STATUS = { pass: "PASS", fail: "FAIL", unread: "UNREAD" } as const;

/** Cut to `width` characters, on one line. */
function cell(text: string, width: number): string {
  const flat = text.replace(/\s+/g, " ");
  const cut = flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
  return cut.padEnd(width);
}

const time = (iso: string) => iso.slice(11, 19);

export function consoleTable(report: AuditReport): string {
  const header = [
    cell("rule", WIDTHS.rule),
    cell("service", WIDTHS.service),
    cell("declared", WIDTHS.declared),
    cell("observed", WIDTHS.observed),
    cell("result", WIDTHS.status),
    "read at",
  ].join(" ");
  // Failures first, then what could not be read, then what passed.
  const order = { fail: 0, unread: 1, pass: 2 } as const;
  const rows = [...report.checks].sort((a, b) => order[a.status] - order[b.status]).map((c) =>
    [
      cell(c.subject ? `${c.rule} [${c.subject}]` : c.rule, WIDTHS.rule),
      cell(c.service, WIDTHS.service),
      cell(c.declared, WIDTHS.declared),
      cell(c.observed, WIDTHS.observed),
      cell(STATUS[c.status], WIDTHS.status),
      time(c.readAt),
    ].join(" "),
  );
  const lines = [header, "-".repeat(header.length), ...rows.map((r) => r.trimEnd())];
  if (report.unreachable.length > 0) {
    lines.push("", "Could not be read:");
    for (const u of report.unreachable) lines.push(`  ${u.service ?? "docker"}: ${u.source}: ${u.error}`);
  }
  const { total, passed, failed, unread } = report.summary;
  lines.push("", `${total} checks: ${passed} passed, ${failed} failed, ${unread} unread (read at UTC times).`);
  const verdict = {
    pass: "Every setting in force matches the config.",
    fail: "Some settings in force differ from the config: see the FAIL lines.",
    incomplete: "The audit is incomplete: some services could not be read (see above).",
  }[report.result];
  lines.push(verdict);
  return `${lines.join("\n")}\n`;
}
