// Nextcloud's RGPD settings: the pure plan first; then the retention rule against the fake
// Nextcloud (which answers as the recorded Nextcloud 32 does); then occ in a real container
// of a real Docker engine, reached through dockerode exec as in production. No Nextcloud
// can run here, so that container runs a fake occ (test/fakes/occ/occ) that first has to
// replay every recorded occ exchange exactly.
import test, { type ExecutionContext } from "ava";
import { chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { desiredState, type DesiredState } from "../../provisioners/desired.ts";
import { sameAppValue } from "../../provisioners/nextcloud-settings/plan.ts";
import { converge, ProvisionError } from "../../provisioners/model.ts";
import { CallCounter } from "../../provisioners/runtime/http.ts";
import { createNextcloudClient } from "../../provisioners/nextcloud/client.ts";
import {
  desiredNextcloudSettings,
  dockerOcc,
  OCC_PHASES,
  occTarget,
  parseConfigValue,
  parseEnabledApps,
  parseGroups,
  parseTwoFactorState,
  planOccSettings,
  planRetention,
  retentionProvisioner,
  runNextcloudSettings,
  TEMPORARY_TAG,
  type NextcloudSettingsClient,
  type NextcloudSettingsDesired,
  type OccLive,
  type OccRunner,
  applyOccSetting,
  convergeNextcloudSettings,
  OCC_CONCURRENCY,
} from "../../provisioners/nextcloud-settings/index.ts";
import { oidcOccSettings } from "../../provisioners/nextcloud-settings/desired.ts";
import { oidcProviderCommand } from "../../stacks/services/nextcloud/oidc.ts";
import { parseOidcProvider, type OidcProviderState } from "../../provisioners/nextcloud-settings/occ.ts";
import { nothingSet, sameOidcProvider } from "../../provisioners/nextcloud-settings/plan.ts";
import { secretFingerprint } from "../../provisioners/runtime/fingerprint.ts";
import { containerName } from "../../stacks/services/blueprint.ts";
import { NEXTCLOUD_ADMIN_USER, NEXTCLOUD_OCC, NEXTCLOUD_TWO_FACTOR_GROUP, nextcloudOccSettings } from "../../stacks/services/nextcloud/blueprint.ts";
import type { Association } from "../../stacks/config/schema.ts";
import { createFakeNextcloud, type FakeNextcloud } from "../fakes/nextcloud.ts";
import { OIDC_CLIENT_SECRETS } from "../fakes/recorded-nextcloud.ts";
import type { FakeRequest } from "../fakes/fake-server.ts";
import { exampleAssociation } from "../support/association.ts";
import { ensureImportedImage, removeContainer, startDockerEngine, waitUntil, type DockerEngine } from "../support/docker.ts";
import { requireProgram } from "../support/programs.ts";

const example = exampleAssociation();
const desired = desiredNextcloudSettings(example)!;
/** The group the pre-fix settings excluded from 2FA (an enforced group overrules it, so it never exempted anyone in `admin`). */
const SERVICE_GROUP = "bastide-service";
const PASSWORD = "fake-service-password-0123456789";
const noSleep = async () => {};

const subjects = (changes: { subject: string }[]) => changes.map((c) => c.subject);

/** The client secret Nextcloud's stack generates (NEXTCLOUD_SECRETS.oidcClient), here a test value. */
const OIDC_SECRET = "fake-oidc-client-secret-0123456789";

/** What occ reports once every desired command has been applied. */
function liveMatching(settings: NextcloudSettingsDesired): OccLive {
  const live: OccLive = { ...nothingSet(), oidcSecretCurrent: true };
  for (const s of settings.occ) {
    const target = occTarget(s.command);
    if (target.kind === "app-config") live.appConfig[`${target.app}/${target.key}`] = target.value;
    if (target.kind === "background") live.backgroundMode = target.mode;
    if (target.kind === "app-enabled") live.enabledApps.push(target.app);
    if (target.kind === "group") live.groups[target.group] ??= [];
    if (target.kind === "group-member") (live.groups[target.group] ??= []).push(target.user);
    if (target.kind === "two-factor") live.twoFactor = target.state;
    if (target.kind === "oidc-provider") live.oidcProviders[target.provider.identifier] = target.provider;
  }
  return live;
}

// ---------------------------------------------------------------------------------------
// What is desired (pure)

test("desired: the blueprint's occ list plus the Retention app, and a rule of temporaryTagDays after last change", (t) => {
  const blueprint = nextcloudOccSettings(example);
  t.deepEqual(desired.occ.slice(0, blueprint.length), blueprint);
  t.deepEqual(desired.occ[blueprint.length]!.command, ["php", "occ", "app:enable", "files_retention"]);
  // The identity provider (enabled by default) adds user_oidc's settings after them.
  t.deepEqual(desired.occ.slice(blueprint.length + 1), oidcOccSettings(example));
  t.deepEqual(desired.retention.rule, { timeunit: 0, timeamount: example.services.nextcloud.temporaryTagDays, timeafter: 1 });
  t.is(desired.retention.tag, "temporaire");
  const seven = desiredNextcloudSettings(exampleAssociation((i) => void (i.services.nextcloud = { temporaryTagDays: 7 })))!;
  t.is(seven.retention.rule.timeamount, 7);
  t.regex(seven.retention.reason, /7 days after their last change/);
  t.is(desiredNextcloudSettings(exampleAssociation((i) => void (i.services.nextcloud = { enabled: false }))), undefined);
  // Plain data: the dynamic provider carries it in its inputs.
  t.deepEqual(JSON.parse(JSON.stringify(desired)), desired);
});

test("every occ command of the settings has a read-back; an unknown one is refused, not rewritten forever", (t) => {
  const configs: Association[] = [
    example,
    exampleAssociation((i) => {
      i.services.nextcloud = {
        defaultQuota: "none",
        adminTwoFactor: false,
        shareLinks: { requirePassword: false, expireAfterDays: 7, relaxedBecause: "Les affiches publiques sont partagées sans mot de passe." },
      };
    }),
  ];
  for (const config of configs) for (const s of desiredNextcloudSettings(config)!.occ) t.notThrows(() => occTarget(s.command), s.command.join(" "));
  t.deepEqual(occTarget(["php", "occ", "config:app:set", "files", "default_quota", "--value=5 GB"]), { kind: "app-config", app: "files", key: "default_quota", value: "5 GB" });
  t.deepEqual(occTarget(["php", "occ", "twofactorauth:enforce", "--on", "--group", "admin", "--exclude", SERVICE_GROUP]), {
    kind: "two-factor",
    state: { enforced: true, groups: ["admin"], excluded: [SERVICE_GROUP] },
  });
  t.throws(() => occTarget(["php", "occ", "maintenance:mode", "--on"]), { message: /no way to read this setting back/ });
  t.throws(() => occTarget(["php", "occ", "config:app:set", "core", "x", "--value=1", "--type=integer"]), { message: /expected config:app:set/ });
  t.throws(() => occTarget(["php", "occ", "group:add", "a b"]), { message: /not a plain identifier/ });
  t.throws(() => occTarget(["sh", "-c", "occ"]), { message: /not an occ command/ });
});

test("occ answers are read as Nextcloud 32 prints them", (t) => {
  const ok = (stdout: string) => ({ exitCode: 0, stdout, stderr: "" });
  // Recorded: a missing key exits 1 with no output.
  t.is(parseConfigValue({ exitCode: 1, stdout: "", stderr: "" }, "x"), null);
  t.is(parseConfigValue(ok('"90"\n'), "x"), "90");
  t.is(parseConfigValue(ok("30\n"), "x"), "30", "a typed integer value");
  t.is(parseConfigValue(ok('"5 GB"\n'), "x"), "5 GB");
  t.throws(() => parseConfigValue({ exitCode: 255, stdout: "", stderr: "boom" }, "x"), { message: /exit 255: boom/ });
  // PHP prints notices to standard output, before the answer.
  t.is(parseConfigValue(ok('\nDeprecated: something in /var/www/html/lib/x.php on line 3\n"yes"\n'), "x"), "yes");
  // app:list --output=json as the real Nextcloud 34 printed it on the re-run (files_retention enabled by the first).
  const recorded = JSON.parse(readFileSync(new URL("../contracts/recordings/nextcloud-34/provisioning-rerun.json", import.meta.url), "utf8")).exchanges.find(
    (e: { command?: string }) => e.command === "php occ app:list --output=json",
  );
  const enabled = parseEnabledApps(ok(recorded.stdout));
  t.true(["dav", "files_retention", "provisioning_api", "systemtags", "twofactor_totp"].every((app) => enabled.includes(app)), enabled.join(", "));
  t.deepEqual(parseEnabledApps(ok('{"enabled":[],"disabled":{"twofactor_totp":"13.0.0"}}\n')), []);
  t.deepEqual(parseGroups(ok("[]\n")), {});
  t.deepEqual(parseGroups(ok('{"admin":["_bastide"],"bastide-service":["_bastide"]}\n')), { admin: ["_bastide"], [SERVICE_GROUP]: ["_bastide"] });
  // The three forms of core/Command/TwoFactorAuth/Enforce.php.
  t.deepEqual(parseTwoFactorState(ok("Two-factor authentication is not enforced\n")), { enforced: false, groups: [], excluded: [] });
  t.deepEqual(parseTwoFactorState(ok("Two-factor authentication is enforced for all users, except members of a, b\n")), { enforced: true, groups: [], excluded: ["a", "b"] });
  t.deepEqual(parseTwoFactorState(ok(`Two-factor authentication is enforced for members of the group(s) admin, except members of ${SERVICE_GROUP}\n`)), {
    enforced: true,
    groups: ["admin"],
    excluded: [SERVICE_GROUP],
  });
  t.throws(() => parseTwoFactorState(ok("Something else\n")), { message: /unexpected answer/ });
});

test("identity provider off: the settings are what they were before it, nothing of user_oidc", (t) => {
  const off = exampleAssociation((i) => void (i.services.identity = { enabled: false }));
  const settings = desiredNextcloudSettings(off)!;
  t.deepEqual(settings.occ, [...nextcloudOccSettings(off), { command: ["php", "occ", "app:enable", "files_retention"], reason: settings.occ.at(-1)!.reason }]);
  t.false(settings.occ.some((s) => s.command.join(" ").includes("user_oidc") || s.command.includes("newUser.sendEmail")));
  // Then no client secret is needed: the read asks nothing of user_oidc.
  t.false(settings.occ.some((s) => occTarget(s.command).kind === "oidc-provider"));
});

test("the user_oidc provider is read back: its options, and a secret refused on the command line", (t) => {
  const command = oidcProviderCommand(example);
  const target = occTarget(command);
  t.deepEqual(target, {
    kind: "oidc-provider",
    provider: {
      identifier: "bastide",
      clientId: "nextcloud",
      discoveryEndpoint: "https://connexion.jardins-canal.localhost/realms/bastide/.well-known/openid-configuration",
      scope: "openid email profile",
      settings: { uniqueUid: "0", mappingUid: "preferred_username", mappingDisplayName: "name", mappingEmail: "email", groupProvisioning: "0", checkBearer: "0", bearerProvisioning: "0", sendIdTokenHint: "1" },
    },
  });
  const withSecret = command.map((word) => (word.startsWith("--clientsecret-file") ? "--clientsecret=s3cret" : word));
  t.throws(() => occTarget(withSecret), { message: /--clientsecret-file=php:\/\/stdin \(the secret goes to standard input\)/ });
  t.throws(() => occTarget([...command, "--mapping-quota=quota"]), { message: /--mapping-quota cannot be read back/ });
  t.throws(() => occTarget(command.filter((w) => !w.startsWith("--scope"))), { message: /needs --clientid, --discoveryuri, --scope/ });
  t.deepEqual(occTarget(["php", "occ", "config:app:set", "user_oidc", "allow_multiple_user_backends", "--value=0", "--type=string", "--lazy"]), {
    kind: "app-config",
    app: "user_oidc",
    key: "allow_multiple_user_backends",
    value: "0",
  });
  t.throws(() => occTarget(["php", "occ", "config:app:set", "core", "x", "--value=1", "--type=boolean"]), { message: /expected config:app:set/ });
});

test("user_oidc's answers are read as the real one printed them (user-oidc.json)", (t) => {
  const recorded = recordedOcc("user-oidc");
  const answer = (command: string, exit: number) => recorded.find((e) => e.command === command && e.exit === exit)!;
  const asResult = (e: OccExchange) => ({ exitCode: e.exit, stdout: e.stdout, stderr: e.stderr });
  // Before the app is enabled its commands do not exist: no provider.
  t.is(parseOidcProvider(asResult(answer("php occ user_oidc:provider bastide --output=json", 1))), null);
  const live = parseOidcProvider(asResult(answer("php occ user_oidc:provider bastide --output=json", 0)))!;
  t.true(sameOidcProvider((occTarget(oidcProviderCommand(example)) as { provider: OidcProviderState }).provider, live));
  t.is(live.settings.uniqueUid, "0");
  t.is(live.settings.mappingQuota, "", "settings Bastide does not set are read too, and not compared");
  // From user_oidc's source (UpsertProvider.php 232-233): no provider of that name.
  t.is(parseOidcProvider({ exitCode: 255, stdout: "Provider not found\n", stderr: "" }), null);
  t.throws(() => parseOidcProvider({ exitCode: 1, stdout: "", stderr: "boom" }), { message: /exit 1: boom/ });
});

test("plan: the provider is set when missing, when a setting drifted, or when its secret is not Bastide's; not otherwise", (t) => {
  const live = liveMatching(desired);
  t.deepEqual(planOccSettings(desired.occ, live), []);
  const providerOnly = (l: OccLive) => planOccSettings(desired.occ, l).map((c) => [c.kind, c.payload.secretCurrent]);
  t.deepEqual(providerOnly({ ...live, oidcProviders: {} }), [["occ.oidc-provider", true]]);
  t.deepEqual(providerOnly({ ...live, oidcSecretCurrent: false }), [["occ.oidc-provider", false]]);
  const drifted = structuredClone(live);
  drifted.oidcProviders.bastide!.settings.mappingUid = "sub";
  t.deepEqual(providerOnly(drifted), [["occ.oidc-provider", true]]);
  const moved = structuredClone(live);
  moved.oidcProviders.bastide!.discoveryEndpoint = "https://old.example.org/realms/bastide/.well-known/openid-configuration";
  t.deepEqual(providerOnly(moved), [["occ.oidc-provider", true]]);
  // The provider waits for its app (phase 1) to be enabled.
  t.true(OCC_PHASES["oidc-provider"] > OCC_PHASES["app-enabled"]);
});

// ---------------------------------------------------------------------------------------
// The plan (pure)

test("plan on a fresh Nextcloud: every command once, groups before members before enforcement", (t) => {
  const fresh: OccLive = { ...nothingSet(), enabledApps: ["dav", "files"], groups: { admin: [NEXTCLOUD_ADMIN_USER] } };
  const changes = planOccSettings(desired.occ, fresh);
  t.deepEqual(
    changes.map((c) => c.payload.command),
    desired.occ.map((s) => s.command),
  );
  const phaseOf = (kind: string) => changes.find((c) => c.kind === kind)!.phase;
  // The service account is put in no group: the enforced group is one it is not in.
  t.false(changes.some((c) => c.kind === "occ.group" || c.kind === "occ.group-member"));
  t.true(phaseOf("occ.app-enabled") < phaseOf("occ.two-factor"));
  t.is(phaseOf("occ.app-config"), OCC_PHASES["app-config"]);
  for (const c of changes) t.is(c.payload.reason, desired.occ.find((s) => s.command.join(" ") === c.payload.command.join(" "))!.reason);
});

test("plan: nothing when Nextcloud has every setting; exactly the setting that differs otherwise", (t) => {
  const live = liveMatching(desired);
  t.deepEqual(planOccSettings(desired.occ, live), []);

  const drifted = structuredClone(live);
  drifted.appConfig["core/shareapi_expire_after_n_days"] = "90";
  t.deepEqual(subjects(planOccSettings(desired.occ, drifted)), ["config:app:set core shareapi_expire_after_n_days --value=30"]);

  const unset = structuredClone(live);
  unset.appConfig["files/default_quota"] = null;
  t.deepEqual(subjects(planOccSettings(desired.occ, unset)), ["config:app:set files default_quota --value=5 GB"]);

  // The older enforcement, which locked the service account out (admin, "except" a group it
  // was in: an enforced group overrules an excluded one): only the enforcement is redone.
  const locked = { ...structuredClone(live), twoFactor: { enforced: true, groups: ["admin"], excluded: [SERVICE_GROUP] } };
  t.deepEqual(subjects(planOccSettings(desired.occ, locked)), ["twofactorauth:enforce --on --group _admins-2fa"]);

  const ajax = { ...structuredClone(live), backgroundMode: "ajax" };
  t.deepEqual(subjects(planOccSettings(desired.occ, ajax)), ["background:cron"]);

  // 2FA off in the config: "not enforced" satisfies it whatever groups were listed before.
  const off = desiredNextcloudSettings(exampleAssociation((i) => void (i.services.nextcloud = { adminTwoFactor: false })))!;
  t.deepEqual(planOccSettings(off.occ, { ...liveMatching(off), twoFactor: { enforced: false, groups: ["admin"], excluded: [] } }), []);
  t.deepEqual(subjects(planOccSettings(off.occ, { ...liveMatching(off), twoFactor: live.twoFactor })), ["twofactorauth:enforce --off"]);
});

test("plan of the retention rule: tag and rule when missing, nothing when right, replace when changed", (t) => {
  const spec = desired.retention;
  const rule = (id: number, tagid: number, timeamount: number, timeafter = 1, timeunit = 0) => ({ id, tagid, timeunit, timeamount, timeafter });
  t.deepEqual(
    planRetention(spec, { tag: undefined, rules: [rule(1, 9, 30)] }).map((c) => [c.phase, c.kind, c.subject]),
    [
      [1, "retention.tag-create", "system tag temporaire"],
      [3, "retention.rule-create", "retention rule on tag temporaire: 30 days after last modification"],
    ],
  );
  const tag = { id: 4, name: TEMPORARY_TAG };
  t.deepEqual(planRetention(spec, { tag, rules: [rule(2, 4, 30), rule(3, 9, 7)] }), []);
  const changed = planRetention(spec, { tag, rules: [rule(2, 4, 7, 0), rule(3, 9, 7)] });
  t.deepEqual(
    changed.map((c) => [c.phase, c.kind, c.subject]),
    [
      [2, "retention.rule-delete", "retention rule 2 on tag temporaire (7 days after creation)"],
      [3, "retention.rule-create", "retention rule on tag temporaire: 30 days after last modification"],
    ],
  );
  t.deepEqual(changed[1]!.payload, { tag: TEMPORARY_TAG, tagId: 4, rule: { timeunit: 0, timeamount: 30, timeafter: 1 }, reason: spec.reason });
  // A duplicate (a creation retried after its answer was lost) goes; the oldest right one stays.
  t.deepEqual(subjects(planRetention(spec, { tag, rules: [rule(5, 4, 30), rule(6, 4, 30), rule(7, 4, 30, 1, 1)] })), [
    "retention rule 6 on tag temporaire (30 days after last modification)",
    "retention rule 7 on tag temporaire (30 weeks after last modification)",
  ]);
});

// ---------------------------------------------------------------------------------------
// The retention rule against the fake Nextcloud

/** The service account as the stack installs it: in `admin`. */
async function fakeNextcloud(): Promise<FakeNextcloud> {
  return createFakeNextcloud({ users: { [NEXTCLOUD_ADMIN_USER]: PASSWORD }, admins: [NEXTCLOUD_ADMIN_USER] });
}

/** occ must not be reached by the HTTP-only runs. */
const noOcc: OccRunner = {
  where: "nowhere",
  run: () => Promise.reject(new Error("occ is not used here")),
};

function clientFor(nc: FakeNextcloud, counter: CallCounter, occ: OccRunner = noOcc, sleeps?: number[]): NextcloudSettingsClient {
  const sleep = sleeps ? async (ms: number) => void sleeps.push(ms) : noSleep;
  return { occ, counter, nextcloud: createNextcloudClient({ baseUrl: nc.url, user: NEXTCLOUD_ADMIN_USER, password: PASSWORD, counter, sleep }) };
}

const retentionRun = (settings: NextcloudSettingsDesired, client: NextcloudSettingsClient) => converge(retentionProvisioner, settings, client, { concurrency: 4 });

test("retention on the fake: tag and rule made, then a re-run reads and writes nothing", async (t) => {
  const nc = await fakeNextcloud();
  try {
    const counter = new CallCounter();
    const first = await retentionRun(desired, clientFor(nc, counter));
    t.deepEqual(first.failed, []);
    t.deepEqual(first.applied.map((c) => c.kind), ["retention.tag-create", "retention.rule-create"]);
    const [tag] = nc.systemTags();
    t.like(tag, { name: TEMPORARY_TAG, userVisible: true, userAssignable: true });
    t.deepEqual(nc.retentionRules().map(({ id: _, ...r }) => r), [{ tagid: tag!.id, timeunit: 0, timeamount: 30, timeafter: 1 }]);

    nc.server.resetLog();
    const again = new CallCounter();
    const second = await retentionRun(desired, clientFor(nc, again));
    t.deepEqual(second.planned, []);
    t.is(again.writes(), 0);
    t.is(nc.server.writes(), 0);
    t.deepEqual(nc.server.log.map((l) => l.method).sort(), ["GET", "PROPFIND"]);
  } finally {
    await nc.stop();
  }
});

test("retention on the fake: transient faults are retried, and nothing is made twice", async (t) => {
  const nc = await fakeNextcloud();
  try {
    const is = (method: string, path: string) => (r: FakeRequest) => r.method === method && r.path.startsWith(path);
    nc.server.inject({ match: is("PROPFIND", "/remote.php/dav/systemtags/"), times: 1, response: { status: 503, body: "Service Unavailable" } });
    nc.server.inject({ match: is("GET", "/ocs/v2.php/apps/files_retention/"), times: 1, response: "drop" });
    nc.server.inject({ match: is("POST", "/remote.php/dav/systemtags/"), times: 2, response: { status: 429, headers: { "Retry-After": "7" }, body: "" } });
    nc.server.inject({ match: is("POST", "/ocs/v2.php/apps/files_retention/"), times: 1, response: { status: 502, body: "Bad Gateway" } });
    const counter = new CallCounter();
    const sleeps: number[] = [];
    const result = await retentionRun(desired, clientFor(nc, counter, noOcc, sleeps));
    t.deepEqual(result.failed, []);
    t.is(nc.systemTags().length, 1);
    t.is(nc.retentionRules().length, 1);
    t.is(sleeps.filter((ms) => ms === 7000).length, 2, "Retry-After is obeyed");
    t.is(counter.calls.filter((c) => c.status === 429 || c.status === 503 || c.status === 502 || c.status === "error").length, 5);
  } finally {
    await nc.stop();
  }
});

test("retention on the fake: a changed rule is replaced, a duplicate removed, other tags' rules kept", async (t) => {
  const nc = await fakeNextcloud();
  try {
    await retentionRun(desired, clientFor(nc, new CallCounter()));
    const tagId = nc.systemTags()[0]!.id;
    // Someone else's tag and rule, which Bastide must leave alone.
    const admin = createNextcloudClient({ baseUrl: nc.url, user: NEXTCLOUD_ADMIN_USER, password: PASSWORD, sleep: noSleep });
    t.is((await admin.http.request("POST", "remote.php/dav/systemtags/", { body: { name: "archives" } })).status, 201);
    const archives = nc.systemTags().find((x) => x.name === "archives")!;
    const rules = "ocs/v2.php/apps/files_retention/api/v1/retentions";
    t.is((await admin.http.request("POST", rules, { body: { tagid: archives.id, timeunit: 3, timeamount: 5, timeafter: 0 } })).status, 201);

    // temporaryTagDays 30 → 7 in the config: one delete, one create.
    const seven = desiredNextcloudSettings(exampleAssociation((i) => void (i.services.nextcloud = { temporaryTagDays: 7 })))!;
    nc.server.resetLog();
    const counter = new CallCounter();
    const result = await retentionRun(seven, clientFor(nc, counter));
    t.deepEqual(result.failed, []);
    t.deepEqual(result.applied.map((c) => c.kind), ["retention.rule-delete", "retention.rule-create"]);
    t.is(counter.writes(), 2);
    const byTag = (id: number) => nc.retentionRules().filter((r) => r.tagid === id).map(({ id: _, ...r }) => r);
    t.deepEqual(byTag(tagId), [{ tagid: tagId, timeunit: 0, timeamount: 7, timeafter: 1 }]);
    t.deepEqual(byTag(archives.id), [{ tagid: archives.id, timeunit: 3, timeamount: 5, timeafter: 0 }]);

    // The same rule twice (a creation retried after its answer was lost): one goes.
    t.is((await admin.http.request("POST", rules, { body: { tagid: tagId, timeunit: 0, timeamount: 7, timeafter: 1 } })).status, 201);
    const dedupe = await retentionRun(seven, clientFor(nc, new CallCounter()));
    t.deepEqual(dedupe.applied.map((c) => c.kind), ["retention.rule-delete"]);
    t.is(byTag(tagId).length, 1);
    t.deepEqual((await retentionRun(seven, clientFor(nc, new CallCounter()))).planned, []);
  } finally {
    await nc.stop();
  }
});

test("retention on the fake: refused credentials name the service and the fix", async (t) => {
  const nc = await fakeNextcloud();
  try {
    const client = clientFor(nc, new CallCounter());
    const wrong = { ...client, nextcloud: createNextcloudClient({ baseUrl: nc.url, user: NEXTCLOUD_ADMIN_USER, password: "wrong", sleep: noSleep }) };
    const error = await t.throwsAsync(() => retentionRun(desired, wrong), { instanceOf: ProvisionError });
    t.regex(error!.message, /^nextcloud: reading the system tags and retention rules: .*credentials.*two-factor/);
    t.false(error!.message.includes(PASSWORD));
  } finally {
    await nc.stop();
  }
});

// ---------------------------------------------------------------------------------------
// occ in a real container: the fake occ, replayed against the recording, then provisioning

const RECORDINGS = new URL("../contracts/recordings/nextcloud-34/", import.meta.url);
type OccExchange = { command: string; stdin?: string; exit: number; stdout: string; stderr: string };
const recordedOcc = (name: string) =>
  (JSON.parse(readFileSync(new URL(`${name}.json`, RECORDINGS), "utf8")).exchanges as Partial<OccExchange>[]).filter((e): e is OccExchange => e.command !== undefined);
/** The recorder's placeholders for the test-only client secrets, back to their values. */
const recordedStdin = (stdin: string | undefined) => stdin?.replace(/<oidc-client-secret-(\d)>/g, (_, n: string) => OIDC_CLIENT_SECRETS[Number(n) - 1]!);
const FAKE_OCC = fileURLToPath(new URL("../fakes/occ/occ", import.meta.url));
const ROOTFS = fileURLToPath(new URL("../fakes/occ/rootfs.sh", import.meta.url));
const WWW_DATA = 33;

/** A shell word splitter for the recorded commands (`--value="auto, 30"`); exec runs no shell. */
function shellWords(command: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < command.length) word = (word ?? "") + command[++i];
      else word = (word ?? "") + c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= "";
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? "") + (c === "\\" ? command[++i] : c);
  }
  if (quote) throw new Error(`unbalanced quote in ${command}`);
  if (word !== undefined) words.push(word);
  return words;
}

