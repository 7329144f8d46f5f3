// Nextcloud accounts, groups and memberships: the pure plan first, then whole runs
// against the fake Nextcloud (which answers as the recorded Nextcloud 32 does).
import test, { type ExecutionContext } from "ava";
import { desiredState, EVERYONE_GROUP, NEXTCLOUD_ADMIN_GROUP, type DesiredState } from "../../provisioners/desired.ts";
import { NEXTCLOUD_ADMIN_USER, NEXTCLOUD_TWO_FACTOR_GROUP } from "../../stacks/services/nextcloud/blueprint.ts";
import {
  managedUserIds,
  planNextcloud,
  quotaBytes,
  quotaMatches,
  type LiveNextcloudUser,
  type NextcloudDesired,
  type NextcloudLive,
} from "../../provisioners/nextcloud/index.ts";
import { converge, ProvisionError } from "../../provisioners/model.ts";
import { EMPTY_LEDGER, reconcileDepartures } from "../../provisioners/departures.ts";
import { CallCounter } from "../../provisioners/runtime/http.ts";
import { createNextcloudClient, nextcloudProvisioner, type NextcloudClient, type NextcloudClientOptions } from "../../provisioners/nextcloud/index.ts";
import { createFakeNextcloud, type FakeNextcloud } from "../fakes/nextcloud.ts";
import type { FakeResponse } from "../fakes/fake-server.ts";
import { exampleAssociation } from "../support/association.ts";

const GB = 1024 ** 3;
const example = desiredState(exampleAssociation());

const withDepartures = (state: DesiredState, departures: Partial<DesiredState["departures"]>): NextcloudDesired => ({
  nextcloud: state.nextcloud,
  departures: { disable: [], erase: [], enable: [], ...departures },
});

/** What Nextcloud would report once everything in `state` is in place. */
function liveMatching(state: NextcloudDesired): NextcloudLive {
  const nc = state.nextcloud!;
  return {
    groups: new Map([...nc.groups.map((g) => [g.id, { displayName: g.displayName }] as const), [NEXTCLOUD_ADMIN_GROUP, { displayName: "admin" }]]),
    users: new Map(
      nc.users.map((u) => [
        u.id,
        { id: u.id, displayName: u.displayName, email: u.email, quotaBytes: quotaBytes(u.quota), language: u.language, enabled: true, groups: [...u.groups] },
      ]),
    ),
  };
}

const liveUser = (id: string, edit: Partial<LiveNextcloudUser> = {}): LiveNextcloudUser => ({
  id,
  displayName: id,
  email: `${id}@example.org`,
  quotaBytes: 5 * GB,
  language: "fr",
  enabled: true,
  groups: [EVERYONE_GROUP],
  ...edit,
});

const summary = (changes: ReturnType<typeof planNextcloud>) => changes.map((c) => `${c.phase} ${c.kind} ${c.subject}`);

// ---------------------------------------------------------------------------------------
// Quotas: compared in bytes, as Nextcloud reports them

test("quotas are read as Nextcloud does: powers of 1024, none is unlimited", (t) => {
  t.is(quotaBytes("5 GB"), 5 * GB);
  t.is(quotaBytes("500 MB"), 500 * 1024 ** 2);
  t.is(quotaBytes("1TB"), 1024 ** 4);
  t.is(quotaBytes("none"), undefined);
  t.true(quotaMatches("5 GB", 5368709120));
  t.false(quotaMatches("5 GB", -3));
  t.true(quotaMatches("none", -3));
  t.false(quotaMatches("none", 5 * GB));
  t.true(quotaMatches("5 GB", undefined), "not reported: no blind rewrite");
});

// ---------------------------------------------------------------------------------------
// The plan (pure)

