// The Matrix provisioner, the audit, the data-subject export and erasure and first-password
// against a real Synapse 1.163.2 on PostgreSQL (test/support/synapse.ts), running the
// homeserver.yaml Bastide renders. One server for the file; each test has its own members
// and team rooms (ids prefixed with the test's tag). The tests run one at a time: they
// share the bot, and the association's space, whose members the config decides.
import test from "ava";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readMatrixState } from "../../policies/audit/matrix.ts";
import { matrixTarget } from "../../policies/dsr/cli.ts";
import { safeName } from "../../policies/dsr/model.ts";
import { eraseMember, exportMember } from "../../policies/dsr/request.ts";
import { desiredState, MATRIX_BOT, matrixUserId, type DesiredState } from "../../provisioners/desired.ts";
import { openClients } from "../../provisioners/first-password/connect.ts";
import { checkAccounts, memberAccounts, setFirstPasswords } from "../../provisioners/first-password/passwords.ts";
import { createMatrixClient, matrixProvisioner, type MatrixChange } from "../../provisioners/matrix/index.ts";
import { INVITE_LEVEL } from "../../provisioners/matrix/model.ts";
import { runMatrix, type MatrixState } from "../../provisioners/matrix/runner.ts";
import { converge, ProvisionError } from "../../provisioners/model.ts";
import { CallCounter } from "../../provisioners/runtime/http.ts";
import type { Association } from "../../stacks/config/schema.ts";
import { exampleAssociation } from "../support/association.ts";
import { startSynapse, stopPostgres, type RealSynapse } from "../support/synapse.ts";

let synapse: RealSynapse;
/** A server admin of its own, to look at what the bot did without being the bot. */
let inspector: string;

test.before(async () => {
  synapse = await startSynapse({
    overrides: {
      // Test-only: the suite logs the bot in dozens of times a minute from one address, and
      // Synapse allows 5 logins per account and per address, then one every 5 minutes
      // (synapse/config/ratelimiting.py, rc_login defaults 0.003/s, burst 5).
      rc_login: { address: { per_second: 100, burst_count: 1000 }, account: { per_second: 100, burst_count: 1000 }, failed_attempts: { per_second: 100, burst_count: 1000 } },
    },
  });
  inspector = (await synapse.register("inspector", randomBytes(18).toString("base64url"), { admin: true })).accessToken;
});

test.after.always(async () => {
  await synapse?.stop();
  await stopPostgres();
});

const NO_DEPARTURES = { disable: [], erase: [], enable: [] };

/** The example association with every member and team id prefixed by `tag`; `edit` sees the example's own ids. */
const scoped =
  (tag: string) =>
  (edit: (input: Record<string, any>) => void = () => {}): Association =>
    exampleAssociation((input) => {
      edit(input);
      for (const team of input.teams) team.id = `${tag}-${team.id}`;
      for (const member of input.members) {
        member.id = `${tag}-${member.id}`;
        member.teams = member.teams.map((team: string) => `${tag}-${team}`);
      }
    });

const desiredOf = (config: Association, departures: Partial<DesiredState["departures"]> = {}): DesiredState => ({
  ...desiredState(config),
  departures: { ...NO_DEPARTURES, ...departures },
});

const botClient = (counter?: CallCounter) =>
  createMatrixClient({ baseUrl: synapse.url, registrationSharedSecret: synapse.registrationSharedSecret, serverName: synapse.serverName, ...(counter ? { counter } : {}) });

async function provision(desired: DesiredState, counter = new CallCounter()) {
  const client = botClient(counter);
  try {
    return { ...(await converge(matrixProvisioner, desired, client, { concurrency: 4 })), counter };
  } finally {
    await client.close();
  }
}

const kinds = (changes: MatrixChange[]) => changes.map((c) => `${c.kind} ${c.subject}`).sort();
const enc = encodeURIComponent;
const user = (localpart: string) => matrixUserId(localpart, synapse.serverName);
const alias = (local: string) => `#${local}:${synapse.serverName}`;

