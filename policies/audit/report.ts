// The audit's report: the checks with their titles in the report's language, the
// sources that could not be read, and the verdict on each auditable category of the
// register. audit.json is this object, validated by its schema before it is written.
import type { Association } from "../../stacks/config/schema.ts";
import { dataCategories } from "../rgpd/register.ts";
import type { Language } from "../rgpd/model.ts";
import { frenchTypography } from "../reports/text.ts";
import { AUDIT_FORMAT, auditReportSchema, type AuditReport, type Status, type Unreachable } from "./model.ts";
import { overallStatus, RULES, type RuleCheck } from "./rules.ts";

export const AUDIT_TITLES: Record<Language, string> = {
  fr: "Audit des réglages en vigueur",
  en: "Audit of the settings in force",
};

const LOCALES: Record<Language, string> = { fr: "fr-FR", en: "en-GB" };

/** A moment as the DPO reads it, in UTC, e.g. "15 mars 2026 à 10:00:03 UTC". */
export function formatMoment(iso: string, language: Language): string {
  const text = new Intl.DateTimeFormat(LOCALES[language], { dateStyle: "long", timeStyle: "medium", timeZone: "UTC" }).format(new Date(iso));
  return `${text} UTC`;
}

export const formatTime = (iso: string, language: Language) =>
  new Intl.DateTimeFormat(LOCALES[language], { timeStyle: "medium", timeZone: "UTC" }).format(new Date(iso));

export const ruleTitle = (rule: string, language: Language): string => {
  const title = (RULES as Record<string, { fr: string; en: string } | undefined>)[rule];
  if (!title) throw new Error(`no title for rule ${rule}`);
  return language === "fr" ? frenchTypography(title.fr) : title.en;
};

/**
 * The French of the words the rules write in declared and observed values, longest first so
 * that a phrase wins over the words in it. Settings, names and numbers between them are left
 * as read: they are what the DPO compares.
 */
const FRENCH_VALUES: [RegExp, string][] = (
  [
    ["registration open: the server asks for the next step", "inscription ouverte : le serveur demande l'étape suivante"],
    ["no backups: section in the association file; a lost disk loses everything", "pas de section backups: dans le fichier de l'association ; un disque perdu, et tout est perdu"],
    ["daily, encrypted, off the data's disk", "quotidiennes, chiffrées, hors du disque des données"],
    ["the backup job is not deployed", "la tâche de sauvegarde n'est pas déployée"],
    ["no restore drill yet (npm run restore-drill)", "aucun exercice de restauration pour l'instant (npm run restore-drill)"],
    ["last successful restore drill", "dernier exercice de restauration réussi"],
    ["a successful restore drill less than", "un exercice de restauration réussi de moins de"],
    ["a good backup less than", "une sauvegarde réussie de moins de"],
    ["last restore drill failed at", "dernier exercice de restauration en échec le"],
    ["no backup has run yet", "aucune sauvegarde faite pour l'instant"],
    ["no good backup yet", "aucune sauvegarde réussie pour l'instant"],
    ["last good backup", "dernière sauvegarde réussie"],
    ["last run failed at", "dernier passage en échec le"],
    ["no backup runs", "aucune sauvegarde ne se fait"],
    ["days ago", "jours plus tôt"],
    ["h ago", "h plus tôt"],
    ["is stopped", "est arrêté"],
    ["days old", "jours"],
    ["h old", "h"],
    ["a guest account was created", "un compte invité a été créé"],
    ["second factor optional for every role", "second facteur facultatif pour tous les rôles"],
    ["no second factor and none asked", "sans second facteur, et aucun n'est demandé"],
    ["password enforcement not reported", "exigence de mot de passe non indiquée"],
    ["no access log written to a file", "aucun journal d'accès écrit dans un fichier"],
    ["enabled but not in the member list", "actifs mais absents de la liste des membres"],
    ["active but not in the member list", "actifs mais absents de la liste des membres"],
    ["no container labelled", "aucun conteneur étiqueté"],
    ["no container", "aucun conteneur"],
    ["no room with this alias", "aucun salon à cette adresse"],
    ["no default expiry date", "pas de date d'expiration par défaut"],
    ["public links disabled", "liens publics désactivés"],
    ["addresses kept whole", "adresses gardées entières"],
    ["has no retention rule", "n'a pas de règle de conservation"],
    ["no password policy", "aucune règle de mot de passe"],
    ["not admin or staff", "ni administrateurs ni animateurs"],
    ["not in the list", "absents de la liste"],
    ["password enforced", "mot de passe exigé"],
    ["password optional", "mot de passe facultatif"],
    ["query logging", "journalisation des requêtes"],
    ["no log plugin", "aucun module de journalisation"],
    ["unlimited swap", "échange disque illimité"],
    ["not privileged", "sans privilèges"],
    ["not enforced", "non exigé"],
    ["enabled only", "seuls actifs"],
    ["active only", "seuls actifs"],
    ["not served", "non servi"],
    ["not read", "non lu"],
    ["not set", "non défini"],
    ["no swap", "sans échange disque"],
    ["no limit", "sans limite"],
    ["privileged", "privilégié"],
    ["enforced", "exigé"],
    ["running", "en marche"],
    ["stopped", "arrêté"],
    ["(empty)", "(vide)"],
    ["served", "servi"],
    ["always", "toujours"],
    ["masked", "masqués"],
    ["removed", "supprimés"],
    ["enabled", "actifs"],
    ["active", "actifs"],
    ["none", "aucun"],
    ["no tag", "pas d'étiquette"],
  ] as [string, string][]
).map(([english, french]) => [new RegExp(`(?<![\\w.=_/-])${english.replace(/[()]/g, "\\$&")}(?![\\w.=_/-])(:(?= ))?`, "g"), french]);

