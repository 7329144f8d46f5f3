// The audit's pure core: every auditable category of the register has a rule; what
// Bastide renders passes every rule; one setting changed fails exactly the rule that
// reads it; parsers read the real files and the recorded answers; the report validates,
// is escaped and says which source could not be read.
import test from "ava";
import { readFileSync } from "node:fs";
import type { Association } from "../../stacks/config/schema.ts";
import { blueprints } from "../../stacks/services/catalog.ts";
import { containerName } from "../../stacks/services/blueprint.ts";
import { NEXTCLOUD_ADMIN_USER } from "../../stacks/services/nextcloud/blueprint.ts";
import { serverConfWithPeers } from "../../provisioners/vpn/server.ts";
import { dataCategories } from "../../policies/rgpd/register.ts";
import { declaredIdentity, declaredState, JITSI_RECORDING_SETTINGS, type Declared, type DeclaredIdentity } from "../../policies/audit/declared.ts";
import { TEMPORARY_TAG } from "../../provisioners/nextcloud-settings/desired.ts";
import { readError, readValue, auditReportSchema, type Read } from "../../policies/audit/model.ts";
import type { ContainerFacts, IdentityRealmFacts, Observed } from "../../policies/audit/observed.ts";
import {
  caddyLogOutputs,
  corefileFacts,
  homeserverFacts,
  jitsiWebSettings,
  luaGlobals,
  pollsConfigFacts,
  shareLinkCapabilities,
  wireguardPeers,
} from "../../policies/audit/parse.ts";
import { evaluate, imageMatches, RULES, type RuleCheck } from "../../policies/audit/rules.ts";
import { auditReport } from "../../policies/audit/report.ts";
import { renderAuditHtml } from "../../policies/audit/html.ts";
import { consoleTable } from "../../policies/audit/console.ts";
import { connectionPlan, dockerTargetFrom, ENV, missingCredentials } from "../../policies/audit/connections.ts";
import { exampleAssociation } from "../support/association.ts";
import type { BackupJobFacts } from "../../policies/audit/backups.ts";

const RECORDINGS = new URL("../contracts/recordings/", import.meta.url);
/** Every config here backs up, as the audit asks: without `backups:`, backups.configured fails (test/audit/backups.test.ts). */
const DISK_BACKUPS = { destination: { type: "disk", path: "/mnt/backup" } };
const backedUp = (edit: (input: Record<string, any>) => void = () => {}): Association =>
  exampleAssociation((input) => {
    input.backups = DISK_BACKUPS;
    edit(input);
  });
const example = backedUp();
const MIB = 1024 * 1024;

/** Fake secret values, as the blueprints' files() take them. */
function fakeSecrets(): Record<string, string> {
  return new Proxy({}, { get: (_t, name) => `fake${String(name).replace(/[^a-z0-9]/gi, "")}0123456789abcdef0123456789abcdef` }) as Record<string, string>;
}

/** The text Bastide renders for a file, with fake secrets. */
function rendered(config: Association, container: string, path: string): string {
  for (const blueprint of blueprints(config)) {
    const found = blueprint.files(fakeSecrets()).find((f) => containerName(blueprint.service, f.container) === container && f.path === path);
    if (found) return found.content;
  }
  throw new Error(`no rendered file ${path} in ${container}`);
}

/** What a stack deployed by Bastide, untouched, answers: each source read from Bastide's own output. */
function faithful(config: Association, declared: Declared = declaredState(config)): Observed {
  const read = <T>(value: T): Read<T> => readValue(value, new Date("2026-03-15T10:00:00Z"));
  const containers: ContainerFacts[] = declared.containers.map((c) => ({
    id: `id-${c.container}`,
    name: c.container,
    service: c.service,
    shortName: c.name,
    running: true,
    image: "sha256:0123",
    imageReferences: [c.image.includes("@") ? c.image.replace(/:[^:/@]+@/, "@") : c.image],
    logDriver: "json-file",
    logOptions: { "max-size": declared.logRotation.maxSize, "max-file": declared.logRotation.maxFile },
    privileged: false,
    securityOptions: ["no-new-privileges:true"],
    addedCapabilities: c.capabilities,
    memoryBytes: c.memoryMb * MIB,
    memorySwapBytes: c.memoryMb * MIB,
    volumes: c.volumes.map((v) => ({ name: v.volume, path: v.path })),
    env: { ...c.env },
  }));
  const file = (spec: { container: string; path: string }) => rendered(config, spec.container, spec.path);
  const observed: Observed = { containers: read(containers), caddyfile: read(caddyLogOutputs(file(declared.proxy.caddyfile))) };
  if (declared.jitsi) {
    observed.jitsiWeb = read(jitsiWebSettings(file(declared.jitsi.webConfig), JITSI_RECORDING_SETTINGS));
    observed.prosodyOverlay = read(luaGlobals(file(declared.jitsi.overlay)));
    observed.jitsiAccounts = read([...declared.jitsi.staff]);
  }
  if (declared.nextcloud) {
    const nc = declared.nextcloud;
    observed.nextcloudApi = read({
      shareLinks: { linksEnabled: true, passwordEnforced: nc.shareLinks.requirePassword, expireDateEnabled: true, expireDateEnforced: true, expireDays: nc.shareLinks.expireDays },
      tags: [{ id: 4, name: TEMPORARY_TAG }],
      retentionRules: [{ tagid: 4, ...nc.temporaryTag.rule }],
      accounts: nc.accounts.map((id) => ({ id, enabled: true })),
    });
    observed.nextcloudOcc = read({ system: { ...nc.system }, twoFactor: nc.twoFactor });
  }
  if (declared.matrix) {
    const m = declared.matrix;
    observed.homeserver = read(homeserverFacts(file(m.homeserver)));
    observed.matrixProbes = read({
      register: { status: 403, errcode: "M_FORBIDDEN", error: "Registration has been disabled", server: null },
      guest: { status: 403, errcode: "M_UNKNOWN", error: "Guest access is disabled", server: null },
      federation: m.federation
        ? { status: 200, errcode: null, error: null, server: "Synapse 1.159.0" }
        : { status: 400, errcode: "M_UNRECOGNIZED", error: "Unrecognized request", server: null },
    });
    observed.matrixState = read({
      accounts: m.accounts.map((id) => ({ id, deactivated: false })),
      rooms: Object.fromEntries(m.rooms.map((alias, i) => [alias, { roomId: `!r${i}:${m.serverName}`, retention: { max_lifetime: m.retentionMs } }])),
    });
  }
  if (declared.polls) observed.pollsConfigs = Object.fromEntries(declared.polls.configs.map((f) => [f.container, read(pollsConfigFacts(file(f)))]));
  if (declared.vpn) {
    observed.wireguardPeers = read(wireguardPeers(file(declared.vpn.serverConf)));
    observed.corefile = read(corefileFacts(file(declared.vpn.corefile)));
  }
  if (declared.identity) observed.identityRealm = read(realmAsDeclared(declared.identity));
  if (declared.backups) observed.backupJob = read(freshBackupJob());
  return observed;
}

