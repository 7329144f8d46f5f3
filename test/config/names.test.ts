// Issue 9, items 1 and 2: ids that are already a name of Bastide or of a service, and
// derived names (VPN peers) that collide.
import test from "ava";
import { desiredState } from "../../provisioners/desired.ts";
import { peerId } from "../../stacks/config/names.ts";
import { problemsOf, refusedAt, validated } from "./support.ts";

const RESERVED_TEAMS: [string, string][] = [
  ["admin", "Nextcloud's administrators group"],
  ["association", "association-wide group, calendar and Matrix space"],
  ["bastide-service", "Bastide's service account"],
];
for (const [id, owner] of RESERVED_TEAMS) {
  test(`a team may not be called ${id}`, (t) => {
    refusedAt(t, (i) => i.teams.push({ id, name: "Équipe" }), "teams[3].id", `"${id}" is reserved`, owner, "choose another team id");
  });
}

const RESERVED_MEMBERS: [string, string][] = [
  ["bastide", "Bastide's Matrix account, a server administrator"],
  ["focus", "Jitsi's conference focus"],
  ["jvb", "Jitsi's video bridge"],
  ["jibri", "Jitsi's recorder"],
  ["recorder", "Jitsi's recorder"],
  ["transcriber", "Jitsi's transcriber"],
  ["files_external", "Nextcloud's data directory"],
  ["nextcloud.log", "Nextcloud's data directory"],
  ["appdata_oc1234", "Nextcloud's app data folder"],
];
for (const [id, owner] of RESERVED_MEMBERS) {
  test(`a member may not be called ${id}`, (t) => {
    refusedAt(t, (i) => (i.members[3].id = id), "members[3].id", `"${id}" is reserved`, owner, "choose another id for this member");
  });
}

test("a member may be called like a team, and a team like a member: they live in different namespaces", (t) => {
  const config = validated((i) => i.teams.push({ id: "lea.moreau", name: "Léa's team" }));
  t.is(config.teams[3]!.id, "lea.moreau");
});

test("two devices making the same VPN peer are refused, naming both", (t) => {
  const problems = problemsOf((i) => {
    i.members[1].id = "karim.b";
    i.members[1].devices = [{ name: "x-laptop" }];
    i.members[0].id = "karim.b-x";
    i.members[0].devices = [{ name: "laptop" }];
  });
  const collision = problems.filter((p) => p.message.includes('VPN peer "karim.b-x-laptop"'));
  t.is(collision.length, 1, JSON.stringify(problems));
  t.is(collision[0]!.path, "members[1].devices[0].name");
  t.true(collision[0]!.message.includes("karim.b-x + laptop (at members[0].devices[0].name)"));
  t.true(collision[0]!.message.includes("rename one of the two devices"));
});

test("the peer id the config checks is the one the provisioners derive", (t) => {
  const config = validated(() => {});
  const peers = desiredState(config).vpn!.peers;
  t.true(peers.length > 0);
  for (const peer of peers) t.is(peer.id, peerId(peer.member, peer.device));
});

test("cross-field problems are reported together with field problems", (t) => {
  const problems = problemsOf((i) => {
    i.organisation.country = "US"; // a field problem
    i.teams.push({ id: "admin", name: "Admins" }); // a cross-field one
    i.members[2].teams = ["compost"];
  });
  t.deepEqual(problems.map((p) => p.path).sort(), ["members[2].teams[0]", "organisation.country", "teams[3].id"]);
});
