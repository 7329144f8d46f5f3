// The documents that go with the register, from the same model (policies/rgpd) and the
// same config: the information notices of GDPR art. 13 for members, meeting guests and
// poll respondents; the DPIA screening against the CNIL's criteria; the personal-data
// breach procedure with its empty register; the data-subject request procedure; the list
// of processors (art. 28). Each is data here; companion.hbs renders any of them.
import { z } from "zod";
import type { Association } from "../../stacks/config/schema.ts";
import { LANGUAGES, LEGAL_BASES, type DataCategory, type DataSubject, type ProcessingActivity, type Language, type Localized } from "../rgpd/model.ts";
import { processingActivities } from "../rgpd/register.ts";
import { recipients } from "./location.ts";
import type { RegisterDocument } from "./document.ts";
import { citation, periodText, prose } from "./text.ts";

export const COMPANION_IDS = [
  "notice-members",
  "notice-guests",
  "notice-respondents",
  "dpia-screening",
  "breach-procedure",
  "requests-procedure",
  "processors",
] as const;
export type CompanionId = (typeof COMPANION_IDS)[number];

const text = z.string().trim().min(1);

export const companionSchema = z.strictObject({
  id: z.enum(COMPANION_IDS),
  language: z.enum(LANGUAGES),
  title: text,
  organisation: text,
  /** Null on the notices the proxy serves: they follow the deployed file, not a day's print. */
  generatedOnText: text.nullable(),
  intro: z.array(text),
  sections: z
    .array(
      z.strictObject({
        heading: text,
        paragraphs: z.array(text),
        items: z.array(text),
        table: z.strictObject({ head: z.array(text).min(1), rows: z.array(z.array(z.string())) }).nullable(),
      }),
    )
    .min(1),
});
export type CompanionDocument = z.infer<typeof companionSchema>;
type Section = CompanionDocument["sections"][number];

const section = (heading: string, parts: Partial<Omit<Section, "heading">> = {}): Section => ({
  heading,
  paragraphs: parts.paragraphs ?? [],
  items: parts.items ?? [],
  table: parts.table ?? null,
});

const unique = (items: string[]) => [...new Set(items)];

/** "term : detail" in French, "term: detail" in English. */
const labelled = (language: Language, term: string, detail: string) => (language === "fr" ? `${term}\u00A0: ${detail}` : `${term}: ${detail}`);

/** The file each companion document is written to, under its language's folder. */
export const companionFile = (id: CompanionId, language: Language) => `${language}/${id}.html`;

export type NoticeId = "notice-members" | "notice-guests" | "notice-respondents";

interface NoticeAudience {
  id: NoticeId;
  subjects: DataSubject[];
  title: Localized;
  who: Localized;
}

const AUDIENCES: NoticeAudience[] = [
  {
    id: "notice-members",
    subjects: ["members", "staff", "visitors"],
    title: { fr: "Vos données dans les outils de l'association", en: "Your data in the association's tools" },
    who: { fr: "Cette notice s'adresse aux membres qui ont un compte : salariés, bénévoles et adhérents.", en: "This notice is for members with an account: staff, volunteers and members." },
  },
  {
    id: "notice-guests",
    subjects: ["guests", "visitors"],
    title: { fr: "Vos données quand vous participez à une réunion de l'association", en: "Your data when you join one of the association's meetings" },
    who: { fr: "Cette notice s'adresse aux personnes invitées à une visioconférence, sans compte.", en: "This notice is for people invited to a video meeting, without an account." },
  },
  {
    id: "notice-respondents",
    subjects: ["respondents", "visitors"],
    title: { fr: "Vos données quand vous répondez à un sondage de l'association", en: "Your data when you answer one of the association's polls" },
    who: { fr: "Cette notice s'adresse aux personnes qui créent un sondage ou y répondent, sans compte.", en: "This notice is for people who create or answer a poll, without an account." },
  },
];

