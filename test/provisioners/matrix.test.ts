// The Matrix provisioner: its pure plan, then whole runs against the Synapse fake
// (test/fakes/synapse.ts, checked against the project's recordings of Synapse 1.163.2 by
// test/contracts/synapse.test.ts), for what needs injected faults or the fake's insides.
// Runs against the real Synapse are in matrix-synapse.test.ts.
import test, { type ExecutionContext } from "ava";
import { desiredState, matrixUserId, MATRIX_BOT, type DesiredState } from "../../provisioners/desired.ts";
import { botPassword, BOT_DEVICE_ID, createMatrixClient, ENCRYPTION_ALGORITHM, matrixProvisioner, PHASES, type LiveMatrix, type MatrixChange } from "../../provisioners/matrix/index.ts";
import { INVITE_LEVEL, UNLIMITED } from "../../provisioners/matrix/model.ts";
import { planMatrix } from "../../provisioners/matrix/plan.ts";
import { runMatrix } from "../../provisioners/matrix/runner.ts";
import { converge, ProvisionError } from "../../provisioners/model.ts";
import { CallCounter, type RetryPolicy } from "../../provisioners/runtime/http.ts";
import type { FakeRequest } from "../fakes/fake-server.ts";
import { createFakeSynapse, type FakeSynapse } from "../fakes/synapse.ts";
import { exampleAssociation } from "../support/association.ts";

const SECRET = "fakeRegistrationSecret0001";
const NO_DEPARTURES = { disable: [], erase: [], enable: [] };
const desiredFor = (edit?: (input: Record<string, any>) => void, departures: Partial<DesiredState["departures"]> = {}): DesiredState => ({
  ...desiredState(exampleAssociation(edit)),
  departures: { ...NO_DEPARTURES, ...departures },
});
const BASE = desiredFor();
const MATRIX = BASE.matrix!;
const SERVER = MATRIX.serverName;
const alias = (local: string) => `#${local}:${SERVER}`;
const user = (local: string) => matrixUserId(local, SERVER);
const withoutTom = (input: Record<string, any>) => {
  input.members = input.members.filter((m: { id: string }) => m.id !== "tom.martin");
};

// --- the plan, pure -----------------------------------------------------------------

/** What Synapse holds once a run converged: the plan must find nothing to do. */
function convergedLive(desired: DesiredState): LiveMatrix {
  const m = desired.matrix!;
  const spaceId = `!space:${m.serverName}`;
  const roomId = (a: string) => `!${a}:${m.serverName}`;
  const members = (ids: string[]) => Object.fromEntries(ids.map((id) => [id, "join"]));
  return {
    users: Object.fromEntries(m.users.map((u) => [u.id, { id: u.id, displayName: u.displayName, deactivated: false, erased: false }])),
    rooms: {
      [m.space.alias]: {
        alias: `#${m.space.alias}:${m.serverName}`,
        roomId: spaceId,
        name: m.space.name,
        retention: { max_lifetime: m.retentionMs },
        encryption: undefined,
        members: members(m.space.members),
        children: m.rooms.map((r) => roomId(r.alias)),
        parents: [],
        powerLevels: { invite: INVITE_LEVEL, events_default: 100 },
      },
      ...Object.fromEntries(
        m.rooms.map((r) => [
          r.alias,
          {
            alias: `#${r.alias}:${m.serverName}`,
            roomId: roomId(r.alias),
            name: r.name,
            retention: { max_lifetime: m.retentionMs },
            encryption: ENCRYPTION_ALGORITHM,
            members: members(r.members),
            children: [],
            parents: [spaceId],
            powerLevels: { invite: INVITE_LEVEL, kick: 50 },
          },
        ]),
      ),
    },
    botRatelimit: { ...UNLIMITED },
  };
}

const emptyLive = (): LiveMatrix => ({ users: {}, rooms: Object.fromEntries([MATRIX.space.alias, ...MATRIX.rooms.map((r) => r.alias)].map((a) => [a, null])) });
const kinds = (changes: MatrixChange[]) => changes.map((c) => `${c.kind} ${c.subject}`);

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

