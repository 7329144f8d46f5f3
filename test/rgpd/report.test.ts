import test from "ava";
import type { Association } from "../../stacks/config/schema.ts";
import { firewallRules } from "../../stacks/host/firewall.ts";
import { dataCategories } from "../../policies/rgpd/register.ts";
import { registerDocument, registerDocumentSchema, type RegisterDocument } from "../../policies/reports/document.ts";
import { renderHtml } from "../../policies/reports/html.ts";
import { registryOf, untranslatedVolumes } from "../../policies/reports/location.ts";
import { frenchTypography } from "../../policies/reports/text.ts";
import { exampleAssociation } from "../support/association.ts";

const DATE = new Date("2026-03-15T10:00:00Z");
const example = exampleAssociation();
const french = (config: Association = example) => registerDocument(config, { language: "fr", generatedAt: DATE });
const english = (config: Association = example) => registerDocument(config, { language: "en", generatedAt: DATE });

const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBastideTestKeyOnlyForTests admin@laptop";
const onHetzner = exampleAssociation((input) => {
  input.domain = "asso-exemple.fr";
  input.host = { target: "hetzner", location: "fsn1", serverType: "cx42", sshPublicKey: SSH_KEY, adminAddresses: ["203.0.113.7/32"] };
  input.services.proxy = { acmeCa: "production", acmeEmail: "admin@asso-exemple.fr" };
});
const onScaleway = exampleAssociation((input) => {
  input.host = { target: "scaleway", zone: "nl-ams-1", serverType: "DEV1-XL", sshPublicKey: SSH_KEY, adminAddresses: ["203.0.113.7/32"] };
});
const onOwnServer = exampleAssociation((input) => {
  input.host = { target: "ssh", address: "203.0.113.5", country: "BE", size: { cpus: 4, memoryGb: 12 } };
});

/** Every French sentence of the document: the fields that are prose, not settings or names. */
function frenchProse(doc: RegisterDocument): string[] {
  return [
    doc.transfers.statement,
    doc.location.statement,
    ...doc.activities.flatMap((a) => [
      a.mainPurpose,
      ...a.subPurposes,
      ...a.dataSubjects,
      a.sensitiveData.statement,
      a.sensitiveData.measures ?? "",
      a.transfers.statement,
      ...a.transfers.list.flatMap((l) => [l.safeguard, l.avoidance]),
      ...a.categories.flatMap((c) => [
        c.name,
        c.data,
        c.purpose,
        c.legalBasis.label,
        c.legalBasis.justification,
        ...c.recipients,
        c.retention.period,
        c.retention.bounds,
        c.retention.note ?? "",
        c.enforcedBy.how,
      ]),
    ]),
    ...doc.security.flatMap((m) => [m.title, m.detail]),
  ];
}

test("the French register has every field of GDPR article 30(1) and matches its JSON schema", (t) => {
  const doc = french();
  t.is(doc.title, "Registre des activités de traitement");
  t.is(doc.language, "fr");
  t.is(doc.generatedOn, "2026-03-15");
  t.is(doc.generatedOnText, "15 mars 2026");
  // (a) controller and DPO
  t.like(doc.controller, { name: "Les Jardins Partagés du Canal", contact: "contact@jardins-canal.localhost", address: "12 quai de Jemmapes, 75010 Paris", countryName: "France" });
  t.like(doc.dpo, { name: "Claire Dubois", email: "dpo@jardins-canal.localhost" });
  t.regex(doc.dpo.conflict!, /aussi administrateur des services \(compte claire\.dubois\).*article 38\.6 du RGPD.*le bureau revoit ses choix/);
  t.is(doc.legalRepresentative, "Martine Lefèvre, à la présidence de l’association");
  // (b)-(f), per activity
  for (const activity of doc.activities) {
    t.true(activity.mainPurpose.length > 0 && activity.dataSubjects.length > 0 && activity.recipients.internal.length > 0, activity.service);
    t.truthy(activity.transfers.statement);
    for (const c of activity.categories) {
      t.truthy(c.retention.period, c.id);
      t.regex(c.legalBasis.article, /^6\(1\)\([a-f]\)$/, c.id);
      t.truthy(c.legalBasis.justification, c.id);
    }
  }
  // (g)
  t.true(doc.security.length >= 10);
  // register.json is this object: it survives serialisation and validates.
  const json = JSON.parse(JSON.stringify(doc));
  t.deepEqual(registerDocumentSchema.parse(json), doc);
  t.false(registerDocumentSchema.safeParse({ ...json, dpo: { name: "Claire Dubois" } }).success, "a register without the DPO's e-mail is refused");
  t.false(registerDocumentSchema.safeParse({ ...json, activities: [] }).success, "a register without activities is refused");
});