/**
 * The realm as the identity provisioner leaves it, in the shape Keycloak's admin API gives it
 * (test/audit/identity-live.test.ts reads the same from the real server): every member enrolled
 * a day ago, the second factor asked by a role condition.
 */
function realmAsDeclared(id: DeclaredIdentity): IdentityRealmFacts {
  const step = (level: number, requirement: string, providerId: string | null) => ({ level, requirement, providerId, subflow: providerId === null, name: providerId ?? "sub-flow" });
  return {
    realm: {
      registrationAllowed: false,
      bruteForceProtected: true,
      failureFactor: id.lockoutAfterFailures,
      eventsEnabled: true,
      eventsExpiration: id.loginEventsSeconds,
      passwordPolicy: `length(${id.minimumPasswordLength}) and notUsername(undefined) and notEmail(undefined) and passwordHistory(3)`,
      ssoSessionIdleTimeout: id.ssoSessionIdleSeconds,
      ssoSessionMaxLifespan: id.ssoSessionMaxSeconds,
      browserFlow: "bastide browser",
    },
    browserFlow: [
      step(0, "ALTERNATIVE", "auth-cookie"),
      step(0, "ALTERNATIVE", null),
      step(1, "REQUIRED", "auth-username-password-form"),
      step(1, "CONDITIONAL", null),
      step(2, "REQUIRED", "conditional-user-attribute"),
      step(2, "REQUIRED", "auth-otp-form"),
    ],
    users: id.members.map((m) => ({ username: m.username, enabled: true, role: m.role, createdTimestamp: Date.now() - 86_400_000, requiredActions: [], credentials: ["otp", "password"] })),
  };
}

/** The job as it is the morning after a good night: a backup two hours old, a drill two weeks old. */
function freshBackupJob(): BackupJobFacts {
  const run = { reason: "daily" as const, startedAt: "2026-03-15T07:30:00Z", finishedAt: "2026-03-15T08:00:00Z", outcome: "ok" as const, snapshot: "4f2a9c1e" };
  return {
    container: "running",
    status: { version: 1, lastRun: run, lastSuccess: run },
    drill: { version: 1, at: "2026-03-01T03:00:00Z", snapshot: "1b2c3d4e", snapshotTime: "2026-03-01T02:30:00Z", outcome: "ok", databases: [], volumes: [], seconds: 60, problems: [] },
  };
}

const failing = (checks: RuleCheck[]) => checks.filter((c) => c.status !== "pass").map((c) => `${c.rule}${c.subject ? ` [${c.subject}]` : ""}`);

const variants: Record<string, Association> = {
  example,
  "recording on, federation on, addresses kept": backedUp((input) => {
    input.services.jitsi = { recording: { enabled: true, consentText: "Cette réunion peut être enregistrée." } };
    input.services.matrix.federation = { enabled: true, reason: "Échanges avec la fédération des jardins partagés." };
    input.services.proxy.accessLog = { anonymiseAddresses: false, retentionDays: 7 };
    input.services.nextcloud.adminTwoFactor = false;
    input.services.nextcloud.shareLinks = { requirePassword: false, relaxedBecause: "Les affiches du quartier sont partagées sans mot de passe." };
  }),
  "proxy and Nextcloud only": backedUp((input) => {
    for (const name of ["jitsi", "matrix", "polls", "vpn"]) input.services[name] = { enabled: false };
    for (const member of input.members) delete member.devices;
  }),
};

