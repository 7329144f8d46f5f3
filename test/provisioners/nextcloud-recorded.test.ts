// Provisioning against what a real Nextcloud 34 answered (test/contracts/recordings/
// nextcloud-34, recorded by `npm run contracts:record` with Bastide's own clients): the
// settings (occ and the retention rule), the accounts and the calendars, first run and
// re-run, occ that warns on standard error, two-factor enforcement, app passwords.
import test from "ava";
import { desiredState } from "../../provisioners/desired.ts";
import { converge } from "../../provisioners/model.ts";
import { CallCounter } from "../../provisioners/runtime/http.ts";
import { createNextcloudClient, nextcloudProvisioner } from "../../provisioners/nextcloud/index.ts";
import { createUser, deleteUser, listUserIds, updateUser } from "../../provisioners/nextcloud/client.ts";
import { calendarsProvisioner, createCalDavClient } from "../../provisioners/calendars/index.ts";
import { convergeNextcloudSettings, readOccSettings } from "../../provisioners/nextcloud-settings/provisioner.ts";
import { planOccSettings } from "../../provisioners/nextcloud-settings/plan.ts";
import { isTwoFactorEnforcedFor, occTarget, parseConfigValue, parseTwoFactorState, type OccRunner } from "../../provisioners/nextcloud-settings/occ.ts";
import { NEXTCLOUD_ADMIN_USER } from "../../stacks/services/nextcloud/blueprint.ts";
import { exampleAssociation } from "../support/association.ts";
import { APP_PASSWORD, isCommand, loadRecording, OIDC_CLIENT_SECRETS, SERVICE_PASSWORD, SERVICE_USER, startRecordedNextcloud, type RecordedHttp, type RecordedNextcloud } from "../fakes/recorded-nextcloud.ts";
import { secretFingerprint } from "../../provisioners/runtime/fingerprint.ts";
import { oidcProviderCommand } from "../../stacks/services/nextcloud/oidc.ts";

// The provisioning recordings were made with no identity provider: Nextcloud's own logins, as
// with services.identity.enabled false. The settings with it are replayed from user-oidc.json below.
const example = exampleAssociation((i) => void (i.services.identity = { enabled: false }));
const desired = desiredState(example);
const noSleep = async () => {};

function clientsFor(nc: RecordedNextcloud, counter: CallCounter, password = SERVICE_PASSWORD) {
  const options = { baseUrl: nc.url, user: SERVICE_USER, password, counter, sleep: noSleep, retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } };
  return { nextcloud: createNextcloudClient(options), calendars: createCalDavClient(options) };
}

/** Settings, accounts, calendars, as `pulumi up` runs them; the failures' messages. */
async function provision(nc: RecordedNextcloud, counter: CallCounter, occ: OccRunner = nc.occ): Promise<string[]> {
  const { nextcloud, calendars } = clientsFor(nc, counter);
  const options = { concurrency: 4 };
  const settings = await convergeNextcloudSettings(desired.nextcloudSettings!, { occ, nextcloud, counter }, options);
  const accounts = await converge(nextcloudProvisioner, desired, nextcloud, options);
  const cals = await converge(calendarsProvisioner, desired, calendars, options);
  return [...settings.failed, ...accounts.failed, ...cals.failed].map((f) => f.error.message);
}

test("the recordings say which Nextcloud they come from (status.php)", (t) => {
  for (const name of ["provisioning-first-run", "provisioning-rerun", "occ-memory-warning", "two-factor-enforcement", "app-password"]) {
    t.regex(loadRecording(name).server, /^Nextcloud 34\.0\.\d+ \(status\.php: version 34\.0\.\d+\.\d+\)$/, name);
  }
});

test("a first run makes exactly the calls the real Nextcloud answered, and all succeed", async (t) => {
  const nc = await startRecordedNextcloud("provisioning-first-run");
  try {
    const counter = new CallCounter();
    t.deepEqual(await provision(nc, counter), []);
    t.deepEqual(nc.unrecorded, []);
    t.true(counter.writes() > 0);
  } finally {
    await nc.stop();
  }
});