const RIGHTS: Localized = {
  fr: "Vous pouvez demander à consulter vos données, à les corriger, à les effacer, à en limiter l'usage, à vous y opposer et à les recevoir dans un format lisible par une machine (articles 15 à 21 du RGPD). Ce que vous avez accepté, comme les notifications sur téléphone, peut être retiré à tout moment. L'association répond dans un délai d'un mois.",
  en: "You may ask to see your data, to correct it, to erase it, to restrict its use, to object to it and to receive it in a machine-readable format (GDPR Articles 15 to 21). What you agreed to, such as phone notifications, can be withdrawn at any time. The association answers within one month.",
};

const COMPLAINT: Localized = {
  fr: "Si vous estimez que vos droits ne sont pas respectés, vous pouvez adresser une réclamation à la CNIL (www.cnil.fr) ou à l'autorité de protection des données de votre pays.",
  en: "If you think your rights are not respected, you can complain to the CNIL (www.cnil.fr) or to your country's data protection authority.",
};

/** Categories of the enabled services that concern one of `subjects`, with their service's name. */
function categoriesFor(config: Association, subjects: DataSubject[]): { activity: ProcessingActivity; category: DataCategory }[] {
  return processingActivities(config).flatMap(({ activity, categories }) =>
    categories.filter((c) => c.dataSubjects.some((s) => subjects.includes(s))).map((category) => ({ activity, category })),
  );
}

/** Rows that say the same thing once. */
const uniqueRows = (rows: string[][]) => [...new Map(rows.map((r) => [r.join("\u0000"), r])).values()];

/** What a notice needs of the register: who answers, in which language, dated or not. */
type NoticeSource = Pick<RegisterDocument, "language"> & {
  controller: Pick<RegisterDocument["controller"], "name" | "contact">;
  dpo: Pick<RegisterDocument["dpo"], "name" | "email">;
  generatedOnText: string | null;
};

function header(register: NoticeSource) {
  return { language: register.language, organisation: register.controller.name, generatedOnText: register.generatedOnText };
}

function contactParagraph(register: NoticeSource): string {
  const say = prose(register.language);
  return say({
    fr: `${register.controller.name} est responsable de ces traitements. Pour toute question ou pour exercer vos droits, écrivez à son délégué à la protection des données, ${register.dpo.name}, à ${register.dpo.email}, ou à l'association, à ${register.controller.contact}.`,
    en: `${register.controller.name} is the controller of this processing. For any question or to exercise your rights, write to its data protection officer, ${register.dpo.name}, at ${register.dpo.email}, or to the association at ${register.controller.contact}.`,
  });
}