/** A declared or observed value in the report's language. */
export function valueIn(value: string, language: Language): string {
  if (language === "en") return value;
  // A translated phrase's colon takes French spacing; a setting's (`loglevel: 2`) is left as written.
  // Typography for the French words only: the values between them are left exactly as read.
  return FRENCH_VALUES.reduce(
    (text, [english, words]) => text.replace(english, (_, colon: string | undefined) => frenchTypography(colon ? `${words} :` : words)),
    value,
  );
}

export function exitCodeOf(result: AuditReport["result"]): 0 | 1 | 2 {
  return result === "pass" ? 0 : result === "fail" ? 1 : 2;
}

export interface ReportInput {
  config: Association;
  checks: RuleCheck[];
  unreachable: Unreachable[];
  language: Language;
  generatedAt: Date;
  source?: string;
}

export function auditReport(input: ReportInput): AuditReport {
  const { config, checks, unreachable, language, generatedAt } = input;
  const status = overallStatus(checks);
  const result = status === "pass" ? "pass" : status === "fail" ? "fail" : "incomplete";
  const count = (s: Status) => checks.filter((c) => c.status === s).length;
  const say = (text: { fr: string; en: string }) => (language === "fr" ? frenchTypography(text.fr) : text.en);
  const categories = dataCategories(config)
    .filter((c) => c.auditable)
    .map((category) => {
      const backing = checks.filter((c) => c.categories.includes(category.id));
      if (backing.length === 0) throw new Error(`the register says ${category.id} is auditable, but no audit rule checks it`);
      return {
        id: category.id,
        service: category.service,
        name: say(category.name),
        status: overallStatus(backing),
        rules: [...new Set(backing.map((c) => c.rule))],
      };
    });
  const report: AuditReport = {
    format: AUDIT_FORMAT,
    language,
    title: AUDIT_TITLES[language],
    generatedAt: generatedAt.toISOString(),
    generatedAtText: formatMoment(generatedAt.toISOString(), language),
    source: input.source ?? null,
    organisation: { name: config.organisation.name, domain: config.domain },
    result,
    exitCode: exitCodeOf(result),
    summary: { total: checks.length, passed: count("pass"), failed: count("fail"), unread: count("unread") },
    unreachable,
    checks: checks.map((c) => ({ ...c, title: ruleTitle(c.rule, language), declared: valueIn(c.declared, language), observed: valueIn(c.observed, language) })),
    categories,
  };
  // What is written is what the schema allows: a broken report fails here, not at the DPO's.
  return auditReportSchema.parse(report);
}

