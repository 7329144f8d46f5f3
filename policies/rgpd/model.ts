// The RGPD model: what personal data each service keeps, why, on which legal basis,
// for how long, and what enforces that. Service modules describe their data with it
// (stacks/services/<name>/register.ts); the DPO's documents and the live audit read it.
// The zod schemas are the source of the types, and let the assembly refuse a category
// that lacks a retention or a legal basis even when it was built around the types.
import { z } from "zod";
import type { ServiceName } from "../../stacks/services/blueprint.ts";

export const LANGUAGES = ["fr", "en"] as const;
export type Language = (typeof LANGUAGES)[number];

export const localized = z.strictObject({
  fr: z.string().trim().min(1, { error: "needs a French text" }),
  en: z.string().trim().min(1, { error: "needs an English text" }),
});
export type Localized = z.infer<typeof localized>;

export const SERVICE_NAMES = ["proxy", "jitsi", "nextcloud", "matrix", "polls", "vpn", "identity"] as const satisfies readonly ServiceName[];

/** GDPR art. 6(1), points (a) to (f). */
export const LEGAL_BASES = {
  a: { fr: "consentement de la personne concernée", en: "consent of the data subject" },
  b: { fr: "exécution d'un contrat (adhésion, bénévolat ou emploi)", en: "performance of a contract (membership, volunteering or employment)" },
  c: { fr: "respect d'une obligation légale", en: "compliance with a legal obligation" },
  d: { fr: "sauvegarde des intérêts vitaux", en: "protection of vital interests" },
  e: { fr: "mission d'intérêt public", en: "task carried out in the public interest" },
  f: { fr: "intérêts légitimes de l'association", en: "legitimate interests of the association" },
} as const satisfies Record<string, Localized>;
export type LegalBasisLetter = keyof typeof LEGAL_BASES;

/** Categories of data subjects (art. 30(1)(c)). */
export const DATA_SUBJECTS = {
  members: { fr: "membres de l'association ayant un compte (salariés, bénévoles, adhérents)", en: "members of the association with an account (staff, volunteers, members)" },
  staff: { fr: "membres administrateurs et animateurs (ils ouvrent les réunions et ont accès au VPN)", en: "admin and staff members (meeting hosts, VPN users)" },
  guests: { fr: "invités des réunions, sans compte", en: "meeting guests, without an account" },
  respondents: { fr: "personnes qui créent un sondage ou y répondent, sans compte", en: "people who create or answer a poll, without an account" },
  visitors: { fr: "toute personne qui se connecte aux sites du serveur", en: "anyone who connects to the server's sites" },
} as const satisfies Record<string, Localized>;
export type DataSubject = keyof typeof DATA_SUBJECTS;

const letters = Object.keys(LEGAL_BASES) as [LegalBasisLetter, ...LegalBasisLetter[]];
const subjects = Object.keys(DATA_SUBJECTS) as [DataSubject, ...DataSubject[]];

export const legalBasisSchema = z.strictObject({
  /** The point of art. 6(1): a to f. */
  article: z.enum(letters, { error: "must be one of a-f, the point of GDPR art. 6(1)" }),
  justification: localized,
});
export type LegalBasis = z.infer<typeof legalBasisSchema>;

export const boundsSchema = z
  .strictObject({ min: z.number().int().min(0), max: z.number().int().min(0) })
  .refine((b) => b.min <= b.max, { error: "min must not exceed max" });
export type Bounds = z.infer<typeof boundsSchema>;

/** How long the data lives. */
export const periodSchema = z.discriminatedUnion("kind", [
  /** A fixed number of days, counted from `from`. */
  z.strictObject({ kind: z.literal("days"), days: z.number().int().min(0), from: localized }),
  /** As long as the member's account exists, then `graceDays` after the member leaves the list. */
  z.strictObject({ kind: z.literal("account"), graceDays: z.number().int().min(0) }),
  /** Bounded by size, not time: `files` files of `maxFileMb` MiB, the oldest dropped first. */
  z.strictObject({ kind: z.literal("rotation"), maxFileMb: z.number().positive(), files: z.number().int().min(1) }),
  /** Held in memory only, and gone at `until`. */
  z.strictObject({ kind: z.literal("session"), until: localized }),
  /** A login session: ends after `idleMinutes` without activity, and `maxHours` after login at the latest. */
  z.strictObject({ kind: z.literal("lifespan"), idleMinutes: z.number().int().min(1), maxHours: z.number().int().min(1) }),
]);
export type Period = z.infer<typeof periodSchema>;

