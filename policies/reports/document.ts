// The DPO's documents as data: the register of processing activities (GDPR art. 30(1)),
// the retention schedule, the data location and the security measures (art. 32), in
// one language, from the validated config alone. register.json is this object; the
// HTML and PDF are rendered from it.
import { z } from "zod";
import type { Association } from "../../stacks/config/schema.ts";
import type { ServiceName } from "../../stacks/services/blueprint.ts";
import {
  DATA_SUBJECTS,
  LANGUAGES,
  LEGAL_BASES,
  SERVICE_NAMES,
  type DataCategory,
  type Language,
} from "../rgpd/model.ts";
import { processingActivities } from "../rgpd/register.ts";
import { emptyHistory, fingerprint, updateHistory, type RegisterHistory } from "../rgpd/history.ts";
import { dpoAdmin } from "../../stacks/config/cross-field.ts";
import { connectionsWithoutPersonalData, DEPLOYMENT_STATE, hosting, recipients, storage, type Recipient } from "./location.ts";
import { securityMeasures } from "./security.ts";
import { backupRetentionStatement, destinationText, RESTIC_ENCRYPTION } from "./backups.ts";
import { longestRetentionDays } from "../../stacks/backups/settings.ts";
import type { DrillRecord } from "../../stacks/backups/layout.ts";
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

const transferSchema = z.strictObject({
  recipient: text,
  country: text,
  data: text,
  when: text,
  /** GDPR chapter V: the adequacy decision, the framework or the clauses, or why none applies. */
  safeguard: text,
  avoidance: text,
  /** The config setting that avoids it, when there is one (shown in the annex's type). */
  setting: text.nullable(),
});

/**
 * One sheet of the register: every column of the CNIL's model sheet (« modèle de registre »)
 * and every point of GDPR art. 30(1), each required, so that a service whose processing lacks
 * one cannot produce a register.
 */