test("shellWords splits the recorded commands as a shell does", (t) => {
  t.deepEqual(shellWords('php occ config:system:set k --value="auto, 30" --output=json'), ["php", "occ", "config:system:set", "k", "--value=auto, 30", "--output=json"]);
  t.deepEqual(shellWords(`a 'b c' "d\\"e" f\\ g`), ["a", "b c", 'd"e', "f g"]);
});

/** The fake occ's state: a Nextcloud 32 just installed by the official image, Bastide's admin in `admin`. */
function freshInstance() {
  return {
    system: {},
    app: {},
    apps: {
      dav: { version: "1.34.2", shipped: true, enabled: true },
      files: { version: "2.4.0", shipped: true, enabled: true },
      provisioning_api: { version: "1.22.0", shipped: true, enabled: true },
      systemtags: { version: "1.22.0", shipped: true, enabled: true },
      twofactor_totp: { version: "14.0.0", shipped: true, enabled: false },
    },
    appstore: { files_retention: "3.0.0", user_oidc: "8.10.1" },
    users: [NEXTCLOUD_ADMIN_USER],
    groups: { admin: [NEXTCLOUD_ADMIN_USER] },
  };
}

/**
 * The state the real Nextcloud 34 was recorded in before the first run: the apps its first
 * app:list showed (files_retention installed once, then disabled), nothing configured yet.
 */
