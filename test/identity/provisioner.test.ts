// The identity provisioner against a real Keycloak 26.7.3 (test/support/keycloak.ts): the
// example association provisioned whole, an unchanged re-run that writes nothing, departures
// (disabled at once with their sessions ended, erased after the grace period, recreated when
// they come back), and injected faults between the provisioner and the real server.
// One server for the file; each test has its own realm, so none sees another's users.
import test from "ava";
import { desiredState, type DesiredState } from "../../provisioners/desired.ts";
import { createIdentityClient, identityProvisioner, type IdentityChange } from "../../provisioners/identity/index.ts";
import { BROWSER_FLOW, ROLE_ATTRIBUTE } from "../../provisioners/identity/desired.ts";
import { IDENTITY_RETENTION } from "../../stacks/services/identity/register.ts";
import { converge } from "../../provisioners/model.ts";
import { run } from "../../provisioners/run.ts";
import { CallCounter } from "../../provisioners/runtime/http.ts";
import type { Association } from "../../stacks/config/schema.ts";
import { exampleAssociation } from "../support/association.ts";
import { FakeServer } from "../fakes/fake-server.ts";
import { CLIENT_SECRETS_FOR_TESTS, startKeycloak, type RealKeycloak } from "../support/keycloak.ts";

let keycloak: RealKeycloak;
const SECRETS = CLIENT_SECRETS_FOR_TESTS;
const NO_DEPARTURES = { disable: [], erase: [], enable: [] };
const FAST_RETRY = { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 };

test.before(async (t) => {
  t.timeout(240_000);
  keycloak = await startKeycloak();
});

test.after.always(async () => {
  await keycloak?.stop();
});

/** The example's desired state, in a realm of the test's own. */
function desiredIn(realm: string, config: Association = exampleAssociation(), departures: Partial<DesiredState["departures"]> = {}): DesiredState {
  const state = desiredState(config);
  return { ...state, identity: { ...state.identity!, realm }, departures: { ...NO_DEPARTURES, ...departures } };
}

const clientFor = (realm: string, counter = new CallCounter(), baseUrl = keycloak.url) =>
  createIdentityClient({ baseUrl, realm, admin: keycloak.admin, clientSecrets: SECRETS, counter, retry: FAST_RETRY });

async function provision(desired: DesiredState, options: { counter?: CallCounter; baseUrl?: string } = {}) {
  const counter = options.counter ?? new CallCounter();
  const result = await converge(identityProvisioner, desired, clientFor(desired.identity!.realm, counter, options.baseUrl), { concurrency: 4 });
  return { ...result, counter };
}

const kinds = (changes: IdentityChange[]) => changes.map((c) => `${c.kind} ${c.subject}`);

