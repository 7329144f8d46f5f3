// The config is the admin's only interface: every mistake must be caught before
// anything is touched, at the right field, with a message that says how to fix it.
import test, { type ExecutionContext } from "ava";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseAssociation, validateAssociation } from "../stacks/config/load.ts";
import { EXAMPLE_FILE, exampleInput } from "./support/association.ts";
import { registerUnderMocks } from "./support/program.ts";
import { hetznerHost, SSH_KEY, sshHost } from "./config/support.ts";

type Input = Record<string, any>;

const SOURCE = "corpus.yaml";
const EXAMPLE_TEXT = readFileSync(EXAMPLE_FILE, "utf8");
const SEVERAL_PROBLEMS = new URL("./fixtures/invalid/several-problems.yaml", import.meta.url);

const scalewayHost = (edit: Input = {}) => ({
  target: "scaleway",
  zone: "fr-par-1",
  serverType: "DEV1-XL",
  sshPublicKey: SSH_KEY,
  adminAddresses: ["203.0.113.7/32"],
  ...edit,
});

/** Sets `services.<name>` fields, creating the block the example leaves out. */
const service = (input: Input, name: string, fields: Input) => {
  input.services[name] = { ...input.services[name], ...fields };
};

/** The 1-based line of the only line of `text` containing `marker`. */
function lineOf(text: string, marker: string): number {
  const lines = text.split("\n").map((line, index) => ({ line, number: index + 1 })).filter(({ line }) => line.includes(marker));
  if (lines.length !== 1) throw new Error(`"${marker}" is on ${lines.length} lines, expected exactly one`);
  return lines[0]!.number;
}

function rejects(t: ExecutionContext, run: () => unknown, source: string): ConfigError {
  const error = t.throws(run, { instanceOf: ConfigError })!;
  t.true(
    error.message.startsWith(`${source} is not valid; nothing was created or changed:\n`),
    `the message must name ${source} and say nothing changed: ${error.message}`,
  );
  return error;
}

/** The one problem at exactly `path` whose message tells `fix`. */
function problemAt(t: ExecutionContext, error: ConfigError, path: string, fix: string) {
  const matching = error.problems.filter((p) => p.path === path && p.message.includes(fix));
  t.is(matching.length, 1, `one problem at "${path}" saying "${fix}"; got ${JSON.stringify(error.problems)}`);
  return matching[0] ?? { path, message: "", line: undefined };
}

test("the example file validates and gets the defaults", (t) => {
  const config = parseAssociation(EXAMPLE_TEXT, "examples/association.yaml");
  t.is(config.profile, "small");
  t.is(config.services.proxy.acmeCa, "staging", "set in the example");
  t.false(config.services.matrix.federation.enabled);
  t.false(config.services.jitsi.recording.enabled);
  t.true(config.services.nextcloud.shareLinks.requirePassword);
  t.true(config.services.vpn.enabled);
  t.is(config.services.jitsi.subdomain, "visio");
  t.is(config.organisation.language, "fr");
  t.deepEqual(
    config.members.map((m) => [m.id, m.role, m.devices.length]),
    [["claire.dubois", "admin", 1], ["karim.benali", "staff", 2], ["lea.moreau", "volunteer", 0], ["tom.martin", "volunteer", 0]],
  );
  t.true(config.teams.every((team) => team.calendar && team.room));
});

test("fields left out get the recommended defaults", (t) => {
  const input = exampleInput();
  delete input.profile;
  delete input.services;
  delete input.organisation.language;
  delete input.members[2].role;
  delete input.members[2].teams;
  const config = validateAssociation(input, SOURCE);
  t.is(config.profile, "small");
  t.is(config.organisation.language, "fr");
  t.is(config.members[2]!.role, "volunteer");
  t.deepEqual(config.members[2]!.teams, []);
  t.deepEqual(config.members[2]!.devices, []);
  t.is(config.services.proxy.acmeCa, "production");
  t.false(config.services.matrix.federation.enabled);
  t.is(config.services.matrix.retention.messagesDays, 365);
  t.is(config.services.vpn.port, 51820);
  t.is(config.services.nextcloud.defaultQuota, "5 GB");
});

