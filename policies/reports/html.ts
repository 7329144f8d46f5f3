// The DPO's documents as one self-contained HTML page: inline CSS, no script, no
// external font or image, print rules for A4. Unlike the config templates, every
// value is HTML-escaped: the organisation's name and members' words are text, never markup.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import Handlebars from "handlebars";
import type { RegisterDocument } from "./document.ts";
import { labelsFor } from "./document.ts";
import type { CompanionDocument } from "./companions.ts";

const TEMPLATES = {
  register: fileURLToPath(new URL("../../templates/reports/register.hbs", import.meta.url)),
  companion: fileURLToPath(new URL("../../templates/reports/companion.hbs", import.meta.url)),
};
/** The print style every document shares: Bastide's own file, inlined as is. */
const STYLE = fileURLToPath(new URL("../../templates/reports/document.css", import.meta.url));

const compiled = new Map<keyof typeof TEMPLATES, HandlebarsTemplateDelegate>();

function template(name: keyof typeof TEMPLATES): HandlebarsTemplateDelegate {
  // A separate environment: no helper or partial registered elsewhere can reach it.
  if (!compiled.has(name)) compiled.set(name, Handlebars.create().compile(readFileSync(TEMPLATES[name], "utf8"), { strict: true }));
  return compiled.get(name)!;
}

const style = () => readFileSync(STYLE, "utf8");

/**
 * What prose names that is not prose: a config setting (`services.proxy.acmeCa`,
 * `services.vpn.enabled: false`), a program's constant or capability (`LOG_FILE → /dev/null`,
 * `NET_ADMIN`), a URL path (`/admin`).
 */
const SETTING =
  /\b(?:organisation|services|members|departures|host|mail)(?:\.[A-Za-z0-9_[\]]+)+(?::\s*(?:true|false|\d+|[a-z]+\b))?|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b(?: → \S+[^\s).,;])?|(?<=[\s(])\/[\w./*-]*[\w*]/g;

export interface Segment {
  text: string;
  code: boolean;
}

/** Prose cut where it names a setting, so that the template sets the setting apart as code. */
export function segments(text: string): Segment[] {
  const parts: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(SETTING)) {
    if (match.index > last) parts.push({ text: text.slice(last, match.index), code: false });
    parts.push({ text: match[0], code: true });
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push({ text: text.slice(last), code: false });
  return parts;
}

/** What the template reads: the document, its labels, and the joins and groupings it may not compute. */
export function htmlView(document: RegisterDocument) {
  const labels = labelsFor(document.language);
  const join = (items: string[]) => items.join(labels.listSeparator);
  const services = [...new Set(document.retentionSchedule.map((r) => r.service))];
  const logs = document.commonLogs;
  const commonRow = {
    category: logs.name,
    period: logs.retention.period,
    bounds: logs.retention.bounds,
    setting: logs.retention.setting,
    mechanism: logs.enforcedBy.mechanism,
    auditableText: logs.auditable ? labels.yes : labels.no,
  };
  return {
    ...document,
    labels,
    activities: document.activities.map((a) => ({
      ...a,
      securityText: join(a.security),
      categories: a.categories.map((c) => ({
        ...c,
        dataSubjectsText: join(c.dataSubjects),
        recipientsText: join(c.recipients),
        noteParts: c.retention.note ? segments(c.retention.note) : [],
        howParts: segments(c.enforcedBy.how),
      })),
    })),
    security: document.security.map((m) => ({ ...m, detailParts: segments(m.detail) })),
    securityTechnical: document.security.filter((m) => m.technical !== null),
    commonLogs: { ...logs, recipientsText: join(logs.recipients) },
    commonLogsServices: join(logs.services),
    schedule: [
      ...services.map((service) => {
        const rows = document.retentionSchedule.filter((r) => r.service === service);
        return { serviceName: rows[0]!.serviceName, rows: rows.map((r) => ({ ...r, auditableText: r.auditable ? labels.yes : labels.no })) };
      }),
      { serviceName: labels.commonLogsHeading, rows: [commonRow] },
    ],
    transferSettings: document.activities.flatMap((a) => a.transfers.list.flatMap((t) => (t.setting ? [{ recipient: t.recipient, setting: t.setting }] : []))),
  };
}

export function renderHtml(document: RegisterDocument): string {
  return template("register")({ ...htmlView(document), style: style() });
}

export function renderCompanionHtml(document: CompanionDocument): string {
  const labels = labelsFor(document.language);
  return template("companion")({
    ...document,
    labels,
    style: style(),
    sections: document.sections.map((s) => ({ ...s, emptyTable: s.table !== null && s.table.rows.every((row) => row.every((cell) => cell === "")) })),
  });
}