test("the register lists every data category of every enabled service, and the schedule has one line for each", (t) => {
  const doc = french();
  // The container logs, the same on every service, are stated once, in the common sheet.
  const all = dataCategories(example).map((c) => c.id);
  const ids = all.filter((id) => !id.endsWith(".container-logs"));
  t.is(all.length - ids.length, doc.activities.length, "every service has its container logs");
  t.deepEqual(doc.activities.flatMap((a) => a.categories.map((c) => c.id)), ids);
  t.deepEqual(doc.retentionSchedule.map((r) => r.categoryId), ids);
  t.deepEqual(doc.commonLogs.services, doc.activities.map((a) => a.name));
  const messages = doc.retentionSchedule.find((r) => r.categoryId === "matrix.messages")!;
  t.like(messages, { period: "365\u00A0jours après l’envoi", setting: "services.matrix.retention.messagesDays", bounds: "de 7 à 3\u202F650\u00A0jours" });
  t.regex(messages.mechanism, /max_lifetime: 365d/);
});

test("a service turned off leaves the documents, and a changed retention shows in them", (t) => {
  const changed = exampleAssociation((input) => {
    input.services.polls = { enabled: false };
    input.services.nextcloud.trashbinDays = 12;
  });
  const doc = french(changed);
  t.false(doc.activities.some((a) => a.service === "polls"));
  t.false(doc.retentionSchedule.some((r) => r.service === "polls"));
  t.false(doc.location.storage.some((v) => v.service === "polls"));
  t.false(doc.location.connectionsWithoutPersonalData.some((c) => c.name === "packages.framasoft.org"));
  t.is(doc.retentionSchedule.find((r) => r.categoryId === "nextcloud.trash")!.period, "12\u00A0jours après la suppression");
  t.false(renderHtml(doc).includes("Framadate"));
});

test("the English variant has the English title and wording", (t) => {
  const doc = english();
  t.is(doc.title, "Record of processing activities");
  t.is(doc.generatedOnText, "15 March 2026");
  t.is(doc.retentionSchedule.find((r) => r.categoryId === "matrix.messages")!.period, "365 days after sending");
  t.is(doc.activities[0]!.categories[0]!.legalBasis.citation, "GDPR Art. 6(1)(f)");
  const html = renderHtml(doc);
  t.regex(html, /<html lang="en">/);
  t.regex(html, /<h2>3\. Retention schedule<\/h2>/);
  t.false(html.includes("Registre"));
});

test("French typography: typographic apostrophes, no-break spaces before colons, narrow ones before ; ! ?", (t) => {
  const prose = frenchProse(french()).join("\n");
  t.false(prose.includes("'"), "apostrophes are typographic");
  t.notRegex(prose, / [:;!?](\s|$)/m, "no plain space before : ; ! ?");
  t.notRegex(prose, /« | »/, "guillemets hold no-break spaces");
  t.is(frenchTypography("l'équipe « potager » : oui ; non ?"), "l\u2019équipe «\u00A0potager\u00A0»\u00A0: oui\u202F; non\u202F?");
  t.is(frenchTypography(frenchTypography("« a » : b")), frenchTypography("« a » : b"), "applying it twice changes nothing");
  t.is(frenchTypography("https://example.org:8443/a"), "https://example.org:8443/a");
});