test("the host variants the corpus starts from are valid on their own", (t) => {
  for (const host of [sshHost(), hetznerHost(), scalewayHost()]) {
    const input = exampleInput();
    input.host = host;
    t.is(validateAssociation(input, SOURCE).host.target as string, host.target);
  }
});

interface Invalid {
  name: string;
  edit: (input: Input) => void;
  /** The field the admin must change, as printed. */
  path: string;
  /** Part of the message that tells the fix. */
  fix: string;
  /** Problems reported besides the expected one (default none). */
  others?: number;
}

const INVALID: Invalid[] = [
  // Unknown fields
  { name: "unknown top-level key", edit: (i) => (i.colour = "vert"), path: "colour", fix: "remove it or check the spelling; allowed here: organisation, domain" },
  { name: "typo in a nested key", edit: (i) => service(i, "jitsi", { recordng: { enabled: true } }), path: "services.jitsi.recordng", fix: 'did you mean "recording"?' },
  { name: "typo in organisation", edit: (i) => (i.organisation.adress = "12 quai"), path: "organisation.adress", fix: 'did you mean "address"?' },
  { name: "field of another host target", edit: (i) => (i.host.location = "fsn1"), path: "host.location", fix: "allowed here: target, size" },
  // Organisation
  { name: "missing organisation.dpo.email", edit: (i) => delete i.organisation.dpo.email, path: "organisation.dpo.email", fix: "is required: must be an e-mail address such as" },
  { name: "bad member e-mail", edit: (i) => (i.members[0].email = "claire at jardins-canal"), path: "members[0].email", fix: "must be an e-mail address such as dpo@asso-exemple.fr" },
  { name: "bad contact e-mail", edit: (i) => (i.organisation.contact = "contact@"), path: "organisation.contact", fix: "must be an e-mail address" },
  { name: "organisation outside the EU", edit: (i) => (i.organisation.country = "US"), path: "organisation.country", fix: "Use a two-letter code such as FR" },
  { name: "country in lower case", edit: (i) => (i.organisation.country = "fr"), path: "organisation.country", fix: "must be written as FR" },
  { name: "empty organisation name", edit: (i) => (i.organisation.name = " "), path: "organisation.name", fix: "must not be empty" },
  { name: "unknown language", edit: (i) => (i.organisation.language = "de"), path: "organisation.language", fix: "must be fr or en" },
  // Domain and sub-domains
  { name: "missing domain", edit: (i) => delete i.domain, path: "domain", fix: "is required: must be a domain name such as asso-exemple.fr" },
  { name: "domain without a dot", edit: (i) => (i.domain = "localhost"), path: "domain", fix: "such as asso-exemple.fr" },
  { name: "domain with an underscore", edit: (i) => (i.domain = "jardins_canal.fr"), path: "domain", fix: "letters, digits, hyphens and dots" },
  { name: "domain with a leading hyphen", edit: (i) => (i.domain = "-jardins.fr"), path: "domain", fix: "such as asso-exemple.fr" },
  { name: "sub-domain with a dot", edit: (i) => service(i, "jitsi", { subdomain: "visio.asso" }), path: "services.jitsi.subdomain", fix: "no dots" },
  { name: "two services on one sub-domain", edit: (i) => service(i, "polls", { subdomain: "visio" }), path: "services.polls.subdomain", fix: "already the sub-domain of services.jitsi.subdomain; give each service its own" },
  { name: "Element on Nextcloud's default sub-domain", edit: (i) => service(i, "matrix", { elementSubdomain: "cloud" }), path: "services.matrix.elementSubdomain", fix: "services.nextcloud.subdomain" },
  // Host
  { name: "unknown host target", edit: (i) => (i.host = { target: "aws" }), path: "host.target", fix: "must be one of local, ssh, hetzner, scaleway" },
  { name: "ssh host in Switzerland", edit: (i) => (i.host = sshHost({ country: "CH" })), path: "host.country", fix: '"CH" is not an EU/EEA country code' },
  { name: "ssh host in the USA", edit: (i) => (i.host = sshHost({ country: "US" })), path: "host.country", fix: "Use a two-letter code such as FR" },
  { name: "ssh host without a country", edit: (i) => (i.host = sshHost({ country: undefined })), path: "host.country", fix: "is required: must be an EU/EEA country code" },
  { name: "ssh port out of range", edit: (i) => (i.host = sshHost({ port: 0 })), path: "host.port", fix: "must be at least 1" },
  { name: "hetzner in Ashburn", edit: (i) => (i.host = hetznerHost({ location: "ash" })), path: "host.location", fix: "is in the USA, outside the EU/EEA; use fsn1" },
  { name: "hetzner in Hillsboro", edit: (i) => (i.host = hetznerHost({ location: "hil" })), path: "host.location", fix: "is in the USA, outside the EU/EEA" },
  { name: "hetzner in Singapore", edit: (i) => (i.host = hetznerHost({ location: "sin" })), path: "host.location", fix: "is in Singapore, outside the EU/EEA; use fsn1 (Falkenstein, DE)" },
  { name: "unknown hetzner location", edit: (i) => (i.host = hetznerHost({ location: "par1" })), path: "host.location", fix: "not a known Hetzner location; use fsn1" },
  { name: "unknown hetzner server type", edit: (i) => (i.host = hetznerHost({ serverType: "cx99" })), path: "host.serverType", fix: "use one of: cx22, cx32" },
  { name: "scaleway zone in the US", edit: (i) => (i.host = scalewayHost({ zone: "us-east-1" })), path: "host.zone", fix: "not an EU Scaleway zone; use one of fr-par-1" },
  { name: "unknown scaleway zone", edit: (i) => (i.host = scalewayHost({ zone: "fr-par-9" })), path: "host.zone", fix: "use one of fr-par-1" },
  { name: "unknown scaleway server type", edit: (i) => (i.host = scalewayHost({ serverType: "GP9" })), path: "host.serverType", fix: "use one of: DEV1-M" },
  { name: "no admin address", edit: (i) => (i.host = hetznerHost({ adminAddresses: [] })), path: "host.adminAddresses", fix: "list at least one address or network the admin connects from" },
  { name: "SSH open to the IPv4 Internet", edit: (i) => (i.host = hetznerHost({ adminAddresses: ["0.0.0.0/0"] })), path: "host.adminAddresses", fix: "must not open SSH to the whole Internet" },
  { name: "SSH open to the IPv6 Internet", edit: (i) => (i.host = scalewayHost({ adminAddresses: ["203.0.113.7/32", "::/0"] })), path: "host.adminAddresses", fix: "list the admin's own addresses" },
  { name: "admin address not an address", edit: (i) => (i.host = hetznerHost({ adminAddresses: ["my home"] })), path: "host.adminAddresses[0]", fix: "such as 203.0.113.7/32" },
  { name: "ssh key without its type", edit: (i) => (i.host = hetznerHost({ sshPublicKey: "AAAAC3NzaC1lZDI1NTE5AAAAIFake" })), path: "host.sshPublicKey", fix: "OpenSSH public key line such as 'ssh-ed25519" },
  { name: "private key pasted", edit: (i) => (i.host = scalewayHost({ sshPublicKey: "-----BEGIN OPENSSH PRIVATE KEY-----" })), path: "host.sshPublicKey", fix: "OpenSSH public key line" },
  // Sizing
  { name: "unknown profile", edit: (i) => (i.profile = "large"), path: "profile", fix: "must be small (2 vCPU / 12 GB) or standard (4 vCPU / 16 GB)" },
  {
    name: "profile standard on a cx22",
    edit: (i) => {
      i.profile = "standard";
      i.host = hetznerHost({ serverType: "cx22" });
    },
    path: "profile",
    fix: "needs 4 vCPU / 16 GB, but the host has 2 vCPU / 4 GB; choose a host of at least 4 vCPU / 16 GB",
  },
  { name: "small profile on a too small machine", edit: (i) => (i.host.size = { cpus: 1, memoryGb: 2 }), path: "profile", fix: "choose a host of at least 2 vCPU / 12 GB" },
  {
    name: "profile standard on a host that holds small",
    edit: (i) => {
      i.profile = "standard";
      i.host.size = { cpus: 2, memoryGb: 12 };
    },
    path: "profile",
    fix: "needs 4 vCPU / 16 GB, but the host has 2 vCPU / 12 GB; choose profile small or a larger host",
  },
  { name: "host size of zero", edit: (i) => (i.host.size.cpus = 0), path: "host.size.cpus", fix: "must be at least 1" },
  // Members and teams
  { name: "member id in upper case", edit: (i) => (i.members[1].id = "Karim.Benali"), path: "members[1].id", fix: "lower-case letters, digits, dot, hyphen or underscore" },
  { name: "member id with a space", edit: (i) => (i.members[1].id = "karim benali"), path: "members[1].id", fix: "(e.g. alice.martin)" },
  { name: "member id too long", edit: (i) => (i.members[1].id = `k${"a".repeat(32)}`), path: "members[1].id", fix: "must be 2-32 characters" },
  { name: "member id starting with a digit", edit: (i) => (i.members[1].id = "1karim"), path: "members[1].id", fix: "starting with a letter" },
  { name: "duplicate member id", edit: (i) => (i.members[3].id = "lea.moreau"), path: "members[3].id", fix: '"lea.moreau" is already used by another member; ids must be unique' },
  { name: "duplicate e-mail in another case", edit: (i) => (i.members[3].email = "Lea.Moreau@Jardins-Canal.localhost"), path: "members[3].email", fix: "e-mails must be unique" },
  { name: "unknown role", edit: (i) => (i.members[0].role = "owner"), path: "members[0].role", fix: "must be admin, staff or volunteer" },
  { name: "member in an undeclared team", edit: (i) => (i.members[2].teams = ["potager", "compost"]), path: "members[2].teams[1]", fix: 'team "compost" is not declared; add it under teams: or fix the spelling' },
  { name: "team id not an identifier", edit: (i) => i.teams.push({ id: "Verger", name: "Verger" }), path: "teams[3].id", fix: "lower-case letters" },
  { name: "duplicate team id", edit: (i) => i.teams.push({ id: "bureau", name: "Bureau bis" }), path: "teams[3].id", fix: '"bureau" is already used by another team; team ids must be unique' },
  { name: "team calendar not a boolean", edit: (i) => (i.teams[0].calendar = "oui"), path: "teams[0].calendar", fix: "must be true or false" },
  { name: "volunteer with devices", edit: (i) => (i.members[2].devices = [{ name: "phone" }]), path: "members[2].devices", fix: "set role: staff for lea.moreau or remove the devices" },
  { name: "two devices with one name", edit: (i) => (i.members[1].devices[1].name = "laptop"), path: "members[1].devices[1].name", fix: "give each device its own name" },
  { name: "device name with spaces", edit: (i) => (i.members[1].devices[1].name = "Karim's phone"), path: "members[1].devices[1].name", fix: "such as laptop or phone-2" },
  { name: "no admin member", edit: (i) => (i.members[0].role = "staff"), path: "members", fix: "at least one member needs role: admin" },
  // The no-admin check repeats this one at the same path.
  { name: "empty member list", edit: (i) => (i.members = []), path: "members", fix: "list at least one member, with role: admin" },
  {
    name: "mail relay in plain text",
    edit: (i) => (i.mail = { host: "smtp.asso-exemple.fr", from: "a@asso-exemple.fr", security: "none" }),
    path: "mail.security",
    fix: "mail is never sent in clear",
  },
  { name: "mail relay without a sender", edit: (i) => (i.mail = { host: "smtp.asso-exemple.fr" }), path: "mail.from", fix: "is required" },
  { name: "mail relay host with a scheme", edit: (i) => (i.mail = { host: "smtp://relay", from: "a@asso-exemple.fr" }), path: "mail.host", fix: "such as smtp.example.org" },
  { name: "mail relay password in the file", edit: (i) => (i.mail = { host: "smtp.asso-exemple.fr", from: "a@asso-exemple.fr", password: "x" }), path: "mail.password", fix: "unknown field" },
  { name: "members not a list", edit: (i) => (i.members = "claire.dubois"), path: "members", fix: "must be a list" },
  { name: "member language unknown", edit: (i) => (i.members[3].language = "es"), path: "members[3].language", fix: "must be fr or en" },
  { name: "member quota malformed", edit: (i) => (i.members[2].quota = "lots"), path: "members[2].quota", fix: 'such as "5 GB" or "500 MB", or "none"' },
  // Services
  { name: "devices while the VPN is off", edit: (i) => service(i, "vpn", { enabled: false }), path: "services.vpn.enabled", fix: "turn services.vpn.enabled on or remove the devices" },
  { name: "VPN switch not a boolean", edit: (i) => service(i, "vpn", { enabled: "yes" }), path: "services.vpn.enabled", fix: "must be true or false" },
  { name: "VPN on a privileged port", edit: (i) => service(i, "vpn", { port: 443 }), path: "services.vpn.port", fix: "must be 1024-65535" },
  { name: "VPN port past 65535", edit: (i) => service(i, "vpn", { port: 70000 }), path: "services.vpn.port", fix: "must be 1024-65535" },
  { name: "VPN subnet not CIDR", edit: (i) => service(i, "vpn", { subnet: "10.13.13.0" }), path: "services.vpn.subnet", fix: "CIDR form such as 10.8.0.0/24" },
  { name: "federation without a reason", edit: (i) => service(i, "matrix", { federation: { enabled: true } }), path: "services.matrix.federation.reason", fix: "federation.enabled needs federation.reason" },
  { name: "federation reason too short", edit: (i) => service(i, "matrix", { federation: { enabled: true, reason: "why" } }), path: "services.matrix.federation.reason", fix: "at least 10 characters" },
  { name: "recording without consent text", edit: (i) => service(i, "jitsi", { recording: { enabled: true } }), path: "services.jitsi.recording.consentText", fix: "recording.enabled needs recording.consentText" },
  { name: "dial-in without numbers page", edit: (i) => service(i, "jitsi", { dialIn: { enabled: true } }), path: "services.jitsi.dialIn.numbersUrl", fix: "dialIn.enabled needs dialIn.numbersUrl" },
  { name: "dial-in numbers page not a URL", edit: (i) => service(i, "jitsi", { dialIn: { enabled: true, numbersUrl: "numbers page" } }), path: "services.jitsi.dialIn.numbersUrl", fix: "https:// address" },
  { name: "video resolution unsupported", edit: (i) => service(i, "jitsi", { lowBandwidth: { maxResolution: 1080 } }), path: "services.jitsi.lowBandwidth.maxResolution", fix: "must be 180, 360 or 720" },
  { name: "share links without password nor reason", edit: (i) => service(i, "nextcloud", { shareLinks: { requirePassword: false } }), path: "services.nextcloud.shareLinks.relaxedBecause", fix: "needs shareLinks.relaxedBecause" },
  { name: "default quota malformed", edit: (i) => service(i, "nextcloud", { defaultQuota: "5 gigs" }), path: "services.nextcloud.defaultQuota", fix: 'such as "5 GB"' },
  { name: "message retention of 0 days", edit: (i) => (i.services.matrix.retention.messagesDays = 0), path: "services.matrix.retention.messagesDays", fix: "must be at least 7 days (chat messages)" },
  { name: "message retention too long", edit: (i) => (i.services.matrix.retention.messagesDays = 100000), path: "services.matrix.retention.messagesDays", fix: "must be at most 3650 days" },
  { name: "media retention not whole days", edit: (i) => (i.services.matrix.retention.mediaDays = 30.5), path: "services.matrix.retention.mediaDays", fix: "must be a whole number of days" },
  { name: "trash retention of 0 days", edit: (i) => service(i, "nextcloud", { trashbinDays: 0 }), path: "services.nextcloud.trashbinDays", fix: "must be at least 1 days" },
  { name: "poll purge delay as words", edit: (i) => service(i, "polls", { purgeDelayDays: "sixty" }), path: "services.polls.purgeDelayDays", fix: "must be a number of days (answers are kept after a poll ends)" },
  { name: "access logs kept past the CNIL's year", edit: (i) => service(i, "proxy", { accessLog: { retentionDays: 366, retentionReason: "délai pour détecter une intrusion découverte tardivement" } }), path: "services.proxy.accessLog.retentionDays", fix: "must be at most 365 days" },
  { name: "access logs kept six months without a reason", edit: (i) => service(i, "proxy", { accessLog: { retentionDays: 180 } }), path: "services.proxy.accessLog.retentionReason", fix: "need a reason: add services.proxy.accessLog.retentionReason" },
  { name: "hollow reason for long access logs", edit: (i) => service(i, "proxy", { accessLog: { retentionDays: 180, retentionReason: "TODO TODO TODO TODO" } }), path: "services.proxy.accessLog.retentionReason", fix: "does not say why" },
  { name: "missing president", edit: (i) => delete i.organisation.president, path: "organisation.president", fix: "is required" },
  { name: "DPO who is an admin, not acknowledged", edit: (i) => delete i.organisation.dpo.alsoAdminAcknowledged, path: "organisation.dpo.alsoAdminAcknowledged", fix: "conflict of interest (GDPR art. 38(6))" },
  { name: "DPO admin by e-mail, not acknowledged", edit: (i) => { delete i.organisation.dpo.alsoAdminAcknowledged; i.organisation.dpo.name = "Délégué externe"; i.organisation.dpo.email = "Claire.Dubois@jardins-canal.localhost"; }, path: "organisation.dpo.alsoAdminAcknowledged", fix: "is also the admin member claire.dubois" },
  { name: "unknown ACME CA", edit: (i) => service(i, "proxy", { acmeCa: "prod" }), path: "services.proxy.acmeCa", fix: "must be production or staging" },
];

