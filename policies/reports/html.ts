// The DPO's documents as one self-contained HTML page: inline CSS, no script, no
// external font or image, print rules for A4. Unlike the config templates, every
// value is HTML-escaped: the organisation's name and members' words are text, never markup.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import Handlebars from "handlebars";
import type { RegisterDocument } from "./document.ts";
import { labelsFor } from "./document.ts";

const TEMPLATE = fileURLToPath(new URL("../../templates/reports/register.hbs", import.meta.url));

let compiled: HandlebarsTemplateDelegate | undefined;

function template(): HandlebarsTemplateDelegate {
  // A separate environment: no helper or partial registered elsewhere can reach it.
  compiled ??= Handlebars.create().compile(readFileSync(TEMPLATE, "utf8"), { strict: true });
  return compiled;
}

/** What the template reads: the document, its labels, and the joins and groupings it may not compute. */
export function htmlView(document: RegisterDocument) {
  const labels = labelsFor(document.language);
  const join = (items: string[]) => items.join(labels.listSeparator);
  const services = [...new Set(document.retentionSchedule.map((r) => r.service))];
  return {
    ...document,
    labels,
    activities: document.activities.map((a) => ({
      ...a,
      categories: a.categories.map((c) => ({ ...c, dataSubjectsText: join(c.dataSubjects), recipientsText: join(c.recipients) })),
    })),
    schedule: services.map((service) => {
      const rows = document.retentionSchedule.filter((r) => r.service === service);
      return { serviceName: rows[0]!.serviceName, rows: rows.map((r) => ({ ...r, auditableText: r.auditable ? labels.yes : labels.no })) };
    }),
  };
}

export function renderHtml(document: RegisterDocument): string {
  return template()(htmlView(document));
}
