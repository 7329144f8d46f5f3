import test from "ava";
import type { Association } from "../../stacks/config/schema.ts";
import type { ServiceName } from "../../stacks/services/blueprint.ts";
import { blueprints, SERVICE_MODULES } from "../../stacks/services/catalog.ts";
import { CONFIG_SOURCE } from "../../stacks/services/nextcloud/blueprint.ts";
import { LOG_ROTATION } from "../../stacks/platform/component.ts";
import { dataCategories, dockerSizeMb, enabledServices, registerProblems, SERVICE_REGISTERS } from "../../policies/rgpd/register.ts";
import { type DataCategory } from "../../policies/rgpd/model.ts";
import { schemaBounds } from "../../policies/rgpd/settings.ts";
import { exampleAssociation } from "../support/association.ts";
import { CONTAINER, deployUnderMocks, ofType } from "../support/program.ts";

const example = exampleAssociation();

const byId = (categories: DataCategory[]) => new Map(categories.map((c) => [c.id, c]));
const category = (config: Association, id: string): DataCategory => {
  const found = byId(dataCategories(config)).get(id);
  if (!found) throw new Error(`no category ${id}`);
  return found;
};
const days = (c: DataCategory) => {
  const period = c.retention.period;
  if (period.kind === "days") return period.days;
  if (period.kind === "account") return period.graceDays;
  throw new Error(`${c.id} has a ${period.kind} retention`);
};
/** The file a service's blueprint renders at `path`, with fake secrets. */
const rendered = (config: Association, service: ServiceName, path: string): string => {
  const blueprint = blueprints(config).find((b) => b.service === service)!;
  const secrets = Object.fromEntries(blueprint.secrets.map((s) => [s.name, "fake-secret-for-tests-0123456789abcdef"]));
  const file = blueprint.files(secrets).find((f) => f.path === path);
  if (!file) throw new Error(`${service} renders no ${path}`);
  return file.content;
};

const REQUIRED = [
  "matrix.messages",
  "matrix.media",
  "matrix.accounts",
  "nextcloud.files",
  "nextcloud.versions",
  "nextcloud.trash",
  "nextcloud.calendars",
  "nextcloud.activity",
  "nextcloud.share-links",
  "nextcloud.accounts",
  "jitsi.meetings",
  "jitsi.accounts",
  "jitsi.lobby",
  "polls.answers",
  "polls.creators",
  "vpn.peers",
  "vpn.handshakes",
  "proxy.access-logs",
  ...(["proxy", "jitsi", "nextcloud", "matrix", "polls", "vpn"] as const).map((s) => `${s}.container-logs`),
];

test("every enabled service contributes its categories, each with a retention and a legal basis", (t) => {
  const categories = dataCategories(example);
  const sorted = (names: Iterable<string>) => [...new Set(names)].sort();
  t.deepEqual(sorted(categories.map((c) => c.service)), sorted(enabledServices(example)));
  t.deepEqual(sorted(enabledServices(example)), ["identity", "jitsi", "matrix", "nextcloud", "polls", "proxy", "vpn"]);
  for (const c of categories) {
    t.truthy(c.retention?.period, `${c.id} has a retention`);
    t.regex(c.legalBasis?.article ?? "", /^[a-f]$/, `${c.id} has a legal basis`);
  }
  t.deepEqual(registerProblems(categories), []);
});

test("the register covers the data categories the DPO must see", (t) => {
  const ids = new Set(dataCategories(example).map((c) => c.id));
  t.deepEqual(REQUIRED.filter((id) => !ids.has(id)), []);
});

test("the register stays sound with every option turned on", (t) => {
  const everything = exampleAssociation((input) => {
    input.services.matrix.federation = { enabled: true, reason: "Nous travaillons avec une fédération régionale" };
    input.services.jitsi = { recording: { enabled: true, consentText: "Cette réunion est enregistrée, avec votre accord." } };
    input.services.nextcloud.shareLinks = { requirePassword: false, relaxedBecause: "Les affiches sont publiques de toute façon" };
    input.services.proxy.accessLog = { anonymiseAddresses: false };
  });
  t.deepEqual(registerProblems(dataCategories(everything)), []);
  t.regex(category(everything, "matrix.messages").recipients.map((r) => r.fr).join(" "), /fédération régionale/);
  t.regex(category(everything, "jitsi.meetings").retention.note!.fr, /enregistrée, avec votre accord/);
  t.regex(category(everything, "nextcloud.share-links").retention.note!.fr, /affiches sont publiques/);
  t.regex(category(everything, "proxy.access-logs").data.en, /full IP address/);
});