function recordedInstance(recording = "provisioning-first-run") {
  const appList = recordedOcc(recording).find((e) => e.command === "php occ app:list --output=json")!;
  const { enabled, disabled } = JSON.parse(appList.stdout) as { enabled: Record<string, string>; disabled: Record<string, string> };
  const apps: Record<string, { version: string; shipped: boolean; enabled: boolean; installed?: string }> = {};
  for (const [id, version] of Object.entries(enabled)) apps[id] = { version, shipped: true, enabled: true };
  for (const [id, shown] of Object.entries(disabled)) {
    const [, version, installed] = /^(\S+)(?: \(installed (\S+)\))?$/.exec(shown)!;
    apps[id] = { version: version!, shipped: !["files_retention", "user_oidc"].includes(id), enabled: false, ...(installed ? { installed } : {}) };
  }
  return { ...freshInstance(), apps, appstore: {} };
}

interface OccContainer {
  name: string;
  /** The host folder mounted at /var/www/html. */
  dir: string;
  occ: OccRunner;
  state(): any;
  seed(state: unknown): void;
  stop(): Promise<void>;
}

async function fakeOccImage(engine: DockerEngine): Promise<string> {
  requireProgram("php", "php-cli");
  const php = spawnSync("php", ["-r", "echo PHP_VERSION;"], { encoding: "utf8" }).stdout.trim();
  const script = createHash("sha256").update(readFileSync(ROOTFS)).digest("hex").slice(0, 12);
  const reference = `bastide-test/fake-occ:${php}-${script}`;
  await ensureImportedImage(
    engine.docker,
    reference,
    (tarFile) => {
      const built = spawnSync("bash", [ROOTFS, tarFile], { encoding: "utf8", timeout: 120_000 });
      if (built.status !== 0) throw new Error(`${ROOTFS} failed (${built.status ?? built.signal}):\n${built.stderr}`);
    },
    [`WORKDIR ${NEXTCLOUD_OCC.workingDir}`],
  );
  return reference;
}