function notice(config: Association, register: NoticeSource, audience: NoticeAudience): CompanionDocument | undefined {
  const { language } = register;
  const say = prose(language);
  const found = categoriesFor(config, audience.subjects.filter((s) => s !== "visitors"));
  if (found.length === 0) return undefined;
  const all = categoriesFor(config, audience.subjects);
  const reached = recipients(config);
  const outside = reached.filter((r) => r.outsideEu);
  const processors = reached.filter((r) => r.kind === "processor");
  return {
    id: audience.id,
    ...header(register),
    title: say(audience.title),
    intro: [say(audience.who), contactParagraph(register)],
    sections: [
      section(say({ fr: "Quels outils, pour quoi faire", en: "Which tools, for what" }), {
        items: unique(all.map((f) => labelled(language, say(f.activity.name), say(f.activity.purpose)))),
      }),
      section(say({ fr: "Sur quelle base", en: "On what basis" }), {
        items: (Object.keys(LEGAL_BASES) as (keyof typeof LEGAL_BASES)[]).flatMap((letter) => {
          const names = unique(all.filter((f) => f.category.legalBasis.article === letter).map((f) => say(f.category.name).toLowerCase()));
          if (names.length === 0) return [];
          const basis = say(LEGAL_BASES[letter]);
          return [labelled(language, `${basis.charAt(0).toUpperCase()}${basis.slice(1)} (${citation(letter, language)})`, names.join(", "))];
        }),
      }),
      section(say({ fr: "Combien de temps", en: "For how long" }), {
        table: {
          head: [say({ fr: "Données", en: "Data" }), say({ fr: "Durée de conservation", en: "Retention" })],
          rows: uniqueRows(all.map((f) => [say(f.category.name), periodText(f.category.retention.period, language)])),
        },
      }),
      section(say({ fr: "Qui les voit", en: "Who sees them" }), {
        paragraphs: [
          processors.length > 0
            ? say({
                fr: `Les administrateurs de l'association, pour faire fonctionner les outils, et ses sous-traitants : ${processors.map((r) => r.name.fr).join(", ")}. Les données ne sont ni vendues ni utilisées à d'autres fins.`,
                en: `The association's administrators, to run the tools, and its processors: ${processors.map((r) => r.name.en).join(", ")}. The data are neither sold nor used for anything else.`,
              })
            : say({
                fr: "Les administrateurs de l'association, pour faire fonctionner les outils. Les données ne sont ni vendues ni utilisées à d'autres fins.",
                en: "The association's administrators, to run the tools. The data are neither sold nor used for anything else.",
              }),
          ...(outside.length > 0
            ? [
                say({
                  fr: `Certaines données peuvent quitter l'Union européenne : ${outside.map((r) => `${r.name.fr} (${r.when.fr})`).join(" ; ")}. Le registre de l'association précise les garanties.`,
                  en: `Some data may leave the European Union: ${outside.map((r) => `${r.name.en} (${r.when.en})`).join("; ")}. The association's register states the safeguards.`,
                }),
              ]
            : []),
        ],
      }),
      section(say({ fr: "Vos droits", en: "Your rights" }), { paragraphs: [say(RIGHTS), say(COMPLAINT)] }),
    ],
  };
}

/** The criteria of the CNIL (from the EDPB guidelines WP248 rev.01): two or more met call for a DPIA. */
interface Criterion {
  name: Localized;
  applies: boolean;
  why: Localized;
}

function dpiaCriteria(config: Association, register: RegisterDocument): Criterion[] {
  const sensitive = register.activities.filter((a) => a.sensitiveData.possible).map((a) => a.name);
  const members = config.members.length;
  return [
    {
      name: { fr: "Évaluation ou notation des personnes", en: "Evaluation or scoring" },
      applies: false,
      why: { fr: "Les outils ne classent ni ne notent personne.", en: "The tools neither rank nor score anyone." },
    },
    {
      name: { fr: "Décision automatique avec effet juridique ou similaire", en: "Automated decision with legal or similar effect" },
      applies: false,
      why: { fr: "Aucune décision n'est prise par un programme sur une personne.", en: "No decision about a person is made by a program." },
    },
    {
      name: { fr: "Surveillance systématique", en: "Systematic monitoring" },
      applies: false,
      why: {
        fr: "Les journaux de connexion servent à la sécurité, sont courts et ne servent pas à suivre l'activité des membres.",
        en: "Connection logs serve security, are short-lived and are not used to follow members' activity.",
      },
    },
    {
      name: { fr: "Données sensibles ou à caractère hautement personnel", en: "Sensitive or highly personal data" },
      applies: sensitive.length > 0,
      why:
        sensitive.length > 0
          ? {
              fr: `L'association n'en demande pas, mais les échanges peuvent en contenir (${sensitive.join(", ")}). Compté comme rempli par prudence.`,
              en: `The association asks for none, but exchanges may hold some (${sensitive.join(", ")}). Counted as met, to be safe.`,
            }
          : { fr: "Aucun service qui porte des échanges libres n'est déployé.", en: "No service carrying free exchanges is deployed." },
    },
    {
      name: { fr: "Traitement à grande échelle", en: "Large-scale processing" },
      applies: false,
      why: {
        fr: `${members} membres ont un compte : ce n'est pas une grande échelle au sens des lignes directrices européennes.`,
        en: `${members} members have an account: not a large scale in the sense of the European guidelines.`,
      },
    },
    {
      name: { fr: "Croisement ou combinaison de données", en: "Matching or combining datasets" },
      applies: false,
      why: {
        fr: "Un seul compte ouvre plusieurs outils, mais aucune donnée n'est croisée avec une autre source ou pour un autre but.",
        en: "One account opens several tools, but no data is matched with another source or for another purpose.",
      },
    },
    {
      name: { fr: "Personnes vulnérables", en: "Vulnerable data subjects" },
      applies: false,
      why: {
        fr: "À confirmer par le délégué : si l'association emploie des salariés, ou si des mineurs ou des personnes accompagnées utilisent les outils, ce critère est rempli.",
        en: "For the DPO to confirm: if the association employs staff, or minors or people it supports use the tools, this criterion is met.",
      },
    },
    {
      name: { fr: "Usage innovant ou nouvelle solution technologique", en: "Innovative use or new technology" },
      applies: false,
      why: { fr: "Des logiciels libres répandus, utilisés de façon courante.", en: "Widespread free software, used in the usual way." },
    },
    {
      name: { fr: "Exclusion du bénéfice d'un droit, d'un service ou d'un contrat", en: "Exclusion from a right, service or contract" },
      applies: false,
      why: { fr: "Le traitement ne conditionne l'accès à aucun droit ni service.", en: "The processing does not condition access to any right or service." },
    },
  ];
}

