// Shared calendars: the pure plan, the plain CalDAV part against a real Radicale
// (MKCALENDAR, discovery, idempotent re-runs), and the Nextcloud share flow against
// the fake Nextcloud (o:share, oc:invite).
import test, { type ExecutionContext } from "ava";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { desiredState, EVERYONE_GROUP, ASSOCIATION_CALENDAR } from "../../provisioners/desired.ts";
import { converge, ProvisionError } from "../../provisioners/model.ts";
import { CallCounter } from "../../provisioners/runtime/http.ts";
import {
  applyCalendars,
  calendarsProvisioner,
  createCalDavClient,
  groupPrincipal,
  listCalendars,
  planCalendars,
  readShares,
  shareBody,
  type CalendarsLive,
  type LiveCalendar,
} from "../../provisioners/calendars/index.ts";
import { NEXTCLOUD_ADMIN_USER } from "../../stacks/services/nextcloud/blueprint.ts";
import { createFakeNextcloud, type FakeNextcloud } from "../fakes/nextcloud.ts";
import { exampleAssociation } from "../support/association.ts";
import { startRadicale, type Radicale } from "../support/radicale.ts";

const desired = desiredState(exampleAssociation());
const calendars = desired.nextcloud!.calendars;
const TEAM = "team-evenements";
const noWait = async () => {};

const liveOf = (entries: LiveCalendar[], sharing = true): CalendarsLive => ({
  calendars: new Map(entries.map((c) => [c.uri, c])),
  sharing,
});

// ---------------------------------------------------------------------------------------
// The plan (pure)

test("the example wants one calendar per team, shared read-write, and the association's, read-only", (t) => {
  t.deepEqual(
    calendars.map((c) => [c.uri, c.group, c.access]),
    [
      ["team-bureau", "bureau", "read-write"],
      ["team-potager", "potager", "read-write"],
      [TEAM, "evenements", "read-write"],
      [ASSOCIATION_CALENDAR, EVERYONE_GROUP, "read"],
    ],
  );
});

test("plan: nothing there → create every calendar (phase 0), then share each with its group (phase 1)", (t) => {
  const changes = planCalendars(desired, liveOf([]));
  t.deepEqual(
    changes.filter((c) => c.kind === "calendar.create").map((c) => [c.phase, c.payload]),
    calendars.map((c) => [0, { uri: c.uri, displayName: c.displayName }]),
  );
  t.deepEqual(
    changes.filter((c) => c.kind === "calendar.share").map((c) => [c.phase, c.payload]),
    calendars.map((c) => [1, { uri: c.uri, group: c.group, access: c.access }]),
  );
  t.is(changes.length, 8);
  t.true(changes.every((c) => c.service === "calendars"));
});

test("plan: a plain CalDAV server gets calendars and no shares", (t) => {
  t.deepEqual(
    planCalendars(desired, liveOf([], false)).map((c) => c.kind),
    calendars.map(() => "calendar.create"),
  );
});

const sharedAsWanted = (): LiveCalendar[] =>
  calendars.map((c) => ({ uri: c.uri, displayName: c.displayName, shares: [{ principal: groupPrincipal(c.group), access: c.access }] }));

test("plan: calendars shared as wanted → nothing; other calendars and others' shares are left alone", (t) => {
  const live = sharedAsWanted();
  live[0]!.shares!.unshift({ principal: "principal:principals/users/tom.martin", access: "read" });
  live.push({ uri: "personal", displayName: "Personal", shares: [] });
  t.deepEqual(planCalendars(desired, liveOf(live)), []);
});

test("plan: a share with the wrong access, or none, is set again, and only that", (t) => {
  const live = sharedAsWanted();
  live[2]!.shares = [{ principal: groupPrincipal("evenements"), access: "read" }];
  live[3]!.shares = [];
  t.deepEqual(
    planCalendars(desired, liveOf(live)).map((c) => [c.kind, c.payload]),
    [
      ["calendar.share", { uri: TEAM, group: "evenements", access: "read-write" }],
      ["calendar.share", { uri: ASSOCIATION_CALENDAR, group: EVERYONE_GROUP, access: "read" }],
    ],
  );
});

