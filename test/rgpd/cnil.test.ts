// The register against the CNIL's model and GDPR art. 30(1): every column on every sheet of
// every enabled service, the sheets' references and dates kept across runs, and the companion
// documents that go with it.
import test from "ava";
import { join } from "node:path";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Association } from "../../stacks/config/schema.ts";
import { SERVICE_REGISTERS, processingActivities } from "../../policies/rgpd/register.ts";
import { emptyHistory, historySchema, readHistory, updateHistory } from "../../policies/rgpd/history.ts";
import { registerDocument, registerHistory, sheetFingerprints } from "../../policies/reports/document.ts";
import { CNIL_ORGANISATION_COLUMNS, CNIL_SHEET_COLUMNS } from "../../policies/reports/cnil.ts";
import { companionDocuments } from "../../policies/reports/companions.ts";
import { renderCompanionHtml, renderHtml } from "../../policies/reports/html.ts";
import { writeReport } from "../../policies/reports/cli.ts";
import { LANGUAGES } from "../../policies/rgpd/model.ts";
import { stringify } from "yaml";
import { exampleAssociation, exampleInput } from "../support/association.ts";
import { scratch } from "../support/programs.ts";

const DAY_ONE = new Date("2026-03-15T10:00:00Z");
const DAY_TWO = new Date("2026-04-20T09:00:00Z");
const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBastideTestKeyOnlyForTests admin@laptop";

/** Every service and every option that adds a recipient or a transfer. */
const everything = exampleAssociation((input) => {
  input.domain = "asso-exemple.fr";
  input.host = { target: "hetzner", location: "fsn1", serverType: "cx42", sshPublicKey: SSH_KEY, adminAddresses: ["203.0.113.7/32"] };
  input.services.matrix.federation = { enabled: true, reason: "Nous travaillons avec une fédération régionale" };
  input.services.jitsi = { dialIn: { enabled: true, numbersUrl: "https://tel.example.org/numeros" } };
  input.services.proxy = { acmeCa: "production", accessLog: { retentionDays: 200, retentionReason: "Délai pour détecter une intrusion découverte tardivement" } };
  input.mail = { host: "smtp.example.org", port: 587, security: "starttls", from: "ne-pas-repondre@asso-exemple.fr", username: "ne-pas-repondre@asso-exemple.fr" };
});

for (const [name, config] of [["the example", exampleAssociation()], ["every option on", everything]] as [string, Association][])
  for (const language of LANGUAGES)
    test(`${name}, ${language}: every CNIL column and art. 30(1) point is filled on every sheet of every enabled service`, (t) => {
      const document = registerDocument(config, { language, generatedAt: DAY_ONE });
      t.deepEqual(
        document.activities.map((a) => a.service),
        processingActivities(config).map((a) => a.activity.service),
        "one sheet per enabled service",
      );
      for (const sheet of document.activities)
        for (const column of [...CNIL_ORGANISATION_COLUMNS, ...CNIL_SHEET_COLUMNS]) {
          const values = column.values(sheet, document);
          t.true(values.length > 0, `${sheet.service}: ${column.column}`);
          for (const value of values) t.true(typeof value === "string" && value.trim().length > 0, `${sheet.service}: ${column.column} is empty`);
        }
      const points = new Set([...CNIL_ORGANISATION_COLUMNS, ...CNIL_SHEET_COLUMNS].flatMap((c) => (c.article ? [c.article] : [])));
      t.deepEqual([...points].sort(), ["30(1)(a)", "30(1)(b)", "30(1)(c)", "30(1)(d)", "30(1)(e)", "30(1)(f)", "30(1)(g)"]);
      // The sheet prints them: reference and dates in the sheet's heading and facts.
      const html = renderHtml(document);
      for (const sheet of document.activities) {
        t.true(html.includes(`${sheet.reference} · `), sheet.reference);
        t.true(html.includes(sheet.createdText));
      }
    });

test("a service whose processing lacks the sensitive-data statement, or its measures, cannot make a register", (t) => {
  const { sensitiveData: _dropped, ...withoutStatement } = SERVICE_REGISTERS.polls.activity;
  const missing = { ...SERVICE_REGISTERS, polls: { ...SERVICE_REGISTERS.polls, activity: withoutStatement as typeof SERVICE_REGISTERS.polls.activity } };
  t.throws(() => processingActivities(everything, missing), { message: /the processing of polls is not fit for the register: activity\.sensitiveData/ });
  const withoutMeasures = { ...SERVICE_REGISTERS.matrix.activity, sensitiveData: { ...SERVICE_REGISTERS.matrix.activity.sensitiveData, measures: undefined } };
  const noMeasures = { ...SERVICE_REGISTERS, matrix: { ...SERVICE_REGISTERS.matrix, activity: withoutMeasures } };
  t.throws(() => processingActivities(everything, noMeasures), { message: /activity\.sensitiveData\.measures: a processing that may hold sensitive data needs its measures/ });
});