async function asInspector(method: string, path: string, body?: unknown): Promise<any> {
  const answer = await synapse.call(inspector, method, path, body);
  if (answer.status !== 200) throw new Error(`${method} ${path}: HTTP ${answer.status} ${JSON.stringify(answer.json)}`);
  return answer.json;
}
const roomIdOf = async (local: string): Promise<string> => (await asInspector("GET", `/_matrix/client/v3/directory/room/${enc(alias(local))}`)).room_id;
async function stateOf(roomId: string): Promise<{ type: string; state_key: string; content: any }[]> {
  return (await asInspector("GET", `/_synapse/admin/v1/rooms/${enc(roomId)}/state`)).state;
}
const content = async (roomId: string, type: string, key = "") => (await stateOf(roomId)).find((e) => e.type === type && e.state_key === key)?.content;
const membership = async (roomId: string, userId: string) => (await content(roomId, "m.room.member", userId))?.membership;

/** Gives a member a password through the admin API and signs them in; returns their token. */
async function signIn(localpart: string): Promise<string> {
  const password = randomBytes(18).toString("base64url");
  await asInspector("PUT", `/_synapse/admin/v2/users/${enc(user(localpart))}`, { password, logout_devices: false });
  return synapse.login(localpart, password);
}
async function joinRoom(token: string, roomId: string): Promise<void> {
  const answer = await synapse.call(token, "POST", `/_matrix/client/v3/join/${enc(roomId)}`, {});
  if (answer.status !== 200) throw new Error(`join ${roomId}: HTTP ${answer.status} ${JSON.stringify(answer.json)}`);
}

test.serial("a first run converges on the real Synapse with Bastide's homeserver.yaml; only the bot may invite; a second run writes nothing", async (t) => {
  const config = scoped("t1")();
  const desired = desiredOf(config);
  const first = await provision(desired);
  t.deepEqual(first.failed.map((f) => f.error.message), []);
  const m = desired.matrix!;
  const spaceId = await roomIdOf(m.space.alias);
  t.is((await content(spaceId, "m.room.create")).type, "m.space");
  for (const room of m.rooms) {
    const roomId = await roomIdOf(room.alias);
    t.is((await content(roomId, "m.room.name")).name, room.name);
    t.is((await content(roomId, "m.room.join_rules")).join_rule, "invite");
    t.deepEqual(await content(roomId, "m.room.retention"), { max_lifetime: m.retentionMs });
    t.is((await content(roomId, "m.room.encryption")).algorithm, "m.megolm.v1.aes-sha2");
    // The private_chat preset alone would give invite 0 (synapse/handlers/room.py, _presets_dict).
    t.is((await content(roomId, "m.room.power_levels")).invite, INVITE_LEVEL, `${room.alias}: only the bot invites`);
    for (const id of room.members) t.is(await membership(roomId, id), "join", `${id} in ${room.alias}, with no invitation to accept`);
    t.deepEqual(await content(spaceId, "m.space.child", roomId).then((c) => c?.via), [synapse.serverName]);
  }
  t.is((await content(spaceId, "m.room.power_levels")).invite, INVITE_LEVEL);
  for (const id of m.space.members) t.is(await membership(spaceId, id), "join", `${id} in the association's space`);
  // As the member sees it: the space and their team rooms are in their list from the first login.
  const lea = m.users.find((u) => u.localpart === "t1-lea.moreau")!;
  const theirs = (await synapse.call(await signIn(lea.localpart), "GET", "/_matrix/client/v3/joined_rooms")).json.joined_rooms as string[];
  const expected = [spaceId, ...(await Promise.all(m.rooms.filter((r) => r.members.includes(lea.id)).map((r) => roomIdOf(r.alias))))];
  t.deepEqual([...theirs].sort(), expected.sort());

  const again = await provision(desired);
  t.deepEqual(kinds(again.planned), []);
  t.is(again.counter.writes("matrix"), 0, "an unchanged run makes no provisioning write");
});