/** Runs the image as Bastide's app container, the fake occ at /var/www/html/occ, owned by www-data. */
async function startOccContainer(engine: DockerEngine, image: string): Promise<OccContainer> {
  const name = containerName("nextcloud", NEXTCLOUD_OCC.container);
  await removeContainer(engine.docker, name);
  const dir = mkdtempSync(join(tmpdir(), "bastide-fake-occ-"));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, "config"));
  copyFileSync(FAKE_OCC, join(dir, "occ"));
  const stateFile = join(dir, "config", "fake-occ.json");
  const seed = (state: unknown) => {
    writeFileSync(stateFile, JSON.stringify(state));
    for (const path of [dir, join(dir, "config"), join(dir, "occ"), stateFile]) chownSync(path, WWW_DATA, WWW_DATA);
  };
  seed(freshInstance());
  const container = await engine.docker.createContainer({
    name,
    Image: image,
    // Like the Nextcloud image, the container runs as root; occ is exec'd as www-data.
    Cmd: ["php", "-r", "while (true) { sleep(3600); }"],
    HostConfig: { NetworkMode: "none", Binds: [`${dir}:${NEXTCLOUD_OCC.workingDir}`] },
  });
  const stop = async () => {
    await removeContainer(engine.docker, name);
    rmSync(dir, { recursive: true, force: true });
  };
  const occ = dockerOcc({ docker: engine.docker, timeoutMs: 30_000 });
  try {
    await container.start();
    await waitUntil(`the fake occ in ${name}`, async () => (await occ.run(["php", "occ", "group:list", "--output=json"])).exitCode === 0, { timeoutMs: 30_000, intervalMs: 200 });
  } catch (error) {
    await stop();
    throw error;
  }
  return { name, dir, occ, state: () => JSON.parse(readFileSync(stateFile, "utf8")), seed, stop };
}

