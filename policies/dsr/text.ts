// The short human version of a record, in the association's language: what was done for
// whom and when, service by service, and what the request leaves out.
import type { Language } from "../rgpd/model.ts";
import { OUTCOME_LABELS, SERVICE_LABELS, t, type DsrRecord } from "./model.ts";

const TITLES = {
  export: t("Demande d'accès et de portabilité (RGPD art. 15 et 20)", "Access and portability request (GDPR art. 15 and 20)"),
  erasure: t("Demande d'effacement (RGPD art. 17)", "Erasure request (GDPR art. 17)"),
};

const WORDS = {
  member: t("Membre", "Member"),
  organisation: t("Association", "Association"),
  started: t("Début", "Started"),
  finished: t("Fin", "Finished"),
  result: t("Résultat", "Result"),
  complete: t("complet", "complete"),
  incomplete: t("INCOMPLET : des étapes ont échoué, voir ci-dessous", "INCOMPLETE: some steps failed, see below"),
  planned: t("simulation : rien n'a été modifié (relancer avec --confirm pour effacer)", "dry run: nothing was changed (run again with --confirm to erase)"),
  files: t("fichiers", "files"),
  error: t("erreur", "error"),
  limits: t("Limites", "Limits"),
  identity: t("Identifié par", "Identified by"),
};

export function recordText(record: DsrRecord, language: Language): string {
  const say = (text: { fr: string; en: string }) => text[language];
  const dryRun = record.kind === "erasure" && record.steps.some((s) => s.outcome === "planned");
  // French puts a space before a colon.
  const field = (word: { fr: string; en: string }, value: string) => `${say(word)}${language === "fr" ? " :" : ":"} ${value}`;
  const lines = [
    say(TITLES[record.kind]),
    "",
    field(WORDS.member, record.member),
    field(WORDS.organisation, record.organisation),
    field(WORDS.identity, record.identity.sources.join(", ") || "-"),
    field(WORDS.started, record.startedAt),
    field(WORDS.finished, record.finishedAt),
    field(WORDS.result, record.complete ? say(dryRun ? WORDS.planned : WORDS.complete) : say(WORDS.incomplete)),
  ];
  for (const service of record.services) {
    const steps = record.steps.filter((s) => s.service === service);
    if (steps.length === 0) continue;
    lines.push("", say(SERVICE_LABELS[service]));
    for (const step of steps) {
      lines.push(`  - [${say(OUTCOME_LABELS[step.outcome])}] ${say(step.summary)} (${step.at})`);
      if (step.files?.length) lines.push(`      ${field(WORDS.files, step.files.map((f) => f.path).join(", "))}`);
      if (step.error) lines.push(`      ${field(WORDS.error, step.error)}`);
    }
  }
  if (record.notes.length > 0) {
    lines.push("", say(WORDS.limits));
    for (const note of record.notes) lines.push(`  - ${note.service === "all" ? say(note.text) : field(SERVICE_LABELS[note.service], say(note.text))}`);
  }
  return `${lines.join("\n")}\n`;
}