for (const [name, config] of Object.entries(variants)) {
  test(`every auditable category of the register has a rule, and a deployment as rendered passes them all (${name})`, (t) => {
    const declared = declaredState(config);
    const checks = evaluate(declared, faithful(config, declared));
    const covered = new Set(checks.flatMap((c) => c.categories));
    const auditable = dataCategories(config).filter((c) => c.auditable);
    t.true(auditable.length > 0);
    for (const category of auditable) t.true(covered.has(category.id), `${category.id} is auditable but no rule checks it`);
    // The register's non-auditable categories are not claimed by any rule either.
    for (const category of dataCategories(config).filter((c) => !c.auditable)) t.false(covered.has(category.id), category.id);
    t.deepEqual(failing(checks), []);
    const report = auditReport({ config, checks, unreachable: [], language: "fr", generatedAt: new Date("2026-03-15T10:00:00Z") });
    t.is(report.result, "pass");
    t.is(report.exitCode, 0);
    t.true(report.categories.every((c) => c.status === "pass"));
  });
}

test("the declared values follow the config: masks, cache, two-factor groups, accounts", (t) => {
  const declared = declaredState(example);
  t.deepEqual(declared.proxy.masks, { "request>remote_ip": "ipv4 24 ipv6 48", "request>client_ip": "ipv4 24 ipv6 48" });
  t.deepEqual(declared.proxy.deleted, ["request>headers>Authorization", "request>headers>Cookie", "resp_headers>Set-Cookie"]);
  t.is(declared.proxy.accessLogHours, 14 * 24);
  t.deepEqual(declaredState(variants["recording on, federation on, addresses kept"]!).proxy.masks, {});
  t.is(declared.vpn!.cacheSeconds, 300);
  // Not `admin`: the service account is in it (MandatoryTwoFactor::isEnforcedFor, recorded in nextcloud-34/two-factor-enforcement.json).
  t.deepEqual(declared.nextcloud!.twoFactor, { enforced: true, groups: ["_admins-2fa"], excluded: [] });
  t.deepEqual(declared.nextcloud!.system, {
    trashbin_retention_obligation: "auto, 30",
    versions_retention_obligation: "auto, 90",
    activity_expire_days: "90",
    log_rotate_size: "10485760",
    loglevel: "2",
  });
  t.deepEqual(declared.jitsi!.staff, ["claire.dubois", "karim.benali"]);
  t.deepEqual(declared.matrix!.rooms, ["association", "bureau", "potager", "evenements"]);
  t.is(declared.matrix!.retentionMs, 365 * 86_400_000);
});

test("each container gets every hardening rule, and each rule id has a title in both languages", (t) => {
  const declared = declaredState(example);
  const checks = evaluate(declared, faithful(example));
  for (const c of declared.containers) {
    const rules = checks.filter((k) => k.subject === c.container).map((k) => k.rule);
    for (const rule of ["container.running", "container.log-rotation", "container.privileges", "container.memory", "container.image"]) t.true(rules.includes(rule as never), `${c.container}: ${rule}`);
  }
  t.is(declared.containers.length, 18);
  for (const check of checks) t.truthy(RULES[check.rule as keyof typeof RULES], check.rule);
});

/** Changes one thing in a faithful observation; the rule named must be the only one to fail. */
interface Drift {
  what: string;
  change: (o: Observed, d: Declared) => void;
  fails: string[];
}

const container = (o: Observed, name: string) => (o.containers as { value: ContainerFacts[] }).value.find((c) => c.name === name)!;
const value = <T>(read: Read<T> | undefined) => (read as { value: T }).value;