/** One Docker engine and fake-occ container for the serial tests below. */
let shared: Promise<{ engine: DockerEngine; box: OccContainer; setupMs: number }> | undefined;
function occBox() {
  shared ??= (async () => {
    const started = Date.now();
    const engine = await startDockerEngine();
    try {
      const box = await startOccContainer(engine, await fakeOccImage(engine));
      return { engine, box, setupMs: Date.now() - started };
    } catch (error) {
      await engine.release();
      throw error;
    }
  })();
  return shared;
}

test.after.always(async () => {
  if (!shared) return;
  const { engine, box } = await shared.catch(() => ({ engine: undefined, box: undefined }));
  await box?.stop();
  await engine?.release();
});

test.serial("Docker: the fake occ answers every recorded occ exchange exactly, through dockerode exec as www-data", async (t) => {
  const { box, setupMs } = await occBox();
  t.log(`engine and fake-occ container ready in ${setupMs} ms`);
  box.seed(recordedInstance());
  // The first run, then the re-run, in the order the real occ answered them.
  const exchanges = [...recordedOcc("provisioning-first-run"), ...recordedOcc("provisioning-rerun")];
  t.true(exchanges.length >= 20);
  for (const exchange of exchanges) {
    const result = await box.occ.run(shellWords(exchange.command));
    t.is(result.exitCode, exchange.exit, exchange.command);
    t.is(result.stdout, exchange.stdout, exchange.command);
    t.is(result.stderr, exchange.stderr, exchange.command);
  }
  // occ really ran as www-data in /var/www/html: the files it wrote are www-data's.
  t.is(box.state().app.core.shareapi_enforce_links_password.value, "1");
});

