// The audit as one self-contained HTML page for the DPO: inline CSS, no script, no
// external resource. Every value is HTML-escaped: what the services answer is text,
// never markup.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import Handlebars from "handlebars";
import type { AuditReport } from "./model.ts";
import { AUDIT_LABELS, formatTime } from "./report.ts";

const TEMPLATE = fileURLToPath(new URL("../../templates/audit/audit.hbs", import.meta.url));

let compiled: HandlebarsTemplateDelegate | undefined;

function template(): HandlebarsTemplateDelegate {
  // A separate environment: no helper or partial registered elsewhere can reach it.
  compiled ??= Handlebars.create().compile(readFileSync(TEMPLATE, "utf8"), { strict: true });
  return compiled;
}

const STATUS_ORDER = { fail: 0, unread: 1, pass: 2 } as const;

/** The place of a service's worst check, so that a service with a failure comes first. */
const worst = (report: AuditReport, service: string) =>
  Math.min(...report.checks.filter((c) => c.service === service).map((c) => STATUS_ORDER[c.status]));

/** What the template reads: the report, its labels, and the groupings it may not compute. */
export function auditView(report: AuditReport) {
  const labels = AUDIT_LABELS[report.language];
  const services = [...new Set(report.checks.map((c) => c.service))];
  return {
    ...report,
    labels,
    resultText: labels.results[report.result],
    hasUnreachable: report.unreachable.length > 0,
    unreachable: report.unreachable.map((u) => ({ ...u, serviceText: u.service ?? labels.host })),
    categories: report.categories.map((c) => ({ ...c, statusText: labels.statuses[c.status], rulesText: c.rules.join(", ") })),
    brief: { pass: labels.briefPass, fail: labels.briefFail, incomplete: labels.briefIncomplete }[report.result],
    failures: report.checks.filter((c) => c.status === "fail"),
    unread: report.checks.filter((c) => c.status === "unread"),
    // Failures first, then what could not be read, then what passed; each service's block in the same order.
    services: [...services]
      .sort((a, b) => worst(report, a) - worst(report, b))
      .map((service) => ({
        service,
        checks: report.checks
          .filter((c) => c.service === service)
          .sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status])
          .map((c) => ({ ...c, subjectText: c.subject ?? "", statusText: labels.statuses[c.status], readAtText: formatTime(c.readAt, report.language) })),
      })),
  };
}

export function renderAuditHtml(report: AuditReport): string {
  return template()(auditView(report));
}