const DRIFTS: Drift[] = [
  {
    what: "a container recreated without log rotation",
    change: (o) => Object.assign(container(o, "bastide-polls-purge"), { logOptions: {} }),
    fails: ["container.log-rotation [bastide-polls-purge]"],
  },
  { what: "a privileged container", change: (o) => (container(o, "bastide-jitsi-web").privileged = true), fails: ["container.privileges [bastide-jitsi-web]"] },
  { what: "no-new-privileges dropped", change: (o) => (container(o, "bastide-proxy-caddy").securityOptions = []), fails: ["container.privileges [bastide-proxy-caddy]"] },
  { what: "an extra capability", change: (o) => (container(o, "bastide-matrix-synapse").addedCapabilities = ["CAP_SYS_ADMIN"]), fails: ["container.privileges [bastide-matrix-synapse]"] },
  { what: "more memory", change: (o) => (container(o, "bastide-nextcloud-app").memoryBytes *= 2), fails: ["container.memory [bastide-nextcloud-app]"] },
  { what: "a moving tag", change: (o) => Object.assign(container(o, "bastide-proxy-caddy"), { image: "caddy:latest", imageReferences: ["caddy:latest"] }), fails: ["container.image [bastide-proxy-caddy]"] },
  { what: "a data volume missing", change: (o) => (container(o, "bastide-matrix-db").volumes = []), fails: ["container.volumes [bastide-matrix-db]"] },
  { what: "a stopped container", change: (o) => (container(o, "bastide-nextcloud-cron").running = false), fails: ["container.running [bastide-nextcloud-cron]"] },
  {
    what: "the lobby switched off",
    change: (o) => (container(o, "bastide-jitsi-prosody").env.ENABLE_LOBBY = "0"),
    fails: ["jitsi.lobby [bastide-jitsi-prosody]"],
  },
  {
    what: "access logs kept longer",
    change: (o) => (value(o.caddyfile) as { rollKeepFor: string }[])[0]!.rollKeepFor = "8760h",
    fails: ["proxy.access-log-retention [bastide-proxy-caddy:/etc/caddy/Caddyfile]"],
  },
  {
    what: "addresses no longer masked",
    change: (o) => ((value(o.caddyfile) as { masks: object }[])[0]!.masks = {}),
    fails: ["proxy.access-log-masking [bastide-proxy-caddy:/etc/caddy/Caddyfile]"],
  },
  {
    what: "server-side recording switched on",
    change: (o) => ((value(o.jitsiWeb) as Record<string, unknown>).recordingService = { enabled: true, sharingEnabled: false }),
    fails: ["jitsi.recording [bastide-jitsi-web:/config/custom-config.js]"],
  },
  {
    what: "room tombstones kept",
    change: (o) => ((value(o.prosodyOverlay) as Record<string, unknown>).muc_tombstones = true),
    fails: ["jitsi.memory-only [bastide-jitsi-prosody:/config/conf.d/bastide-privacy.cfg.lua]"],
  },
  {
    // The example's hosts come with the identity provider's token: a Prosody recreated with its
    // own passwords would let in anyone it holds an account for.
    what: "Prosody back on its own passwords",
    change: (o) => (container(o, "bastide-jitsi-prosody").env.AUTH_TYPE = "internal"),
    fails: ["jitsi.host-login [bastide-jitsi-prosody]"],
  },
  {
    what: "share links without a password",
    change: (o) => ((value(o.nextcloudApi)!.shareLinks as { passwordEnforced: boolean }).passwordEnforced = false),
    fails: ["nextcloud.share-link-password"],
  },
  { what: "longer share links", change: (o) => ((value(o.nextcloudApi)!.shareLinks as { expireDays: number }).expireDays = 365), fails: ["nextcloud.share-link-expiry"] },
  {
    what: "the temporary tag's rule counted from creation",
    change: (o) => ((value(o.nextcloudApi)!.retentionRules as { timeafter: number }[])[0]!.timeafter = 0),
    fails: [`nextcloud.temporary-tag [tag "${TEMPORARY_TAG}"]`],
  },
  { what: "the Retention app off (no rules)", change: (o) => (value(o.nextcloudApi)!.retentionRules = []), fails: [`nextcloud.temporary-tag [tag "${TEMPORARY_TAG}"]`] },
  {
    what: "the temporary tag's rule in months",
    change: (o) => Object.assign(value(o.nextcloudApi)!.retentionRules[0]!, { timeunit: 2, timeamount: 1 }),
    fails: [`nextcloud.temporary-tag [tag "${TEMPORARY_TAG}"]`],
  },
  { what: "a longer trash", change: (o) => (value(o.nextcloudOcc)!.system.trashbin_retention_obligation = "auto, 365"), fails: ["nextcloud.trash-retention [config.php]"] },
  { what: "versions kept forever", change: (o) => (value(o.nextcloudOcc)!.system.versions_retention_obligation = null), fails: ["nextcloud.versions-retention [config.php]"] },
  { what: "activity kept longer", change: (o) => (value(o.nextcloudOcc)!.system.activity_expire_days = "365"), fails: ["nextcloud.activity-expiry [config.php]"] },
  { what: "a chattier log", change: (o) => (value(o.nextcloudOcc)!.system.loglevel = "0"), fails: ["nextcloud.log-rotation [config.php]"] },
  {
    what: "admins excluded from two-factor login",
    change: (o) => (value(o.nextcloudOcc)!.twoFactor = { enforced: true, groups: [], excluded: ["admin"] }),
    fails: ["nextcloud.admin-two-factor"],
  },
  {
    what: "a departed member still enabled",
    change: (o) => value(o.nextcloudApi)!.accounts.push({ id: "ancien.membre", enabled: true }),
    fails: ["nextcloud.accounts"],
  },
  {
    what: "registration open",
    change: (o) => (value(o.matrixProbes)!.register = { status: 401, errcode: null, error: null, server: null }),
    fails: ["matrix.registration [POST /_matrix/client/v3/register]"],
  },
  {
    what: "guests let in",
    change: (o) => (value(o.matrixProbes)!.guest = { status: 200, errcode: null, error: null, server: null }),
    fails: ["matrix.guest-access [POST /_matrix/client/v3/register?kind=guest]"],
  },
  {
    what: "federation served",
    change: (o) => (value(o.matrixProbes)!.federation = { status: 200, errcode: null, error: null, server: "Synapse 1.159.0" }),
    fails: ["matrix.federation [GET /_matrix/federation/v1/version]"],
  },
  {
    what: "registration switched on in homeserver.yaml",
    change: (o) => ((value(o.homeserver) as { enable_registration: unknown }).enable_registration = true),
    fails: ["matrix.homeserver-access [bastide-matrix-synapse:/etc/synapse/homeserver.yaml]"],
  },
  {
    what: "messages kept longer",
    change: (o) => ((value(o.homeserver) as { retention: { default_policy: { max_lifetime: string } } }).retention.default_policy.max_lifetime = "3650d"),
    fails: ["matrix.message-retention [bastide-matrix-synapse:/etc/synapse/homeserver.yaml]"],
  },
  {
    what: "a room's retention removed",
    change: (o, d) => (value(o.matrixState)!.rooms[d.matrix!.rooms.find((r) => r === "evenements")!]!.retention = null),
    fails: ["matrix.room-retention [#evenements:matrix.jardins-canal.localhost]"],
  },
  {
    what: "media kept longer",
    change: (o) => ((value(o.homeserver) as { media_retention: object }).media_retention = { local_media_lifetime: "365d", remote_media_lifetime: "90d" }),
    fails: ["matrix.media-retention [bastide-matrix-synapse:/etc/synapse/homeserver.yaml]"],
  },
  {
    what: "a departed member still active",
    change: (o) => value(o.matrixState)!.accounts.push({ id: "@ancien.membre:matrix.jardins-canal.localhost", deactivated: false }),
    fails: ["matrix.accounts"],
  },
  {
    what: "the purge delay raised in the purge container",
    change: (o) => ((value(o.pollsConfigs!["bastide-polls-purge"]) as { purgeDelay: number }).purgeDelay = 3650),
    fails: ["polls.purge-delay [bastide-polls-purge:/var/www/html/app/inc/config.php]"],
  },
  {
    what: "Framadate's log kept",
    change: (o) => ((value(o.pollsConfigs!["bastide-polls-app"]) as { logFile: string }).logFile = "admin/stdout.log"),
    fails: ["polls.discarded-log [bastide-polls-app:/var/www/html/app/inc/config.php]"],
  },
  { what: "a peer left on the VPN", change: (o) => value(o.wireguardPeers)!.push("ancien.membre laptop"), fails: ["vpn.peers [bastide-vpn-wireguard:/config/wg_confs/wg0.conf]"] },
  {
    what: "DNS queries logged",
    change: (o) => ((value(o.corefile) as { queryLogging: string[] }).queryLogging = ["log"]),
    fails: ["vpn.dns-not-logged [bastide-vpn-wireguard:/config/coredns/Corefile]"],
  },
];