function dpiaScreening(config: Association, register: RegisterDocument): CompanionDocument {
  const say = prose(register.language);
  const criteria = dpiaCriteria(config, register);
  const met = criteria.filter((c) => c.applies).length;
  const yes = say({ fr: "oui", en: "yes" });
  const no = say({ fr: "non", en: "no" });
  return {
    id: "dpia-screening",
    ...header(register),
    title: say({ fr: "Analyse préalable : faut-il une analyse d'impact (AIPD) ?", en: "Screening: is a data protection impact assessment (DPIA) needed?" }),
    intro: [
      say({
        fr: "L'article 35 du RGPD impose une analyse d'impact quand un traitement est susceptible d'engendrer un risque élevé. La CNIL retient neuf critères, issus des lignes directrices européennes : un traitement qui en remplit au moins deux doit en principe faire l'objet d'une analyse d'impact.",
        en: "GDPR Article 35 requires an impact assessment when processing is likely to result in a high risk. The CNIL uses nine criteria from the European guidelines: processing that meets at least two of them should in principle have an impact assessment.",
      }),
    ],
    sections: [
      section(say({ fr: "Les critères", en: "The criteria" }), {
        table: {
          head: [say({ fr: "Critère", en: "Criterion" }), say({ fr: "Rempli", en: "Met" }), say({ fr: "Pourquoi", en: "Why" })],
          rows: criteria.map((c) => [say(c.name), c.applies ? yes : no, say(c.why)]),
        },
      }),
      section(say({ fr: "Conclusion", en: "Conclusion" }), {
        paragraphs: [
          met >= 2
            ? say({
                fr: `${met} critères sont remplis : une analyse d'impact complète est nécessaire avant la mise en service (l'outil PIA de la CNIL peut servir).`,
                en: `${met} criteria are met: a full impact assessment is needed before going live (the CNIL's PIA tool can help).`,
              })
            : say({
                fr: `${met === 0 ? "Aucun critère n'est rempli" : "Un seul critère est rempli"} : une analyse d'impact complète n'est pas obligatoire. Elle le devient si un second critère s'ajoute, en particulier si l'association emploie des salariés ou accueille des personnes vulnérables dans ces outils. Cette analyse est à revoir à chaque changement du registre.`,
                en: `${met === 0 ? "No criterion is met" : "One criterion is met"}: a full impact assessment is not required. It becomes so if a second criterion is added, in particular if the association employs staff or welcomes vulnerable people in these tools. Review this screening whenever the register changes.`,
              }),
        ],
      }),
    ],
  };
}