test("plan on an empty Nextcloud: groups with their names first, then each member in one creation", (t) => {
  const desired = withDepartures(example, {});
  const changes = planNextcloud(desired, { groups: new Map([[NEXTCLOUD_ADMIN_GROUP, { displayName: "admin" }]]), users: new Map() });
  t.deepEqual(summary(changes), [
    "0 group.create group association",
    "0 group.create group bureau",
    "0 group.create group potager",
    "0 group.create group evenements",
    "0 group.create group _admins-2fa",
    "1 user.create user claire.dubois",
    "1 user.create user karim.benali",
    "1 user.create user lea.moreau",
    "1 user.create user tom.martin",
  ]);
  t.deepEqual(changes[0]!.payload, { group: EVERYONE_GROUP, displayName: "Les Jardins Partagés du Canal" });
  const claire = changes.find((c) => c.kind === "user.create" && c.member === "claire.dubois")!;
  t.deepEqual(claire.payload, {
    id: "claire.dubois",
    displayName: "Claire Dubois",
    email: "claire.dubois@jardins-canal.localhost",
    quota: "5 GB",
    language: "fr",
    groups: [NEXTCLOUD_TWO_FACTOR_GROUP, NEXTCLOUD_ADMIN_GROUP, EVERYONE_GROUP, "bureau"],
  });
  t.true(changes.every((c) => c.service === "nextcloud"));
});

test("plan when everything is in place: nothing", (t) => {
  const desired = withDepartures(example, {});
  t.deepEqual(planNextcloud(desired, liveMatching(desired)), []);
});

test("plan: a changed display name is exactly one edit", (t) => {
  const desired = withDepartures(example, {});
  const live = liveMatching(desired);
  live.users.get("lea.moreau")!.displayName = "Lea Moreau";
  const changes = planNextcloud(desired, live);
  t.deepEqual(summary(changes), ["2 user.update lea.moreau: displayname"]);
  t.deepEqual(changes[0]!.payload, { id: "lea.moreau", key: "displayname", value: "Léa Moreau" });
  t.is(changes[0]!.member, "lea.moreau");
});

test("plan: e-mail null (just created) or in other case is left alone; another address is rewritten", (t) => {
  const desired = withDepartures(example, {});
  const live = liveMatching(desired);
  live.users.get("lea.moreau")!.email = null;
  live.users.get("tom.martin")!.email = "Tom.Martin@Jardins-Canal.localhost";
  t.deepEqual(planNextcloud(desired, live), []);
  live.users.get("karim.benali")!.email = "karim@elsewhere.example";
  t.deepEqual(summary(planNextcloud(desired, live)), ["2 user.update karim.benali: email"]);
});

test("plan: quota and language differences are edits of their own", (t) => {
  const desired = withDepartures(example, {});
  const live = liveMatching(desired);
  live.users.get("tom.martin")!.language = "fr";
  live.users.get("lea.moreau")!.quotaBytes = -3;
  t.deepEqual(
    planNextcloud(desired, live).map((c) => [c.member, c.payload]),
    [
      ["lea.moreau", { id: "lea.moreau", key: "quota", value: "5 GB" }],
      ["tom.martin", { id: "tom.martin", key: "language", value: "en" }],
    ],
  );
});

test("plan: memberships follow the teams and roles; groups Bastide does not manage are kept", (t) => {
  const desired = withDepartures(example, {});
  const live = liveMatching(desired);
  // Léa was in bureau and an admin made her admin by hand; she is also in a group of their own.
  live.users.get("lea.moreau")!.groups = [EVERYONE_GROUP, "bureau", NEXTCLOUD_ADMIN_GROUP, "chorale", "potager"];
  // Claire lost her admin group.
  live.users.get("claire.dubois")!.groups = [EVERYONE_GROUP, "bureau"];
  t.deepEqual(summary(planNextcloud(desired, live)), [
    // Admins are also in the group two-factor login is enforced for.
    "2 membership.add claire.dubois → _admins-2fa",
    "2 membership.add claire.dubois → admin",
    "2 membership.remove lea.moreau ↛ bureau",
    "2 membership.remove lea.moreau ↛ admin",
  ]);
});