const IDENTITY_DRIFTS: { what: string; change: (realm: IdentityRealmFacts) => void; fails: string[] }[] = [
  { what: "self-registration opened", change: (r) => void (r.realm.registrationAllowed = true), fails: ["identity.registration [realm bastide]"] },
  { what: "brute-force detection off", change: (r) => void (r.realm.bruteForceProtected = false), fails: ["identity.brute-force [realm bastide]"] },
  { what: "login events kept a year", change: (r) => void (r.realm.eventsExpiration = 365 * 86_400), fails: ["identity.login-events [realm bastide]"] },
  { what: "sessions kept a day", change: (r) => void (r.realm.ssoSessionMaxLifespan = 86_400), fails: ["identity.sessions [realm bastide]"] },
  { what: "a shorter password allowed", change: (r) => void (r.realm.passwordPolicy = "length(8) and notUsername(undefined) and notEmail(undefined)"), fails: ["identity.password-policy [realm bastide]"] },
  {
    what: "the flow's role condition replaced by Keycloak's 'user configured'",
    change: (r) => void (r.browserFlow[4]!.providerId = "conditional-user-configured"),
    fails: ["identity.two-factor-flow [realm bastide]"],
  },
  {
    what: "a staff member's second factor deleted",
    change: (r) => void (r.users.find((u) => u.role === "staff")!.credentials = ["password"]),
    fails: ["identity.two-factor [role staff]"],
  },
  { what: "a departed member still enabled", change: (r) => void r.users.push({ ...r.users[0]!, username: "ancien.membre" }), fails: ["identity.accounts [realm bastide]"] },
];

for (const drift of IDENTITY_DRIFTS) {
  test(`one change, one failing rule: identity, ${drift.what}`, (t) => {
    // With the identity provider declared, whatever the catalogue holds yet.
    const declared: Declared = { ...declaredState(example), identity: declaredIdentity(example) };
    const observed = faithful(example, declared);
    t.deepEqual(failing(evaluate(declared, observed)), [], "as declared, every rule passes");
    drift.change(value(observed.identityRealm)!);
    t.deepEqual(failing(evaluate(declared, observed)), drift.fails);
  });
}

for (const drift of DRIFTS) {
  test(`one change, one failing rule: ${drift.what}`, (t) => {
    const declared = declaredState(example);
    const observed = faithful(example, declared);
    drift.change(observed, declared);
    const checks = evaluate(declared, observed);
    t.deepEqual(failing(checks), drift.fails);
    const report = auditReport({ config: example, checks, unreachable: [], language: "en", generatedAt: new Date() });
    t.is(report.result, "fail");
    t.is(report.exitCode, 1);
  });
}