test("plan: an empty server gets the accounts, the space, the rooms, their links and the members put in them, phase by phase", (t) => {
  const changes = planMatrix(deepFreeze(BASE), deepFreeze(emptyLive()));
  const of = (kind: string) => changes.filter((c) => c.kind === kind);
  t.deepEqual(of("user.create").map((c) => c.member), ["claire.dubois", "karim.benali", "lea.moreau", "tom.martin"]);
  t.deepEqual(
    of("room.create").map((c) => [c.payload, c.phase]),
    [
      [{ alias: alias("association"), localAlias: "association", name: MATRIX.space.name, kind: "space", retention: { max_lifetime: MATRIX.retentionMs } }, PHASES.rooms],
      ...MATRIX.rooms.map((r) => [{ alias: alias(r.alias), localAlias: r.alias, name: r.name, kind: "room", retention: { max_lifetime: MATRIX.retentionMs } }, PHASES.rooms]),
    ],
  );
  t.deepEqual(
    of("bot.unlimit").map((c) => [(c.payload as { userId: string }).userId, c.phase]),
    [[MATRIX.bot, PHASES.bot]],
    "the bot's rate limits are lifted before anything else: a real Synapse allows ~0.3 invites a second per room",
  );
  t.true(PHASES.bot < PHASES.invites);
  t.is(of("space.child").length, 3);
  t.is(of("space.parent").length, 3);
  const invites = of("room.join").map((c) => c.subject);
  t.is(invites.length, 4 + 2 + 2 + 2, "everyone in the space, team members in their rooms");
  t.true(invites.includes(`lea.moreau → ${alias("potager")}`));
  t.false(invites.includes(`lea.moreau → ${alias("bureau")}`));
  t.true(of("room.join").every((c) => c.phase === PHASES.invites && c.member !== undefined));
  t.true(of("user.create").every((c) => c.phase < PHASES.rooms), "accounts exist before they are put in rooms");
  t.deepEqual(of("room.retention"), [], "retention comes with the room (initial_state)");
  t.deepEqual(planMatrix(BASE, emptyLive()), changes, "the same inputs, the same plan");
});

test("plan: every write into a room has that room as its lane, so writes into one room go one after another; accounts have none", (t) => {
  const changes = planMatrix(BASE, emptyLive());
  const laneOf = (kind: string) => changes.filter((c) => c.kind === kind).map((c) => [c.lane, c.payload]);
  const invites = changes.filter((c) => c.kind === "room.join") as Extract<MatrixChange, { kind: "room.join" }>[];
  t.true(invites.length > 0);
  for (const invite of invites) t.is(invite.lane, invite.payload.alias, invite.subject);
  t.is(new Set(invites.filter((c) => c.payload.alias === alias("association")).map((c) => c.lane)).size, 1, "the space's invites share one lane");
  for (const [lane, payload] of laneOf("room.create")) t.is(lane, (payload as { alias: string }).alias);
  for (const [lane] of laneOf("space.child")) t.is(lane, alias("association"), "m.space.child is written into the space");
  for (const [lane, payload] of laneOf("space.parent")) t.is(lane, (payload as { room: string }).room, "m.space.parent is written into the room");
  t.true(changes.filter((c) => c.kind.startsWith("user.") || c.kind === "bot.unlimit").every((c) => c.lane === undefined));
});

test("plan: kicks and room state of an existing room are in that room's lane", (t) => {
  const live = convergedLive(BASE);
  const bureau = live.rooms["bureau"]!;
  bureau.name = "Ancien nom";
  bureau.members[user("intrus")] = "join";
  const changes = planMatrix(BASE, live);
  t.deepEqual(changes.map((c) => [c.kind, c.lane]).sort(), [["room.kick", alias("bureau")], ["room.name", alias("bureau")]]);
});