test("plan: a group whose name changed in the config is renamed", (t) => {
  const desired = withDepartures(example, {});
  const live = liveMatching(desired);
  live.groups.set("potager", { displayName: "Potager" });
  const changes = planNextcloud(desired, live);
  t.deepEqual(summary(changes), ["0 group.rename group potager"]);
  t.deepEqual(changes[0]!.payload, { group: "potager", displayName: "Équipe potager" });
});

test("plan: departed members are disabled first (phase 0), erased ones deleted, returning ones enabled", (t) => {
  const desired = withDepartures(example, { disable: ["ana.old", "ben.gone", "cara.absent"], erase: ["dan.erased"], enable: ["tom.martin"] });
  const live = liveMatching(desired);
  live.users.set("ana.old", liveUser("ana.old"));
  live.users.set("ben.gone", liveUser("ben.gone", { enabled: false }));
  live.users.set("dan.erased", liveUser("dan.erased", { enabled: false }));
  live.users.get("tom.martin")!.enabled = false;
  // Disabled by an admin, not returning: stays disabled.
  live.users.get("karim.benali")!.enabled = false;
  t.deepEqual(summary(planNextcloud(desired, live)), [
    "0 user.delete user dan.erased",
    "0 user.disable user ana.old",
    "1 user.enable user tom.martin",
  ]);
});

test("plan: the service account and members still in the config are never disabled or erased", (t) => {
  const desired = withDepartures(example, { disable: [NEXTCLOUD_ADMIN_USER, "lea.moreau"], erase: [NEXTCLOUD_ADMIN_USER, "tom.martin"] });
  const live = liveMatching(desired);
  live.users.set(NEXTCLOUD_ADMIN_USER, liveUser(NEXTCLOUD_ADMIN_USER, { groups: [NEXTCLOUD_ADMIN_GROUP] }));
  t.deepEqual(planNextcloud(desired, live), []);
  t.false(managedUserIds(desired).includes(NEXTCLOUD_ADMIN_USER), "the service account is not even read");
});

test("plan: Nextcloud disabled in the config → nothing", (t) => {
  t.deepEqual(planNextcloud({ nextcloud: undefined, departures: { disable: ["x"], erase: [], enable: [] } }, { groups: new Map(), users: new Map() }), []);
});

// ---------------------------------------------------------------------------------------
// Whole runs against the fake Nextcloud

const SERVICE_PASSWORD = "service-account-test-password";

interface Run {
  nc: FakeNextcloud;
  counter: CallCounter;
  waits: number[];
  client: NextcloudClient;
}

async function fakeNextcloud(t: ExecutionContext): Promise<FakeNextcloud> {
  const nc = await createFakeNextcloud({ users: { [NEXTCLOUD_ADMIN_USER]: SERVICE_PASSWORD }, admins: [NEXTCLOUD_ADMIN_USER] });
  t.teardown(() => nc.stop());
  return nc;
}

function clientFor(nc: FakeNextcloud, options: Partial<NextcloudClientOptions> = {}): Run {
  const counter = new CallCounter();
  const waits: number[] = [];
  const client = createNextcloudClient({
    baseUrl: nc.url,
    user: NEXTCLOUD_ADMIN_USER,
    password: SERVICE_PASSWORD,
    counter,
    sleep: async (ms) => {
      waits.push(ms);
    },
    ...options,
  });
  return { nc, counter, waits, client };
}

const run = (client: NextcloudClient, desired: NextcloudDesired = withDepartures(example, {})) =>
  converge(nextcloudProvisioner, desired, client, { concurrency: 3 });

/** A v1 JSON OCS answer, as the recordings show them. */
const ocsV1 = (statuscode: number, message: string): FakeResponse => ({
  status: statuscode === 997 ? 401 : 200,
  headers: { "Content-Type": "application/json; charset=utf-8" },
  body: JSON.stringify({ ocs: { meta: { status: "failure", statuscode, message, totalitems: "", itemsperpage: "" }, data: [] } }),
});