test("without the identity provider, hosts have Prosody accounts: one for a volunteer fails, and no token login is declared", (t) => {
  const config = backedUp((input) => (input.services.identity = { enabled: false }));
  const declared = declaredState(config);
  t.false(declared.jitsi!.tokenLogin);
  const observed = faithful(config, declared);
  t.deepEqual(failing(evaluate(declared, observed)), [], "as declared, every rule passes");
  value(observed.jitsiAccounts)!.push("lea.moreau");
  t.deepEqual(failing(evaluate(declared, observed)), ["jitsi.accounts [meet.jitsi]"]);
  // With it (the example), no account is listed and none is judged: the login itself is.
  const tokens = declaredState(example);
  t.true(tokens.jitsi!.tokenLogin);
  const checks = evaluate(tokens, faithful(example, tokens));
  t.false(checks.some((c) => c.rule === "jitsi.accounts"));
  t.deepEqual([...new Set(checks.filter((c) => c.rule === "jitsi.host-login").map((c) => c.subject))].sort(), ["bastide-jitsi-jicofo", "bastide-jitsi-prosody", "bastide-jitsi-web"]);
});

test("a source that cannot be read makes its checks unread, names itself, and the exit code 2", (t) => {
  const declared = declaredState(example);
  const observed = faithful(example, declared);
  observed.matrixState = readError(new Error("matrix: POST /_matrix/client/v3/login still failing after 3 attempts (ECONNREFUSED)"));
  const checks = evaluate(declared, observed);
  const unread = checks.filter((c) => c.status === "unread");
  t.deepEqual([...new Set(unread.map((c) => c.rule))], ["matrix.room-retention", "matrix.accounts"]);
  t.true(unread.every((c) => c.observed.startsWith("not read: matrix: POST")));
  const report = auditReport({
    config: example,
    checks,
    unreachable: [{ service: "matrix", source: "Synapse API at https://matrix.jardins-canal.localhost", error: "ECONNREFUSED" }],
    language: "fr",
    generatedAt: new Date("2026-03-15T10:00:00Z"),
  });
  t.is(report.result, "incomplete");
  t.is(report.exitCode, 2);
  t.is(report.categories.find((c) => c.id === "matrix.messages")!.status, "unread");
  t.is(report.categories.find((c) => c.id === "nextcloud.trash")!.status, "pass");
  const table = consoleTable(report);
  t.regex(table, /Could not be read:\n {2}matrix: Synapse API at https:\/\/matrix\.jardins-canal\.localhost: ECONNREFUSED/);
  t.regex(table, /incomplete/);
});

test("a Docker engine that does not answer leaves every container and file check unread", (t) => {
  const declared = declaredState(example);
  const observed: Observed = { containers: readError(new Error("the Docker engine did not answer: connect ENOENT /var/run/docker.sock")) };
  const checks = evaluate(declared, observed);
  t.true(checks.filter((c) => c.rule.startsWith("container.")).every((c) => c.status === "unread"));
  t.true(checks.every((c) => c.status === "unread"), "nothing else was read either");
});

// ---------------------------------------------------------------------------------------
// Parsers, on the real files and the recorded answers

const capabilitiesIn = (scenario: string) => {
  const recording = JSON.parse(readFileSync(new URL(`nextcloud-34/${scenario}.json`, RECORDINGS), "utf8"));
  const exchange = recording.exchanges.find((e: { request?: { path: string } }) => e.request?.path.includes("capabilities"));
  return shareLinkCapabilities(JSON.parse(exchange.response.body).ocs.data);
};

test("the recorded capabilities of a default Nextcloud 34 show no enforcement", (t) => {
  t.deepEqual(capabilitiesIn("audit-default"), { linksEnabled: true, passwordEnforced: false, expireDateEnabled: false, expireDateEnforced: null, expireDays: null });
});

test("the recorded capabilities of a provisioned Nextcloud 34 show the share-link policy", (t) => {
  t.like(capabilitiesIn("audit-provisioned"), { linksEnabled: true, passwordEnforced: true, expireDateEnabled: true, expireDateEnforced: true, expireDays: 30 });
});

test("image references: a digest pin needs that digest; a tag pin, that tag; familiar names are expanded", (t) => {
  const pinned = "caddy:2.11.4-alpine@sha256:ad27e531c8b286ff153c0e6e16587a1583e4111bb58c4d83bd73d6d3ef0a0ce1";
  t.true(imageMatches(pinned, { image: "sha256:1234", imageReferences: ["caddy@sha256:ad27e531c8b286ff153c0e6e16587a1583e4111bb58c4d83bd73d6d3ef0a0ce1"] }));
  t.true(imageMatches(pinned, { image: "docker.io/library/caddy@sha256:ad27e531c8b286ff153c0e6e16587a1583e4111bb58c4d83bd73d6d3ef0a0ce1", imageReferences: [] }));
  t.false(imageMatches(pinned, { image: "sha256:1234", imageReferences: ["caddy:2.11.4-alpine"] }), "the tag alone is not the digest");
  t.false(imageMatches(pinned, { image: "sha256:1234", imageReferences: ["evil/caddy@sha256:ad27e531c8b286ff153c0e6e16587a1583e4111bb58c4d83bd73d6d3ef0a0ce1"] }));
  t.true(imageMatches("ghcr.io/element-hq/element-web:v1.12.30", { image: "ghcr.io/element-hq/element-web:v1.12.30", imageReferences: [] }));
  t.false(imageMatches("ghcr.io/element-hq/element-web:v1.12.30", { image: "sha256:1", imageReferences: ["ghcr.io/element-hq/element-web:latest"] }));
  t.true(imageMatches("bastide/framadate:1.1.19", { image: "bastide/framadate:1.1.19", imageReferences: [] }));
});

