// The DPO's documents as data: the register of processing activities (GDPR art. 30(1)),
// the retention schedule, the data location and the security measures (art. 32), in
// one language, from the validated config alone. register.json is this object; the
// HTML and PDF are rendered from it.
import { z } from "zod";
import type { Association } from "../../stacks/config/schema.ts";
import {
  DATA_SUBJECTS,
  LANGUAGES,
  LEGAL_BASES,
  SERVICE_NAMES,
  type DataCategory,
  type Language,
} from "../rgpd/model.ts";
import { processingActivities } from "../rgpd/register.ts";
import { connectionsWithoutPersonalData, DEPLOYMENT_STATE, hosting, recipients, storage, type Recipient } from "./location.ts";
import { securityMeasures } from "./security.ts";
import { boundsText, citation, countryName, inCountry, formatDate, frenchTypography, LABELS, periodText, prose, STATUS_LABELS, TITLES } from "./text.ts";

export const REGISTER_FORMAT = "bastide-register/1";

const text = z.string().trim().min(1);
const service = z.enum(SERVICE_NAMES);

const categorySchema = z.strictObject({
  id: text,
  name: text,
  data: text,
  purpose: text,
  legalBasis: z.strictObject({ article: z.string().regex(/^6\(1\)\([a-f]\)$/), citation: text, label: text, justification: text }),
  dataSubjects: z.array(text).min(1),
  recipients: z.array(text).min(1),
  retention: z.strictObject({
    kind: z.enum(["days", "account", "rotation", "session", "lifespan"]),
    period: text,
    setting: text,
    configurable: z.boolean(),
    bounds: text,
    note: text.nullable(),
  }),
  enforcedBy: z.strictObject({ how: text, mechanism: text }),
  auditable: z.boolean(),
});

const activitySchema = z.strictObject({
  service,
  name: text,
  purposes: z.array(text).min(1),
  dataSubjects: z.array(text).min(1),
  categories: z.array(categorySchema).min(1),
  recipients: z.array(text).min(1),
  transfers: text,
});

export const registerDocumentSchema = z.strictObject({
  format: z.literal(REGISTER_FORMAT),
  language: z.enum(LANGUAGES),
  title: text,
  generatedOn: z.iso.date(),
  generatedOnText: text,
  /** The config file the documents come from, when known. */
  source: text.nullable(),
  controller: z.strictObject({
    name: text,
    address: text.nullable(),
    contact: z.email(),
    country: z.string().length(2),
    countryName: text,
    domain: text,
  }),
  dpo: z.strictObject({ name: text, email: z.email() }),
  activities: z.array(activitySchema).min(1),
  retentionSchedule: z
    .array(
      z.strictObject({
        service,
        serviceName: text,
        categoryId: text,
        category: text,
        period: text,
        setting: text,
        bounds: text,
        mechanism: text,
        auditable: z.boolean(),
      }),
    )
    .min(1),
  location: z.strictObject({
    target: z.enum(["local", "ssh", "hetzner", "scaleway"]),
    provider: text,
    providerCountry: text.nullable(),
    country: text.nullable(),
    countryName: text.nullable(),
    region: text.nullable(),
    statement: text,
    deploymentState: text,
    recipients: z.array(
      z.strictObject({
        name: text,
        kind: z.enum(["processor", "third-party"]),
        role: text,
        country: text,
        data: text,
        when: text,
        outsideEu: z.boolean(),
      }),
    ),
    storage: z.array(z.strictObject({ service, volume: text, holds: text })).min(1),
    connectionsWithoutPersonalData: z.array(z.strictObject({ name: text, purpose: text })),
  }),
  transfers: z.strictObject({
    outsideEu: z.boolean(),
    statement: text,
    exceptions: z.array(z.strictObject({ recipient: text, data: text, when: text })),
  }),
  security: z
    .array(
      z.strictObject({
        id: text,
        title: text,
        status: z.enum(["in-place", "partial", "not-provided"]),
        statusLabel: text,
        detail: text,
      }),
    )
    .min(1),
});

export type RegisterDocument = z.infer<typeof registerDocumentSchema>;

export interface DocumentOptions {
  language: Language;
  /** The date the documents bear. */
  generatedAt: Date;
  source?: string;
}

const unique = (items: string[]) => [...new Set(items)];

function category(c: DataCategory, language: Language): z.infer<typeof categorySchema> {
  const say = prose(language);
  const { retention } = c;
  return {
    id: c.id,
    name: say(c.name),
    data: say(c.data),
    purpose: say(c.purpose),
    legalBasis: {
      article: `6(1)(${c.legalBasis.article})`,
      citation: citation(c.legalBasis.article, language),
      label: say(LEGAL_BASES[c.legalBasis.article]),
      justification: say(c.legalBasis.justification),
    },
    dataSubjects: c.dataSubjects.map((s) => say(DATA_SUBJECTS[s])),
    recipients: c.recipients.map(say),
    retention: {
      kind: retention.period.kind,
      period: periodText(retention.period, language),
      setting: retention.setting,
      configurable: retention.configurable,
      bounds: boundsText(retention.bounds, language),
      note: retention.note ? say(retention.note) : null,
    },
    enforcedBy: { how: say(c.enforcedBy.how), mechanism: c.enforcedBy.mechanism },
    auditable: c.auditable,
  };
}