test.serial("item 5: power to invite given back to members (a room made before) is taken back, and whoever they invited is taken out", async (t) => {
  const config = scoped("t5")();
  const desired = desiredOf(config);
  t.deepEqual((await provision(desired)).failed, []);
  const bureau = await roomIdOf("t5-bureau");
  // A room as Bastide made it before: the preset's invite 0.
  const bot = botClient();
  const sdk = await bot.sdk();
  const levels = await sdk.getStateEvent(bureau, "m.room.power_levels", "");
  await sdk.sendStateEvent(bureau, "m.room.power_levels" as never, { ...levels, invite: 0 } as never, "");
  await bot.close();

  const karim = await signIn("t5-karim.benali");
  await joinRoom(karim, bureau);
  await synapse.register("t5-outsider", randomBytes(18).toString("base64url"));
  const invited = await synapse.call(karim, "POST", `/_matrix/client/v3/rooms/${enc(bureau)}/invite`, { user_id: user("t5-outsider") });
  t.is(invited.status, 200, "with invite 0, a member brings in whom they like");

  const fixed = await provision(desired);
  t.deepEqual(fixed.failed, []);
  t.deepEqual(kinds(fixed.applied), [`room.kick t5-outsider out of ${alias("t5-bureau")}`, `room.power room ${alias("t5-bureau")}`]);
  t.is((await content(bureau, "m.room.power_levels")).invite, INVITE_LEVEL);
  t.is(await membership(bureau, user("t5-outsider")), "leave", "the invitation is revoked");
  const refused = await synapse.call(karim, "POST", `/_matrix/client/v3/rooms/${enc(bureau)}/invite`, { user_id: user("t5-outsider") });
  t.is(refused.status, 403, "members can no longer invite");
  t.is(await membership(bureau, user("t5-karim.benali")), "join", "the team's own member stays");

  const again = await provision(desired);
  t.deepEqual(kinds(again.planned), []);
  t.is(again.counter.writes("matrix"), 0);
});

/** Leaves `userId` with a pending invitation to `roomId`, as the invitations of earlier releases were. */
async function pendingInvitation(roomId: string, userId: string): Promise<void> {
  const bot = botClient();
  try {
    const sdk = await bot.sdk();
    await sdk.kick(roomId, userId, "test: back to an invitation");
    await sdk.invite(roomId, userId);
  } finally {
    await bot.close();
  }
}

test.serial("item 4: a member taken out of a team leaves its room, joined or only invited; the re-run is silent", async (t) => {
  const team = scoped("t4");
  const before = desiredOf(team());
  t.deepEqual((await provision(before)).failed, []);
  const potager = await roomIdOf("t4-potager");
  t.is(await membership(potager, user("t4-tom.martin")), "join");
  await pendingInvitation(potager, user("t4-lea.moreau"));
  t.is(await membership(potager, user("t4-lea.moreau")), "invite");

  // Tom keeps evenements only; Léa leaves potager for evenements.
  const after = desiredOf(
    team((input) => {
      const of = (id: string) => input.members.find((m: { id: string }) => m.id === id);
      of("tom.martin").teams = ["evenements"];
      of("lea.moreau").teams = ["evenements"];
    }),
  );
  const moved = await provision(after);
  t.deepEqual(moved.failed, []);
  t.deepEqual(kinds(moved.applied), [
    `room.join t4-lea.moreau → ${alias("t4-evenements")}`,
    `room.kick t4-lea.moreau out of ${alias("t4-potager")}`,
    `room.kick t4-tom.martin out of ${alias("t4-potager")}`,
  ]);
  t.is(await membership(potager, user("t4-tom.martin")), "leave");
  t.is(await membership(potager, user("t4-lea.moreau")), "leave", "a pending invite is revoked");
  t.is(await membership(await roomIdOf("t4-evenements"), user("t4-tom.martin")), "join", "still in the team he kept");
  t.is(await membership(await roomIdOf("t4-evenements"), user("t4-lea.moreau")), "join", "in her new team's room at once");

  const again = await provision(after);
  t.deepEqual(kinds(again.planned), []);
  t.is(again.counter.writes("matrix"), 0);
});

test.serial("a pending invitation (left by an earlier release) is completed: the admin join on an invited member; the re-run is silent", async (t) => {
  const desired = desiredOf(scoped("tj")());
  t.deepEqual((await provision(desired)).failed, []);
  const potager = await roomIdOf("tj-potager");
  await pendingInvitation(potager, user("tj-tom.martin"));
  t.is(await membership(potager, user("tj-tom.martin")), "invite");
  const completed = await provision(desired);
  t.deepEqual(completed.failed.map((f) => f.error.message), []);
  t.deepEqual(kinds(completed.applied), [`room.join tj-tom.martin → ${alias("tj-potager")}`]);
  t.is(await membership(potager, user("tj-tom.martin")), "join");
  const again = await provision(desired);
  t.deepEqual(kinds(again.planned), []);
  t.is(again.counter.writes("matrix"), 0);
});