test("plan: Nextcloud disabled → no calendar", (t) => {
  t.deepEqual(planCalendars({ nextcloud: undefined }, liveOf([])), []);
});

test("the o:share bodies are the ones the real Nextcloud 34 accepted (200), then listed", (t) => {
  const recording = JSON.parse(readFileSync(new URL("../contracts/recordings/nextcloud-34/provisioning-first-run.json", import.meta.url), "utf8"));
  const shares = recording.exchanges.filter((e: any) => e.request?.method === "POST" && e.request.path.startsWith("/remote.php/dav/calendars/"));
  const accepted = (body: string) => shares.some((e: any) => e.request.body === body && e.response.status === 200);
  t.true(accepted(shareBody("bureau", "read-write")), "read-write share body");
  t.true(accepted(shareBody("association", "read")), "read-only share body");
});

// ---------------------------------------------------------------------------------------
// Plain CalDAV against a real Radicale

const USERS = { first: "first-pass", rerun: "rerun-pass", race: "race-pass" };
let radicale: Radicale;

test.before(async () => {
  radicale = await startRadicale(USERS);
});

test.after.always(async () => {
  await radicale?.stop();
});

const radicaleClient = (user: keyof typeof USERS, counter = new CallCounter(), password: string = USERS[user]) =>
  createCalDavClient({ baseUrl: radicale.url, user, password, homePath: `${user}/`, sharing: false, counter, sleep: noWait, timeoutMs: 5000 });

const mkcalendars = (counter: CallCounter) => counter.calls.filter((c) => c.method === "MKCALENDAR");

test.serial("Radicale: a first run creates the calendars with MKCALENDAR, and PROPFIND finds them", async (t) => {
  const counter = new CallCounter();
  const client = radicaleClient("first", counter);
  const result = await converge(calendarsProvisioner, desired, client, { concurrency: 2 });
  t.deepEqual(result.failed, []);
  t.is(result.applied.length, calendars.length);
  t.true(result.applied.every((c) => c.kind === "calendar.create"));
  t.deepEqual(
    mkcalendars(counter).map((c) => [c.path, c.status]).sort(),
    calendars.map((c) => [`/first/${c.uri}/`, 201]).sort(),
  );
  t.is(counter.writes("calendars"), calendars.length);

  const found = await listCalendars(radicaleClient("first"));
  t.deepEqual(Object.fromEntries(found), Object.fromEntries(calendars.map((c) => [c.uri, { displayName: c.displayName }])));
  t.is(found.get(TEAM)?.displayName, "Événements");
  // Radicale keeps each collection as a folder: they are really there.
  const home = join(radicale.storage, "collection-root", "first");
  t.deepEqual(readdirSync(home).filter((f) => !f.startsWith(".")).sort(), calendars.map((c) => c.uri).sort());
  t.true(existsSync(join(home, TEAM, ".Radicale.props")));
});

test.serial("Radicale: a second run with the same config plans nothing and makes no write", async (t) => {
  await converge(calendarsProvisioner, desired, radicaleClient("rerun"), { concurrency: 2 });
  const counter = new CallCounter();
  const result = await converge(calendarsProvisioner, desired, radicaleClient("rerun", counter), { concurrency: 2 });
  t.deepEqual(result.planned, []);
  t.is(counter.writes("calendars"), 0);
  t.is(mkcalendars(counter).length, 0);
  t.is(counter.reads("calendars"), 1, "one PROPFIND depth 1 on the calendar home");
});

test.serial("Radicale: a calendar created meanwhile (409 resource-must-be-null) counts as created", async (t) => {
  const client = radicaleClient("race");
  const [create] = planCalendars(desired, liveOf([], false));
  await applyCalendars(create!, client);
  const counter = new CallCounter();
  await t.notThrowsAsync(applyCalendars(create!, radicaleClient("race", counter)));
  t.deepEqual(mkcalendars(counter).map((c) => c.status), [409]);
});

