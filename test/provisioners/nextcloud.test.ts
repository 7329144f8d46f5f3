// Nextcloud accounts, groups and memberships: the pure plan first, then whole runs
// against the fake Nextcloud (which answers as the recorded Nextcloud 32 does).
import test from "ava";
import { desiredState, EVERYONE_GROUP, NEXTCLOUD_ADMIN_GROUP, type DesiredState } from "../../provisioners/desired.ts";
import { NEXTCLOUD_ADMIN_USER } from "../../stacks/services/nextcloud/blueprint.ts";
import {
  managedUserIds,
  planNextcloud,
  quotaBytes,
  quotaMatches,
  type LiveNextcloudUser,
  type NextcloudDesired,
  type NextcloudLive,
} from "../../provisioners/nextcloud/index.ts";
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
    groups: [NEXTCLOUD_ADMIN_GROUP, EVERYONE_GROUP, "bureau"],
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