const members = (nc: FakeNextcloud) => nc.users().filter((u) => u.id !== NEXTCLOUD_ADMIN_USER);
const isWrite = (r: { method: string }) => !["GET", "HEAD", "OPTIONS", "PROPFIND", "REPORT"].includes(r.method);

/** Nextcloud as the example wants it: what every fresh run must end with. */
function assertExampleInPlace(t: ExecutionContext, nc: FakeNextcloud): void {
  const want = example.nextcloud!;
  t.deepEqual(
    members(nc).map((u) => ({ id: u.id, displayName: u.displayName, email: u.email, quota: u.quota, language: u.language, enabled: u.enabled, groups: u.groups })),
    want.users.map((u) => ({ id: u.id, displayName: u.displayName, email: u.email, quota: quotaBytes(u.quota), language: u.language, enabled: true, groups: u.groups })),
  );
  const groups = new Map(nc.groups().map((g) => [g.id, g]));
  for (const g of want.groups) t.is(groups.get(g.id)?.displayName, g.displayName, `group ${g.id}`);
  t.deepEqual(groups.get(NEXTCLOUD_ADMIN_GROUP)?.members, [NEXTCLOUD_ADMIN_USER, "claire.dubois"].sort());
  // No password from Bastide: each member got Nextcloud's own set-password mail, once.
  t.true(members(nc).every((u) => !u.hasPassword && u.passwordSets === 0));
  t.deepEqual(
    nc.mails().map((m) => [m.userid, m.to, m.setPasswordLink]).sort(),
    want.users.map((u) => [u.id, u.email, true]).sort(),
  );
}

test("fake: the example is provisioned in 10 writes: 5 groups, 4 accounts straight into their groups, the service account's name", async (t) => {
  const nc = await fakeNextcloud(t);
  const { client, counter } = clientFor(nc);
  const result = await run(client);
  t.deepEqual(result.failed, []);
  assertExampleInPlace(t, nc);
  t.is(nc.server.writes(), 10);
  t.is(counter.writes("nextcloud"), 10);
  t.deepEqual(nc.server.log.filter(isWrite).map((r) => `${r.method} ${r.path.replace(/\?.*/, "")} ${r.status}`).sort(), [
    ...Array(5).fill("POST /ocs/v1.php/cloud/groups 200"),
    ...Array(4).fill("POST /ocs/v1.php/cloud/users 200"),
    `PUT /ocs/v1.php/cloud/users/${NEXTCLOUD_ADMIN_USER} 200`,
  ]);
});

test("fake: a second run with the same config makes zero writes", async (t) => {
  const nc = await fakeNextcloud(t);
  await run(clientFor(nc).client);
  nc.server.resetLog();
  const { client, counter } = clientFor(nc);
  const result = await run(client);
  t.deepEqual(result.planned, []);
  t.is(nc.server.writes(), 0);
  t.is(counter.writes(), 0);
  t.true(nc.server.reads() > 0, "it did read");
});

test("fake: a changed display name is exactly one write", async (t) => {
  const nc = await fakeNextcloud(t);
  await run(clientFor(nc).client);
  nc.server.resetLog();
  const renamed = desiredState(
    exampleAssociation((input) => {
      input.members.find((m: { id: string }) => m.id === "lea.moreau").name = "Léa Moreau-Petit";
    }),
  );
  const result = await run(clientFor(nc).client, withDepartures(renamed, {}));
  t.deepEqual(result.failed, []);
  t.deepEqual(nc.server.log.filter(isWrite).map((r) => `${r.method} ${r.path} ${r.status}`), ["PUT /ocs/v1.php/cloud/users/lea.moreau 200"]);
  t.is(nc.user("lea.moreau")?.displayName, "Léa Moreau-Petit");
});

