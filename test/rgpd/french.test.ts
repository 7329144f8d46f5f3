// The French documents read as French a DPO would write: no English word from a list of
// those that slipped in before (settings, technical jargon, function words), and no path of
// Bastide's source. Settings and mechanisms are allowed where the documents set them apart
// as code (the annex, a setting named in a sentence); everything else is checked.
import test from "ava";
import type { Association } from "../../stacks/config/schema.ts";
import { registerDocument } from "../../policies/reports/document.ts";
import { companionDocuments } from "../../policies/reports/companions.ts";
import { renderCompanionHtml, renderHtml } from "../../policies/reports/html.ts";
import { exampleAssociation } from "../support/association.ts";

const DATE = new Date("2026-03-15T10:00:00Z");
const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBastideTestKeyOnlyForTests admin@laptop";

/**
 * English words with a plain French equivalent. Product names that hold English words
 * (« Apple Push Notification service », « Let's Encrypt ») are names, and none of their
 * words is listed.
 */
export const ENGLISH_WORDS = [
  "the", "and", "of", "with", "from", "for", "to", "is", "are", "when", "after", "only", "none", "every", "each", "which", "this", "that",
  "enabled", "disabled", "false", "true", "setting", "settings", "user", "users", "account", "accounts", "password", "passwords",
  "log", "logs", "container", "containers", "retention", "room", "rooms", "server", "servers", "admin", "staff", "token", "driver",
  "rolled", "deleted", "delete", "check", "file", "files", "days", "hours", "backup", "default", "share", "link", "links",
  "upload", "download", "record", "records", "request", "requests", "meeting", "meetings", "poll", "polls", "guest", "guests",
  "members", "federation", "pushers", "lobby", "trash", "calendar", "calendars", "provisioning", "realm",
];

/** Bastide's own source: folders of the repository, and its file types. */
const SOURCE_PATH = /\b(?:stacks|policies|templates|provisioners|scripts|test)\/|\b[\w-]+\.(?:ts|hbs|tsx|mjs)\b/;

/** The text a reader sees, less what the document sets apart as code. */
function visibleProse(html: string): string {
  return html
    .replace(/<style[\s\S]*?<\/style>/g, " ")
    .replace(/<code>[\s\S]*?<\/code>/g, " ")
    .replace(/<[^>]+>/g, " ")
    .replace(/&#x27;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, "&")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/\s+/g, " ");
}

/** Each listed English word found, with the words around it. */
function englishWords(text: string): string[] {
  const listed = new Set(ENGLISH_WORDS);
  return [...text.matchAll(/\p{L}+/gu)].filter((m) => listed.has(m[0].toLowerCase())).map((m) => `"${m[0]}" in «…${text.slice(Math.max(0, m.index - 50), m.index + m[0].length + 30)}…»`);
}

const everything = exampleAssociation((input) => {
  input.domain = "asso-exemple.fr";
  input.host = { target: "hetzner", location: "fsn1", serverType: "cx42", sshPublicKey: SSH_KEY, adminAddresses: ["203.0.113.7/32"] };
  input.services.matrix.federation = { enabled: true, reason: "Nous travaillons avec une fédération régionale" };
  input.services.jitsi = { dialIn: { enabled: true, numbersUrl: "https://tel.example.org/numeros" } };
  input.services.proxy = { acmeCa: "production", accessLog: { anonymiseAddresses: false, retentionDays: 200, retentionReason: "Délai pour détecter une intrusion découverte tardivement" } };
  input.services.nextcloud.shareLinks = { requirePassword: false, relaxedBecause: "Les affiches sont publiques de toute façon" };
  input.mail = { host: "smtp.example.org", port: 587, security: "starttls", from: "ne-pas-repondre@asso-exemple.fr", username: "ne-pas-repondre@asso-exemple.fr" };
});
const identityOff = exampleAssociation((input) => {
  input.services.identity = { enabled: false };
});

function frenchDocuments(config: Association): { name: string; html: string }[] {
  const register = registerDocument(config, { language: "fr", generatedAt: DATE, source: "/home/admin/asso/association.yaml" });
  return [{ name: "register", html: renderHtml(register) }, ...companionDocuments(config, register).map((d) => ({ name: d.id, html: renderCompanionHtml(d) }))];
}

for (const [name, config] of [["the example", exampleAssociation()], ["every option on", everything], ["identity off", identityOff]] as [string, Association][])
  test(`${name}: the French documents hold no English word from the list and no source path`, (t) => {
    for (const document of frenchDocuments(config)) {
      const prose = visibleProse(document.html);
      t.deepEqual(englishWords(prose), [], document.name);
      t.is(SOURCE_PATH.exec(prose)?.[0], undefined, `${document.name}: a source path`);
    }
  });

test("the check finds an English word and a source path it is given, and skips what is code", (t) => {
  t.deepEqual(englishWords(visibleProse("<p>Journaux des conteneurs, renouvelés (retention 14 days)</p>")).length, 2);
  t.regex(visibleProse("<p>Réglage : LOG_ROTATION (stacks/platform/component.ts)</p>"), SOURCE_PATH);
  t.deepEqual(englishWords(visibleProse("<p>Réglage : <code>services.vpn.enabled: false</code></p>")), []);
});