test("the WireGuard peers are read by name from the conf the provisioning writes, never with keys", (t) => {
  const peers = [
    { member: "claire.dubois", device: "laptop", id: "claire.dubois-laptop", publicKey: "hTRG6uBhfPW8ZWJ0C4wBGLhcqbmtX6dNmUc46EtjN0E=", address: "10.13.13.2" },
    { member: "karim.benali", device: "phone", id: "karim.benali-phone", publicKey: "nV3Vf/QWrLeMsvhDnaz3EP3WUVwzZHB+CTq7+h0hL2c=", address: "10.13.13.3" },
  ];
  const conf = serverConfWithPeers({ subnet: "10.13.13.0/24", port: 51820, privateKey: "YEfVzUihHXcMYX6KyDc2XMVS0T8pGFwo9LtkkLWHl1A=", peers });
  const names = wireguardPeers(conf);
  t.deepEqual(names, ["claire.dubois laptop", "karim.benali phone"]);
  t.false(JSON.stringify(names).includes("="), "no key in the facts");
  t.deepEqual(wireguardPeers("[Interface]\nPrivateKey = x\n[Peer]\nPublicKey = y\n"), ["(unnamed peer 1)"]);
  const declared = declaredState(example);
  t.deepEqual(declared.vpn!.devices, ["claire.dubois laptop", "karim.benali laptop", "karim.benali phone"]);
});

test("secret-holding files are reduced to facts without their secrets", (t) => {
  const declared = declaredState(example);
  const yaml = rendered(example, declared.matrix!.homeserver.container, declared.matrix!.homeserver.path);
  const php = rendered(example, declared.polls!.configs[0]!.container, declared.polls!.configs[0]!.path);
  t.true(yaml.includes("fakeregistrationsharedsecret") && php.includes("fakedbpassword"), "the rendered files do hold the fake secrets");
  for (const facts of [homeserverFacts(yaml), pollsConfigFacts(php)]) t.false(JSON.stringify(facts).includes("fake"), JSON.stringify(facts));
  t.deepEqual(pollsConfigFacts(php), { purgeDelay: 60, logFile: "../../../dev/null", defaultPollDuration: 30 });
});

test("a file that cannot be understood fails its check with the parser's words", (t) => {
  const declared = declaredState(example);
  const observed = faithful(example, declared);
  observed.jitsiWeb = readValue(jitsiWebSettings("config.recordingService = ;", JITSI_RECORDING_SETTINGS));
  observed.caddyfile = readValue(caddyLogOutputs("cloud.example.org {\n  log {\n"));
  const checks = evaluate(declared, observed);
  const jitsi = checks.find((c) => c.rule === "jitsi.recording")!;
  t.is(jitsi.status, "fail");
  t.regex(jitsi.observed, /^custom-config\.js does not run: /);
  t.regex(checks.find((c) => c.rule === "proxy.access-log-retention")!.observed, /^the Caddyfile does not parse: /);
});

// ---------------------------------------------------------------------------------------
// The report

function reportWith(language: "fr" | "en") {
  const declared = declaredState(example);
  const observed = faithful(example, declared);
  value(observed.nextcloudApi)!.accounts.push({ id: `<script>alert("x")</script>`, enabled: true });
  return auditReport({ config: example, checks: evaluate(declared, observed), unreachable: [], language, generatedAt: new Date("2026-03-15T10:00:03Z"), source: "association.yaml" });
}

test("audit.json validates against its schema and keeps every check", (t) => {
  const report = reportWith("fr");
  const json = JSON.parse(JSON.stringify(report));
  t.deepEqual(auditReportSchema.parse(json), report);
  t.is(report.summary.failed, 1);
  t.is(report.summary.total, report.checks.length);
  t.is(report.generatedAtText, "15 mars 2026 à 10:00:03 UTC");
  t.is(report.checks.find((c) => c.rule === "nextcloud.share-link-password")!.title, "Mot de passe des liens de partage publics");
  t.is(report.categories.find((c) => c.id === "nextcloud.accounts")!.status, "fail");
  t.false(auditReportSchema.safeParse({ ...json, checks: json.checks.map((c: object) => ({ ...c, status: "maybe" })) }).success);
});