test.serial("Docker: the fake occ answers every recorded user_oidc exchange exactly, reading the secret on standard input", async (t) => {
  const { box } = await occBox();
  box.seed(recordedInstance("user-oidc"));
  const exchanges = recordedOcc("user-oidc");
  t.true(exchanges.some((e) => e.stdin !== undefined));
  for (const exchange of exchanges) {
    const result = await box.occ.run(shellWords(exchange.command), recordedStdin(exchange.stdin));
    t.is(result.exitCode, exchange.exit, exchange.command);
    t.is(result.stdout, exchange.stdout, exchange.command);
    t.is(result.stderr, exchange.stderr, exchange.command);
  }
  // The last secret the recording gave is the one occ read, through dockerode exec's standard input.
  t.is(box.state().oidc.bastide.clientSecret, OIDC_CLIENT_SECRETS[1]);
});

/** Runs the whole settings convergence as `pulumi up` does, through the runner. */
async function runSettings(engine: DockerEngine, nc: FakeNextcloud, settings: NextcloudSettingsDesired, { secret, ...options }: { dryRun?: boolean; secret?: string } = {}) {
  const counter = new CallCounter();
  const withSettings: DesiredState = { ...desiredState(example), nextcloudSettings: settings };
  const result = await runNextcloudSettings({
    service: "nextcloud",
    desired: withSettings,
    connection: { endpoint: { url: nc.url }, docker: { socketPath: engine.socketPath }, user: NEXTCLOUD_ADMIN_USER, password: PASSWORD, oidcClientSecret: secret ?? OIDC_SECRET },
    concurrency: 4,
    counter,
    ...options,
  });
  const execs = counter.calls.filter((c) => c.method === "EXEC");
  const occReads = counter.calls.filter((c) => c.method === "GET" && c.path.startsWith("occ "));
  return { result, counter, execs: execs.map((c) => c.path), occReads: occReads.length };
}