test("a category without a retention or a legal basis is reported, and so is a retention out of its bounds", (t) => {
  const good = category(example, "matrix.messages");
  const { retention: _r, ...noRetention } = { ...good, id: "matrix.no-retention" };
  const { legalBasis: _l, ...noLegalBasis } = { ...good, id: "matrix.no-legal-basis" };
  const badArticle = { ...good, id: "matrix.bad-article", legalBasis: { ...good.legalBasis, article: "g" } };
  const outOfBounds = {
    ...good,
    id: "matrix.out-of-bounds",
    retention: { ...good.retention, period: { kind: "days", days: 5000, from: { fr: "après", en: "after" } } },
  };
  const unbounded = { ...good, id: "matrix.unbounded", retention: { ...good.retention, bounds: undefined } };
  const duplicate = { ...good };

  const problems = registerProblems([good, noRetention, noLegalBasis, badArticle, outOfBounds, unbounded, duplicate]);
  const at = (id: string) => problems.filter((p) => p.category === id).map((p) => `${p.field}: ${p.message}`);
  t.deepEqual(at("matrix.no-retention"), ["retention: retention is missing"]);
  t.deepEqual(at("matrix.no-legal-basis"), ["legalBasis: legalBasis is missing"]);
  t.is(at("matrix.bad-article").length, 1);
  t.regex(at("matrix.bad-article")[0]!, /^legalBasis\.article: must be one of a-f/);
  t.deepEqual(at("matrix.out-of-bounds"), ["retention.period: 5000 days is outside the bounds of services.matrix.retention.messagesDays (7-3650)"]);
  t.deepEqual(at("matrix.unbounded"), ["retention.bounds: the bounds of services.matrix.retention.messagesDays are missing"]);
  t.deepEqual(at("matrix.messages"), ["id: matrix.messages is used by another category"]);
  t.deepEqual(registerProblems([{}]).map((p) => p.field).sort(), [
    "auditable", "data", "dataSubjects", "enforcedBy", "id", "legalBasis", "name", "purpose", "recipients", "retention", "service",
  ]);
});

test("every service module has a register entry for its own service", (t) => {
  for (const module of SERVICE_MODULES) {
    const entry = SERVICE_REGISTERS[module.name];
    t.truthy(entry, `${module.name} has a register`);
    t.is(entry.activity.service, module.name);
    t.true(entry.register(example).every((c) => c.service === module.name && c.id.startsWith(`${module.name}.`)), module.name);
  }
});

const OFF: [ServiceName, (input: Record<string, any>) => void][] = [
  ["jitsi", (i) => (i.services.jitsi = { enabled: false })],
  ["nextcloud", (i) => (i.services.nextcloud = { enabled: false })],
  ["matrix", (i) => (i.services.matrix = { enabled: false })],
  ["polls", (i) => (i.services.polls = { enabled: false })],
  [
    "vpn",
    (i) => {
      i.services.vpn = { enabled: false };
      for (const m of i.members) delete m.devices;
    },
  ],
];

for (const [service, turnOff] of OFF) {
  test(`turning ${service} off removes its categories and only those`, (t) => {
    const before = dataCategories(example).map((c) => c.id);
    const after = dataCategories(exampleAssociation(turnOff)).map((c) => c.id);
    t.deepEqual(after.filter((id) => id.startsWith(`${service}.`)), []);
    t.deepEqual(after, before.filter((id) => !id.startsWith(`${service}.`)));
  });
}

