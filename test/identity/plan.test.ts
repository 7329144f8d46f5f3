// The identity provisioner's pure parts: the desired state the file gives, and the plan
// against a live state written by hand. The real server's answers are in provisioner.test.ts.
import test from "ava";
import { desiredState, type DesiredState } from "../../provisioners/desired.ts";
import { desiredIdentity, passwordPolicy, splitName } from "../../provisioners/identity/desired.ts";
import { browserFlowSteps, roleCondition } from "../../provisioners/identity/flow.ts";
import type { LiveIdentity } from "../../provisioners/identity/model.ts";
import { bastideProfile, clientMappers, clientRepresentation, planIdentity, sameSteps, userRepresentation } from "../../provisioners/identity/plan.ts";
import { meetingKeyName } from "../../provisioners/identity/read.ts";
import { MEETING_LOGIN } from "../../stacks/services/jitsi/login.ts";
import { keyedSlice, unkeyedSlice } from "../../provisioners/slices.ts";
import { hostnames } from "../../stacks/services/catalog.ts";
import { exampleAssociation } from "../support/association.ts";

const NO_DEPARTURES = { disable: [], erase: [], enable: [] };

test("names split at the first space, so the name claim (first and last joined) is the file's name", (t) => {
  t.deepEqual(splitName("Léa Moreau"), { firstName: "Léa", lastName: "Moreau" });
  t.deepEqual(splitName("Jean-Pierre de La Tour"), { firstName: "Jean-Pierre", lastName: "de La Tour" });
  t.deepEqual(splitName("Zoé"), { firstName: "Zoé", lastName: "" });
});

test("the file decides the realm: password length, lock-out, reset only with mail, second factor by role", (t) => {
  const config = exampleAssociation((input) => {
    input.services = { ...input.services, identity: { passwords: { minimumLength: 16 }, lockoutAfterFailures: 5, twoFactor: { volunteer: { required: false, relaxedBecause: "They only read." } } } };
    input.mail = { host: "smtp.example.org", from: "ne-pas-repondre@jardins-canal.localhost", username: "relay-user" };
  });
  const identity = desiredIdentity(config, hostnames(config))!;
  t.is(identity.settings.passwordPolicy, passwordPolicy(16));
  t.regex(identity.settings.passwordPolicy, /^length\(16\) and notUsername\(undefined\) and notContainsUsername\(undefined\) and notEmail\(undefined\) and passwordHistory\(\d+\)$/);
  t.is(identity.settings.failureFactor, 5);
  t.true(identity.settings.resetPasswordAllowed);
  t.like(identity.settings.smtpServer, { host: "smtp.example.org", port: "587", starttls: "true", ssl: "false", auth: "true", user: "relay-user" });
  t.deepEqual(identity.twoFactorRoles, ["admin", "staff"]);
  t.deepEqual(identity.users.map((u) => [u.username, u.twoFactorRequired]), [
    ["claire.dubois", true],
    ["karim.benali", true],
    ["lea.moreau", false],
    ["tom.martin", false],
  ]);
  t.false(desiredIdentity(exampleAssociation(), hostnames(exampleAssociation()))!.settings.resetPasswordAllowed, "no relay: no reset link to send");
});

test("identity off: no identity slice, and a client only for the services that are on", (t) => {
  t.is(desiredState(exampleAssociation((input) => (input.services = { ...input.services, identity: { enabled: false } }))).identity, undefined);
  const noMatrix = desiredState(exampleAssociation((input) => (input.services = { ...input.services, matrix: { enabled: false } })));
  t.deepEqual(noMatrix.identity!.clients.map((c) => c.clientId), ["jitsi", "nextcloud"]);
  const noJitsi = desiredState(exampleAssociation((input) => (input.services = { ...input.services, jitsi: { enabled: false } })));
  t.deepEqual(noJitsi.identity!.clients.map((c) => c.clientId), ["matrix", "nextcloud"]);
  t.is(noJitsi.identity!.meetingKey, undefined, "no meeting key without meetings");
  t.true(noJitsi.identity!.users.every((u) => u.meetingRooms === undefined), "no room claim without meetings");
});