test("plan: nothing to do once Synapse matches the config", (t) => {
  t.deepEqual(planMatrix(BASE, convergedLive(BASE)), []);
  t.deepEqual(planMatrix({ ...BASE, matrix: undefined }, emptyLive()), [], "Matrix switched off");
});

test("plan: only what differs", (t) => {
  const live = convergedLive(BASE);
  live.users[user("lea.moreau")]!.displayName = "Lea";
  live.rooms.bureau!.retention = { max_lifetime: 1000 };
  live.rooms.potager!.retention = undefined;
  live.rooms.potager!.encryption = undefined;
  live.rooms.evenements!.name = "Events";
  delete live.rooms.evenements!.members[user("karim.benali")];
  live.rooms.potager!.members[user("tom.martin")] = "leave";
  live.rooms.potager!.members[user("lea.moreau")] = "ban";
  live.rooms.association!.children = live.rooms.association!.children.slice(1);
  live.rooms.bureau!.parents = [];
  t.deepEqual(kinds(planMatrix(BASE, live)).sort(), [
    `room.encryption room ${alias("potager")}`,
    `room.join karim.benali → ${alias("evenements")}`,
    `room.join tom.martin → ${alias("potager")}`,
    `room.name room ${alias("evenements")}`,
    `room.retention room ${alias("bureau")}`,
    `room.retention room ${alias("potager")}`,
    `space.child ${alias("bureau")} in ${alias("association")}`,
    `space.parent ${alias("association")} as parent of ${alias("bureau")}`,
    "user.update user lea.moreau",
  ]);
});

test("plan: a member left with a pending invitation (an earlier release, a join cut short) is put in the room", (t) => {
  const live = convergedLive(BASE);
  live.rooms.potager!.members[user("lea.moreau")] = "invite";
  t.deepEqual(kinds(planMatrix(BASE, live)), [`room.join lea.moreau → ${alias("potager")}`]);
});

test("plan: departures disable, erase and enable accounts, once", (t) => {
  const live = convergedLive(BASE);
  live.users[user("zoe")] = { id: user("zoe"), displayName: "Zoé", deactivated: false, erased: false };
  live.users[user("yann")] = { id: user("yann"), displayName: "Yann", deactivated: true, erased: false };
  live.users[user("xavier")] = { id: user("xavier"), displayName: null, deactivated: true, erased: true };
  live.users[user("tom.martin")]!.deactivated = true;
  for (const room of ["association", "potager", "evenements"]) live.rooms[room]!.members[user("tom.martin")] = "leave";
  const desired = { ...BASE, departures: { disable: ["zoe", "yann", "nobody"], erase: ["yann", "xavier", "nobody"], enable: ["tom.martin"] } };
  t.deepEqual(kinds(planMatrix(desired, live)).sort(), [
    `room.join tom.martin → ${alias("association")}`,
    `room.join tom.martin → ${alias("evenements")}`,
    `room.join tom.martin → ${alias("potager")}`,
    "user.disable user zoe",
    "user.enable user tom.martin",
    "user.erase user yann",
  ]);

  const byHand = { ...BASE, departures: NO_DEPARTURES };
  t.deepEqual(planMatrix(byHand, live), [], "an account an admin deactivated by hand is left alone, and not invited");
});

test("plan: whoever the config does not put in a room is taken out; the bot and departing accounts are left alone", (t) => {
  const live = convergedLive(BASE);
  live.rooms.potager!.members[user("karim.benali")] = "join";
  live.rooms.potager!.members[user("outsider")] = "invite";
  live.rooms.potager!.members[user(MATRIX_BOT)] = "join";
  live.rooms.potager!.members[user("gone")] = "leave";
  live.rooms.association!.members[user("outsider")] = "join";
  live.rooms.bureau!.members[user("zoe")] = "join";
  t.deepEqual(kinds(planMatrix({ ...BASE, departures: { ...NO_DEPARTURES, disable: ["zoe"] } }, live)).sort(), [
    `room.kick karim.benali out of ${alias("potager")}`,
    `room.kick outsider out of ${alias("association")}`,
    `room.kick outsider out of ${alias("potager")}`,
  ]);
});