// Item 10: typed booleans read back as "1".
test("an unchanged re-run against the recorded answers makes no write", async (t) => {
  const nc = await startRecordedNextcloud("provisioning-rerun");
  try {
    const counter = new CallCounter();
    t.deepEqual(await provision(nc, counter), []);
    t.deepEqual(nc.unrecorded, []);
    t.is(counter.writes(), 0, counter.calls.filter((c) => c.method !== "GET" && c.method !== "PROPFIND").map((c) => `${c.method} ${c.path}`).join(", "));
    t.true(nc.commands.some((c) => c.includes("config:app:get core shareapi_enforce_links_password")), "the typed boolean was read");
  } finally {
    await nc.stop();
  }
});

test("the typed booleans read back as \"1\" are the values set: no share-link setting is planned again", async (t) => {
  const nc = await startRecordedNextcloud("provisioning-rerun");
  try {
    const live = await readOccSettings({ occ: nc.occ, nextcloud: clientsFor(nc, new CallCounter()).nextcloud }, desired.nextcloudSettings!);
    t.is(live.appConfig["core/shareapi_enforce_links_password"], "1", "as the real occ printed it");
    const appSettings = desired.nextcloudSettings!.occ.filter((s) => s.command[2] === "config:app:set");
    t.true(appSettings.length >= 4);
    t.deepEqual(planOccSettings(appSettings, live), []);
  } finally {
    await nc.stop();
  }
});

// Item 1: occ warnings on standard error.
const MEMORY_WARNING = (() => {
  const exchange = loadRecording("occ-memory-warning").exchanges.find(isCommand)!;
  return exchange.stderr;
})();

test("occ's memory warning: an unset key reads as unset, a set one as its value", async (t) => {
  t.regex(MEMORY_WARNING, /PHP memory limit is below the recommended value of 512MB/);
  const nc = await startRecordedNextcloud("occ-memory-warning");
  try {
    const unset = await nc.occ.run(["php", "occ", "config:app:get", "core", "no_such_key_bastide", "--output=json"]);
    t.is(unset.exitCode, 1);
    t.is(parseConfigValue(unset, "unset key"), null);
    t.is(parseConfigValue(await nc.occ.run(["php", "occ", "config:app:get", "core", "shareapi_enforce_links_password", "--output=json"]), "set key"), "1");
    t.deepEqual(parseTwoFactorState(await nc.occ.run(["php", "occ", "twofactorauth:enforce"])), { enforced: true, groups: ["_admins-2fa"], excluded: [] });
  } finally {
    await nc.stop();
  }
});

test("occ's memory warning: a first run of the settings goes through as without it", async (t) => {
  const nc = await startRecordedNextcloud("provisioning-first-run");
  try {
    // The same answers, with the warning the real occ prints on every call below 512M.
    const warning: OccRunner = { where: nc.occ.where, run: async (argv) => ({ ...(await nc.occ.run(argv)), stderr: MEMORY_WARNING }) };
    t.deepEqual(await provision(nc, new CallCounter(), warning), []);
    t.deepEqual(nc.unrecorded, []);
  } finally {
    await nc.stop();
  }
});

test("an error occ reports on standard error is still an error, warning or not", (t) => {
  const error = { exitCode: 1, stdout: "", stderr: `${MEMORY_WARNING}\nIn Application.php line 1: something broke\n` };
  t.throws(() => parseConfigValue(error, "config:app:get core k"), { message: /something broke/ });
  t.notRegex(t.throws(() => parseConfigValue(error, "config:app:get core k"))!.message, /memory limit/);
});

// Item 8: enforced groups overrule excluded ones.
test("the recorded 2FA answers follow MandatoryTwoFactor::isEnforcedFor, which the model mirrors", (t) => {
  const recording = loadRecording("two-factor-enforcement").exchanges;
  // The service account was in admin and bastide-service; the recording shows 401 under the first state, 200 under the second.
  const states = recording.filter(isCommand).filter((e) => e.command.startsWith("php occ twofactorauth:enforce --on")).map((e) => parseTwoFactorState({ exitCode: e.exit, stdout: e.stdout, stderr: e.stderr }));
  const answers = recording.filter((e) => !isCommand(e)).map((e) => (isCommand(e) ? 0 : e.response.status));
  t.deepEqual(answers, [401, 200]);
  t.true(isTwoFactorEnforcedFor(states[0]!, ["admin", "bastide-service"]));
  t.false(isTwoFactorEnforcedFor(states[1]!, ["admin"]));
});