/** The admin API, read by the test itself (not through the provisioner's client). */
async function admin(method: string, path: string, body?: unknown): Promise<any> {
  const token = await fetch(`${keycloak.url}/realms/master/protocol/openid-connect/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "password", client_id: "admin-cli", username: keycloak.admin.username, password: keycloak.admin.password }),
  }).then((r) => r.json() as Promise<{ access_token: string }>);
  const response = await fetch(`${keycloak.url}/admin/realms/${path}`, {
    method,
    headers: { authorization: `Bearer ${token.access_token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const userNamed = async (realm: string, username: string) =>
  ((await admin("GET", `${realm}/users?${new URLSearchParams({ username, exact: "true", briefRepresentation: "false" })}`)) as any[])[0];

/** A session for the user, as an administrator's impersonation opens one (no password needed). */
async function openSession(realm: string, userId: string): Promise<void> {
  await admin("POST", `${realm}/users/${userId}/impersonation`);
}

test.serial("the example association is provisioned whole, and an unchanged re-run writes nothing", async (t) => {
  t.timeout(240_000);
  const realm = "example";
  const desired = desiredIn(realm);
  const first = await provision(desired);
  t.deepEqual(first.failed.map((f) => f.error.message), []);
  t.true(kinds(first.planned).includes(`realm.create realm ${realm}`));

  const settings = await admin("GET", realm);
  t.is(settings.passwordPolicy, "length(12) and notUsername(undefined) and notContainsUsername(undefined) and notEmail(undefined) and passwordHistory(5)");
  t.true(settings.bruteForceProtected);
  t.is(settings.failureFactor, 10);
  t.false(settings.registrationAllowed);
  t.false(settings.resetPasswordAllowed, "the example has no mail relay");
  t.true(settings.eventsEnabled);
  t.is(settings.eventsExpiration, IDENTITY_RETENTION.loginEventsDays * 86_400);
  t.is(settings.browserFlow, BROWSER_FLOW);
  t.deepEqual([settings.otpPolicyType, settings.otpPolicyAlgorithm, settings.otpPolicyDigits, settings.otpPolicyPeriod], ["totp", "HmacSHA1", 6, 30]);
  t.deepEqual([...settings.supportedLocales].sort(), ["en", "fr"]);
  t.is(settings.defaultLocale, "fr");

  const tom = await userNamed(realm, "tom.martin");
  t.like(tom, { username: "tom.martin", email: "tom.martin@jardins-canal.localhost", emailVerified: true, firstName: "Tom", lastName: "Martin", enabled: true });
  t.deepEqual(tom.attributes, { locale: ["en"], [ROLE_ATTRIBUTE]: ["volunteer"] });
  t.deepEqual(tom.requiredActions, ["CONFIGURE_TOTP"], "every role needs a second factor in the example");
  const groups = (await admin("GET", `${realm}/users/${tom.id}/groups`)) as { name: string; path: string }[];
  t.deepEqual(groups.map((g) => g.path).sort(), ["/evenements", "/potager"]);

  const [matrix] = (await admin("GET", `${realm}/clients?clientId=matrix`)) as any[];
  t.like(matrix, { publicClient: false, standardFlowEnabled: true, implicitFlowEnabled: false, directAccessGrantsEnabled: false, frontchannelLogout: false, secret: SECRETS.matrix });
  t.deepEqual(matrix.redirectUris, ["https://matrix.jardins-canal.localhost/_synapse/client/oidc/callback"]);
  t.like(matrix.attributes, {
    "pkce.code.challenge.method": "S256",
    "backchannel.logout.url": "https://matrix.jardins-canal.localhost/_synapse/client/oidc/backchannel_logout",
  });
  t.deepEqual((matrix.protocolMappers as { name: string }[]).map((m) => m.name).sort(), ["email", "groups", "name", "preferred_username"]);
  const [nextcloud] = (await admin("GET", `${realm}/clients?clientId=nextcloud`)) as any[];
  t.deepEqual(nextcloud.redirectUris, ["https://cloud.jardins-canal.localhost/apps/user_oidc/code", "https://cloud.jardins-canal.localhost/index.php/apps/user_oidc/code"]);
  t.is(nextcloud.attributes["backchannel.logout.url"], "https://cloud.jardins-canal.localhost/index.php/apps/user_oidc/backchannel-logout/bastide");

  const again = await provision(desired);
  t.deepEqual(kinds(again.planned), []);
  t.is(again.counter.writes("identity"), 0, "an unchanged run sends no write to Keycloak");
  t.true(again.counter.reads("identity") > 0);
});

test.serial("a change in the file is one update each, and what the file no longer says of a team is taken back", async (t) => {
  t.timeout(120_000);
  const realm = "changes";
  await provision(desiredIn(realm));
  const changed = exampleAssociation((input) => {
    input.members[2].name = "Léa Moreau-Petit";
    input.members[2].teams = ["bureau"];
    input.services = { ...input.services, identity: { twoFactor: { volunteer: { required: false, relaxedBecause: "Volunteers only read the garden's planning and never see members' data." } } } };
  });
  const second = await provision(desiredIn(realm, changed));
  t.deepEqual(second.failed, []);
  t.deepEqual(kinds(second.planned).sort(), [
    `flow.replace ${BROWSER_FLOW}`,
    "group.add lea.moreau → bureau",
    "group.remove lea.moreau out of potager",
    "user.update user lea.moreau",
  ]);
  const lea = await userNamed(realm, "lea.moreau");
  t.is(lea.lastName, "Moreau-Petit");
  const flow = (await admin("GET", `${realm}/authentication/flows/${encodeURIComponent(BROWSER_FLOW)}/executions`)) as any[];
  const conditions = await Promise.all(flow.filter((e) => e.authenticationConfig).map((e) => admin("GET", `${realm}/authentication/config/${e.authenticationConfig}`)));
  t.deepEqual(conditions.map((c) => c.config.attribute_expected_value), ["^(admin|staff)$", "^(admin|staff)$"]);
  t.is((await admin("GET", realm)).browserFlow, BROWSER_FLOW, "the replaced flow is bound again");
  const third = await provision(desiredIn(realm, changed));
  t.is(third.counter.writes("identity"), 0);
});

test.serial("a departed member is disabled with every session ended, erased after the grace period, and recreated when back", async (t) => {
  t.timeout(120_000);
  const realm = "departures";
  await provision(desiredIn(realm));
  const lea = await userNamed(realm, "lea.moreau");
  await openSession(realm, lea.id);
  t.is(((await admin("GET", `${realm}/users/${lea.id}/sessions`)) as unknown[]).length, 1);

  const without = exampleAssociation((input) => {
    input.members = input.members.filter((m: { id: string }) => m.id !== "lea.moreau");
  });
  const leaving = await provision(desiredIn(realm, without, { disable: ["lea.moreau"] }));
  t.deepEqual(kinds(leaving.planned), ["user.disable user lea.moreau"]);
  t.false((await userNamed(realm, "lea.moreau")).enabled);
  t.deepEqual(await admin("GET", `${realm}/users/${lea.id}/sessions`), [], "her sessions ended with the departure");
  // The ledger lists her as departed on the next runs too: nothing more to do until erasure.
  t.is((await provision(desiredIn(realm, without, { disable: ["lea.moreau"] }))).counter.writes("identity"), 0);

  const erased = await provision(desiredIn(realm, without, { erase: ["lea.moreau"] }));
  t.deepEqual(kinds(erased.planned), ["user.delete user lea.moreau"]);
  t.is(await userNamed(realm, "lea.moreau"), undefined);

  const back = await provision(desiredIn(realm));
  t.deepEqual(kinds(back.planned), ["user.create user lea.moreau"]);
  const recreated = await userNamed(realm, "lea.moreau");
  t.not(recreated.id, lea.id, "a new account: nothing of the erased one comes back");
  t.true(recreated.enabled);
});

test.serial("a disabled member who still has sessions (a run cut short) has them ended; one coming back is enabled", async (t) => {
  t.timeout(120_000);
  const realm = "cutshort";
  await provision(desiredIn(realm));
  const karim = await userNamed(realm, "karim.benali");
  // A session opened, then the account disabled without it being ended.
  await openSession(realm, karim.id);
  await admin("PUT", `${realm}/users/${karim.id}`, { ...karim, enabled: false });
  const without = exampleAssociation((input) => {
    input.members = input.members.filter((m: { id: string }) => m.id !== "karim.benali");
  });
  const resumed = await provision(desiredIn(realm, without, { disable: ["karim.benali"] }));
  t.deepEqual(kinds(resumed.planned), ["user.logout user karim.benali"]);
  t.deepEqual(await admin("GET", `${realm}/users/${karim.id}/sessions`), []);

  const back = await provision(desiredIn(realm, exampleAssociation(), { enable: ["karim.benali"] }));
  t.deepEqual(kinds(back.planned), ["user.enable user karim.benali"]);
  t.true((await userNamed(realm, "karim.benali")).enabled);
});

test.serial("faults between the provisioner and Keycloak are retried, and a creation whose answer was lost is read back, not sent again", async (t) => {
  t.timeout(120_000);
  const realm = "faults";
  let lostAnswers = 1;
  const proxy = new FakeServer(async (request) => {
    const headers: Record<string, string> = {};
    for (const name of ["authorization", "content-type"]) if (request.headers[name]) headers[name] = String(request.headers[name]);
    const upstream = await fetch(`${keycloak.url}${request.path}`, { method: request.method, headers, ...(request.body ? { body: request.body } : {}) });
    const body = await upstream.text();
    // The user is created, then the gateway gives up waiting: the answer is lost.
    if (request.method === "POST" && request.url.pathname === `/admin/realms/${realm}/users` && upstream.status === 201 && lostAnswers-- > 0)
      return { status: 504, body: "gateway timeout" };
    return { status: upstream.status, headers: { "content-type": upstream.headers.get("content-type") ?? "text/plain", ...(upstream.headers.get("location") ? { location: upstream.headers.get("location")! } : {}) }, body };
  });
  const url = await proxy.start();
  try {
    proxy.inject({ match: (r) => r.method === "GET" && r.url.pathname === `/admin/realms/${realm}`, times: 2, response: { status: 503, body: "busy" } });
    proxy.inject({ match: (r) => r.method === "POST" && r.url.pathname === `/admin/realms/${realm}/groups`, times: 1, response: { status: 502, body: "bad gateway" } });
    proxy.inject({ match: (r) => r.method === "PUT" && r.url.pathname === `/admin/realms/${realm}`, times: 1, response: "drop" });
    const result = await provision(desiredIn(realm), { baseUrl: url });
    t.deepEqual(result.failed.map((f) => f.error.message), []);
    const userCreations = proxy.log.filter((l) => l.method === "POST" && l.path === `/admin/realms/${realm}/users`);
    t.is(userCreations.length, 4, "four members, each creation sent once, the lost answer included");
    t.truthy(await userNamed(realm, "claire.dubois"));
    t.is(proxy.log.filter((l) => l.status === 503 || l.status === 502 || l.status === "drop").length, 4);
    const again = await provision(desiredIn(realm), { baseUrl: url });
    t.is(again.counter.writes("identity"), 0);
  } finally {
    await proxy.stop();
  }
});

test.serial("run() reaches the identity runner with the connection the stack passes", async (t) => {
  t.timeout(120_000);
  const counter = new CallCounter();
  const desired = desiredIn("bastide");
  const connection = { endpoint: { url: keycloak.url }, admin: keycloak.admin, clientSecrets: SECRETS };
  const first = await run({ service: "identity", desired, connection, concurrency: 4, counter });
  t.deepEqual(first.failed, []);
  t.true(first.applied.length > 0);
  const preview = await run({ service: "identity", desired, connection, concurrency: 4, dryRun: true });
  t.deepEqual(preview.planned, []);
});