test.serial("Radicale: refused credentials stop the run with an error naming the service", async (t) => {
  const error = await t.throwsAsync(converge(calendarsProvisioner, desired, radicaleClient("first", new CallCounter(), "wrong"), { concurrency: 2 }), {
    instanceOf: ProvisionError,
  });
  t.is(error.service, "calendars");
  t.regex(error.message, /HTTP 401.*credentials/);
});

// ---------------------------------------------------------------------------------------
// Nextcloud's sharing, against the fake Nextcloud

const SERVICE_PASSWORD = "service-account-test-password";
const KARIM_PASSWORD = "karim-test-password";

/** A fake Nextcloud whose groups the nextcloud provisioner already made. */
async function fakeWithGroups(t: ExecutionContext): Promise<FakeNextcloud> {
  const nc = await createFakeNextcloud({ users: { [NEXTCLOUD_ADMIN_USER]: SERVICE_PASSWORD }, admins: [NEXTCLOUD_ADMIN_USER] });
  t.teardown(() => nc.stop());
  for (const group of desired.nextcloud!.groups) nc.addGroup(group.id, group.displayName);
  nc.addUser("karim.benali", { password: KARIM_PASSWORD, groups: ["evenements"] });
  return nc;
}

const nextcloudClient = (nc: FakeNextcloud, counter = new CallCounter(), user = NEXTCLOUD_ADMIN_USER, password = SERVICE_PASSWORD) =>
  createCalDavClient({ baseUrl: nc.url, user, password, counter, sleep: noWait });

const sharesOf = (nc: FakeNextcloud) =>
  Object.fromEntries(calendars.map((c) => [c.uri, nc.shares(NEXTCLOUD_ADMIN_USER, c.uri).map((s) => [s.principal, s.readWrite])]));

test("fake Nextcloud: calendars are created and shared with their groups, as oc:invite then shows", async (t) => {
  const nc = await fakeWithGroups(t);
  const counter = new CallCounter();
  const result = await converge(calendarsProvisioner, desired, nextcloudClient(nc, counter), { concurrency: 2 });
  t.deepEqual(result.failed, []);
  t.deepEqual(
    nc.calendars(NEXTCLOUD_ADMIN_USER).filter((c) => c.uri.startsWith("team-") || c.uri === ASSOCIATION_CALENDAR).map((c) => [c.uri, c.displayName, c.components]),
    calendars.map((c) => [c.uri, c.displayName, ["VEVENT"]]),
  );
  t.deepEqual(sharesOf(nc), {
    "team-bureau": [["principals/groups/bureau", true]],
    "team-potager": [["principals/groups/potager", true]],
    [TEAM]: [["principals/groups/evenements", true]],
    [ASSOCIATION_CALENDAR]: [[`principals/groups/${EVERYONE_GROUP}`, false]],
  });
  t.deepEqual(await readShares(nextcloudClient(nc), TEAM), [{ principal: groupPrincipal("evenements"), access: "read-write" }]);
  t.deepEqual(counter.calls.filter((c) => c.method !== "PROPFIND").map((c) => `${c.method} ${c.status}`).sort(), [
    ...Array(4).fill("MKCALENDAR 201"),
    ...Array(4).fill("POST 200"),
  ]);

  // A member of the team finds it in their own calendar home.
  const karim = await listCalendars(nextcloudClient(nc, new CallCounter(), "karim.benali", KARIM_PASSWORD));
  t.true(karim.has(`${TEAM}_shared_by_${NEXTCLOUD_ADMIN_USER}`));
});