function transfersOf(list: Recipient[], where: string, language: Language): string {
  const say = prose(language);
  const outside = list.filter((r) => r.outsideEu);
  if (outside.length === 0) return say({ fr: `Aucun : les données restent ${where}.`, en: `None: the data stay ${where}.` });
  const items = (lang: Language) => outside.map((r) => `${r.name[lang]} (${prose(lang)(r.country)}), ${prose(lang)(r.when)}`);
  return say({
    fr: `Aucun pour le stockage, qui reste ${where}. Exceptions : ${items("fr").join(" ; ")}.`,
    en: `None for storage, which stays ${where}. Exceptions: ${items("en").join("; ")}.`,
  });
}

export function registerDocument(config: Association, options: DocumentOptions): RegisterDocument {
  const { language } = options;
  const say = prose(language);
  const host = hosting(config);
  const thirdParties = recipients(config);
  const country = host.country ? countryName(host.country, language) : undefined;
  const where = host.country
    ? say({ fr: `sur le serveur, ${inCountry(host.country, "fr")}`, en: `on the server, ${inCountry(host.country, "en")}` })
    : say({ fr: "sur la machine de test", en: "on the test machine" });
  const processor = thirdParties.find((r) => r.kind === "processor");
  const processorLine = processor
    ? say({ fr: `${processor.name.fr}, hébergeur (sous-traitant)`, en: `${processor.name.en}, hosting provider (processor)` })
    : undefined;

  const activities = processingActivities(config).map(({ activity, categories }) => {
    const docs = categories.map((c) => category(c, language));
    return {
      service: activity.service,
      name: say(activity.name),
      purposes: unique([say(activity.purpose), ...docs.map((c) => c.purpose)]),
      dataSubjects: unique(docs.flatMap((c) => c.dataSubjects)),
      categories: docs,
      recipients: unique([...docs.flatMap((c) => c.recipients), ...(processorLine ? [processorLine] : [])]),
      transfers: transfersOf(thirdParties.filter((r) => r.service === activity.service), where, language),
    };
  });

  const outside = thirdParties.filter((r) => r.outsideEu);
  const document: RegisterDocument = {
    format: REGISTER_FORMAT,
    language,
    title: TITLES[language],
    generatedOn: options.generatedAt.toISOString().slice(0, 10),
    generatedOnText: formatDate(options.generatedAt, language),
    source: options.source ?? null,
    controller: {
      name: config.organisation.name,
      address: config.organisation.address ?? null,
      contact: config.organisation.contact,
      country: config.organisation.country,
      countryName: countryName(config.organisation.country, language),
      domain: config.domain,
    },
    dpo: { name: config.organisation.dpo.name, email: config.organisation.dpo.email },
    activities,
    retentionSchedule: activities.flatMap((a) =>
      a.categories.map((c) => ({
        service: a.service,
        serviceName: a.name,
        categoryId: c.id,
        category: c.name,
        period: c.retention.period,
        setting: c.retention.setting,
        bounds: c.retention.bounds,
        mechanism: c.enforcedBy.mechanism,
        auditable: c.auditable,
      })),
    ),
    location: {
      target: host.target,
      provider: say(host.provider),
      providerCountry: host.providerCountry ? countryName(host.providerCountry, language) : null,
      country: host.country ?? null,
      countryName: country ?? null,
      region: host.region ? say(host.region) : null,
      statement: say(host.statement),
      deploymentState: say(DEPLOYMENT_STATE),
      recipients: thirdParties.map((r) => ({
        name: r.name[language],
        kind: r.kind,
        role: say(r.role),
        country: say(r.country),
        data: say(r.data),
        when: say(r.when),
        outsideEu: r.outsideEu,
      })),
      storage: storage(config).map((v) => ({ service: v.service, volume: v.volume, holds: say(v.holds) })),
      connectionsWithoutPersonalData: connectionsWithoutPersonalData(config).map((c) => ({ name: c.name, purpose: say(c.purpose) })),
    },
    transfers: {
      outsideEu: outside.length > 0,
      statement:
        outside.length === 0
          ? say({ fr: `Aucun transfert hors de l'Espace économique européen : les données restent ${where}.`, en: `No transfer outside the European Economic Area: the data stay ${where}.` })
          : say({
              fr: `Les données sont stockées ${where}${country ? ", dans l'Espace économique européen," : ""} et n'en sortent pas pour leur stockage. Quelques données quittent l'Espace économique européen dans les cas ci-dessous, à connaître et à mentionner aux membres.`,
              en: `The data are stored ${where}${country ? ", in the European Economic Area," : ""} and do not leave it for storage. Some data leave the European Economic Area in the cases below, to be known and told to members.`,
            }),
      exceptions: outside.map((r) => ({ recipient: `${r.name[language]} (${say(r.country)})`, data: say(r.data), when: say(r.when) })),
    },
    security: securityMeasures(config).map((m) => ({
      id: m.id,
      title: say(m.title),
      status: m.status,
      statusLabel: say(STATUS_LABELS[m.status]),
      detail: say(m.detail),
    })),
  };
  // The schema is the contract of register.json: a document that breaks it is never written.
  return registerDocumentSchema.parse(document);
}

/** The labels of the document's language, with its typography. */
export function labelsFor(language: Language): Record<keyof (typeof LABELS)["fr"], string> {
  const labels = LABELS[language];
  return Object.fromEntries(
    Object.entries(labels).map(([key, value]) => [key, language === "fr" ? frenchTypography(value) : value]),
  ) as Record<keyof (typeof LABELS)["fr"], string>;
}