test("a retention changed in the config shows in the register, with the setting that enforces it", (t) => {
  const changed = exampleAssociation((input) => {
    input.services.matrix.retention = { messagesDays: 400, mediaDays: 30 };
    Object.assign(input.services.nextcloud, { trashbinDays: 10, versionsDays: 200, activityExpireDays: 45, temporaryTagDays: 3, shareLinks: { expireAfterDays: 7 } });
    input.services.polls = { purgeDelayDays: 20 };
    input.services.proxy.accessLog = { retentionDays: 3 };
    input.departures = { graceDays: 60 };
  });
  const expected: [string, number, string][] = [
    ["matrix.messages", 400, "max_lifetime: 400d"],
    ["matrix.media", 30, "local_media_lifetime: 30d"],
    ["nextcloud.trash", 10, 'trashbin_retention_obligation = "auto, 10"'],
    ["nextcloud.versions", 200, 'versions_retention_obligation = "auto, 200"'],
    ["nextcloud.activity", 45, "activity_expire_days = 45"],
    ["nextcloud.temporary-files", 3, "temporaryTagDays"],
    ["nextcloud.share-links", 7, "shareapi_expire_after_n_days --value=7"],
    ["polls.answers", 20, "PURGE_DELAY = 20"],
    ["polls.creators", 20, "PURGE_DELAY = 20"],
    ["proxy.access-logs", 3, "roll_keep_for 72h"],
    ["nextcloud.accounts", 60, "graceDays"],
    ["matrix.accounts", 60, "graceDays"],
  ];
  for (const [id, value, mechanism] of expected) {
    const c = category(changed, id);
    t.is(days(c), value, id);
    t.true(c.enforcedBy.mechanism.includes(mechanism), `${id}: ${c.enforcedBy.mechanism}`);
    t.not(days(category(example, id)), value, `${id} differs from the example`);
  }
  t.deepEqual(registerProblems(dataCategories(changed)), []);
});

test("configurable retentions carry the bounds of their config field", (t) => {
  t.deepEqual(category(example, "matrix.messages").retention.bounds, { min: 7, max: 3650 });
  t.deepEqual(category(example, "proxy.access-logs").retention.bounds, { min: 1, max: 365 });
  t.deepEqual(category(example, "nextcloud.files").retention.bounds, { min: 0, max: 3650 });
  t.deepEqual(schemaBounds("services.nextcloud.trashbinDays"), { min: 1, max: 365 });
  t.throws(() => schemaBounds("services.nextcloud.nope"), { message: /no field services\.nextcloud\.nope/ });
  t.throws(() => schemaBounds("services.nextcloud.enabled"), { message: /not a bounded number/ });
});

test("the register quotes the values the blueprints render", (t) => {
  const config = category(example, "nextcloud.trash").enforcedBy.mechanism;
  t.true(config.includes('"auto, 30"'));
  const php = rendered(example, "nextcloud", CONFIG_SOURCE);
  t.regex(php, /'trashbin_retention_obligation' => 'auto, 30'/);
  t.regex(php, /'versions_retention_obligation' => 'auto, 90'/);
  t.regex(php, /'activity_expire_days' => 90/);

  const homeserver = rendered(example, "matrix", "/etc/synapse/homeserver.yaml");
  t.regex(homeserver, /max_lifetime: "365d"/);
  t.regex(homeserver, /local_media_lifetime: "90d"/);
  t.regex(homeserver, /user_ips_max_age: "28d"/);
  t.is(days(category(example, "matrix.connections")), 28);
  t.is(days(category(example, "matrix.redacted")), 7);

  const caddyfile = rendered(example, "proxy", "/etc/caddy/Caddyfile");
  const access = category(example, "proxy.access-logs").enforcedBy.mechanism;
  for (const directive of access.replace(/^Caddy log output file: /, "").split(/[;,] /).filter((d) => d.startsWith("roll_")))
    t.true(caddyfile.includes(directive), `the Caddyfile has ${directive}`);
  t.regex(caddyfile, /ip_mask/);

  const framadate = rendered(example, "polls", "/var/www/html/app/inc/config.php");
  t.regex(framadate, /const PURGE_DELAY = 60;/);
});

test("container logs: the register states the rotation every deployed container gets", async (t) => {
  const resources = await deployUnderMocks(example);
  const containers = ofType(resources, CONTAINER);
  const logs = dataCategories(example).filter((c) => c.id.endsWith(".container-logs"));
  const listed = logs.flatMap((c) => c.enforcedBy.mechanism.replace(/^.*\((.*)\)$/, "$1").split(", "));
  t.deepEqual(listed.sort(), containers.map((c) => String(c.inputs.name)).sort());
  for (const container of containers) {
    t.is(container.inputs.logDriver, "json-file");
    t.deepEqual(container.inputs.logOpts, { ...LOG_ROTATION });
  }
  for (const c of logs) {
    t.deepEqual(c.retention.period, { kind: "rotation", maxFileMb: dockerSizeMb(LOG_ROTATION["max-size"]), files: Number(LOG_ROTATION["max-file"]) });
  }
  t.is(dockerSizeMb("10m"), 10);
  t.is(dockerSizeMb("512k"), 0.5);
  t.throws(() => dockerSizeMb("ten"));
});