test("plan: a room where members may invite gets invite back to the bot's level, the rest of its power levels kept", (t) => {
  const live = convergedLive(BASE);
  live.rooms.bureau!.powerLevels = { invite: 0, kick: 50, users: {} };
  live.rooms.association!.powerLevels = { events_default: 100 };
  const changes = planMatrix(BASE, live).filter((c) => c.kind === "room.power");
  t.deepEqual(
    changes.map((c) => [c.subject, c.payload, c.phase]),
    [
      [`space ${alias("association")}`, { alias: alias("association"), content: { events_default: 100, invite: INVITE_LEVEL } }, PHASES.roomState],
      [`room ${alias("bureau")}`, { alias: alias("bureau"), content: { invite: INVITE_LEVEL, kick: 50, users: {} } }, PHASES.roomState],
    ],
  );
});

test("plan: a member in the config whose account was erased is refused by name; a stillborn room is replaced", (t) => {
  const live = convergedLive(BASE);
  live.users[user("lea.moreau")] = { id: user("lea.moreau"), displayName: null, deactivated: true, erased: true };
  const error = t.throws(() => planMatrix(BASE, live), { instanceOf: ProvisionError });
  t.is(error!.member, "lea.moreau");
  t.regex(error!.message, /erased .* new id in the config file \(members\[\]\.id\)/);

  const half = convergedLive(BASE);
  half.rooms.potager = null;
  half.stillborn = { potager: "!stillborn:x" };
  const create = planMatrix(BASE, half).find((c) => c.kind === "room.create");
  t.is((create?.payload as { replaces?: string }).replaces, "!stillborn:x");
});

// --- runs against the fake ---------------------------------------------------------

const SESSION_PATHS = new Set(["/_matrix/client/v3/login", "/_matrix/client/v3/logout", "/_synapse/admin/v1/register"]);
const isRead = (method: string) => method === "GET";
const provisioningWrites = (fake: FakeSynapse) => fake.server.log.filter((l) => !isRead(l.method) && !SESSION_PATHS.has(l.path.split("?")[0]!));
const sessionWrites = (fake: FakeSynapse) => fake.server.log.filter((l) => !isRead(l.method) && SESSION_PATHS.has(l.path.split("?")[0]!));
const FAST_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 1, maxDelayMs: 20 };

async function startFake(t: ExecutionContext, secret = SECRET): Promise<FakeSynapse> {
  // These runs log in and out each time (the runner keeps its session between `pulumi up`s):
  // more logins than Synapse's rc_login.address allows in a minute (5), so the limit is raised.
  const fake = await createFakeSynapse({ serverName: SERVER, registrationSharedSecret: secret, loginsPerAddress: { perSecond: 1, burst: 100 } });
  t.teardown(() => fake.server.stop());
  return fake;
}

interface RunOptions {
  secret?: string;
  counter?: CallCounter;
  sleeps?: number[];
  timeoutMs?: number;
  retry?: RetryPolicy;
  /** Leave the session open, as a killed run would. */
  killed?: boolean;
}

async function provision(fake: FakeSynapse, desired: DesiredState, options: RunOptions = {}) {
  const client = createMatrixClient({
    baseUrl: fake.url,
    registrationSharedSecret: options.secret ?? SECRET,
    serverName: SERVER,
    counter: options.counter,
    timeoutMs: options.timeoutMs ?? 5_000,
    retry: options.retry ?? FAST_RETRY,
    sleep: async (ms) => void options.sleeps?.push(ms),
  });
  try {
    return await converge(matrixProvisioner, desired, client, { concurrency: 4 });
  } finally {
    if (!options.killed) await client.close();
  }
}