/** Headings and words of the HTML page and the console summary. */
export const AUDIT_LABELS = {
  fr: {
    subtitle: "Chaque réglage vérifiable du registre, relu auprès des services en fonctionnement",
    briefHeading: "En bref",
    briefPass: "Tous les réglages relus sont ceux que déclare le registre.",
    briefFail: "Des réglages en vigueur s'écartent du registre : à corriger d'abord.",
    briefIncomplete: "L'audit est incomplet : des services n'ont pas pu être lus ; leurs vérifications sont à refaire.",
    failuresHeading: "Écarts à corriger",
    unreadHeading: "Vérifications non faites",
    expected: "attendu",
    found: "constaté",
    generated: "Audit réalisé par Bastide le",
    source: "Configuration",
    domain: "Domaine",
    result: "Résultat",
    results: { pass: "conforme", fail: "écarts constatés", incomplete: "incomplet : des services n'ont pas pu être lus" },
    statuses: { pass: "CONFORME", fail: "ÉCART", unread: "NON LU" },
    summary: "vérifications",
    passed: "conformes",
    failed: "en écart",
    unread: "non lues",
    unreachableHeading: "Sources injoignables",
    unreachableIntro: "Ces sources n'ont pas pu être lues ; les vérifications qui en dépendent sont marquées « non lu ».",
    service: "Service",
    sourceColumn: "Source",
    error: "Erreur",
    host: "hôte (Docker)",
    categoriesHeading: "Catégories du registre",
    categoriesIntro: "Chaque catégorie de données que le registre dit vérifiable, avec le verdict des vérifications qui l'appuient.",
    category: "Catégorie",
    rules: "Règles",
    checksHeading: "Vérifications",
    checksIntro: "Valeur déclarée (configuration et modules de Bastide) et valeur relue sur le service en fonctionnement, à l'heure indiquée.",
    rule: "Règle",
    subject: "Objet",
    declared: "Déclaré",
    observed: "Constaté",
    status: "Verdict",
    readAt: "Lu à",
    colon: " :",
  },
  en: {
    subtitle: "Every checkable setting of the register, read back from the running services",
    briefHeading: "In brief",
    briefPass: "Every setting read back is the one the register declares.",
    briefFail: "Some settings in force differ from the register: fix these first.",
    briefIncomplete: "The audit is incomplete: some services could not be read; their checks must be run again.",
    failuresHeading: "Gaps to fix",
    unreadHeading: "Checks not done",
    expected: "expected",
    found: "found",
    generated: "Audit run by Bastide on",
    source: "Configuration",
    domain: "Domain",
    result: "Result",
    results: { pass: "compliant", fail: "gaps found", incomplete: "incomplete: some services could not be read" },
    statuses: { pass: "PASS", fail: "FAIL", unread: "UNREAD" },
    summary: "checks",
    passed: "passed",
    failed: "failed",
    unread: "unread",
    unreachableHeading: "Unreachable sources",
    unreachableIntro: "These sources could not be read; the checks that depend on them are marked unread.",
    service: "Service",
    sourceColumn: "Source",
    error: "Error",
    host: "host (Docker)",
    categoriesHeading: "Register categories",
    categoriesIntro: "Each data category the register says can be checked, with the verdict of the checks behind it.",
    category: "Category",
    rules: "Rules",
    checksHeading: "Checks",
    checksIntro: "The declared value (the config and Bastide's modules) and the value read back from the running service, at the time shown.",
    rule: "Rule",
    subject: "Subject",
    declared: "Declared",
    observed: "Observed",
    status: "Verdict",
    readAt: "Read at",
    colon: ":",
  },
} as const;