test.serial("item 6: a member added back after their account was erased is refused by name before anything is written", async (t) => {
  const team = scoped("t6");
  const withoutTom = team((input) => {
    input.members = input.members.filter((m: { id: string }) => m.id !== "tom.martin");
  });
  t.deepEqual((await provision(desiredOf(team()))).failed, []);
  t.deepEqual(kinds((await provision(desiredOf(withoutTom, { disable: ["t6-tom.martin"] }))).applied), ["user.disable user t6-tom.martin"]);
  t.deepEqual(kinds((await provision(desiredOf(withoutTom, { erase: ["t6-tom.martin"] }))).applied), ["user.erase user t6-tom.martin"]);
  t.true((await asInspector("GET", `/_synapse/admin/v2/users/${enc(user("t6-tom.martin"))}`)).erased, "Synapse reports the erasure");

  // Back in the config: the departures ledger forgot him once erased, so nothing says "enable".
  const counter = new CallCounter();
  const error = await t.throwsAsync(provision(desiredOf(team()), counter), { instanceOf: ProvisionError });
  t.is(error!.member, "t6-tom.martin");
  t.regex(error!.message, /@t6-tom\.martin:\S+ was erased .* new id in the config file \(members\[\]\.id\)/);
  t.is(counter.writes("matrix"), 0, "nothing was written");
  t.true((await asInspector("GET", `/_synapse/admin/v2/users/${enc(user("t6-tom.martin"))}`)).deactivated, "and the erased account stays as it was");
});

test.serial("item 7: a team room left stillborn (made by the bot, nobody in it) is replaced, and the next run is silent", async (t) => {
  const config = scoped("t7")();
  const desired = desiredOf(config);
  // What a creation cut short leaves: the room and its alias, and nobody in it.
  const bot = botClient();
  const sdk = await bot.sdk();
  const { room_id: stillborn } = await sdk.createRoom({ room_alias_name: "t7-potager", preset: "private_chat" as never, name: "half made" });
  await sdk.leave(stillborn);
  await bot.close();
  t.is((await asInspector("GET", `/_synapse/admin/v1/rooms/${enc(stillborn)}`)).joined_members, 0);

  const run = await provision(desired);
  t.deepEqual(run.failed.map((f) => f.error.message), []);
  const potager = await roomIdOf("t7-potager");
  t.not(potager, stillborn, "the alias points to a new room");
  t.is((await content(potager, "m.room.name")).name, "Équipe potager");
  t.is(await membership(potager, user(MATRIX_BOT)), "join");
  const gone = await synapse.call(inspector, "GET", `/_synapse/admin/v1/rooms/${enc(stillborn)}`);
  t.is(gone.status, 404, "the stillborn room was deleted");

  const again = await provision(desired);
  t.deepEqual(kinds(again.planned), []);
});