test("the HTML is self-contained: inline CSS, no script, no external resource, print page breaks", (t) => {
  const html = renderHtml(french());
  t.regex(html, /^<!DOCTYPE html>/);
  t.regex(html, /<html lang="fr">/);
  t.regex(html, /<style>[\s\S]*@page[\s\S]*break-before: page[\s\S]*<\/style>/);
  for (const forbidden of [/<script/i, /<link/i, /<img/i, /<iframe/i, /\ssrc=/i, /\shref=/i, /url\(/i, /@import/i, /@font-face/i])
    t.notRegex(html, forbidden);
  t.regex(html, /<h1>Registre des activités de traitement<\/h1>/);
  for (const heading of ["1. Responsable du traitement", "2. Activités de traitement", "3. Durées de conservation", "4. Localisation des données", "5. Mesures de sécurité"])
    t.true(html.includes(`<h2>${heading}`), heading);
});

test("hostile names are escaped in the HTML", (t) => {
  const hostile = exampleAssociation((input) => {
    input.organisation.name = `<script>alert("pwned")</script> & Cie`;
    input.organisation.address = `<img src=x onerror=alert(1)>`;
    input.organisation.dpo.name = `Zoé "</dd><b>" O'Hara`;
  });
  const html = renderHtml(french(hostile));
  t.false(html.includes("<script"));
  t.false(html.includes("<img"));
  t.false(html.includes("<b>"));
  t.true(html.includes("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; Cie"));
  t.true(html.includes("&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;"));
  t.true(html.includes("Zoé &quot;&lt;/dd&gt;&lt;b&gt;&quot; O&#x27;Hara"));
  t.true(html.includes("<title>Registre des activités de traitement · &lt;script&gt;"));
});

test("data location: the hosting provider, its country and site, from the host settings", (t) => {
  const hetzner = french(onHetzner).location;
  t.like(hetzner, { target: "hetzner", provider: "Hetzner Online GmbH", providerCountry: "Allemagne", country: "DE", countryName: "Allemagne", region: "fsn1 (Falkenstein)" });
  t.true(hetzner.recipients.some((r) => r.name === "Hetzner Online GmbH" && r.kind === "processor"));
  t.regex(french(onHetzner).transfers.statement, /sur le serveur, en Allemagne/);

  const scaleway = english(onScaleway).location;
  t.like(scaleway, { provider: "Scaleway SAS", providerCountry: "France", country: "NL", countryName: "Netherlands", region: "nl-ams-1 (Amsterdam)" });
  t.regex(french(onScaleway).transfers.statement, /aux Pays-Bas/);

  const own = french(onOwnServer).location;
  t.like(own, { target: "ssh", provider: "serveur fourni par l’administrateur", country: "BE", countryName: "Belgique" });
  t.false(own.recipients.some((r) => r.kind === "processor"), "no provider is invented");
  t.regex(own.statement, /le DPO doit l’ajouter comme sous-traitant/);

  const local = french().location;
  t.like(local, { target: "local", provider: "machine de test locale", country: null });
});

test("sub-processors and third parties follow the config: Let's Encrypt, Quad9, push gateways, federation", (t) => {
  const names = (config: Association) => french(config).location.recipients.map((r) => r.name);
  t.false(names(example).some((n) => n.startsWith("Let's Encrypt")), "a local deployment uses Caddy's own CA");
  t.true(names(onHetzner).some((n) => n.startsWith("Let's Encrypt")));
  t.regex(french(onHetzner).location.recipients.find((r) => r.name.startsWith("Let's Encrypt"))!.data, /admin@asso-exemple\.fr/);
  t.true(names(example).some((n) => n.startsWith("Quad9")));
  t.true(names(example).some((n) => n.startsWith("Passerelles de notification")));

  const noVpnNoChat = exampleAssociation((input) => {
    input.services.vpn = { enabled: false };
    input.services.matrix = { enabled: false };
    for (const m of input.members) delete m.devices;
  });
  t.deepEqual(names(noVpnNoChat), []);
  t.regex(french(noVpnNoChat).transfers.statement, /^Aucun transfert hors de l’Espace économique européen/);
  t.false(french(noVpnNoChat).transfers.outsideEu);

  const federated = exampleAssociation((input) => {
    input.services.matrix.federation = { enabled: true, reason: "Nous échangeons avec la fédération régionale" };
    input.services.jitsi = { dialIn: { enabled: true, numbersUrl: "https://tel.example.org/numeros" } };
  });
  const doc = french(federated);
  const federation = doc.location.recipients.find((r) => r.name === "Fédération Matrix")!;
  t.regex(federation.data, /matrix\.org/);
  t.regex(federation.data, /fédération régionale/);
  t.true(doc.transfers.exceptions.some((e) => e.recipient.startsWith("Fédération Matrix")));
  t.regex(doc.activities.find((a) => a.service === "matrix")!.transfers.statement, /Fédération Matrix/);
  const phone = doc.location.recipients.find((r) => r.name === "Opérateur téléphonique (https://tel.example.org/numeros)");
  t.like(phone, { country: "à vérifier par le DPO", outsideEu: false });
});

test("the storage table names every volume, in French too", (t) => {
  const doc = french(onHetzner);
  t.deepEqual(untranslatedVolumes(onHetzner), []);
  t.true(doc.location.storage.some((v) => v.volume === "bastide-matrix-db" && v.holds.startsWith("Messages, salons")));
  t.regex(doc.location.storage.find((v) => v.volume === "bastide-polls-db")!.holds, /supprimé 60 jours après sa date de fin/);
  t.deepEqual(
    doc.location.connectionsWithoutPersonalData.map((c) => c.name),
    ["docker.io", "ghcr.io", "lscr.io", "quay.io", "packages.framasoft.org", "apps.nextcloud.com"],
  );
  t.is(registryOf("caddy:2.11.4-alpine"), "docker.io");
  t.is(registryOf("ghcr.io/jitsi/web:stable-11146-1"), "ghcr.io");
  t.is(registryOf("bastide/framadate:1.1.19"), "docker.io");
});

test("security measures: computed from the stack, and honest about what Bastide does not provide", (t) => {
  const measure = (doc: RegisterDocument, id: string) => doc.security.find((m) => m.id === id)!;
  const doc = french(onHetzner);
  t.like(measure(doc, "backups"), { status: "not-provided", statusLabel: "non fournie" });
  t.regex(measure(doc, "backups").detail, /Bastide ne fait aucune sauvegarde/);
  t.is(measure(doc, "disk-encryption").status, "not-provided");
  t.is(measure(doc, "tls").status, "in-place");
  t.is(measure(doc, "firewall").status, "in-place");
  for (const rule of firewallRules(onHetzner)) t.true(measure(doc, "firewall").detail.includes(`${rule.port}/${rule.protocol}`), `${rule.port}`);
  t.regex(measure(doc, "firewall").detail, /22\/tcp \(depuis 203\.0\.113\.7\/32\)/);
  t.regex(measure(doc, "admin-pages").technical!, /cloud\.asso-exemple\.fr \(\/settings\/admin\*/);
  t.regex(measure(doc, "privileges").detail, /NET_ADMIN/);
  t.regex(measure(doc, "memory").detail, /7\u202F736 Mio au total, sur 11\u202F264 Mio/);
  t.is(measure(doc, "e2ee").status, "in-place");
  t.is(measure(doc, "two-factor").status, "in-place");

  const relaxed = french(
    exampleAssociation((input) => {
      input.services.nextcloud.adminTwoFactor = false;
      input.services.proxy.accessLog = { anonymiseAddresses: false };
    }),
  );
  t.is(measure(relaxed, "two-factor").status, "not-provided");
  t.is(measure(relaxed, "logs").status, "partial");
  t.is(measure(relaxed, "tls").status, "partial", "a local deployment has no public certificate");
  t.is(measure(relaxed, "firewall").status, "partial", "Bastide does not manage a local firewall");
});

test("a mail relay is listed among the recipients, as a processor", async (t) => {
  const { recipients } = await import("../../policies/reports/location.ts");
  const withMail = exampleAssociation((i) => (i.mail = { host: "smtp.asso-exemple.fr", from: "ne-pas-repondre@asso-exemple.fr" }));
  const relay = recipients(withMail).find((r) => r.name.en === "smtp.asso-exemple.fr");
  t.truthy(relay);
  t.is(relay!.kind, "processor");
  t.is(relay!.service, "nextcloud");
  t.falsy(recipients(exampleAssociation()).find((r) => r.role.en.includes("mail relay")), "no relay, no such recipient");
});