test("the enforcement Bastide sets covers the admins and never the service account", (t) => {
  const enforce = desired.nextcloudSettings!.occ.map((s) => occTarget(s.command)).find((target) => target.kind === "two-factor");
  if (enforce?.kind !== "two-factor") return t.fail("no two-factor setting");
  // The service account is the install admin: in `admin`, and in no group Bastide adds it to.
  t.false(isTwoFactorEnforcedFor(enforce.state, ["admin"]), "the service account would be locked out");
  const admins = example.members.filter((m) => m.role === "admin");
  t.true(admins.length > 0);
  for (const admin of admins) {
    const groups = desired.nextcloud!.users.find((u) => u.id === admin.id)!.groups;
    t.true(isTwoFactorEnforcedFor(enforce.state, groups), `${admin.id} (${groups.join(", ")})`);
  }
  for (const member of example.members.filter((m) => m.role !== "admin")) {
    t.false(isTwoFactorEnforcedFor(enforce.state, desired.nextcloud!.users.find((u) => u.id === member.id)!.groups), member.id);
  }
});

// Item 9: an app password cannot confirm a password; a refusal is said as it is.
test("with an app password, a write is refused as Nextcloud says, not as 'user not found'", async (t) => {
  const nc = await startRecordedNextcloud("app-password");
  try {
    const counter = new CallCounter();
    const withToken = clientsFor(nc, counter, APP_PASSWORD).nextcloud;
    const withPassword = clientsFor(nc, counter).nextcloud;
    const member = { id: "app.password.probe", displayName: "Probe", email: "probe@example.org", quota: "1 GB", language: "fr", groups: ["association"] };
    await t.throwsAsync(createUser(withToken, member), { message: /Password confirmation is required/ });
    t.is(await createUser(withPassword, member), "created");
    const edit = await t.throwsAsync(updateUser(withToken, member.id, "displayname", "Probe 2"));
    t.regex(edit!.message, /Password confirmation is required.*login password/);
    t.notRegex(edit!.message, /not found/i);
    await t.throwsAsync(deleteUser(withToken, member.id), { message: /Password confirmation is required/ });
    await t.notThrowsAsync(deleteUser(withPassword, member.id));
    t.deepEqual(nc.unrecorded, []);
  } finally {
    await nc.stop();
  }
});

// Item 12: the service account's display name.
test("the service account gets the association's name, once", async (t) => {
  t.is(desired.nextcloud!.serviceAccountName, example.organisation.name);
  const first = await startRecordedNextcloud("provisioning-first-run");
  try {
    const { nextcloud } = clientsFor(first, new CallCounter());
    const result = await converge(nextcloudProvisioner, desired, nextcloud, { concurrency: 4, dryRun: true });
    t.is(result.live!.serviceAccount?.displayName, NEXTCLOUD_ADMIN_USER, "as installed, its display name is its id");
    t.deepEqual(
      result.planned.filter((c) => c.payload && "id" in c.payload && c.payload.id === NEXTCLOUD_ADMIN_USER).map((c) => [c.kind, "value" in c.payload ? c.payload.value : ""]),
      [["user.update", example.organisation.name]],
    );
  } finally {
    await first.stop();
  }
  const rerun = await startRecordedNextcloud("provisioning-rerun");
  try {
    const { nextcloud } = clientsFor(rerun, new CallCounter());
    const result = await converge(nextcloudProvisioner, desired, nextcloud, { concurrency: 4, dryRun: true });
    t.is(result.live!.serviceAccount?.displayName, example.organisation.name);
    t.deepEqual(result.planned, []);
  } finally {
    await rerun.stop();
  }
});

// ---------------------------------------------------------------------------------------
// Issue 10: Nextcloud's login through the identity provider (user_oidc), recorded from the same
// Nextcloud 34.0.1 with user_oidc 8.10.1 in user-oidc.json (scripts/contracts-record.ts --scenario user-oidc).

const withIdentity = desiredState(exampleAssociation()).nextcloudSettings!;

async function settingsRun(nc: RecordedNextcloud, secret: string) {
  const counter = new CallCounter();
  const { nextcloud } = clientsFor(nc, counter);
  const result = await convergeNextcloudSettings(withIdentity, { occ: nc.occ, nextcloud, counter, oidcClientSecret: secret }, { concurrency: 4 });
  const execs = counter.calls.filter((c) => c.method === "EXEC").map((c) => c.path);
  return { result, counter, execs };
}