test("the meeting page's client: public, its tokens HS256 for Prosody, three hours, and a room claim for hosts only", (t) => {
  const identity = desiredState(exampleAssociation()).identity!;
  const jitsi = identity.clients.find((c) => c.clientId === MEETING_LOGIN.clientId)!;
  const representation = clientRepresentation(jitsi);
  t.like(representation, {
    publicClient: true,
    standardFlowEnabled: true,
    implicitFlowEnabled: false,
    directAccessGrantsEnabled: false,
    redirectUris: ["https://visio.jardins-canal.localhost/static/bastide-login.html"],
    webOrigins: ["https://visio.jardins-canal.localhost"],
  });
  t.like(representation.attributes, { "pkce.code.challenge.method": "S256", "access.token.signed.response.alg": "HS256", "access.token.lifespan": "10800" });
  t.deepEqual(
    clientMappers(jitsi).map((m) => m.config!["claim.name"] ?? m.config!["included.custom.audience"]),
    ["room", "jitsi", "context.user.id", "context.user.name"],
  );
  t.true(clientMappers(jitsi).every((m) => m.config!["id.token.claim"] === "false" && m.config!["userinfo.token.claim"] === "false"), "the claims go in the access token only");
  // The other clients keep their confidential shape and their claims.
  const nextcloud = identity.clients.find((c) => c.clientId === "nextcloud")!;
  t.like(clientRepresentation(nextcloud), { publicClient: false, webOrigins: [] });
  t.is(clientRepresentation(nextcloud).attributes!["access.token.signed.response.alg"], undefined);
  // Hosts are the admin and staff members (examples/association.yaml: claire admin, karim staff).
  t.deepEqual(identity.users.map((u) => [u.username, u.role, u.meetingRooms]), [
    ["claire.dubois", "admin", "*"],
    ["karim.benali", "staff", "*"],
    ["lea.moreau", "volunteer", undefined],
    ["tom.martin", "volunteer", undefined],
  ]);
  t.deepEqual(identity.meetingKey, { name: MEETING_LOGIN.keyName, clientId: MEETING_LOGIN.clientId });
});

test("the meeting key: made when none carries the current secret's name, and the former ones removed", (t) => {
  const desired: DesiredState = { ...desiredState(exampleAssociation()), departures: NO_DEPARTURES };
  const keyChanges = (meetingKey: LiveIdentity["meetingKey"]) =>
    planIdentity(desired, { realm: { realm: "bastide" }, groups: {}, users: {}, clients: {}, ...(meetingKey ? { meetingKey } : {}) })
      .flatMap((c) => (c.kind === "key.delete" ? [`${c.kind} ${c.payload.id}`] : c.kind === "key.create" ? [`${c.kind} ${c.payload.name}`] : []));
  t.deepEqual(keyChanges({ current: false, stale: [] }), [`key.create ${MEETING_LOGIN.keyName}`]);
  t.deepEqual(keyChanges({ current: false, stale: ["k1"] }), [`key.create ${MEETING_LOGIN.keyName}`, "key.delete k1"]);
  t.deepEqual(keyChanges({ current: true, stale: [] }), []);
  t.not(meetingKeyName(MEETING_LOGIN.keyName, "secret-one"), meetingKeyName(MEETING_LOGIN.keyName, "secret-two"));
  t.false(meetingKeyName(MEETING_LOGIN.keyName, "secret-one").includes("secret-one"), "the name carries a fingerprint, not the secret");
});