test.serial("item 3: the audit, a data-subject export and first-password between two runs leave the provisioner's session alone", async (t) => {
  const config = scoped("t3")();
  const desired = desiredOf(config);
  const connection = { endpoint: { url: synapse.url }, registrationSharedSecret: synapse.registrationSharedSecret };
  const first = await runMatrix({ service: "matrix", desired, connection, concurrency: 4 });
  t.deepEqual(first.failed, []);
  const kept = first.state as MatrixState;

  // The audit, as `npm run audit` reads Synapse.
  const audit = await readMatrixState({ baseUrl: synapse.url, serverName: synapse.serverName, registrationSharedSecret: synapse.registrationSharedSecret }, ["t3-bureau"]);
  t.truthy(audit.rooms["t3-bureau"]);
  // A data-subject export, as `npm run export-member` makes it, then closes its session.
  const target = matrixTarget({ baseUrl: synapse.url, serverName: synapse.serverName, registrationSharedSecret: synapse.registrationSharedSecret });
  const out = mkdtempSync(join(tmpdir(), "bastide-dsr-"));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  await exportMember({ config, member: "t3-lea.moreau", targets: { matrix: target }, out, secrets: [synapse.registrationSharedSecret] });
  await target.client.close();
  // first-password, as the command opens and closes its clients.
  const accounts = memberAccounts(config, desired, "t3-karim.benali", ["matrix"]);
  const clients = await openClients(config, accounts, { matrix: { registrationSharedSecret: synapse.registrationSharedSecret } }, { env: { BASTIDE_MATRIX_URL: synapse.url } });
  await checkAccounts(accounts, clients);
  t.deepEqual((await setFirstPasswords(accounts, clients)).failed, []);
  await clients.matrix!.close();

  const counter = new CallCounter();
  const second = await runMatrix({ service: "matrix", desired, connection, concurrency: 4, previousState: kept, counter });
  t.deepEqual(second.planned, []);
  t.deepEqual(
    counter.calls.filter((c) => c.method !== "GET").map((c) => `${c.method} ${c.path}`),
    [],
    "the kept session still works: no login, no write at all",
  );
  t.deepEqual(second.state, kept);

  // A new member: every join goes through on the kept session.
  const grown = desiredOf(
    scoped("t3")((input) => {
      input.members.push({ id: "nina.roux", name: "Nina Roux", email: "nina.roux@jardins-canal.localhost", role: "volunteer", teams: ["bureau", "potager"] });
    }),
  );
  const third = await runMatrix({ service: "matrix", desired: grown, connection, concurrency: 4, previousState: kept, counter: new CallCounter() });
  t.deepEqual(third.failed.map((f) => f.error.message), []);
  t.deepEqual(
    third.applied.filter((c) => c.kind === "room.join").map((c) => c.subject).sort(),
    [`t3-nina.roux → ${alias("association")}`, `t3-nina.roux → ${alias("t3-bureau")}`, `t3-nina.roux → ${alias("t3-potager")}`],
  );
  t.deepEqual(third.state, kept, "still the same session");
});

test.serial("item 2: the export has the member's messages and the bytes of their media (authenticated media); erasure deactivates and deletes them", async (t) => {
  const config = scoped("t2")();
  const desired = desiredOf(config);
  t.deepEqual((await provision(desired)).failed, []);
  const member = "t2-karim.benali";
  const token = await signIn(member);
  const evenements = await roomIdOf("t2-evenements");
  const sent = await synapse.call(token, "PUT", `/_matrix/client/v3/rooms/${enc(evenements)}/send/m.room.message/t2-1`, { msgtype: "m.text", body: "Rendez-vous samedi au potager" });
  t.is(sent.status, 200);
  const bytes = randomBytes(3000);
  const upload = await fetch(`${synapse.url}/_matrix/media/v3/upload?filename=plan.bin`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/octet-stream" },
    body: bytes,
  });
  t.is(upload.status, 200);
  const mediaId = String(((await upload.json()) as { content_uri: string }).content_uri).split("/").pop()!;
  // What the old export fetched: refused by Synapse's authenticated media.
  t.is((await fetch(`${synapse.url}/_matrix/media/r0/download/${synapse.serverName}/${mediaId}`)).status, 404);

  const target = matrixTarget({ baseUrl: synapse.url, serverName: synapse.serverName, registrationSharedSecret: synapse.registrationSharedSecret });
  const out = mkdtempSync(join(tmpdir(), "bastide-dsr-"));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  try {
    const { record, folder } = await exportMember({ config, member, targets: { matrix: target }, out, secrets: [synapse.registrationSharedSecret] });
    const step = (part: string) => record.steps.find((s) => s.service === "matrix" && s.part === part);
    t.is(step("messages")?.outcome, "done", JSON.stringify(step("messages")));
    // Their join and their message: every event they sent.
    const messages = JSON.parse(readFileSync(join(folder!, `matrix/messages/${safeName(evenements)}.json`), "utf8"));
    t.deepEqual(messages.events.map((e: { type: string }) => e.type), ["m.room.member", "m.room.message"]);
    t.true(messages.events.every((e: { sender: string }) => e.sender === user(member)));
    t.is(messages.events[1].content.body, "Rendez-vous samedi au potager");
    // Every event they sent: their join in the space and in each of their team rooms (made by
    // the provisioner on their behalf), and the message.
    const teams = config.members.find((m) => m.id === member)!.teams.length;
    t.is(step("messages")?.count, 1 + teams + 1);
    t.is(step("media")?.outcome, "done", JSON.stringify(step("media")));
    t.deepEqual(readFileSync(join(folder!, `matrix/media/${mediaId}`)), bytes, "the media's bytes, exactly");
    // Only Matrix is reached here; its part is whole.
    const matrixFailures = (steps: typeof record.steps) => steps.filter((s) => s.service === "matrix" && s.outcome === "failed");
    t.deepEqual(matrixFailures(record.steps), []);

    const erased = await eraseMember({ config, member, targets: { matrix: target }, out, secrets: [synapse.registrationSharedSecret], confirm: true, force: true, concurrency: 2 });
    t.deepEqual(matrixFailures(erased.record.steps), []);
    const account = await asInspector("GET", `/_synapse/admin/v2/users/${enc(user(member))}`);
    t.true(account.deactivated && account.erased);
    t.is((await asInspector("GET", `/_synapse/admin/v1/users/${enc(user(member))}/media`)).total, 0, "their media are deleted");
  } finally {
    await target.client.close();
  }
});