export const retentionSchema = z.strictObject({
  period: periodSchema,
  /** The config field that sets the period (e.g. services.matrix.retention.messagesDays), or the Bastide constant. */
  setting: z.string().trim().min(1),
  /** True when the admin changes the period through `setting`, a config field. */
  configurable: z.boolean(),
  /** The values the config field accepts; required when configurable. */
  bounds: boundsSchema.optional(),
  /** What the DPO should know beyond the period: exceptions, edge cases. */
  note: localized.optional(),
});
export type Retention = z.infer<typeof retentionSchema>;

export const dataCategorySchema = z.strictObject({
  /** `<service>.<category>`, stable: the audit and the JSON register refer to it. */
  id: z.string().regex(/^[a-z]+\.[a-z0-9-]+$/, { error: "must look like service.category-name" }),
  service: z.enum(SERVICE_NAMES),
  name: localized,
  /** The personal data items themselves (art. 30(1)(c)). */
  data: localized,
  purpose: localized,
  legalBasis: legalBasisSchema,
  dataSubjects: z.array(z.enum(subjects)).min(1),
  /** Who receives or sees the data (art. 30(1)(d)). */
  recipients: z.array(localized).min(1),
  retention: retentionSchema,
  enforcedBy: z.strictObject({
    how: localized,
    /** The exact setting, API or command, e.g. "config.php trashbin_retention_obligation". */
    mechanism: z.string().trim().min(1),
  }),
  /** True when the live audit can read the enforcing setting back from the running service. */
  auditable: z.boolean(),
});
export type DataCategory = z.infer<typeof dataCategorySchema>;

/**
 * What the register says of the special categories of data (GDPR art. 9) a processing may
 * hold: where members' files, messages or meetings can reveal health, opinions, beliefs or
 * union membership, whether or not the association asks for them, the statement says so and
 * the measures say what protects them.
 */
export interface SensitiveData {
  /** True when what members write, say or upload can reveal art. 9 data. */
  possible: boolean;
  statement: Localized;
  /** Required when `possible`: what limits who can read them and for how long. */
  measures?: Localized;
}

/** A service's processing activity: the heading its categories sit under in the register. */
export interface ProcessingActivity {
  service: ServiceName;
  name: Localized;
  purpose: Localized;
  sensitiveData: SensitiveData;
}

/** The same contract as ProcessingActivity, checked at run time: a new service cannot slip past it. */
export const processingActivitySchema = z.strictObject({
  service: z.enum(SERVICE_NAMES),
  name: localized,
  purpose: localized,
  sensitiveData: z
    .strictObject({ possible: z.boolean(), statement: localized, measures: localized.optional() })
    .refine((s) => !s.possible || s.measures !== undefined, {
      error: "a processing that may hold sensitive data needs its measures (GDPR art. 9, the CNIL's « données sensibles » column)",
      path: ["measures"],
    }),
});

/** Art. 9 data a processing holds only if members put it there: the same words for every such service. */
export const MAY_REVEAL_SENSITIVE_DATA: Localized = {
  fr: "L'association ne demande aucune donnée sensible, mais ce que les personnes y déposent ou y disent peut en révéler (santé, opinions politiques, convictions religieuses ou philosophiques, appartenance syndicale, vie sexuelle). Pour une association à but non lucratif, l'article 9.2 d) du RGPD permet ce traitement pour ses membres, sans communication à l'extérieur sans leur consentement.",
  en: "The association asks for no sensitive data, but what people upload or say may reveal some (health, political opinions, religious or philosophical beliefs, trade union membership, sex life). For a not-for-profit body, GDPR Article 9(2)(d) allows this processing for its members, with no disclosure outside without their consent.",
};

/** Art. 9 data a technical processing cannot hold. */
export const NO_SENSITIVE_DATA: Localized = {
  fr: "Aucune : ce traitement ne porte que sur des données techniques, pas sur le contenu des échanges.",
  en: "None: this processing covers technical data only, not the content of exchanges.",
};

/** Recipients many categories share. */
export const RECIPIENTS = {
  admins: {
    fr: "les administrateurs de l'association, pour l'administration technique du serveur",
    en: "the association's admins, for the server's technical administration",
  },
} as const satisfies Record<string, Localized>;