test("user_oidc: a first run configures it, an unchanged re-run writes nothing, a changed secret is set again alone", async (t) => {
  const [secret, newSecret] = OIDC_CLIENT_SECRETS;
  const nc = await startRecordedNextcloud("user-oidc");
  try {
    const first = await settingsRun(nc, secret);
    t.deepEqual(first.result.failed.map((f) => f.error.message), []);
    const oidc = first.execs.filter((path) => path.includes("user_oidc"));
    // Phase 1 runs concurrently (any order), then the provider, then its secret's fingerprint.
    t.deepEqual(oidc.slice(0, 2).sort(), ["occ app:enable user_oidc", "occ config:app:set user_oidc allow_multiple_user_backends --value=0 --type=string --lazy"]);
    t.deepEqual(oidc.slice(2), [
      oidcProviderCommand(exampleAssociation()).slice(1).join(" "),
      `occ config:app:set user_oidc bastide_client_secret_sha256 --value=${secretFingerprint(secret)} --type=string --lazy`,
    ]);
    t.true(first.execs.includes("occ config:app:set core newUser.sendEmail --value=no"));

    const again = await settingsRun(nc, secret);
    t.deepEqual(again.result.failed, []);
    t.deepEqual(again.result.planned, []);
    t.is(again.counter.writes(), 0);

    const changed = await settingsRun(nc, newSecret);
    t.deepEqual(changed.result.failed, []);
    t.deepEqual(changed.execs, [
      oidcProviderCommand(exampleAssociation()).slice(1).join(" "),
      `occ config:app:set user_oidc bastide_client_secret_sha256 --value=${secretFingerprint(newSecret)} --type=string --lazy`,
    ]);
    t.deepEqual(nc.unrecorded, []);
    // The secret went to occ's standard input (checked by the replay), never onto a command line.
    for (const command of nc.commands) t.false(command.includes(secret) || command.includes(newSecret), command);
  } finally {
    await nc.stop();
  }
});

test("user_oidc: a secret the recording did not see on standard input is refused by the replay", async (t) => {
  const nc = await startRecordedNextcloud("user-oidc");
  try {
    const first = await settingsRun(nc, "another-secret-than-recorded");
    t.true(first.result.failed.some((f) => /standard input/.test(f.error.message)));
    t.true(nc.unrecorded.some((call) => call.startsWith("occ user_oidc:provider bastide") && call.endsWith("(standard input differs)")));
  } finally {
    await nc.stop();
  }
});

test("user_oidc: the service account's login password still works after the settings (issue 8)", async (t) => {
  const [secret] = OIDC_CLIENT_SECRETS;
  const nc = await startRecordedNextcloud("user-oidc");
  try {
    await settingsRun(nc, secret);
    await settingsRun(nc, secret);
    // Recorded right after the settings: the provisioning API with the login password, 200.
    const { nextcloud } = clientsFor(nc, new CallCounter());
    t.true((await listUserIds(nextcloud)).includes(SERVICE_USER));
    // And the model agrees: the enforced two-factor group is one the service account is not in.
    const enforced = withIdentity.occ.map((s) => occTarget(s.command)).find((target) => target.kind === "two-factor")!;
    t.false(isTwoFactorEnforcedFor(enforced.kind === "two-factor" ? enforced.state : { enforced: true, groups: [], excluded: [] }, ["admin"]));
  } finally {
    await nc.stop();
  }
});

test("user_oidc: what the real server did with those settings (login page, provider, storage of the switch)", (t) => {
  const exchanges = loadRecording("user-oidc").exchanges;
  const http = exchanges.filter((e): e is RecordedHttp => !isCommand(e));
  const page = (path: string) => http.find((e) => e.request.method === "GET" && e.request.path === path)!.response;
  const providers = JSON.parse(exchanges.filter(isCommand).find((e) => e.command === "php occ user_oidc:provider --output=json")!.stdout) as { id: number; identifier: string }[];
  const bastide = providers.find((p) => p.identifier === "bastide")!;
  // GET /login goes straight to the one provider (lib/AppInfo/Application.php 107-131); ?direct=1 keeps the form.
  t.is(page("/login").status, 302);
  t.is(page("/login").headers?.Location, `/index.php/apps/user_oidc/login/${bastide.id}`);
  t.is(page("/login?direct=1").status, 200);
  // Stored as user_oidc reads it: a lazy string (lib/Service/SettingsService.php 28).
  const details = exchanges.filter(isCommand).find((e) => e.command.includes("allow_multiple_user_backends --details"))!;
  t.like(JSON.parse(details.stdout), { value: "0", type: "string", lazy: true });
});