test("fake Nextcloud: a second run makes zero writes", async (t) => {
  const nc = await fakeWithGroups(t);
  await converge(calendarsProvisioner, desired, nextcloudClient(nc), { concurrency: 2 });
  nc.server.resetLog();
  const counter = new CallCounter();
  const result = await converge(calendarsProvisioner, desired, nextcloudClient(nc, counter), { concurrency: 2 });
  t.deepEqual(result.planned, []);
  t.is(nc.server.writes(), 0);
  t.is(counter.writes("calendars"), 0);
  t.is(counter.reads("calendars"), 1 + calendars.length, "the home, then oc:invite of each calendar");
});

test("fake Nextcloud: a share with the wrong access is set again, in one POST", async (t) => {
  const nc = await fakeWithGroups(t);
  for (const c of calendars) {
    nc.addCalendar(NEXTCLOUD_ADMIN_USER, c.uri, { displayName: c.displayName, components: ["VEVENT"] });
    nc.shareCalendar(NEXTCLOUD_ADMIN_USER, c.uri, `principals/groups/${c.group}`, c.access === "read-write");
  }
  nc.shareCalendar(NEXTCLOUD_ADMIN_USER, TEAM, "principals/groups/evenements", false);
  nc.shareCalendar(NEXTCLOUD_ADMIN_USER, TEAM, "principals/users/karim.benali", false);
  nc.server.resetLog();
  const result = await converge(calendarsProvisioner, desired, nextcloudClient(nc), { concurrency: 2 });
  t.deepEqual(result.applied.map((c) => c.subject), [`calendar ${TEAM} → evenements (read-write)`]);
  t.deepEqual(nc.server.log.filter((r) => r.method !== "PROPFIND").map((r) => `${r.method} ${r.path} ${r.status}`), [
    `POST /remote.php/dav/calendars/${NEXTCLOUD_ADMIN_USER}/${TEAM}/ 200`,
  ]);
  t.deepEqual(
    nc.shares(NEXTCLOUD_ADMIN_USER, TEAM).map((s) => [s.principal, s.readWrite]).sort(),
    [
      ["principals/groups/evenements", true],
      ["principals/users/karim.benali", false],
    ],
    "the share Bastide did not make stays",
  );
});

test("fake Nextcloud: sharing with a group that does not exist fails clearly (Nextcloud answers 200 regardless)", async (t) => {
  const nc = await createFakeNextcloud({ users: { [NEXTCLOUD_ADMIN_USER]: SERVICE_PASSWORD }, admins: [NEXTCLOUD_ADMIN_USER] });
  t.teardown(() => nc.stop());
  const result = await converge(calendarsProvisioner, desired, nextcloudClient(nc), { concurrency: 2 });
  t.is(result.failed.length, calendars.length);
  const error = result.failed.find((f) => f.change.payload.uri === TEAM)!.error;
  t.true(error instanceof ProvisionError);
  t.is(error.service, "calendars");
  t.regex(error.message, /does group evenements exist\?/);
});

test("fake Nextcloud: transient failures of MKCALENDAR and the share POST are retried", async (t) => {
  const nc = await fakeWithGroups(t);
  nc.server.inject({ match: (r) => r.method === "MKCALENDAR", times: 2, response: { status: 503, body: "" } });
  nc.server.inject({ match: (r) => r.method === "POST", times: 1, response: "drop" });
  nc.server.inject({ match: (r) => r.method === "PROPFIND", times: 1, response: { status: 429, headers: { "Retry-After": "1" }, body: "" } });
  const result = await converge(calendarsProvisioner, desired, nextcloudClient(nc), { concurrency: 2 });
  t.deepEqual(result.failed, []);
  const statuses = nc.server.log.map((r) => r.status);
  t.deepEqual([503, "drop", 429].map((s) => statuses.filter((x) => x === s).length), [2, 1, 1], "every fault was met");
  t.deepEqual(sharesOf(nc)[TEAM], [["principals/groups/evenements", true]]);
  t.is(nc.calendars(NEXTCLOUD_ADMIN_USER).filter((c) => c.uri === TEAM).length, 1);
  nc.server.resetLog();
  await converge(calendarsProvisioner, desired, nextcloudClient(nc), { concurrency: 2 });
  t.is(nc.server.writes(), 0);
});