export const activitySchema = z.strictObject({
  service,
  /** CNIL: « Référence ». */
  reference: z.string().regex(/^T-\d{2,}$/),
  /** CNIL: « Date de création de la fiche ». */
  created: z.iso.date(),
  /** CNIL: « Date de dernière mise à jour de la fiche ». */
  changed: z.iso.date(),
  createdText: text,
  changedText: text,
  /** CNIL: « Nom / sigle » of the processing. */
  name: text,
  /** CNIL: « Nom du responsable conjoint du traitement ». */
  jointControllers: text,
  /** Art. 30(1)(b), CNIL « Finalité principale ». */
  mainPurpose: text,
  /** CNIL « Sous-finalités »: never repeats the main purpose. */
  subPurposes: z.array(text),
  /** Art. 30(1)(c), CNIL « Catégories de personnes concernées ». */
  dataSubjects: z.array(text).min(1),
  /** Art. 30(1)(c), CNIL « Catégories de données personnelles concernées », each with its basis and retention (art. 30(1)(f)). */
  categories: z.array(categorySchema).min(1),
  /** CNIL « Des données sensibles sont-elles traitées ? ». */
  sensitiveData: z.strictObject({ possible: z.boolean(), statement: text, measures: text.nullable() }),
  /** Art. 30(1)(d), CNIL « Destinataires »: internal, processors, other bodies. */
  recipients: z.strictObject({ internal: z.array(text).min(1), processors: z.array(text), thirdParties: z.array(text) }),
  /** Art. 30(1)(e), CNIL « Transferts des données hors UE »: one line per recipient, or the statement that there is none. */
  transfers: z.strictObject({ statement: text, list: z.array(transferSchema) }),
  /** Art. 30(1)(g), CNIL « Mesures de sécurité ». */
  security: z.array(text).min(1),
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
  /** CNIL: the representative of the controller, here its legal representative. */
  legalRepresentative: text,
  jointControllers: text,
  /** GDPR art. 27: only for a controller outside the EU. */
  euRepresentative: text,
  dpo: z.strictObject({ name: text, email: z.email(), conflict: text.nullable() }),
  /** Technical processing common to every service, stated once: the container logs. */
  commonLogs: categorySchema.extend({ services: z.array(text).min(1) }),
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
  /** The backups: where, how they are protected, how long they live; or the statement that none are made. */
  backups: z.strictObject({
    configured: z.boolean(),
    destination: text.nullable(),
    encryption: text.nullable(),
    /** The longest a backup is kept, in days: erased data are gone from the backups by then. */
    longestRetentionDays: z.number().int().positive().nullable(),
    statement: text,
  }),
  security: z
    .array(
      z.strictObject({
        id: text,
        title: text,
        status: z.enum(["in-place", "partial", "not-provided"]),
        statusLabel: text,
        detail: text,
        technical: text.nullable(),
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
  /**
   * The sheets' references and dates as of the last run (policies/rgpd/history.ts); without
   * it, every processing is dated from `generatedAt`.
   */
  history?: RegisterHistory;
  /** The last restore drill's record, when the admin has it: the security measures quote its date, and never invent one. */
  drill?: DrillRecord;
}

/** The container logs are the same on every service: the register states them once. */
const isContainerLogs = (c: DataCategory) => c.id.endsWith(".container-logs");

/** What each sheet states, as a fingerprint: the history dates a sheet by it. */
export function sheetFingerprints(config: Association): Partial<Record<ServiceName, string>> {
  const outside = recipients(config);
  return Object.fromEntries(
    processingActivities(config).map(({ activity, categories }) => [
      activity.service,
      fingerprint({ activity, categories, recipients: outside.filter((r) => r.service === activity.service || r.holdsBackups) }),
    ]),
  );
}

/** The history after this run: the one to write back beside the association file. */
export function registerHistory(config: Association, previous: RegisterHistory | undefined, today: Date): RegisterHistory {
  return updateHistory(previous ?? emptyHistory(), sheetFingerprints(config), today);
}

const unique = (items: string[]) => [...new Set(items)];

const NO_JOINT_CONTROLLER = {
  fr: "Aucun : l'association décide seule des finalités et des moyens de ce traitement.",
  en: "None: the association alone decides the purposes and means of this processing.",
};

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
  const hostProcessor = thirdParties.find((r) => r.kind === "processor" && r.service === undefined && !r.holdsBackups);
  // The backups hold a copy of every processing's data: their holder is a processor of each sheet.
  const backupHolder = thirdParties.find((r) => r.holdsBackups);
  const processorLine = hostProcessor
    ? say({ fr: `${hostProcessor.name.fr}, hébergeur`, en: `${hostProcessor.name.en}, hosting provider` })
    : undefined;

  const history = registerHistory(config, options.history, options.generatedAt);
  const measures = securityMeasures(config, options.drill);
  const measureTitles = measures.filter((m) => m.status !== "not-provided").map((m) => say(m.title));
  const processors = thirdParties.filter((r) => r.kind === "processor");
  const registered = processingActivities(config);

  const activities = registered.map(({ activity, categories }) => {
    const own = categories.filter((c) => !isContainerLogs(c));
    const docs = (own.length > 0 ? own : categories).map((c) => category(c, language));
    const entry = history.processings[activity.service]!;
    const mainPurpose = say(activity.purpose);
    const reached = thirdParties.filter((r) => r.service === activity.service);
    const outsideEu = reached.filter((r) => r.outsideEu);
    return {
      service: activity.service,
      reference: entry.reference,
      created: entry.created,
      changed: entry.changed,
      createdText: formatDate(new Date(`${entry.created}T00:00:00Z`), language),
      changedText: formatDate(new Date(`${entry.changed}T00:00:00Z`), language),
      name: say(activity.name),
      jointControllers: say(NO_JOINT_CONTROLLER),
      mainPurpose,
      subPurposes: unique(docs.map((c) => c.purpose)).filter((p) => p !== mainPurpose),
      dataSubjects: unique(categories.flatMap((c) => c.dataSubjects.map((s) => say(DATA_SUBJECTS[s])))),
      categories: docs,
      sensitiveData: {
        possible: activity.sensitiveData.possible,
        statement: say(activity.sensitiveData.statement),
        measures: activity.sensitiveData.measures ? say(activity.sensitiveData.measures) : null,
      },
      recipients: {
        internal: unique(categories.flatMap((c) => c.recipients.map(say))),
        processors: unique([
          ...(processorLine ? [processorLine] : []),
          ...(backupHolder ? [`${backupHolder.name[language]}, ${say(backupHolder.role)}`] : []),
          ...processors.filter((r) => r.service === activity.service).map((r) => `${r.name[language]}, ${say(r.role)}`),
        ]),
        thirdParties: reached.filter((r) => r.kind === "third-party").map((r) => `${r.name[language]}, ${say(r.role)}`),
      },
      transfers: {
        statement: transfersOf(reached, where, language),
        list: outsideEu.map((r) => ({
          recipient: r.name[language],
          country: say(r.country),
          data: say(r.data),
          when: say(r.when),
          safeguard: say(r.safeguard!),
          avoidance: say(r.avoidance!.how),
          setting: r.avoidance!.setting ?? null,
        })),
      },
      security: measureTitles,
    };
  });

  const logs = registered.flatMap((a) => a.categories.filter(isContainerLogs));
  const commonLogs = { ...category(logs[0]!, language), id: "container-logs", services: registered.filter((a) => a.categories.some(isContainerLogs)).map((a) => say(a.activity.name)) };
  const admin = dpoAdmin(config.organisation.dpo, config.members);
  const acknowledged = config.organisation.dpo.alsoAdminAcknowledged;

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
    legalRepresentative: say({ fr: `${config.organisation.president}, à la présidence de l'association`, en: `${config.organisation.president}, the association's president` }),
    jointControllers: say(NO_JOINT_CONTROLLER),
    euRepresentative: say({
      fr: `Sans objet : l'association est établie ${inCountry(config.organisation.country, "fr")}, dans l'Union européenne (article 27 du RGPD).`,
      en: `Not applicable: the association is established ${inCountry(config.organisation.country, "en")}, in the European Union (GDPR Article 27).`,
    }),
    dpo: {
      name: config.organisation.dpo.name,
      email: config.organisation.dpo.email,
      conflict:
        admin && acknowledged
          ? say({
              fr: `Avertissement : le délégué est aussi administrateur des services (compte ${admin.id}). Il contrôle donc des choix qu'il fait lui-même, un conflit d'intérêts que l'article 38.6 du RGPD demande d'éviter. L'association l'accepte pour la raison suivante : ${acknowledged}`,
              en: `Warning: the DPO is also an administrator of the services (account ${admin.id}), and so audits choices they make themselves, a conflict of interest GDPR Article 38(6) asks to avoid. The association accepts it for this reason: ${acknowledged}`,
            })
          : null,
    },
    commonLogs,
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
    backups: {
      configured: config.backups !== undefined,
      destination: config.backups ? say(destinationText(config.backups.destination)) : null,
      encryption: config.backups ? say(RESTIC_ENCRYPTION) : null,
      longestRetentionDays: config.backups ? longestRetentionDays(config.backups.retention) : null,
      statement: say(backupRetentionStatement(config)),
    },
    security: measures.map((m) => ({
      id: m.id,
      title: say(m.title),
      status: m.status,
      statusLabel: say(STATUS_LABELS[m.status]),
      detail: say(m.detail),
      technical: m.technical ?? null,
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