test("fake: a member removed from the config is disabled, and deleted only once in departures.erase", async (t) => {
  const nc = await fakeNextcloud(t);
  const first = exampleAssociation();
  await run(clientFor(nc).client);
  const ids = first.members.map((m) => m.id);
  let ledger = reconcileDepartures(EMPTY_LEDGER, ids, 30, new Date("2026-01-01")).ledger;

  const without = exampleAssociation((input) => {
    input.members = input.members.filter((m: { id: string }) => m.id !== "tom.martin");
  });
  const left = reconcileDepartures(ledger, without.members.map((m) => m.id), 30, new Date("2026-01-02"));
  t.deepEqual(left.departures, { disable: ["tom.martin"], erase: [], enable: [] });
  ledger = left.ledger;
  nc.server.resetLog();
  const disabled = await run(clientFor(nc).client, { ...desiredState(without), departures: left.departures });
  t.deepEqual(disabled.failed, []);
  t.deepEqual(nc.server.log.filter(isWrite).map((r) => `${r.method} ${r.path}`), ["PUT /ocs/v1.php/cloud/users/tom.martin/disable"]);
  t.like(nc.user("tom.martin"), { enabled: false, groups: example.nextcloud!.users.find((u) => u.id === "tom.martin")!.groups }, "disabled, nothing else changed");

  // Same departures again (a re-run before the ledger was saved): nothing to do.
  nc.server.resetLog();
  await run(clientFor(nc).client, { ...desiredState(without), departures: left.departures });
  t.is(nc.server.writes(), 0);

  // Grace period over: erased.
  const later = reconcileDepartures(ledger, without.members.map((m) => m.id), 30, new Date("2026-03-01"));
  t.deepEqual(later.departures, { disable: [], erase: ["tom.martin"], enable: [] });
  nc.server.resetLog();
  const erased = await run(clientFor(nc).client, { ...desiredState(without), departures: later.departures });
  t.deepEqual(erased.failed, []);
  t.deepEqual(nc.server.log.filter(isWrite).map((r) => `${r.method} ${r.path}`), ["DELETE /ocs/v1.php/cloud/users/tom.martin"]);
  t.is(nc.user("tom.martin"), undefined);
  t.truthy(nc.user("lea.moreau"), "the others stay");
});

test("fake: a member coming back is enabled again, as they were", async (t) => {
  const nc = await fakeNextcloud(t);
  await run(clientFor(nc).client);
  await run(clientFor(nc).client, { ...desiredState(exampleAssociation((i) => (i.members = i.members.filter((m: any) => m.id !== "tom.martin")))), departures: { disable: ["tom.martin"], erase: [], enable: [] } });
  t.false(nc.user("tom.martin")!.enabled);
  nc.server.resetLog();
  await run(clientFor(nc).client, withDepartures(example, { enable: ["tom.martin"] }));
  t.deepEqual(nc.server.log.filter(isWrite).map((r) => `${r.method} ${r.path}`), ["PUT /ocs/v1.php/cloud/users/tom.martin/enable"]);
  t.true(nc.user("tom.martin")!.enabled);
});

test("fake: 503, 429 with Retry-After and a dropped connection are retried, and the run converges", async (t) => {
  const nc = await fakeNextcloud(t);
  const post = (path: string) => (r: { method: string; path: string }) => r.method === "POST" && r.path.startsWith(path);
  nc.server.inject({ match: post("/ocs/v1.php/cloud/groups"), times: 1, response: { status: 503, headers: { "Content-Type": "text/html" }, body: "Service Unavailable" } });
  nc.server.inject({ match: post("/ocs/v1.php/cloud/users?"), times: 2, response: { status: 429, headers: { "Retry-After": "7", "Content-Type": "text/plain" }, body: "" } });
  // A dropped read is sent again; a dropped creation is not (see "a creation whose answer is lost").
  nc.server.inject({ match: (r) => r.method === "GET", times: 1, response: "drop" });
  nc.server.inject({ match: (r) => r.method === "GET" && r.path.startsWith("/ocs/v1.php/cloud/users/"), times: 1, response: { status: 502, body: "Bad Gateway" } });
  const { client, waits, counter } = clientFor(nc);
  const result = await run(client);
  t.deepEqual(result.failed, []);
  assertExampleInPlace(t, nc);
  const statuses = nc.server.log.map((r) => r.status);
  t.deepEqual([503, 429, "drop"].map((s) => statuses.filter((x) => x === s).length), [1, 2, 1]);
  t.is(waits.filter((ms) => ms === 7000).length, 2, "waited as Retry-After asked");
  // Every attempt is counted: 10 successful writes + 3 retried ones (the dropped request is a read).
  t.is(counter.writes("nextcloud"), 13);

  // The faults cost retries, not duplicates: a re-run has nothing to do.
  nc.server.resetLog();
  await run(clientFor(nc).client);
  t.is(nc.server.writes(), 0);
});