/** Everything a converged run leaves on the server, checked from the fake's own state. */
function assertConverged(t: ExecutionContext, fake: FakeSynapse, desired: DesiredState) {
  const m = desired.matrix!;
  for (const u of m.users) {
    const account = fake.user(u.id);
    t.truthy(account, u.id);
    t.is(account?.displayname, u.displayName);
    t.false(account?.deactivated, `${u.id} active`);
  }
  const spaceId = fake.roomIdFor(alias(m.space.alias))!;
  t.truthy(spaceId, "the space exists");
  t.is(fake.stateContent(spaceId, "m.room.create")?.type, "m.space");
  t.deepEqual(fake.stateContent(spaceId, "m.room.retention"), { max_lifetime: m.retentionMs });
  for (const id of m.space.members) t.is(fake.membership(spaceId, id), "join", `${id} in the space, no invitation to accept`);
  for (const r of m.rooms) {
    const roomId = fake.roomIdFor(alias(r.alias))!;
    t.truthy(roomId, r.alias);
    t.is(fake.stateContent(roomId, "m.room.name")?.name, r.name);
    t.deepEqual(fake.stateContent(roomId, "m.room.encryption"), { algorithm: ENCRYPTION_ALGORITHM });
    t.deepEqual(fake.stateContent(roomId, "m.room.retention"), { max_lifetime: m.retentionMs });
    t.is(fake.stateContent(roomId, "m.room.join_rules")?.join_rule, "invite");
    t.deepEqual(fake.stateContent(spaceId, "m.space.child", roomId)?.via, [SERVER]);
    t.deepEqual(fake.stateContent(roomId, "m.space.parent", spaceId)?.via, [SERVER]);
    t.deepEqual(fake.members(roomId, "invite"), [], `nobody left with an invitation to accept in ${r.alias}`);
    const joined = fake.members(roomId, "join").filter((id) => id !== user(MATRIX_BOT)).sort();
    t.deepEqual(joined, [...r.members].sort(), `members of ${r.alias}`);
  }
  t.is(fake.rooms.size, 1 + m.rooms.length, "one room per alias, no duplicates");
}

test("a first run creates the bot, accounts without password, the space and encrypted rooms with retention", async (t) => {
  const fake = await startFake(t);
  const counter = new CallCounter();
  const result = await provision(fake, BASE, { counter });
  t.deepEqual(result.failed, []);
  assertConverged(t, fake, BASE);

  const bot = fake.user(user(MATRIX_BOT))!;
  t.true(bot.admin, "the bot is a server admin");
  t.deepEqual(fake.ratelimitOverrides.get(bot.id), { messages_per_second: 0, burst_count: 0 }, "the bot is not rate-limited");
  for (const u of MATRIX.users) t.is(fake.user(u.id)!.passwordHash, null, `${u.localpart} gets no password from Bastide`);
  t.deepEqual(fake.tokensOf(bot.id), [], "the session was logged out");
  t.true(
    counter.calls.some((c) => c.service === "matrix" && c.method === "POST" && c.path === "/_matrix/client/v3/createRoom"),
    "matrix-js-sdk's requests go through HttpClient and are counted",
  );
  t.is(counter.writes("matrix"), provisioningWrites(fake).length, "every provisioning write is counted");
});

