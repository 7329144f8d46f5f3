// Wording and formatting for the DPO's documents, in French and English. French
// prose gets French typography: typographic apostrophes and quotes, a no-break space
// before colons and guillemets' insides, a narrow one before ; ! ?, grouped digits.
import type { Bounds, Language, Localized, Period } from "../rgpd/model.ts";

/** Applied to French prose only: never to settings, commands or addresses. Idempotent. */
export function frenchTypography(text: string): string {
  return text
    .replace(/'/g, "\u2019")
    .replace(/«[ \u00A0]?/g, "«\u00A0")
    .replace(/[ \u00A0]?»/g, "\u00A0»")
    .replace(/ ([;!?])/g, "\u202F$1")
    .replace(/ :(?=\s|$)/g, "\u00A0:");
}

/** A text in the document's language, with its typography. */
export const prose = (language: Language) => (text: Localized): string =>
  language === "fr" ? frenchTypography(text.fr) : text.en;

const LOCALES: Record<Language, string> = { fr: "fr-FR", en: "en-GB" };

export const formatNumber = (n: number, language: Language) => new Intl.NumberFormat(LOCALES[language]).format(n);

export const formatDate = (date: Date, language: Language) =>
  new Intl.DateTimeFormat(LOCALES[language], { dateStyle: "long", timeZone: "UTC" }).format(date);

export const countryName = (code: string, language: Language) =>
  new Intl.DisplayNames([LOCALES[language]], { type: "region" }).of(code) ?? code;

/** French takes "au", "aux" or "à" before some country names, "en" before the others of the EU/EEA. */
const FRENCH_COUNTRY_PREPOSITIONS: Record<string, string> = { DK: "au", LU: "au", PT: "au", LI: "au", NL: "aux", MT: "à", CY: "à" };

/** "en Allemagne", "aux Pays-Bas", "in Germany". */
export const inCountry = (code: string, language: Language) =>
  language === "fr" ? `${FRENCH_COUNTRY_PREPOSITIONS[code] ?? "en"} ${countryName(code, language)}` : `in ${countryName(code, language)}`;

function days(n: number, language: Language): string {
  const number = formatNumber(n, language);
  if (language === "fr") return `${number}\u00A0jour${n > 1 ? "s" : ""}`;
  return `${number} day${n === 1 ? "" : "s"}`;
}

/** The retention period as a sentence fragment, e.g. "365 jours après l'envoi". */
export function periodText(period: Period, language: Language): string {
  const say = prose(language);
  switch (period.kind) {
    case "days":
      return `${days(period.days, language)} ${say(period.from)}`;
    case "account":
      if (period.graceDays === 0)
        return say({ fr: "durée du compte ; supprimé au départ du membre", en: "account lifetime; removed when the member leaves" });
      return say({
        fr: `durée du compte, puis ${days(period.graceDays, language)} après le départ du membre`,
        en: `account lifetime, then ${days(period.graceDays, language)} after the member leaves`,
      });
    case "rotation": {
      const size = formatNumber(period.maxFileMb, language);
      return say({
        fr: `au plus ${period.files} fichiers de ${size}\u00A0Mio, les lignes les plus anciennes supprimées en premier`,
        en: `at most ${period.files} files of ${size} MiB, oldest lines dropped first`,
      });
    }
    case "session":
      return say({ fr: "en mémoire seulement, jusqu'à ", en: "in memory only, until " }) + say(period.until);
    case "lifespan":
      return say({
        fr: `jusqu'à la déconnexion, ${formatNumber(period.idleMinutes, "fr")}\u00A0minutes sans activité, ou ${formatNumber(period.maxHours, "fr")}\u00A0heures après la connexion au plus tard`,
        en: `until logout, ${formatNumber(period.idleMinutes, "en")} minutes without activity, or ${formatNumber(period.maxHours, "en")} hours after login at the latest`,
      });
  }
}

export function boundsText(bounds: Bounds | undefined, language: Language): string {
  if (!bounds) return language === "fr" ? "fixé par Bastide" : "fixed by Bastide";
  const [min, max] = [formatNumber(bounds.min, language), formatNumber(bounds.max, language)];
  return language === "fr" ? `de ${min} à ${max}\u00A0jours` : `${min} to ${max} days`;
}

export const TITLES: Record<Language, string> = {
  fr: "Registre des activités de traitement",
  en: "Record of processing activities",
};

/** Every heading and column name of the documents. */
export const LABELS = {
  fr: {
    subtitle: "Registre, durées de conservation, localisation des données et mesures de sécurité",
    legalRepresentative: "Représentant légal",
    jointControllers: "Responsables conjoints",
    euRepresentative: "Représentant dans l'Union européenne",
    activityList: "Liste des traitements",
    reference: "Référence",
    activity: "Traitement",
    created: "Date de création de la fiche",
    changed: "Date de dernière mise à jour",
    mainPurpose: "Finalité principale",
    subPurposes: "Sous-finalités",
    sensitiveData: "Données sensibles",
    sensitiveMeasures: "Mesures",
    internalRecipients: "Destinataires internes",
    processors: "Sous-traitants",
    thirdParties: "Autres organismes destinataires",
    none: "aucun",
    recipient: "Destinataire",
    safeguard: "Garantie",
    avoidance: "Comment l'éviter",
    commonLogsHeading: "Journaux techniques communs à tous les services",
    commonLogsIntro: "Chaque service écrit un journal technique, tenu de la même façon partout. Services concernés :",
    commonLogsReference: "Les journaux techniques de ce service sont décrits une seule fois, dans la fiche commune à la fin de cette partie.",
    annexHeading: "Annexe : détail technique",
    annexIntro: "Pour l'administrateur et pour un contrôle : le réglage du fichier de l'association et le mécanisme technique derrière chaque durée de conservation.",
    transferSettings: "Réglages qui évitent un transfert",
    securityTechnical: "Détail des mesures de sécurité",
    generated: "Document généré par Bastide à partir de la configuration de l'association, le",
    source: "Configuration",
    contents: "Sommaire",
    controllerHeading: "1. Responsable du traitement et délégué à la protection des données",
    controllerArticle: "Article 30, paragraphe 1, point a) du RGPD",
    controller: "Responsable du traitement",
    address: "Adresse",
    contact: "Contact",
    country: "Pays d'établissement",
    dpo: "Délégué à la protection des données (DPO)",
    domain: "Domaine des services",
    activitiesHeading: "2. Activités de traitement",
    activitiesArticle: "Article 30, paragraphe 1, points b) à g) du RGPD : une fiche par service déployé",
    purpose: "Finalité",
    purposes: "Finalités",
    dataSubjects: "Personnes concernées",
    dataCategories: "Catégories de données",
    data: "Données",
    legalBasis: "Base légale",
    recipients: "Destinataires",
    transfers: "Transferts hors de l'UE/EEE",
    retention: "Conservation",
    enforcedBy: "Appliquée par",
    auditable: "Vérifiable par l'audit",
    security: "Mesures de sécurité",
    securityReference: "Voir la section 5 (article 32 du RGPD).",
    note: "À savoir",
    scheduleHeading: "3. Durées de conservation",
    scheduleIntro: "Une ligne par catégorie de données et par service ; le réglage qui fixe chaque durée et le mécanisme qui l'applique sont en annexe.",
    backupsHeading: "Sauvegardes",
    backupsCopies: "Copies",
    service: "Service",
    category: "Catégorie",
    period: "Durée",
    setting: "Réglage",
    bounds: "Valeurs permises",
    mechanism: "Mécanisme",
    yes: "oui",
    no: "non",
    locationHeading: "4. Localisation des données et sous-traitants",
    host: "Hébergement",
    provider: "Hébergeur",
    providerCountry: "Pays de l'hébergeur",
    dataCountry: "Pays où sont les données",
    region: "Site",
    subProcessors: "Sous-traitants et tiers destinataires",
    name: "Nom",
    role: "Rôle",
    recipientCountry: "Pays",
    when: "Quand",
    storage: "Où sont stockées les données sur le serveur",
    volume: "Volume Docker",
    holds: "Contenu",
    externalConnections: "Connexions sortantes sans donnée personnelle",
    securityHeading: "5. Mesures de sécurité",
    securityArticle: "Article 32 du RGPD ; article 30, paragraphe 1, point g)",
    measure: "Mesure",
    status: "État",
    detail: "Détail",
    notSet: "non renseigné",
    colon: " :",
    listSeparator: " ; ",
  },
  en: {
    subtitle: "Record, retention schedule, data location and security measures",
    legalRepresentative: "Legal representative",
    jointControllers: "Joint controllers",
    euRepresentative: "Representative in the European Union",
    activityList: "List of processing activities",
    reference: "Reference",
    activity: "Processing",
    created: "Sheet created on",
    changed: "Last changed on",
    mainPurpose: "Main purpose",
    subPurposes: "Sub-purposes",
    sensitiveData: "Sensitive data",
    sensitiveMeasures: "Measures",
    internalRecipients: "Internal recipients",
    processors: "Processors",
    thirdParties: "Other recipient bodies",
    none: "none",
    recipient: "Recipient",
    safeguard: "Safeguard",
    avoidance: "How to avoid it",
    commonLogsHeading: "Technical logs common to every service",
    commonLogsIntro: "Every service writes a technical log, kept the same way everywhere. Services concerned:",
    commonLogsReference: "This service's technical logs are described once, in the common sheet at the end of this part.",
    annexHeading: "Annex: technical detail",
    annexIntro: "For the admin and for an inspection: the association file's setting and the technical mechanism behind each retention period.",
    transferSettings: "Settings that avoid a transfer",
    securityTechnical: "Security measures in detail",
    generated: "Generated by Bastide from the association's configuration on",
    source: "Configuration",
    contents: "Contents",
    controllerHeading: "1. Controller and data protection officer",
    controllerArticle: "GDPR Article 30(1)(a)",
    controller: "Controller",
    address: "Address",
    contact: "Contact",
    country: "Country of establishment",
    dpo: "Data protection officer (DPO)",
    domain: "Services' domain",
    activitiesHeading: "2. Processing activities",
    activitiesArticle: "GDPR Article 30(1)(b) to (g): one sheet per deployed service",
    purpose: "Purpose",
    purposes: "Purposes",
    dataSubjects: "Data subjects",
    dataCategories: "Categories of data",
    data: "Data",
    legalBasis: "Legal basis",
    recipients: "Recipients",
    transfers: "Transfers outside the EU/EEA",
    retention: "Retention",
    enforcedBy: "Enforced by",
    auditable: "Checked by the audit",
    security: "Security measures",
    securityReference: "See section 5 (GDPR Article 32).",
    note: "Note",
    scheduleHeading: "3. Retention schedule",
    scheduleIntro: "One line per data category and service; the setting that fixes each period and the mechanism that enforces it are in the annex.",
    backupsHeading: "Backups",
    backupsCopies: "Copies",
    service: "Service",
    category: "Category",
    period: "Period",
    setting: "Setting",
    bounds: "Allowed values",
    mechanism: "Mechanism",
    yes: "yes",
    no: "no",
    locationHeading: "4. Data location and sub-processors",
    host: "Hosting",
    provider: "Hosting provider",
    providerCountry: "Provider's country",
    dataCountry: "Country where the data are",
    region: "Site",
    subProcessors: "Sub-processors and third-party recipients",
    name: "Name",
    role: "Role",
    recipientCountry: "Country",
    when: "When",
    storage: "Where the data are stored on the server",
    volume: "Docker volume",
    holds: "Contents",
    externalConnections: "Outgoing connections without personal data",
    securityHeading: "5. Security measures",
    securityArticle: "GDPR Article 32; Article 30(1)(g)",
    measure: "Measure",
    status: "Status",
    detail: "Detail",
    notSet: "not given",
    colon: ":",
    listSeparator: "; ",
  },
} as const satisfies Record<Language, Record<string, string>>;

export type Labels = (typeof LABELS)[Language];

/** How a point of GDPR art. 6(1) is cited in each language. */
export const citation = (letter: string, language: Language) =>
  language === "fr" ? `art. 6.1 ${letter}) du RGPD` : `GDPR Art. 6(1)(${letter})`;

export const STATUS_LABELS: Record<"in-place" | "partial" | "not-provided", Localized> = {
  "in-place": { fr: "en place", en: "in place" },
  partial: { fr: "partielle", en: "partial" },
  "not-provided": { fr: "non fournie", en: "not provided" },
};