test("fake: a non-transient refusal becomes a ProvisionError naming the member and the service", async (t) => {
  const nc = await fakeNextcloud(t);
  await run(clientFor(nc).client);
  // Karim joins a new team; Nextcloud answers the membership with 102 (group missing, as recorded).
  const changed = desiredState(exampleAssociation((i) => i.members.find((m: any) => m.id === "karim.benali").teams.push("potager")));
  nc.server.inject({ match: (r) => r.method === "POST" && r.path.includes("/users/karim.benali/groups"), times: 1, response: ocsV1(102, "") });
  const result = await run(clientFor(nc).client, withDepartures(changed, {}));
  t.is(result.failed.length, 1);
  const error = result.failed[0]!.error;
  t.true(error instanceof ProvisionError);
  t.is(error.service, "nextcloud");
  t.is(error.member, "karim.benali");
  t.regex(error.message, /^nextcloud \(member karim\.benali\): membership\.add karim\.benali → potager: .*potager does not exist/);
  t.false(nc.user("karim.benali")!.groups.includes("potager"));
});

test("fake: refused credentials (997) on a write name the member; on the read, the service", async (t) => {
  const nc = await fakeNextcloud(t);
  await run(clientFor(nc).client);
  const renamed = desiredState(exampleAssociation((i) => (i.members.find((m: any) => m.id === "lea.moreau").name = "Léa M.")));
  nc.server.inject({ match: (r) => r.method === "PUT", times: 1, response: ocsV1(997, "Unauthorised") });
  const result = await run(clientFor(nc).client, withDepartures(renamed, {}));
  t.is(result.failed.length, 1);
  t.like(result.failed[0]!.error, { service: "nextcloud", member: "lea.moreau" });
  t.regex(result.failed[0]!.error.message, /997.*password/);
  t.is(nc.server.log.filter((r) => r.status === 401).length, 1, "a 401 is not retried");

  const wrong = createNextcloudClient({ baseUrl: nc.url, user: NEXTCLOUD_ADMIN_USER, password: "not-the-password", sleep: async () => {} });
  const error = await t.throwsAsync(run(wrong), { instanceOf: ProvisionError });
  t.is(error.service, "nextcloud");
  t.is(error.member, undefined);
  t.regex(error.message, /credentials \(HTTP 401, OCS 997\)/);
});