for (const { name, edit, path, fix, others = 0 } of INVALID) {
  test(`rejects: ${name}`, (t) => {
    const input = exampleInput();
    edit(input);
    const error = rejects(t, () => validateAssociation(input, SOURCE), SOURCE);
    t.is(error.problems.length, 1 + others, `one mistake, one problem: ${JSON.stringify(error.problems)}`);
    const problem = problemAt(t, error, path, fix);
    t.true(error.message.includes(`  - ${path}: ${problem.message}`), "each problem is printed with its path");
  });
}

test("the corpus covers at least 40 distinct mistakes", (t) => {
  t.true(INVALID.length >= 40);
  t.is(new Set(INVALID.map((c) => c.name)).size, INVALID.length);
});

interface InvalidYaml {
  name: string;
  text: string;
  /** Text only found on the line the first problem must be reported on. */
  marker: string;
  fix: string;
}

const INVALID_YAML: InvalidYaml[] = [
  {
    name: "colon inside a plain value",
    text: EXAMPLE_TEXT.replace("    name: Léa Moreau", "    name: Léa: Moreau"),
    marker: "Léa: Moreau",
    fix: "check the indentation, colons, quotes and brackets on this line",
  },
  {
    name: "unclosed flow sequence",
    text: EXAMPLE_TEXT.replace("teams: [bureau, evenements]", "teams: [bureau, evenements"),
    // The parser notices on the next line; the message says to look just above.
    marker: "teams: [bureau, evenements",
    fix: "on this line or just above",
  },
  {
    name: "tab indentation",
    text: EXAMPLE_TEXT.replace("    acmeCa: staging", "\tacmeCa: staging"),
    marker: "\tacmeCa",
    fix: "indent with spaces, not tabs",
  },
  {
    name: "duplicate key",
    text: EXAMPLE_TEXT.replace("profile: small", "profile: small\nprofile: standard"),
    marker: "profile: standard",
    fix: "this key appears twice in the same block; keep one of them",
  },
  {
    name: "duplicate nested key",
    text: EXAMPLE_TEXT.replace("    name: Tom Martin", "    name: Tom Martin\n    name: Tom M."),
    marker: "Tom M.",
    fix: "keep one of them",
  },
  {
    name: "a list instead of a mapping",
    text: "- organisation\n- domain\n",
    marker: "- organisation",
    fix: "must be a YAML mapping with organisation:, domain:, host: and members:",
  },
];

