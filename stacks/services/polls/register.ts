// The polls' entry in the register of processing: answers and creators, deleted with
// their poll a fixed delay after its end date by the purge container.
import type { Association } from "../../config/schema.ts";
import { RECIPIENTS, type DataCategory, type ProcessingActivity, MAY_REVEAL_SENSITIVE_DATA } from "../../../policies/rgpd/model.ts";
import { configSetting, daysRetention } from "../../../policies/rgpd/settings.ts";
import { CONFIG_PATH, DISCARDED_LOG } from "./blueprint.ts";

export const activity: ProcessingActivity = {
  service: "polls",
  name: { fr: "Sondages (Framadate)", en: "Polls (Framadate)" },
  purpose: {
    fr: "Choisir une date ou recueillir un avis, y compris auprès de personnes sans compte.",
    en: "Pick a date or gather opinions, including from people without an account.",
  },
  sensitiveData: {
    possible: true,
    statement: MAY_REVEAL_SENSITIVE_DATA,
    measures: {
      fr: "Chaque sondage a une date de fin et est supprimé après un délai fixe ; ne pas poser de question qui appelle une réponse sensible dans un sondage ouvert à tous.",
      en: "Every poll has an end date and is deleted a fixed delay after it; do not ask, in a poll open to anyone, a question whose answer is sensitive.",
    },
  },
};

export function register(config: Association): DataCategory[] {
  const purge = configSetting(config, "services.polls.purgeDelayDays");
  const duration = configSetting(config, "services.polls.defaultDurationDays");
  const afterEnd = {
    fr: `après la date de fin du sondage (au plus ${duration.value} jours après sa création)`,
    en: `after the poll's end date (at most ${duration.value} days after it was created)`,
  };
  const basis = {
    article: "f" as const,
    justification: {
      fr: "intérêt légitime à organiser les activités de l'association avec les personnes qui choisissent de répondre ; aucun compte, un nom ou un pseudonyme suffit",
      en: "legitimate interest in organising the association's activities with the people who choose to answer; no account, a name or a pseudonym is enough",
    },
  };
  const enforcedBy = {
    how: {
      fr: "Un conteneur de purge appelle chaque jour le code de Framadate, qui supprime les sondages dont la fin date de plus de ce délai, avec leurs réponses et commentaires.",
      en: "A purge container calls Framadate's own code daily, which deletes the polls that ended longer ago than this, with their answers and comments.",
    },
    mechanism: `Framadate PURGE_DELAY = ${purge.value} (${CONFIG_PATH}) + purge container (bastide-purge-loop, daily PurgeService::purgeOldPolls)`,
  };
  const linkHolders = { fr: "toute personne qui a le lien du sondage", en: "anyone who has the poll's link" };

  return [
    {
      id: "polls.answers",
      service: "polls",
      name: { fr: "Réponses aux sondages", en: "Poll answers" },
      data: { fr: "nom ou pseudonyme saisi, choix exprimés, commentaires", en: "name or pseudonym entered, choices, comments" },
      purpose: { fr: "Recueillir les disponibilités ou les avis.", en: "Collect availability or opinions." },
      legalBasis: basis,
      dataSubjects: ["respondents", "members"],
      recipients: [linkHolders, RECIPIENTS.admins],
      retention: daysRetention(purge, afterEnd),
      enforcedBy,
      auditable: true,
    },
    {
      id: "polls.creators",
      service: "polls",
      name: { fr: "Créateurs des sondages", en: "Poll creators" },
      data: {
        fr: "nom et adresse e-mail du créateur, titre, description et propositions du sondage, lien d'administration",
        en: "creator's name and e-mail address, the poll's title, description and options, administration link",
      },
      purpose: { fr: "Permettre au créateur de gérer son sondage.", en: "Let the creator manage the poll." },
      legalBasis: basis,
      dataSubjects: ["respondents", "members"],
      recipients: [{ fr: "le titre et la description : toute personne qui a le lien ; l'e-mail : personne d'autre que les administrateurs", en: "title and description: anyone with the link; the e-mail: nobody but the admins" }, RECIPIENTS.admins],
      retention: daysRetention(purge, afterEnd, {
        fr: `Aucun e-mail n'est envoyé (pas de serveur de courrier). Le journal propre à Framadate, qui noterait titres et adresses, est jeté (LOG_FILE → ${DISCARDED_LOG}).`,
        en: `No e-mail is sent (no mail server). Framadate's own log, which would record titles and addresses, is discarded (LOG_FILE → ${DISCARDED_LOG}).`,
      }),
      enforcedBy,
      auditable: true,
    },
  ];
}