test("the HTML is self-contained, escaped, French by default and English on request", (t) => {
  const fr = renderAuditHtml(reportWith("fr"));
  t.regex(fr, /^<!DOCTYPE html>\n<html lang="fr">/);
  t.false(fr.includes(`<script>alert`), "observed values are escaped");
  t.true(fr.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
  t.false(/<script|<link|src=|@import|https?:\/\//i.test(fr.replace(/<meta[^>]*>/g, "")), "no script and nothing fetched");
  t.true(fr.includes("Audit des réglages en vigueur"));
  t.true(fr.includes("ÉCART") && fr.includes("CONFORME"));
  const en = renderAuditHtml(reportWith("en"));
  t.regex(en, /<html lang="en">/);
  t.true(en.includes("Audit of the settings in force") && en.includes("FAIL") && en.includes("PASS"));
});

test("the console table has one line per check with declared, observed, result and time read", (t) => {
  const report = reportWith("en");
  const table = consoleTable(report);
  const lines = table.split("\n");
  t.regex(lines[0]!, /^rule\s+service\s+declared\s+observed\s+result\s+read at$/);
  t.is(lines.filter((l) => / (PASS|FAIL|UNREAD) +\d\d:\d\d:\d\d$/.test(l)).length, report.checks.length);
  const fail = lines.find((l) => l.includes(" FAIL "))!;
  t.regex(fail, /^nextcloud\.accounts\s+nextcloud\s+enabled only: .*enabled but not in the member list: <scri.* FAIL +10:00:00$/);
  t.regex(table, /1 failed, 0 unread/);
});

// ---------------------------------------------------------------------------------------
// Connections

test("connections come from the config and the environment; a missing credential names its variable", (t) => {
  const env = { [ENV.nextcloudPassword]: "nc-secret", [ENV.provisioningToken]: "tok" };
  t.deepEqual(missingCredentials(example, env), [ENV.matrixSecret]);
  const plan = connectionPlan(example, env, {}, "pulumi could not run (ENOENT)");
  t.deepEqual(plan.docker, { socketPath: "/var/run/docker.sock" });
  t.deepEqual(plan.nextcloud, {
    endpoint: { url: "https://cloud.jardins-canal.localhost", address: "127.0.0.1", caddyLocalCa: true },
    user: NEXTCLOUD_ADMIN_USER,
    password: "nc-secret",
    // The accounts list is Nextcloud's provisioning API, VPN-only at the proxy but for this token.
    headers: { "X-Bastide-Provisioning": "tok" },
  });
  t.deepEqual(plan.matrix, { unavailable: `no credentials: set ${ENV.matrixSecret} (the stack's outputs could not be read: pulumi could not run (ENOENT))` });

  const fromStack = connectionPlan(example, { [ENV.matrixUrl]: "http://127.0.0.1:8008", DOCKER_HOST: "unix:///tmp/d.sock" }, {
    serviceSecrets: { nextcloud: { "admin-password": "a" }, matrix: { "registration-shared-secret": "s" }, proxy: { "provisioning-token": "t" } },
  });
  t.deepEqual(fromStack.docker, { socketPath: "/tmp/d.sock" });
  t.deepEqual(fromStack.matrix, {
    endpoint: { url: "http://127.0.0.1:8008" },
    serverName: "matrix.jardins-canal.localhost",
    registrationSharedSecret: "s",
    headers: { "X-Bastide-Provisioning": "t" },
  });
  t.deepEqual(dockerTargetFrom("ssh://admin@203.0.113.5:2222"), { protocol: "ssh", host: "203.0.113.5", port: 2222, username: "admin" });
  t.true("unavailable" in dockerTargetFrom("tcp://127.0.0.1:2375"));

  const cloud = backedUp((input) => {
    input.host = { target: "hetzner", location: "fsn1", serverType: "cx42", sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBastideTestKey admin@laptop", adminAddresses: ["203.0.113.7/32"] };
    input.services.proxy.acmeCa = "production";
  });
  t.deepEqual(connectionPlan(cloud, {}, { publicAddress: "198.51.100.4" }).docker, { protocol: "ssh", host: "198.51.100.4", port: 22, username: "root" });
  t.regex((connectionPlan(cloud, {}) .docker as { unavailable: string }).unavailable, /BASTIDE_PUBLIC_ADDRESS/);
});

test("the French audit opens with what fails, then what could not be read, in French words; the detail puts failures first", (t) => {
  const report = reportWith("fr");
  const failed = report.checks.find((c) => c.rule === "nextcloud.accounts")!;
  t.regex(failed.observed, /^actifs mais absents de la liste des membres\u00A0: <script>/);
  t.regex(failed.declared, /^seuls actifs\u00A0: /);
  t.regex(reportWith("en").checks.find((c) => c.rule === "nextcloud.accounts")!.observed, /^enabled but not in the member list: /, "English keeps the rules' words");
  const html = renderAuditHtml(report);
  const brief = html.indexOf('id="brief"');
  const gap = html.indexOf("Écarts à corriger");
  const detail = html.indexOf('id="checks"');
  t.true(brief > 0 && brief < gap && gap < detail, "the brief, with the gaps, comes before the detail");
  t.true(html.includes("Des réglages en vigueur s&#x27;écartent du registre"));
  // In the detail, the service with a failure comes first, and its failing check heads its table.
  const firstRow = /<h3>(\w+)<\/h3>\s*<table>[\s\S]*?<tbody>\s*<tr class="row-(\w+)"/.exec(html.slice(detail))!;
  t.deepEqual([firstRow[1], firstRow[2]], ["nextcloud", "fail"]);
  const lines = consoleTable(reportWith("en")).split("\n");
  t.regex(lines[2]!, / FAIL /, "the console lists failures first");
});