test.serial("a new display name or retention period is the only write; a retention changed by hand is put back in that room only", async (t) => {
  const team = scoped("t8");
  t.deepEqual((await provision(desiredOf(team()))).failed, []);
  const renamed = team((input) => {
    input.members[0].name = "Claire Dubois-Martin";
  });
  const first = await provision(desiredOf(renamed));
  t.deepEqual(kinds(first.applied), ["user.update user t8-claire.dubois"]);
  t.is((await asInspector("GET", `/_synapse/admin/v2/users/${enc(user("t8-claire.dubois"))}`)).displayname, "Claire Dubois-Martin");

  const shorter = team((input) => {
    input.members[0].name = "Claire Dubois-Martin";
    input.services.matrix.retention = { messagesDays: 30 };
  });
  const second = await provision(desiredOf(shorter));
  t.deepEqual(second.applied.map((c) => c.kind), ["room.retention", "room.retention", "room.retention", "room.retention"], "the space and three rooms");
  for (const local of ["association", "t8-bureau", "t8-potager", "t8-evenements"]) t.deepEqual(await content(await roomIdOf(local), "m.room.retention"), { max_lifetime: 30 * 86_400_000 });

  const bureau = await roomIdOf("t8-bureau");
  const bot = botClient();
  await (await bot.sdk()).sendStateEvent(bureau, "m.room.retention" as never, { max_lifetime: 86_400_000 } as never, "");
  await bot.close();
  const third = await provision(desiredOf(shorter));
  t.deepEqual(kinds(third.applied), [`room.retention room ${alias("t8-bureau")}`]);
  t.deepEqual(await content(bureau, "m.room.retention"), { max_lifetime: 30 * 86_400_000 });
});

test.serial("a team alias already taken by a room the bot is not in is reported, not worked around", async (t) => {
  const squatter = await synapse.register("t9-squatter", randomBytes(18).toString("base64url"));
  const made = await synapse.call(squatter.accessToken, "POST", "/_matrix/client/v3/createRoom", { preset: "private_chat", room_alias_name: "t9-bureau" });
  t.is(made.status, 200);
  const counter = new CallCounter();
  const error = await t.throwsAsync(provision(desiredOf(scoped("t9")()), counter), { instanceOf: ProvisionError });
  t.regex(error!.message, /^matrix: reading #t9-bureau:\S+: M_FORBIDDEN: .* \(is @bastide:\S+ a member of !\S+\?\)$/);
  t.is(counter.writes("matrix"), 0, "nothing created on a guess");
  t.is(await roomIdOf("t9-bureau"), made.json.room_id, "the squatter's room is left alone");
});

test.serial("the bot cannot act with a wrong shared secret, and the error shows no secret", async (t) => {
  // The bot exists (made with the right secret); a wrong secret derives a wrong password.
  const bot = botClient();
  await bot.sdk();
  await bot.close();
  const wrong = "aDifferentSecret0002";
  const counter = new CallCounter();
  const client = createMatrixClient({ baseUrl: synapse.url, registrationSharedSecret: wrong, serverName: synapse.serverName, counter });
  const error = await t.throwsAsync(converge(matrixProvisioner, desiredOf(scoped("t10")()), client, { concurrency: 2 }), { instanceOf: ProvisionError });
  // The derived password is refused, then so is the registration's MAC: the secret is named as the cause.
  t.regex(error!.message, /Synapse refused the registration shared secret \(HMAC incorrect\)/);
  t.false(error!.message.includes(wrong));
  t.is(counter.writes("matrix"), 0);
});