test("a second run with the same config writes nothing, and logs the bot in without any stored password", async (t) => {
  const fake = await startFake(t);
  await provision(fake, BASE);
  fake.server.resetLog();
  const counter = new CallCounter();
  const again = await provision(fake, BASE, { counter });
  t.deepEqual(again.planned, []);
  t.deepEqual(provisioningWrites(fake), []);
  t.is(counter.writes("matrix"), 0);
  t.deepEqual(
    sessionWrites(fake).map((l) => `${l.method} ${l.path}`),
    ["POST /_matrix/client/v3/login", "POST /_matrix/client/v3/logout"],
    "only the bot's own session, with the password derived from the shared secret",
  );
  t.true(counter.reads("matrix") > 0);

  // Through the runner, as `pulumi up` runs it.
  fake.server.resetLog();
  const viaRunner = await runMatrix({
    service: "matrix",
    desired: BASE,
    connection: { endpoint: { url: fake.url }, registrationSharedSecret: SECRET },
    concurrency: 4,
  });
  t.deepEqual(viaRunner.planned, []);
  t.deepEqual(provisioningWrites(fake), []);
  const kept = viaRunner.state as { accessToken: string };
  t.truthy(kept.accessToken, "the runner keeps its session for the next run");
  t.deepEqual(fake.tokensOf(user(MATRIX_BOT)), [kept.accessToken]);

  // The next unchanged run checks the kept token with whoami and writes nothing at all.
  fake.server.resetLog();
  const next = await runMatrix({
    service: "matrix",
    desired: BASE,
    connection: { endpoint: { url: fake.url }, registrationSharedSecret: SECRET },
    concurrency: 4,
    previousState: kept,
  });
  t.deepEqual(next.planned, []);
  t.is(fake.server.writes(), 0, "no login, no logout, no provisioning write");
  t.deepEqual(next.state, kept);

  // A token that no longer works (logged out by hand) means a fresh login, not a failure.
  const stale = await runMatrix({
    service: "matrix",
    desired: BASE,
    connection: { endpoint: { url: fake.url }, registrationSharedSecret: SECRET },
    concurrency: 4,
    previousState: { accessToken: "not-a-token-any-more" },
  });
  t.deepEqual(stale.planned, []);
  t.not((stale.state as { accessToken: string }).accessToken, "not-a-token-any-more");
});

test("a departing member is disabled, later erased; a member who comes back is re-activated and re-invited", async (t) => {
  const fake = await startFake(t);
  await provision(fake, BASE);
  const tom = user("tom.martin");
  const potager = fake.roomIdFor(alias("potager"))!;

  fake.server.resetLog();
  const left = await provision(fake, desiredFor(withoutTom, { disable: ["tom.martin"] }));
  t.deepEqual(kinds(left.applied), ["user.disable user tom.martin"]);
  t.true(fake.user(tom)!.deactivated);
  t.false(fake.user(tom)!.erased, "disabled, not erased");
  t.is(fake.user(tom)!.displayname, "Tom Martin");
  t.is(fake.membership(potager, tom), "leave");

  const back = await provision(fake, desiredFor(undefined, { enable: ["tom.martin"] }));
  t.deepEqual(kinds(back.applied).sort(), [
    `room.join tom.martin → ${alias("association")}`,
    `room.join tom.martin → ${alias("evenements")}`,
    `room.join tom.martin → ${alias("potager")}`,
    "user.enable user tom.martin",
  ]);
  t.false(fake.user(tom)!.deactivated);
  t.is(fake.membership(potager, tom), "join");
  t.deepEqual((await provision(fake, desiredFor(undefined, { enable: ["tom.martin"] }))).planned, [], "enabling twice does nothing");

  await provision(fake, desiredFor(withoutTom, { disable: ["tom.martin"] }));
  const erased = await provision(fake, desiredFor(withoutTom, { erase: ["tom.martin"] }));
  t.deepEqual(kinds(erased.applied), ["user.erase user tom.martin"]);
  t.true(fake.user(tom)!.erased);
  t.is(fake.user(tom)!.displayname, null);
  fake.server.resetLog();
  t.deepEqual((await provision(fake, desiredFor(withoutTom, { erase: ["tom.martin"] }))).planned, [], "an erased account is not erased again");
  t.deepEqual(provisioningWrites(fake), []);
});