test("a member who stops hosting loses the room claim; the other attributes are kept", (t) => {
  const [claire] = desiredState(exampleAssociation()).identity!.users;
  const live = { username: "claire.dubois", attributes: { locale: ["fr"], bastide_role: ["admin"], bastide_meeting_rooms: ["*"], other: ["kept"] } };
  t.deepEqual(userRepresentation(claire!, live).attributes, { locale: ["fr"], bastide_role: ["admin"], bastide_meeting_rooms: ["*"], other: ["kept"] });
  const { meetingRooms: _rooms, ...notHosting } = claire!;
  t.deepEqual(userRepresentation({ ...notHosting, role: "volunteer" }, live).attributes, { locale: ["fr"], bastide_role: ["volunteer"], other: ["kept"] });
});

test("the slice Pulumi stores is keyed by username, group and client id, and comes back the same", (t) => {
  const state = desiredState(exampleAssociation());
  const keyed = keyedSlice(state, "identity")!;
  t.deepEqual(Object.keys((keyed.identity as { users: object }).users), ["claire.dubois", "karim.benali", "lea.moreau", "tom.martin"]);
  t.deepEqual(unkeyedSlice(keyed, "identity").identity, state.identity);
});

test("the browser flow's conditions: one matches the roles that require a second factor, the other everyone else", (t) => {
  const steps = browserFlowSteps(["admin", "staff"]);
  t.deepEqual(
    steps.filter((s) => s.config).map((s) => s.config),
    [roleCondition(["admin", "staff"], false), roleCondition(["admin", "staff"], true)],
  );
  t.deepEqual(roleCondition(["admin"], false), { attribute_name: "bastide_role", attribute_expected_value: "^(admin)$", regex: "true", not: "false" });
  t.true(sameSteps(steps, structuredClone(steps)));
  t.false(sameSteps(steps, browserFlowSteps(["admin"])), "another set of roles is another flow");
  t.false(sameSteps(steps, steps.map((s) => (s.step === "auth-otp-form" ? { ...s, requirement: "ALTERNATIVE" as const } : s))));
});

test("the user profile gains the role attribute, admin-only, and lastName is no longer required", (t) => {
  const keycloakDefault = {
    attributes: [
      { name: "username", permissions: { view: ["admin", "user"], edit: ["admin", "user"] } },
      { name: "lastName", required: { roles: ["user"] }, permissions: { view: ["admin", "user"], edit: ["admin", "user"] } },
    ],
  };
  const profile = bastideProfile(keycloakDefault);
  const lastName = profile.attributes!.find((a) => a.name === "lastName")!;
  t.is(lastName.required, undefined);
  t.deepEqual(lastName.permissions, { view: ["admin", "user"], edit: ["admin"] });
  t.deepEqual(profile.attributes!.find((a) => a.name === "bastide_role")!.permissions, { view: ["admin"], edit: ["admin"] });
  t.deepEqual(bastideProfile(profile), profile, "applying it twice changes nothing: the plan finds nothing to do");
});

test("a realm that does not exist yet: everything is planned, realm first, memberships through the creations", (t) => {
  const desired: DesiredState = { ...desiredState(exampleAssociation()), departures: NO_DEPARTURES };
  const live: LiveIdentity = { realm: null, groups: {}, users: {}, clients: {} };
  const plan = planIdentity(desired, live);
  t.is(plan[0]!.kind, "realm.create");
  t.true(plan.every((c, i) => i === 0 || c.phase > plan[0]!.phase));
  const flow = plan.find((c) => c.kind === "flow.create")!;
  const settings = plan.find((c) => c.kind === "realm.update")!;
  t.true(flow.phase < settings.phase, "the flow exists before the realm binds it");
  t.deepEqual(plan.filter((c) => c.kind === "user.create").map((c) => c.member), ["claire.dubois", "karim.benali", "lea.moreau", "tom.martin"]);
  t.deepEqual(plan.filter((c) => c.kind === "group.add"), [], "a new user joins their groups in its creation");
  t.false(JSON.stringify(plan).includes("secret"), "no client secret in the plan");
});