function assertSettingsInForce(t: ExecutionContext, state: any, settings: NextcloudSettingsDesired) {
  for (const s of settings.occ) {
    const target = occTarget(s.command);
    // Typed booleans are stored as "1" (core/AppInfo/ConfigLexicon.php): same meaning, not same text.
    if (target.kind === "app-config") t.true(sameAppValue(target.app, target.key, target.value, state.app[target.app]?.[target.key]?.value ?? null), s.command.join(" "));
  }
  t.is(state.app.core.backgroundjobs_mode.value, "cron");
  t.true(state.apps.twofactor_totp.enabled);
  t.true(state.apps.files_retention.enabled);
  t.deepEqual(state.groups.admin, [NEXTCLOUD_ADMIN_USER], "the service account is put in no other group");
  t.deepEqual(Object.keys(state.groups), ["admin"]);
  t.like(state.system, { twofactor_enforced: "true", twofactor_enforced_groups: [NEXTCLOUD_TWO_FACTOR_GROUP], twofactor_enforced_excluded_groups: [] });
}

test.serial("Docker: first run sets everything, a re-run writes nothing, drift is set back alone", async (t) => {
  const { engine, box } = await occBox();
  box.seed(freshInstance());
  const nc = await fakeNextcloud();
  try {
    // pulumi preview: everything planned, nothing written.
    const preview = await runSettings(engine, nc, desired, { dryRun: true });
    t.is(preview.result.planned.length, desired.occ.length + 2);
    t.deepEqual(preview.execs, []);
    t.is(preview.counter.writes(), 0);
    t.deepEqual(box.state().app, {});

    let started = Date.now();
    const first = await runSettings(engine, nc, desired);
    t.log(`first run: ${first.occReads} occ reads, ${first.execs.length} occ writes, ${first.counter.writes() - first.execs.length} HTTP writes in ${Date.now() - started} ms`);
    t.deepEqual(first.result.failed, []);
    // Every desired command, and after the provider the fingerprint of its secret (oidc.ts).
    t.deepEqual([...first.execs].sort(), [...desired.occ.map((s) => s.command.slice(1).join(" ")), FINGERPRINT_SET(OIDC_SECRET)].sort());
    // Phase by phase: each command ran after every command of the phases before it.
    const phases = first.execs.filter((path) => path !== FINGERPRINT_SET(OIDC_SECRET)).map((path) => phase(desired.occ.find((s) => s.command.slice(1).join(" ") === path)!.command));
    t.deepEqual(phases, [...phases].sort((a, b) => a - b));
    t.is(first.counter.writes(), desired.occ.length + 1 + 2);
    assertSettingsInForce(t, box.state(), desired);
    t.is(nc.retentionRules().length, 1);
    // No secret on any command line.
    for (const call of first.counter.calls) t.false(call.path.includes(PASSWORD), call.path);

    started = Date.now();
    const second = await runSettings(engine, nc, desired);
    t.log(`re-run: ${second.occReads} occ reads, ${second.execs.length} writes in ${Date.now() - started} ms`);
    t.deepEqual(second.result.planned, []);
    t.deepEqual(second.execs, []);
    t.is(second.counter.writes(), 0);
    t.is(second.occReads, 14, "9 app settings, the background mode, app:list, twofactorauth:enforce, the OIDC provider and its secret's fingerprint");

    // An admin changes one value behind Bastide's back, as they would, with occ.
    const byHand = await box.occ.run(["php", "occ", "config:app:set", "core", "shareapi_expire_after_n_days", "--value=90"]);
    t.is(byHand.exitCode, 0, byHand.stdout);
    const third = await runSettings(engine, nc, desired);
    t.deepEqual(third.execs, ["occ config:app:set core shareapi_expire_after_n_days --value=30"]);
    t.is(third.counter.writes(), 1);
    t.is(box.state().app.core.shareapi_expire_after_n_days.value, "30");

    // …or enforces 2FA for admin, which would lock the service account out: only the enforcement is redone.
    t.is((await box.occ.run(["php", "occ", "twofactorauth:enforce", "--on", "--group", "admin", "--exclude", SERVICE_GROUP])).exitCode, 0);
    const fourth = await runSettings(engine, nc, desired);
    t.deepEqual(fourth.execs, [`occ twofactorauth:enforce --on --group ${NEXTCLOUD_TWO_FACTOR_GROUP}`]);
    assertSettingsInForce(t, box.state(), desired);
    t.deepEqual((await runSettings(engine, nc, desired)).execs, []);
  } finally {
    await nc.stop();
  }
});

const phase = (command: string[]) => OCC_PHASES[occTarget(command).kind];