function admins(config: Association): string {
  return config.members.filter((m) => m.role === "admin").map((m) => m.name).join(", ");
}

const BREACH_COLUMNS: Localized[] = [
  { fr: "Date de découverte", en: "Discovered on" },
  { fr: "Nature de la violation", en: "Nature of the breach" },
  { fr: "Personnes et données touchées (nombre approximatif)", en: "People and data affected (approximate number)" },
  { fr: "Conséquences probables", en: "Likely consequences" },
  { fr: "Mesures prises", en: "Measures taken" },
  { fr: "Notifiée à la CNIL (date)", en: "Notified to the CNIL (date)" },
  { fr: "Personnes informées (date)", en: "People informed (date)" },
];

function breachProcedure(config: Association, register: RegisterDocument): CompanionDocument {
  const say = prose(register.language);
  const dpo = `${register.dpo.name} (${register.dpo.email})`;
  const president = config.organisation.president;
  return {
    id: "breach-procedure",
    ...header(register),
    title: say({ fr: "Procédure en cas de violation de données personnelles", en: "Personal data breach procedure" }),
    intro: [
      say({
        fr: "Une violation de données est la perte, la destruction, la modification ou la divulgation non autorisée de données personnelles, ou un accès non autorisé à celles-ci, qu'elle soit accidentelle ou malveillante (article 4.12 du RGPD). Exemples : un ordinateur volé avec le fichier des membres, un lien de partage public envoyé à la mauvaise personne, un compte piraté.",
        en: "A data breach is the loss, destruction, alteration or unauthorised disclosure of, or access to, personal data, accidental or malicious (GDPR Article 4(12)). Examples: a stolen laptop with the member list, a public share link sent to the wrong person, a hacked account.",
      }),
    ],
    sections: [
      section(say({ fr: "Qui fait quoi, dans quel délai", en: "Who does what, and when" }), {
        items: [
          say({
            fr: `Dès la découverte : la personne qui la constate prévient le délégué, ${dpo}, et un administrateur (${admins(config)}), sans attendre d'en savoir plus.`,
            en: `On discovery: whoever notices it tells the DPO, ${dpo}, and an administrator (${admins(config)}), without waiting to know more.`,
          }),
          say({
            fr: "Dans les premières heures : les administrateurs limitent les dégâts (désactiver le compte touché, retirer l'appareil du réseau privé, supprimer le lien de partage, changer les secrets) et gardent les journaux utiles.",
            en: "In the first hours: the administrators limit the damage (disable the affected account, remove the device from the private network, delete the share link, change the secrets) and keep the relevant logs.",
          }),
          say({
            fr: "Sous 24 heures : le délégué évalue le risque pour les personnes (quelles données, combien de personnes, quelles conséquences).",
            en: "Within 24 hours: the DPO assesses the risk to people (which data, how many people, what consequences).",
          }),
          say({
            fr: `Sous 72 heures après la découverte : si la violation présente un risque pour les droits et libertés des personnes, le délégué la notifie à la CNIL par son téléservice de notification, avec l'accord de ${president}, représentant légal (article 33 du RGPD). Une notification incomplète est envoyée dans le délai puis complétée.`,
            en: `Within 72 hours of discovery: if the breach is a risk to people's rights and freedoms, the DPO notifies the CNIL through its online notification service, with the agreement of ${president}, legal representative (GDPR Article 33). An incomplete notification is sent in time, then completed.`,
          }),
          say({
            fr: "Sans tarder si le risque est élevé : l'association informe les personnes concernées, en termes clairs, de ce qui s'est passé et de ce qu'elles peuvent faire (article 34 du RGPD).",
            en: "Without delay if the risk is high: the association tells the people concerned, in plain words, what happened and what they can do (GDPR Article 34).",
          }),
          say({
            fr: "Dans tous les cas, même sans notification : le délégué inscrit la violation dans le registre ci-dessous (article 33.5 du RGPD).",
            en: "In every case, even without notification: the DPO records the breach in the register below (GDPR Article 33(5)).",
          }),
        ],
      }),
      section(say({ fr: "Registre des violations", en: "Breach register" }), {
        paragraphs: [say({ fr: "Aucune violation inscrite à ce jour.", en: "No breach recorded to date." })],
        table: { head: BREACH_COLUMNS.map(say), rows: [0, 1, 2].map(() => BREACH_COLUMNS.map(() => "")) },
      }),
    ],
  };
}