for (const { name, text, marker, fix } of INVALID_YAML) {
  test(`rejects YAML: ${name}`, (t) => {
    const error = rejects(t, () => parseAssociation(text, "association.yaml"), "association.yaml");
    const first = error.problems[0];
    t.is(first?.path, "", "a YAML problem belongs to the file, not a field");
    t.true(first?.message.includes(fix), `"${first?.message}" should contain "${fix}"`);
    const line = lineOf(text, marker) + (name === "unclosed flow sequence" ? 1 : 0);
    t.is(first?.line, line);
    t.true(error.message.includes(`  - (file) (line ${line}): `));
  });
}

test("rejects an empty file with a pointer to the example", (t) => {
  const error = rejects(t, () => parseAssociation("# nothing yet\n", "association.yaml"), "association.yaml");
  t.is(problemAt(t, error, "", "").message, "must be a YAML mapping with organisation:, domain:, host: and members: (start from examples/association.yaml)");
});

test("problems deep in the file report their own line", (t) => {
  const cases: { replace: [string, string]; path: string; marker: string }[] = [
    { replace: ["      - name: phone", "      - name: Phone 2"], path: "members[1].devices[1].name", marker: "Phone 2" },
    { replace: ["teams: [potager, evenements]", "teams: [potager, evenement]"], path: "members[3].teams[1]", marker: "[potager, evenement]" },
    { replace: ["  matrix:\n", "  matrix:\n    federaton: true\n"], path: "services.matrix.federaton", marker: "federaton" },
    { replace: ["    role: volunteer\n    language: en", "    role: volunteer\n    language: en\n    devices: [{ name: tablet }]"], path: "members[3].devices", marker: "tablet" },
    { replace: ["size: { cpus: 4, memoryGb: 12 }", "size: { cpus: 2, memoryGb: 2 }"], path: "profile", marker: "profile: small" },
    { replace: ["  dpo:\n    name: Claire Dubois\n", "  dpo:\n    name: Claire Dubois\n    emial: x\n"], path: "organisation.dpo.emial", marker: "emial" },
  ];
  for (const { replace, path, marker } of cases) {
    t.true(EXAMPLE_TEXT.includes(replace[0]), `the example still contains ${JSON.stringify(replace[0])}`);
    const text = EXAMPLE_TEXT.replace(...replace);
    const error = rejects(t, () => parseAssociation(text, "association.yaml"), "association.yaml");
    const problem = problemAt(t, error, path, "");
    t.is(problem.line, lineOf(text, marker), `${path} is on the line of ${marker}`);
    t.true(error.message.includes(`  - ${path} (line ${problem.line}): `));
  }
});