test("files, chats, meetings and polls carry the art. 9 statement and measures; technical processing says none", (t) => {
  const document = registerDocument(everything, { language: "fr", generatedAt: DAY_ONE });
  const possible = document.activities.filter((a) => a.sensitiveData.possible).map((a) => a.service);
  t.deepEqual(possible, ["jitsi", "nextcloud", "matrix", "polls"]);
  for (const sheet of document.activities.filter((a) => a.sensitiveData.possible)) {
    t.regex(sheet.sensitiveData.statement, /article 9\.2 d\) du RGPD/);
    t.truthy(sheet.sensitiveData.measures);
  }
  t.regex(document.activities.find((a) => a.service === "proxy")!.sensitiveData.statement, /^Aucune/);
});

test("every transfer outside the EU has its safeguard and a way to avoid it, with the setting when there is one", (t) => {
  const document = registerDocument(everything, { language: "fr", generatedAt: DAY_ONE });
  const transfers = document.activities.flatMap((a) => a.transfers.list);
  t.deepEqual(
    transfers.map((x) => x.recipient),
    [
      "Passerelles de notification (Element, Google Firebase Cloud Messaging, Apple Push Notification service)",
      "Fédération Matrix",
      "Quad9 (Quad9 Foundation)",
      "Let's Encrypt (Internet Security Research Group)",
    ],
  );
  const by = (name: string) => transfers.find((x) => x.recipient.startsWith(name))!;
  t.regex(by("Quad9").safeguard, /Suisse \(décision 2000\/518\/CE/);
  t.is(by("Quad9").setting, "services.vpn.enabled: false");
  t.regex(by("Passerelles").safeguard, /cadre de protection des données UE–États-Unis/);
  t.regex(by("Passerelles").safeguard, /2021\/1772/);
  t.is(by("Fédération").setting, "services.matrix.federation.enabled: false");
  t.regex(by("Let's Encrypt").avoidance, /Aucun réglage ne l’évite/);
});

test("access logs kept past 90 days quote the association's reason and the CNIL's range", (t) => {
  const document = registerDocument(everything, { language: "fr", generatedAt: DAY_ONE });
  const logs = document.activities.find((a) => a.service === "proxy")!.categories.find((c) => c.id === "proxy.access-logs")!;
  t.regex(logs.retention.period, /^200\u00A0jours/);
  t.regex(logs.retention.note!, /de six mois à un an/);
  t.regex(logs.retention.note!, /garde 200 jours pour la raison suivante\u00A0: Délai pour détecter une intrusion/);
  t.is(logs.retention.bounds, "de 1 à 365\u00A0jours");
});

test("a DPO who is not an admin gets no warning; one who is, and acknowledged, is flagged", (t) => {
  const separate = exampleAssociation((input) => {
    input.organisation.dpo = { name: "Hélène Garnier", email: "dpo@jardins-canal.localhost" };
  });
  t.is(registerDocument(separate, { language: "fr", generatedAt: DAY_ONE }).dpo.conflict, null);
  t.regex(registerDocument(exampleAssociation(), { language: "en", generatedAt: DAY_ONE }).dpo.conflict!, /^Warning: the DPO is also an administrator/);
});

test("references and dates: stable across runs and languages; a changed processing moves its own date only", (t) => {
  const first = registerHistory(everything, undefined, DAY_ONE);
  t.deepEqual(historySchema.parse(JSON.parse(JSON.stringify(first))), first);
  t.deepEqual(
    Object.values(first.processings).map((e) => e!.reference),
    ["T-01", "T-02", "T-03", "T-04", "T-05", "T-06", "T-07"],
  );
  // Nothing changed: a later run keeps every date.
  t.deepEqual(registerHistory(everything, first, DAY_TWO), first);
  t.deepEqual(registerDocument(everything, { language: "en", generatedAt: DAY_TWO, history: first }).activities.map((a) => a.changed), Array(7).fill("2026-03-15"));

  // The messages' retention changes: only Matrix's sheet moves.
  const changed: Association = { ...everything, services: { ...everything.services, matrix: { ...everything.services.matrix, retention: { ...everything.services.matrix.retention, messagesDays: 400 } } } };
  const second = registerHistory(changed, first, DAY_TWO);
  for (const [service, entry] of Object.entries(second.processings)) {
    t.is(entry!.created, "2026-03-15", service);
    t.is(entry!.changed, service === "matrix" ? "2026-04-20" : "2026-03-15", service);
    t.is(entry!.reference, first.processings[service as keyof typeof first.processings]!.reference);
  }

  // A service turned off keeps its entry, and gets its reference back when turned on again.
  const withoutPolls: Association = { ...everything, services: { ...everything.services, polls: { ...everything.services.polls, enabled: false } } };
  const third = registerHistory(withoutPolls, second, DAY_TWO);
  t.is(third.processings.polls!.reference, "T-05");
  t.false(registerDocument(withoutPolls, { language: "fr", generatedAt: DAY_TWO, history: third }).activities.some((a) => a.reference === "T-05"));

  // A reference already taken by hand is not given twice.
  const taken = updateHistory({ ...emptyHistory(), processings: { proxy: { ...first.processings.proxy!, reference: "T-04" } } }, sheetFingerprints(everything), DAY_ONE);
  const references = Object.values(taken.processings).map((e) => e!.reference);
  t.is(new Set(references).size, references.length);
});

test("the history file: written beside the association file, read back, and a damaged one refused before anything is written", async (t) => {
  const dir = scratch({ "association.yaml": stringify(exampleInput()) });
  const file = join(dir, "association.yaml");
  const out = join(dir, "report");
  const files = await writeReport({ file, out, pdf: false, generatedAt: DAY_ONE });
  t.is(files.history, join(dir, "association.register-history.json"));
  const written = readHistory(files.history);
  t.is(written.processings.jitsi!.created, "2026-03-15");
  await writeReport({ file, out, pdf: false, generatedAt: DAY_TWO });
  t.deepEqual(readHistory(files.history), written, "a run with nothing changed leaves the file as it was");

  writeFileSync(files.history, '{"format": "bastide-register-history/1", "processings": {"jitsi": {"reference": "X"}}}');
  const other = join(dir, "other");
  await t.throwsAsync(() => writeReport({ file, out: other, pdf: false, generatedAt: DAY_TWO }), { message: /association\.register-history\.json is not a register history Bastide wrote:\n {2}- processings\.jitsi\.reference: must look like T-01/ });
  t.false(existsSync(other));
});

test("French and English side by side: both folders, the register and every companion document in each", async (t) => {
  const dir = scratch({ "association.yaml": stringify(exampleInput()) });
  const out = join(dir, "report");
  const files = await writeReport({ file: join(dir, "association.yaml"), out, pdf: false, generatedAt: DAY_ONE });
  for (const language of LANGUAGES) {
    const written = files.languages[language]!;
    t.is(written.html, join(out, language, "register.html"));
    t.deepEqual(
      written.companions.map((c) => c.id),
      ["notice-members", "notice-guests", "notice-respondents", "dpia-screening", "breach-procedure", "requests-procedure", "processors"],
    );
    t.is(JSON.parse(readFileSync(written.json, "utf8")).language, language);
  }
  t.regex(readFileSync(join(out, "fr", "notice-members.html"), "utf8"), /Vos données dans les outils de l’association/);
  t.regex(readFileSync(join(out, "en", "notice-members.html"), "utf8"), /Your data in the association&#x27;s tools/);
  const englishOnly = await writeReport({ file: join(dir, "association.yaml"), out: join(dir, "en-only"), language: "en", pdf: false, generatedAt: DAY_ONE });
  t.deepEqual(Object.keys(englishOnly.languages), ["en"]);
});

test("companion documents follow the config: notices only for the services deployed, processors from the host", (t) => {
  const noGuests = exampleAssociation((input) => {
    input.services.jitsi = { enabled: false };
    input.services.polls = { enabled: false };
  });
  const ids = (config: Association) => companionDocuments(config, registerDocument(config, { language: "fr", generatedAt: DAY_ONE })).map((d) => d.id);
  t.deepEqual(ids(noGuests), ["notice-members", "dpia-screening", "breach-procedure", "requests-procedure", "processors"]);

  const documents = companionDocuments(everything, registerDocument(everything, { language: "fr", generatedAt: DAY_ONE }));
  const processors = documents.find((d) => d.id === "processors")!;
  t.deepEqual(processors.sections[0]!.table!.rows.map((r) => r[0]), ["Hetzner Online GmbH", "smtp.example.org"]);
  const breach = documents.find((d) => d.id === "breach-procedure")!;
  t.true(breach.sections[0]!.items.some((i) => /Sous 72\u00A0heures|Sous 72 heures/.test(i) && i.includes("Martine Lefèvre")));
  t.true(breach.sections[1]!.table!.rows.every((row) => row.every((cell) => cell === "")), "the breach register starts empty");
  const requests = documents.find((d) => d.id === "requests-procedure")!;
  const steps = requests.sections[0]!.items.join(" ");
  t.regex(steps, /export-member/);
  t.regex(steps, /erase-member/);
  const dpia = documents.find((d) => d.id === "dpia-screening")!;
  t.is(dpia.sections[0]!.table!.rows.length, 9, "the CNIL's nine criteria");
  t.regex(dpia.sections[1]!.paragraphs[0]!, /^Un seul critère est rempli/);
  const notice = documents.find((d) => d.id === "notice-guests")!;
  t.regex(renderCompanionHtml(notice), /dpo@jardins-canal\.localhost/);
});