const jsonAnswer = (status: number, body: unknown) => ({ status, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
const isCreateRoom = (r: FakeRequest) => r.method === "POST" && r.path === "/_matrix/client/v3/createRoom";
const isUserPut = (r: FakeRequest) => r.method === "PUT" && r.path.startsWith("/_synapse/admin/v2/users/");
const isAdminJoin = (r: FakeRequest) => r.method === "POST" && r.path.startsWith("/_synapse/admin/v1/join/");

test("503s, 429s with retry_after_ms and dropped connections are retried until the run converges", async (t) => {
  const fake = await startFake(t);
  fake.server.inject({ match: isCreateRoom, times: 2, response: jsonAnswer(503, { errcode: "M_UNKNOWN", error: "Service unavailable" }) });
  fake.server.inject({ match: isAdminJoin, times: 3, response: jsonAnswer(429, { errcode: "M_LIMIT_EXCEEDED", error: "Too Many Requests", retry_after_ms: 1234 }) });
  fake.server.inject({ match: isUserPut, times: 2, response: "drop" });
  fake.server.inject({ match: (r) => r.path.includes("/members"), times: 1, response: "drop" });
  const sleeps: number[] = [];
  const result = await provision(fake, BASE, { sleeps, retry: { attempts: 4, baseDelayMs: 1, maxDelayMs: 2_000 } });
  t.deepEqual(result.failed, []);
  assertConverged(t, fake, BASE);
  t.is(sleeps.filter((ms) => ms === 1234).length, 3, "each 429 waited the retry_after_ms Synapse asked for");
  t.is(fake.server.log.filter((l) => l.status === 503).length, 2);
  t.is(fake.server.log.filter((l) => l.status === "drop").length, 2);

  fake.server.resetLog();
  t.deepEqual((await provision(fake, BASE)).planned, []);
  t.deepEqual(provisioningWrites(fake), []);
});

test("writes whose answer was lost after they took effect are not made twice", async (t) => {
  const fake = await startFake(t);
  // As a proxy answering 502 while Synapse finished the work.
  fake.loseAnswers((r) => r.method === "POST" && r.path === "/_synapse/admin/v1/register", 1);
  fake.loseAnswers(isCreateRoom, 2);
  fake.loseAnswers(isUserPut, 2);
  fake.loseAnswers(isAdminJoin, 2);
  fake.loseAnswers((r) => r.method === "PUT" && r.path.includes("/state/m.space.child/"), 1);
  const result = await provision(fake, BASE);
  t.deepEqual(result.failed, []);
  assertConverged(t, fake, BASE);
  t.is([...fake.users.keys()].filter((id) => id === user(MATRIX_BOT)).length, 1);
  t.true(fake.server.log.some((l) => l.status === 400 && l.path === "/_matrix/client/v3/createRoom"), "the retried createRoom met M_ROOM_IN_USE");
});

test("a refused join fails as a ProvisionError naming the member; the rest is applied", async (t) => {
  const fake = await startFake(t);
  const lea = user("lea.moreau");
  fake.server.inject({
    match: (r) => isAdminJoin(r) && r.body.includes(lea),
    times: 100,
    response: jsonAnswer(403, { errcode: "M_FORBIDDEN", error: `${lea} is banned from the room` }),
  });
  const result = await provision(fake, BASE);
  t.is(result.failed.length, 2, "the space and the potager room");
  for (const { error } of result.failed) {
    t.true(error instanceof ProvisionError);
    t.is(error.service, "matrix");
    t.is(error.member, "lea.moreau");
    t.regex(error.message, /^matrix \(member lea\.moreau\): lea\.moreau → #(association|potager):.*: M_FORBIDDEN: .* is banned from the room$/);
  }
  t.is(result.applied.filter((c) => c.kind === "room.join").length, 10 - 2);
});

test("a run killed half-way, run again, converges with no duplicate room", async (t) => {
  const fake = await startFake(t);
  let armed = true;
  // Once two rooms exist the server stops answering anything: the run dies with work half done.
  fake.server.inject({ times: Number.MAX_SAFE_INTEGER, response: "hang", match: () => armed && fake.rooms.size >= 2 });
  const killed = await provision(fake, BASE, { timeoutMs: 1_000, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 5 }, killed: true });
  t.true(killed.failed.length > 0, "the first run did not finish");
  t.true(killed.applied.length > 0, "but some of it was applied");
  const roomsBefore = fake.rooms.size;
  t.is(roomsBefore, 2, "two rooms made before the kill");
  t.true(fake.server.log.some((l) => l.status === "hang"));

  armed = false;
  const rerun = await provision(fake, BASE);
  t.deepEqual(rerun.failed, []);
  assertConverged(t, fake, BASE);
  fake.server.resetLog();
  t.deepEqual((await provision(fake, BASE)).planned, []);
  t.deepEqual(provisioningWrites(fake), []);
});

test("the bot cannot act with a wrong shared secret, and the error shows no secret", async (t) => {
  const fake = await startFake(t, "theServersRealSecret");
  const wrong = "aDifferentSecret0002";
  const error = await t.throwsAsync(provision(fake, BASE, { secret: wrong }), { instanceOf: ProvisionError });
  t.regex(error!.message, /shared secret/);
  t.false(error!.message.includes(wrong));
  t.false(error!.message.includes(botPassword(wrong, user(MATRIX_BOT))));
  t.is(fake.user(user(MATRIX_BOT)), undefined);
  t.deepEqual(provisioningWrites(fake), []);

  // A bot account made some other way, with another password, is reported as such.
  const other = await startFake(t, "theServersRealSecret");
  other.seedUser(MATRIX_BOT, { password: "set-by-hand", admin: true });
  const taken = await t.throwsAsync(provision(other, BASE, { secret: "theServersRealSecret" }), { instanceOf: ProvisionError });
  t.regex(taken!.message, /does not accept the password derived from the registration shared secret/);
});

test("the bot keeps one device however many runs, and its password is derived, never stored", async (t) => {
  const fake = await startFake(t);
  await provision(fake, BASE, { killed: true });
  await provision(fake, BASE, { killed: true });
  const bot = user(MATRIX_BOT);
  t.not(fake.user(bot)!.passwordHash, null);
  t.deepEqual(fake.devicesOf(bot), [BOT_DEVICE_ID], "runs that were not closed left tokens on the one device");
  await provision(fake, BASE);
  t.deepEqual(fake.tokensOf(bot), [], "the next close removed them all");
  t.not(botPassword(SECRET, bot), botPassword("another", bot));
  t.is(botPassword(SECRET, bot), botPassword(SECRET, bot));
});

test("a room creation cut short by a 429 (room and alias made, creator not joined) is replaced, in the same run or the next", async (t) => {
  // Retried at once: the retry meets M_ROOM_IN_USE, finds the stillborn room and replaces it.
  const fake = await startFake(t);
  fake.cutShortRoomCreations(1);
  const result = await provision(fake, BASE);
  t.deepEqual(result.failed.map((f) => f.error.message), []);
  assertConverged(t, fake, BASE);
  t.true(fake.server.log.some((l) => l.status === 429 && l.path === "/_matrix/client/v3/createRoom"), "the creation was cut short");
  t.is(fake.server.log.filter((l) => l.method === "DELETE" && l.path.startsWith("/_synapse/admin/v1/rooms/")).length, 1, "the stillborn room was deleted");

  // Not retried (the run gave up): the next run finds it at the alias and replaces it.
  const later = await startFake(t);
  later.cutShortRoomCreations(1);
  const gaveUp = await provision(later, BASE, { retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
  t.true(gaveUp.failed.some((f) => /M_LIMIT_EXCEEDED|429/.test(f.error.message)), gaveUp.failed.map((f) => f.error.message).join("; "));
  const stillborn = later.roomIdFor(alias(MATRIX.space.alias))!;
  t.is(later.membership(stillborn, user(MATRIX_BOT)), undefined, "the bot never joined it");
  const next = await provision(later, BASE);
  t.deepEqual(next.failed.map((f) => f.error.message), []);
  assertConverged(t, later, BASE);
  t.not(later.roomIdFor(alias(MATRIX.space.alias)), stillborn);
  later.server.resetLog();
  t.deepEqual((await provision(later, BASE)).planned, []);
  t.deepEqual(provisioningWrites(later), []);
});