test("every problem in a file is reported at once, each with its line", (t) => {
  const text = readFileSync(SEVERAL_PROBLEMS, "utf8");
  const error = rejects(t, () => parseAssociation(text, "several-problems.yaml"), "several-problems.yaml");
  const expected: [string, string, string][] = [
    ["organisation.country", "country: US", "Use a two-letter code such as FR"],
    ["organisation.dpo.email", "claire at jardins-canal", "must be an e-mail address"],
    ["domain", "jardins_canal.fr", "such as asso-exemple.fr"],
    ["host.location", "location: ash", "outside the EU/EEA"],
    ["services.jitsi.recordng", "recordng", 'did you mean "recording"?'],
  ];
  t.deepEqual(error.problems.map((p) => p.path).sort(), expected.map(([path]) => path).sort());
  for (const [path, marker, fix] of expected) {
    const problem = problemAt(t, error, path, fix);
    t.is(problem.line, lineOf(text, marker), path);
  }
});

test("cross-field problems are reported together", (t) => {
  const input = exampleInput();
  input.members[2].teams = ["compost"];
  input.members[3].id = "lea.moreau";
  input.teams[1].id = "bureau";
  input.members[3].devices = [{ name: "phone" }, { name: "phone" }];
  const error = rejects(t, () => validateAssociation(input, SOURCE), SOURCE);
  t.deepEqual(
    error.problems.map((p) => p.path).sort(),
    ["members[2].teams[0]", "members[3].devices", "members[3].devices[1].name", "members[3].id", "members[3].teams[0]", "teams[1].id"].sort(),
  );
});

test("the Pulumi program registers nothing when the config is invalid", async (t) => {
  pulumi.runtime.setConfig("bastide:config", fileURLToPath(SEVERAL_PROBLEMS));
  let outcome!: Promise<unknown>;
  const registered = await registerUnderMocks(() => {
    // Caught here at once so the rejection is never unhandled; checked below.
    outcome = import("../stacks/index.ts").then(
      () => undefined,
      (error: unknown) => error,
    );
  });
  const error = await outcome;
  t.true(error instanceof ConfigError, `the program stops with a ConfigError, got ${String(error)}`);
  t.is((error as ConfigError).source, fileURLToPath(SEVERAL_PROBLEMS));
  t.is((error as ConfigError).problems.length, 5);
  // Registrations land asynchronously: wait until none is pending, a bounded number of times.
  for (let round = 0; round < 10; round++) {
    await pulumi.runtime.awaitStackRegistrations();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.deepEqual(registered.map((r) => `${r.type} ${r.name}`), []);
});