function requestsProcedure(config: Association, register: RegisterDocument): CompanionDocument {
  const say = prose(register.language);
  const dpo = `${register.dpo.name} (${register.dpo.email})`;
  return {
    id: "requests-procedure",
    ...header(register),
    title: say({ fr: "Procédure pour les demandes d'exercice des droits", en: "Data subject request procedure" }),
    intro: [
      say({
        fr: `Toute personne peut demander à consulter, corriger, effacer ou recevoir ses données, ou s'opposer à leur usage (articles 15 à 21 du RGPD). Les demandes arrivent au délégué, ${dpo}, ou à l'association, ${register.controller.contact}, qui les lui transmet le jour même.`,
        en: `Anyone can ask to see, correct, erase or receive their data, or object to its use (GDPR Articles 15 to 21). Requests reach the DPO, ${dpo}, or the association, ${register.controller.contact}, which passes them on the same day.`,
      }),
    ],
    sections: [
      section(say({ fr: "Étapes", en: "Steps" }), {
        items: [
          say({
            fr: "Accuser réception et vérifier l'identité du demandeur, sans demander plus que nécessaire : pour un membre, une réponse depuis l'adresse électronique connue de l'association suffit.",
            en: "Acknowledge and check the requester's identity, asking no more than needed: for a member, a reply from the e-mail address the association knows is enough.",
          }),
          say({
            fr: "Répondre dans un délai d'un mois, prolongeable de deux mois pour une demande complexe, en le disant au demandeur dans le premier mois (article 12.3 du RGPD).",
            en: "Answer within one month, extendable by two months for a complex request, telling the requester within the first month (GDPR Article 12(3)).",
          }),
          say({
            fr: "Accès ou portabilité : un administrateur lance l'export du membre (commande « export-member » de Bastide), qui rassemble ce que chaque service garde sur lui dans une archive, avec un relevé daté de ce qui a été exporté. Le délégué vérifie l'archive et la remet au demandeur par un moyen sûr.",
            en: "Access or portability: an administrator runs the member export (Bastide's « export-member » command), which gathers what each service holds about the member into an archive, with a dated record of what was exported. The DPO checks the archive and hands it over securely.",
          }),
          say({
            fr: "Effacement : retirer le membre du fichier de l'association et déployer, ce qui désactive aussitôt ses comptes ; puis lancer l'effacement (commande « erase-member » de Bastide), qui efface ses données dans chaque service et écrit un relevé daté de ce qui a été effacé. Sans cela, l'effacement a lieu de lui-même à la fin du délai de grâce.",
            en: "Erasure: remove the member from the association file and deploy, which disables their accounts at once; then run the erasure (Bastide's « erase-member » command), which erases their data in each service and writes a dated record of what was erased. Otherwise erasure happens by itself at the end of the grace period.",
          }),
          say({
            fr: "Rectification : corriger le nom ou l'adresse dans le fichier de l'association et déployer ; le membre corrige lui-même ses fichiers et ses messages.",
            en: "Rectification: correct the name or address in the association file and deploy; the member corrects their own files and messages.",
          }),
          say({
            fr: "Personnes sans compte (invités, répondants aux sondages) : l'export et l'effacement retrouvent leurs réponses aux sondages par le nom ou l'adresse qu'elles ont donnés ; les réunions ne laissent aucune trace à effacer.",
            en: "People without an account (guests, poll respondents): the export and erasure find their poll answers by the name or address they gave; meetings leave nothing to erase.",
          }),
        ],
      }),
      section(say({ fr: "Ce qu'il faut garder", en: "What to keep" }), {
        paragraphs: [
          say({
            fr: "Classer avec la demande les relevés datés écrits par l'export et l'effacement, et la réponse envoyée : ils prouvent que la demande a été traitée. Ils sont gardés cinq ans, durée de prescription de droit commun, puis détruits.",
            en: "File with the request the dated records the export and erasure write, and the answer sent: they prove the request was handled. They are kept five years, the ordinary limitation period, then destroyed.",
          }),
        ],
      }),
    ],
  };
}

