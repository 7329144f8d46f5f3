// The columns of the CNIL's model register (« modèle de registre » published by the CNIL for
// small organisations, .ods: the organisation's page, then one sheet per processing) and the
// points of GDPR art. 30(1), each with the field of register.json that fills it and where
// that field comes from. The tests read every column on every sheet; the DPO's notes quote
// the sources. The model's optional « sous-finalités » are printed when a processing has some.
import { labelsFor, type RegisterDocument } from "./document.ts";

type Sheet = RegisterDocument["activities"][number];

const orNone = (items: string[], document: RegisterDocument) => (items.length > 0 ? items : [labelsFor(document.language).none]);

export interface CnilColumn {
  /** The column's name in the CNIL's model. */
  column: string;
  /** The point of GDPR art. 30(1) it answers, when one does. */
  article?: string;
  /** What fills it, as the texts the document prints: each must be there and not empty. */
  values: (sheet: Sheet, document: RegisterDocument) => (string | null | undefined)[];
  source: string;
}

/** The organisation's page, stated once for every sheet. */
export const CNIL_ORGANISATION_COLUMNS: CnilColumn[] = [
  { column: "Nom de l'organisme", article: "30(1)(a)", values: (_, d) => [d.controller.name], source: "organisation.name" },
  {
    column: "Responsable de l'organisme (représentant légal)",
    article: "30(1)(a)",
    values: (_, d) => [d.legalRepresentative],
    source: "organisation.president",
  },
  { column: "Adresse", article: "30(1)(a)", values: (_, d) => [d.controller.address], source: "organisation.address" },
  { column: "Adresse de messagerie", article: "30(1)(a)", values: (_, d) => [d.controller.contact], source: "organisation.contact" },
  { column: "Délégué à la protection des données", article: "30(1)(a)", values: (_, d) => [d.dpo.name, d.dpo.email], source: "organisation.dpo.name and .email" },
  {
    column: "Représentant (responsable établi hors de l'UE)",
    article: "30(1)(a)",
    values: (_, d) => [d.euRepresentative],
    source: "organisation.country, which the schema keeps in the EU/EEA: always « sans objet » with art. 27",
  },
];

/** One sheet per processing. */
export const CNIL_SHEET_COLUMNS: CnilColumn[] = [
  {
    column: "Référence",
    values: (s) => [s.reference],
    source: "the history file beside the association file (policies/rgpd/history.ts): T-NN from the service's place in SERVICE_NAMES, kept once given",
  },
  { column: "Date de création de la fiche", values: (s) => [s.created, s.createdText], source: "the history file: the day the processing first appeared" },
  {
    column: "Date de dernière mise à jour de la fiche",
    values: (s) => [s.changed, s.changedText],
    source: "the history file: the last day the SHA-256 of the sheet's content (activity, categories, outside recipients) changed",
  },
  { column: "Nom / sigle du traitement", values: (s) => [s.name], source: "the service's register.ts, activity.name" },
  {
    column: "Nom du responsable conjoint du traitement",
    article: "30(1)(a)",
    values: (s) => [s.jointControllers],
    source: "Bastide's fixed statement: no joint controller (the association alone decides)",
  },
  { column: "Finalité principale", article: "30(1)(b)", values: (s) => [s.mainPurpose], source: "the service's register.ts, activity.purpose" },
  {
    column: "Catégories de personnes concernées",
    article: "30(1)(c)",
    values: (s) => s.dataSubjects,
    source: "each category's dataSubjects, named by DATA_SUBJECTS (policies/rgpd/model.ts)",
  },
  {
    column: "Catégories de données personnelles concernées",
    article: "30(1)(c)",
    values: (s) => s.categories.flatMap((c) => [c.name, c.data]),
    source: "each category's name and data in the service's register.ts",
  },
  {
    column: "Base légale",
    values: (s) => s.categories.flatMap((c) => [c.legalBasis.citation, c.legalBasis.justification]),
    source: "each category's legalBasis (art. 6(1) point and justification) in the service's register.ts",
  },
  {
    column: "Données sensibles",
    values: (s) => [s.sensitiveData.statement, ...(s.sensitiveData.possible ? [s.sensitiveData.measures] : [])],
    source: "the service's register.ts, activity.sensitiveData (statement, and measures when possible)",
  },
  {
    column: "Durées de conservation",
    article: "30(1)(f)",
    values: (s) => s.categories.map((c) => c.retention.period),
    source: "each category's retention: the association file's setting within its schema bounds, or Bastide's fixed value",
  },
  {
    column: "Destinataires internes",
    article: "30(1)(d)",
    values: (s) => s.recipients.internal,
    source: "each category's recipients in the service's register.ts",
  },
  {
    column: "Sous-traitants et organismes externes",
    article: "30(1)(d)",
    // An empty list is printed as the word « aucun », which is the statement the column asks.
    values: (s, d) => [...orNone(s.recipients.processors, d), ...orNone(s.recipients.thirdParties, d)],
    source: "policies/reports/location.ts recipients(): the host provider and mail relay (processors), the certificate authority, DNS resolver, push gateways, federation, telephony (other bodies), each only when the config reaches it",
  },
  {
    column: "Transferts des données hors UE",
    article: "30(1)(e)",
    values: (s) => [s.transfers.statement, ...s.transfers.list.flatMap((t) => [t.recipient, t.country, t.safeguard, t.avoidance])],
    source: "recipients() with outsideEu, each with its safeguard (adequacy decision, Data Privacy Framework, or why none) and how to avoid it",
  },
  {
    column: "Mesures de sécurité",
    article: "30(1)(g)",
    values: (s) => s.security,
    source: "policies/reports/security.ts securityMeasures(), from the blueprints, firewall and platform; section 5 gives each one's detail",
  },
];