test.serial("Docker: user_oidc is configured once, its secret reaches occ on standard input, a new secret is set again alone", async (t) => {
  const { engine, box } = await occBox();
  box.seed(freshInstance());
  const nc = await fakeNextcloud();
  try {
    const first = await runSettings(engine, nc, desired);
    t.deepEqual(first.result.failed, []);
    const provider = box.state().oidc.bastide;
    t.is(provider.clientSecret, OIDC_SECRET);
    t.like(provider, { clientId: "nextcloud", discoveryEndpoint: "https://connexion.jardins-canal.localhost/realms/bastide/.well-known/openid-configuration" });
    t.like(provider.settings, { uniqueUid: "0", mappingUid: "preferred_username", groupProvisioning: "0", checkBearer: "0", sendIdTokenHint: "1" });
    t.like(box.state().app.user_oidc, { allow_multiple_user_backends: { value: "0", type: "string", lazy: true } });
    for (const call of first.counter.calls) t.false(call.path.includes(OIDC_SECRET), call.path);

    const again = await runSettings(engine, nc, desired);
    t.deepEqual(again.execs, []);
    t.is(again.counter.writes(), 0);

    const rotated = "fake-oidc-client-secret-rotated-9876543210";
    const third = await runSettings(engine, nc, desired, { secret: rotated });
    t.deepEqual(third.execs, [oidcProviderCommand(example).slice(1).join(" "), FINGERPRINT_SET(rotated)]);
    t.is(box.state().oidc.bastide.clientSecret, rotated);

    // An admin maps the uid to `sub` by hand: members would get new, empty accounts. Set back alone.
    t.is((await box.occ.run(["php", "occ", "user_oidc:provider", "bastide", "--mapping-uid=sub"])).exitCode, 0);
    const fourth = await runSettings(engine, nc, desired, { secret: rotated });
    t.deepEqual(fourth.execs, [oidcProviderCommand(example).slice(1).join(" ")]);
    t.is(box.state().oidc.bastide.settings.mappingUid, "preferred_username");
  } finally {
    await nc.stop();
  }
});

test.serial("Docker: without the client secret in the connection, the provider is not touched and the run says what is missing", async (t) => {
  const { engine, box } = await occBox();
  box.seed(freshInstance());
  const nc = await fakeNextcloud();
  try {
    const counter = new CallCounter();
    const error = await t.throwsAsync(() =>
      runNextcloudSettings({
        service: "nextcloud",
        desired: { ...desiredState(example), nextcloudSettings: desired },
        connection: { endpoint: { url: nc.url }, docker: { socketPath: engine.socketPath }, user: NEXTCLOUD_ADMIN_USER, password: PASSWORD },
        concurrency: 4,
        counter,
      }),
    );
    t.regex(error!.message, /oidcClientSecret/);
    t.is(counter.writes(), 0);
    t.falsy(box.state().oidc?.bastide);
  } finally {
    await nc.stop();
  }
});
/** The occ write that records the client secret's fingerprint, as the counter shows it. */
const FINGERPRINT_SET = (secret: string) => `occ config:app:set user_oidc bastide_client_secret_sha256 --value=${secretFingerprint(secret)} --type=string --lazy`;

test.serial("Docker: 'already exists' for a group is success; an occ failure names the command", async (t) => {
  const { engine, box } = await occBox();
  box.seed(freshInstance());
  const nc = await fakeNextcloud();
  try {
    // "Already exists" from occ (exit 1, recorded from Nextcloud 34 in occ-memory-warning.json): the group is there.
    const client: NextcloudSettingsClient = { occ: box.occ, nextcloud: createNextcloudClient({ baseUrl: nc.url, user: NEXTCLOUD_ADMIN_USER, password: PASSWORD, sleep: noSleep }) };
    const racing = planOccSettings([{ command: ["php", "occ", "group:add", "admin"], reason: "a group another run made" }], nothingSet());
    const groupAdd = racing.find((c) => c.kind === "occ.group")!;
    await t.notThrowsAsync(() => applyOccSetting(groupAdd, client));

    // An app that cannot be installed: the run fails, names the command, and the retention rule waits.
    box.seed({ ...freshInstance(), appstore: { user_oidc: "8.10.1" } });
    const failing = await runSettings(engine, nc, desired);
    t.is(failing.result.failed.length, 1);
    t.regex(failing.result.failed[0]!.error.message, /^nextcloud: occ app:enable files_retention \(container bastide-nextcloud-app\): exit 1: Could not download app files_retention/);
    t.false(failing.result.planned.some((c) => c.kind.startsWith("retention.")));
  } finally {
    await nc.stop();
  }
});

test.serial("Docker: occ runs two at a time whatever the run's concurrency: each one boots Nextcloud", async (t) => {
  const { box } = await occBox();
  box.seed(freshInstance());
  const nc = await fakeNextcloud();
  try {
    let inFlight = 0;
    let most = 0;
    const counted: OccRunner = {
      where: box.occ.where,
      async run(argv, input) {
        most = Math.max(most, ++inFlight);
        try {
          return await box.occ.run(argv, input);
        } finally {
          inFlight--;
        }
      },
    };
    const counter = new CallCounter();
    const client: NextcloudSettingsClient = { occ: counted, counter, oidcClientSecret: OIDC_SECRET, nextcloud: createNextcloudClient({ baseUrl: nc.url, user: NEXTCLOUD_ADMIN_USER, password: PASSWORD, counter, sleep: noSleep }) };
    const result = await convergeNextcloudSettings(desired, client, { concurrency: 8 });
    t.deepEqual(result.failed, []);
    t.is(most, OCC_CONCURRENCY);
    assertSettingsInForce(t, box.state(), desired);
  } finally {
    await nc.stop();
  }
});

test.serial("Docker: occ in a missing container is a clear error", async (t) => {
  const { engine } = await occBox();
  const occ = dockerOcc({ docker: engine.docker, container: "bastide-no-such-container" });
  await t.throwsAsync(() => occ.run(["php", "occ", "app:list"]), { message: /cannot exec in container bastide-no-such-container/ });
  await t.throwsAsync(() => occ.run(["sh", "-c", "id"]), { message: /not an occ command/ });
});