function processorsList(config: Association, register: RegisterDocument): CompanionDocument {
  const say = prose(register.language);
  const processors = register.location.recipients.filter((r) => r.kind === "processor");
  const file = say({ fr: "avec le présent registre, dossier « Sous-traitants »", en: "with this register, folder « Processors »" });
  return {
    id: "processors",
    ...header(register),
    title: say({ fr: "Liste des sous-traitants", en: "List of processors" }),
    intro: [
      say({
        fr: "Un sous-traitant traite des données pour le compte de l'association. L'article 28 du RGPD impose un contrat écrit qui fixe l'objet, la durée, la nature des données, les obligations de sécurité et le sort des données à la fin du contrat.",
        en: "A processor handles data on the association's behalf. GDPR Article 28 requires a written contract stating the subject, duration, kind of data, security obligations and what happens to the data at the end.",
      }),
    ],
    sections: [
      section(say({ fr: "Sous-traitants", en: "Processors" }), {
        paragraphs:
          processors.length === 0
            ? [say({ fr: "Aucun sous-traitant pour ce déploiement : le serveur appartient à l'association et aucun prestataire n'y accède.", en: "No processor for this deployment: the server is the association's and no provider reaches it." })]
            : [],
        table:
          processors.length === 0
            ? null
            : {
                head: [
                  say({ fr: "Sous-traitant", en: "Processor" }),
                  say({ fr: "Rôle", en: "Role" }),
                  say({ fr: "Données traitées", en: "Data processed" }),
                  say({ fr: "Pays", en: "Country" }),
                  say({ fr: "Contrat à classer", en: "Contract to file" }),
                ],
                rows: processors.map((r) => [r.name, r.role, r.data, r.country, file]),
              },
      }),
      section(say({ fr: "Autres destinataires, qui ne sont pas des sous-traitants", en: "Other recipients, who are not processors" }), {
        items: register.location.recipients.filter((r) => r.kind === "third-party").map((r) => labelled(register.language, r.name, r.role)),
        paragraphs: [
          say({
            fr: "Ces organismes reçoivent quelques données pour rendre un service technique, sans agir pour le compte de l'association : ils figurent au registre, sans contrat de sous-traitance.",
            en: "These bodies receive some data to provide a technical service, without acting on the association's behalf: they are in the register, without a processing contract.",
          }),
        ],
      }),
    ],
  };
}

/** Every companion document that applies to the config, in `register`'s language. */
export function companionDocuments(config: Association, register: RegisterDocument): CompanionDocument[] {
  const notices = AUDIENCES.flatMap((a) => notice(config, register, a) ?? []);
  const documents = [...notices, dpiaScreening(config, register), breachProcedure(config, register), requestsProcedure(config, register), processorsList(config, register)];
  return documents.map((d) => companionSchema.parse(d));
}

/**
 * The information notices as the proxy publishes them, in `language`: the same text as the
 * report's, from the association file alone and undated, so that they change only when the
 * file changes what they say.
 */
export function publishedNotices(config: Association, language: Language): CompanionDocument[] {
  const { name, contact, dpo } = config.organisation;
  const source: NoticeSource = { language, controller: { name, contact }, dpo: { name: dpo.name, email: dpo.email }, generatedOnText: null };
  return AUDIENCES.flatMap((a) => notice(config, source, a) ?? []).map((d) => companionSchema.parse(d));
}