// Timing-based (a client timeout against a hung or slow answer): run alone in this file.
test.serial("fake: a run cut off half-way (a write hangs, no retry left) converges on the next run, without duplicates", async (t) => {
  const nc = await fakeNextcloud(t);
  let writes = 0;
  // The 7th write never gets an answer: 5 groups and 1 account are done by then.
  nc.server.inject({ match: (r) => isWrite(r) && ++writes === 7, times: 1, response: "hang" });
  const cut = clientFor(nc, { timeoutMs: 1500, retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
  const interrupted = await run(cut.client);
  t.is(interrupted.failed.length, 1);
  t.is(interrupted.failed[0]!.change.kind, "user.create");
  t.regex(interrupted.failed[0]!.error.message, /timed out/);
  t.is(members(nc).length, 3, "the hung creation did not happen; the others did");

  nc.server.resetLog();
  const again = await run(clientFor(nc).client);
  t.deepEqual(again.failed, []);
  // The missing account, then the service account's name (its phase never came in the cut run).
  t.deepEqual(again.applied.map((c) => c.kind), ["user.create", "user.update"]);
  assertExampleInPlace(t, nc);
});

// Issue 8, item 11: a re-sent creation raced its original on a real Nextcloud (duplicate
// key, a second welcome mail). A creation without an answer is never sent again blind.
test.serial("fake: a creation whose answer is lost is not sent again: one account, one welcome mail", async (t) => {
  const nc = await fakeNextcloud(t);
  nc.addGroup(EVERYONE_GROUP, "Les Jardins Partagés du Canal");
  for (const team of exampleAssociation().teams) nc.addGroup(team.id, team.name);
  // Slower than the client's timeout: Nextcloud creates the account, the client gives up.
  nc.server.latencyMs = 1500;
  const counter = new CallCounter();
  const client = createNextcloudClient({ baseUrl: nc.url, user: NEXTCLOUD_ADMIN_USER, password: SERVICE_PASSWORD, counter, timeoutMs: 1000, sleep: async () => {} });
  const lea = example.nextcloud!.users.find((u) => u.id === "lea.moreau")!;
  const change = { service: "nextcloud", kind: "user.create", subject: "user lea.moreau", member: "lea.moreau", phase: 1, payload: lea } as const;
  await t.throwsAsync(nextcloudProvisioner.apply(change, client), { message: /got no answer \(timed out after 1 s\);.* not sent again/ });
  // Bounded: the slow request lands within its 1.5 s latency.
  for (let i = 0; i < 100 && !nc.user("lea.moreau"); i++) await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(counter.calls.map((c) => `${c.method} ${c.status}`), ["POST error"]);
  t.is(nc.server.log.filter((r) => r.method === "POST").length, 1);
  t.is(nc.users().filter((u) => u.id === "lea.moreau").length, 1);
  t.is(nc.mails().length, 1, "one welcome mail");
});

test("fake: an account Nextcloud created while answering 101 'Bad request' is finished: e-mail and welcome mail", async (t) => {
  const nc = await fakeNextcloud(t);
  nc.failNextUserCreation("lea.moreau");
  const result = await run(clientFor(nc).client);
  t.deepEqual(result.failed, []);
  assertExampleInPlace(t, nc);
  nc.server.resetLog();
  await run(clientFor(nc).client);
  t.is(nc.server.writes(), 0);
});

test("fake: users and groups Bastide does not manage are left alone", async (t) => {
  const nc = await fakeNextcloud(t);
  nc.addUser("visitor", { email: "visitor@example.org", displayName: "A visitor", groups: ["chorale"] });
  nc.addUser("lea.moreau", { email: "lea.moreau@jardins-canal.localhost", displayName: "Léa Moreau", groups: ["chorale"], quota: 5 * GB });
  await run(clientFor(nc).client, withDepartures(example, { disable: ["someone.else"] }));
  t.like(nc.user("visitor"), { displayName: "A visitor", enabled: true, groups: ["chorale"] });
  t.deepEqual(nc.user("lea.moreau")!.groups, ["association", "chorale", "potager"]);
  // Of the service account, only its display name (shown beside the calendars it shares) is set.
  t.like(nc.user(NEXTCLOUD_ADMIN_USER), { enabled: true, groups: [NEXTCLOUD_ADMIN_GROUP], displayName: example.nextcloud!.serviceAccountName });
  t.deepEqual(
    nc.server.log.filter((r) => r.path.includes(`/users/${NEXTCLOUD_ADMIN_USER}`)).map((r) => r.method),
    ["GET", "PUT"],
  );
  t.true(nc.server.log.every((r) => !r.path.includes("/users/visitor")), "never read or written");
});
