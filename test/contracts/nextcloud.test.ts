// The fake Nextcloud must answer as the real Nextcloud 34 was recorded answering
// (test/contracts/recordings/nextcloud-34, made by `npm run contracts:record` with Bastide's
// own clients). The HTTP exchanges of the provisioning recordings are replayed, in the
// recorded order, against ONE fake (state carries from the first run to the re-run as it
// did on the real server), and every answer must match: status, Content-Type and
// meaningful headers, OCS status codes, every JSON field, every XML element. The
// exchanges the fake cannot reproduce are listed with the reason. The last tests prove
// the comparison can fail.
import test from "ava";
import { FakeServer } from "../fakes/fake-server.ts";
import { createFakeNextcloud, type FakeNextcloud } from "../fakes/nextcloud.ts";
import {
  basicAuth,
  compareResponse,
  isHttpExchange,
  mismatches,
  replayContract,
  type ActualResponse,
  type Contract,
  type HttpExchange,
} from "../fakes/replay.ts";
import { loadRecording, recordingNames } from "../fakes/recorded-nextcloud.ts";

/** Replayed against the fake in this order; state carries from one to the next. */
const SCENARIOS = ["provisioning-first-run", "provisioning-rerun"];
/** Replayed by the provisioner tests (test/provisioners/nextcloud-recorded.test.ts) through a server that serves the recording. */
const SERVED_ONLY = {
  "audit-default": "the audit's reads of a fresh server: see test/audit/rules.test.ts",
  "audit-provisioned": "the audit's reads after provisioning",
  "occ-memory-warning": "occ commands only",
  "two-factor-enforcement": "the fake does not refuse logins for enforced 2FA (occ state it cannot see)",
  "app-password": "the fake does not model app passwords",
  "oidc-login": "a member's login through the real Keycloak: see test/identity/nextcloud-login.test.ts",
  "user-oidc": "user_oidc's occ commands and the login page: see test/provisioners/nextcloud-recorded.test.ts and nextcloud-settings.test.ts",
};

/** Exchanges the fake cannot reproduce, with the reason (chosen by what they are, not by index). */
function notReproduced(exchange: HttpExchange): string | undefined {
  const { method, path } = exchange.request;
  if (method === "GET" && path.startsWith("/ocs/v1.php/cloud/users/_bastide"))
    return "the service account's quota and language follow files/default_quota and default_language, set through occ and config.php, which an HTTP fake does not see";
  if (method === "POST" && path.startsWith("/ocs/v1.php/cloud/users") && exchange.response.body?.includes('"statuscode":102'))
    return "a retry of a creation the loaded server answered late: the client sent it twice there, once here";
  if (method === "PROPFIND" && /^\/remote\.php\/dav\/calendars\/_bastide\/$/.test(path))
    return "the default calendars are named in the instance's language (fr), and calendars created concurrently are listed in the real database's order";
  return undefined;
}

const SERVICE_PASSWORD = "fake-service-password-for-tests";
const RECORDED_ORIGIN = "http://127.0.0.1:8480";

const substitutions = () => ({ "Basic <service>": basicAuth("_bastide", SERVICE_PASSWORD) });

function contract(name: string): Contract {
  const recording = loadRecording(name) as unknown as Contract;
  return { ...recording, exchanges: recording.exchanges.filter(isHttpExchange) };
}

const startFake = () => createFakeNextcloud({ users: { _bastide: SERVICE_PASSWORD } });

let nc: FakeNextcloud;

test.before(async () => {
  nc = await startFake();
});

test.after.always(async () => {
  await nc?.stop();
});

test.serial("every Nextcloud recording is listed here", (t) => {
  t.deepEqual(recordingNames(), [...SCENARIOS, ...Object.keys(SERVED_ONLY)].sort());
});

for (const scenario of SCENARIOS) {
  test.serial(`the fake answers ${scenario}.json as the real Nextcloud 34 did`, async (t) => {
    const recorded = contract(scenario);
    const skip: Record<number, string> = {};
    recorded.exchanges.forEach((e, i) => {
      const reason = notReproduced(e as HttpExchange);
      if (reason) skip[i] = reason;
    });
    const logged = nc.server.log.length;
    const results = await replayContract(recorded, { baseUrl: nc.url, substitutions: substitutions(), recordedOrigin: RECORDED_ORIGIN, skip });
    t.deepEqual(mismatches(results), []);
    const replayed = results.filter((r) => r.skipped === undefined).length;
    t.true(replayed >= recorded.exchanges.length - 4, `${replayed} of ${recorded.exchanges.length} replayed`);
    t.is(nc.server.log.length - logged, replayed, "each replayed exchange reached the fake once");
  });
}

test.serial("the state left by the replay is what the recordings built", (t) => {
  t.deepEqual(
    nc.users().map((u) => u.id),
    ["_bastide", "claire.dubois", "karim.benali", "lea.moreau", "tom.martin"],
  );
  t.deepEqual(nc.groups().find((g) => g.id === "_admins-2fa")?.members, ["claire.dubois"]);
  t.is(nc.user("_bastide")?.displayName, "Les Jardins Partagés du Canal");
  t.deepEqual(nc.calendar("_bastide", "team-bureau")?.shares, [{ principal: "principals/groups/bureau", kind: "group", id: "bureau", readWrite: true }]);
  t.deepEqual(
    nc.systemTags().map((tag) => tag.name),
    ["temporaire"],
  );
  t.is(nc.retentionRules().length, 1);
});

// ---------------------------------------------------------------------------------------
// The comparison is not vacuous

test("a wrong answer from the fake is reported, field by field", async (t) => {
  const fake = await startFake();
  try {
    const recorded = contract("provisioning-first-run");
    const first = recorded.exchanges.find((e) => isHttpExchange(e) && e.request.method === "POST" && e.request.path.startsWith("/ocs/v1.php/cloud/groups")) as HttpExchange;
    // A fault that looks like the real "group exists" answer: right status and type, wrong content.
    fake.server.inject({
      times: 1,
      response: {
        status: 200,
        headers: { "Content-Type": "application/json; charset=utf-8" },
        body: JSON.stringify({ ocs: { meta: { status: "failure", statuscode: 102, message: "group exists", totalitems: "", itemsperpage: "" }, data: [] } }),
      },
    });
    const results = await replayContract({ ...recorded, exchanges: [first] }, { baseUrl: fake.url, substitutions: substitutions() });
    t.deepEqual(mismatches(results), [
      `#0 POST /ocs/v1.php/cloud/groups?format=json (${first.note}): body.ocs.meta.status: expected "ok", got "failure"`,
      `#0 POST /ocs/v1.php/cloud/groups?format=json (${first.note}): body.ocs.meta.statuscode: expected 100, got 102`,
      `#0 POST /ocs/v1.php/cloud/groups?format=json (${first.note}): body.ocs.meta.message: expected "OK", got "group exists"`,
    ]);
  } finally {
    await fake.stop();
  }
});

test("replaying with the wrong service password fails the replay", async (t) => {
  const fake = await startFake();
  try {
    const recorded = contract("provisioning-first-run");
    const first = recorded.exchanges.find((e) => isHttpExchange(e) && e.request.path.startsWith("/ocs/v1.php/cloud/groups")) as HttpExchange;
    const results = await replayContract({ ...recorded, exchanges: [first] }, { baseUrl: fake.url, substitutions: { "Basic <service>": basicAuth("_bastide", "not-the-password") } });
    const found = mismatches(results);
    t.true(found.some((m) => m.includes("status: expected 200, got 401")), found.join("\n"));
    t.true(found.some((m) => m.includes("body.ocs.meta.statuscode: expected 100, got 997")), found.join("\n"));
  } finally {
    await fake.stop();
  }
});

const actual = (status: number, headers: Record<string, string>, body: string): ActualResponse => ({ status, headers, body });
const json = { "Content-Type": "application/json; charset=utf-8" };
const xml = { "Content-Type": "application/xml; charset=utf-8" };

test("JSON: placeholders match their type only, and extra or missing fields count", (t) => {
  const expected = { status: 200, headers: json, body: JSON.stringify({ a: "<timestamp>", b: "<datadir>/alice", c: [1] }) };
  const answer = (body: unknown) => actual(200, { "content-type": json["Content-Type"] }, JSON.stringify(body));
  t.deepEqual(compareResponse(expected, answer({ a: 1763726400, b: "/srv/data/alice", c: [1] })), []);
  t.deepEqual(compareResponse(expected, answer({ a: "1763726400", b: "/srv/data/alice", c: [1] })), [
    'body.a: expected a number (<timestamp>), got "1763726400"',
  ]);
  t.deepEqual(compareResponse(expected, answer({ a: 1, b: "/srv/data/bob", c: [1, 2], d: null })), [
    'body.b: expected "<datadir>/alice", got "/srv/data/bob"',
    "body.c: expected 1 items, got 2",
    "body.d: unexpected (null)",
  ]);
  t.deepEqual(compareResponse(expected, answer({ a: 1, c: [1] })), ["body.b: missing"]);
});

test("XML: compared element by element, prefixes free, <x/> and <x></x> told apart", (t) => {
  const expected = { status: 207, headers: xml, body: '<d:a xmlns:d="DAV:"><d:b>one</d:b><d:email/><d:loc><datadir>/alice</d:loc></d:a>' };
  const answer = (body: string) => actual(207, { "content-type": xml["Content-Type"] }, body);
  t.deepEqual(compareResponse(expected, answer('<?xml version="1.0"?>\n<z:a xmlns:z="DAV:">\n <z:b>one</z:b>\n <z:email/><z:loc>/data/alice</z:loc></z:a>')), []);
  t.deepEqual(compareResponse(expected, answer('<z:a xmlns:z="DAV:"><z:b>two</z:b><z:email></z:email><z:loc>/data/alice</z:loc></z:a>')), [
    'body:/d:a/d:b[1]: expected text "one", got "two"',
    "body:/d:a/d:email[1]: expected <x/>, got <x></x>",
  ]);
  t.deepEqual(compareResponse(expected, answer('<z:a xmlns:z="urn:other"><z:b>one</z:b><z:email/><z:loc>/x/alice</z:loc></z:a>')), [
    "body:/d:a: expected element {DAV:}a, got {urn:other}a",
  ]);
});

test("headers: recorded ones must match, meaningful unrecorded ones must be absent", (t) => {
  const expected = { status: 201, headers: { "Content-Type": "text/html; charset=UTF-8", ETag: "<etag>" }, body: "" };
  t.deepEqual(compareResponse(expected, actual(201, { "content-type": "text/html; charset=UTF-8", etag: '"abc"' }, "")), []);
  t.deepEqual(compareResponse(expected, actual(201, { "content-type": "text/html; charset=UTF-8", etag: '"abc"', "retry-after": "5" }, "")), [
    'header retry-after: unexpected ("5")',
  ]);
  t.deepEqual(compareResponse(expected, actual(200, { "content-type": "text/html" }, "x")), [
    "status: expected 201, got 200",
    'header Content-Type: expected "text/html; charset=UTF-8", got "text/html"',
    'header ETag: missing (expected "<etag>")',
    'body: expected "", got "x"',
  ]);
});

test("random ids are bound at first sight and must then stay the same", (t) => {
  const options = { volatile: [/![A-Za-z]{18}:localhost/], bindings: new Map<string, string>() };
  const expected = { status: 200, headers: { "Content-Type": "application/json" }, body: '{"room_id": "!KvVwSSKlCfKfRNQJJN:localhost"}' };
  const answer = (id: string) => actual(200, { "content-type": "application/json" }, JSON.stringify({ room_id: id }));
  t.deepEqual(compareResponse(expected, answer("!abcdefghijklmnopqr:localhost"), options), []);
  t.is(options.bindings.get("!KvVwSSKlCfKfRNQJJN:localhost"), "!abcdefghijklmnopqr:localhost");
  t.deepEqual(compareResponse(expected, answer("!zzzzzzzzzzzzzzzzzz:localhost"), options), [
    'body.room_id: expected "!KvVwSSKlCfKfRNQJJN:localhost", got "!zzzzzzzzzzzzzzzzzz:localhost"',
  ]);
});

test("a bound id is substituted into later requests, percent-encoded as recorded", async (t) => {
  const server = new FakeServer((req) =>
    req.method === "POST"
      ? { status: 200, headers: { "Content-Type": "application/json" }, body: JSON.stringify({ room_id: "!abcdefghijklmnopqr:localhost" }) }
      : { status: 200, headers: { "Content-Type": "application/json" }, body: JSON.stringify({ path: decodeURIComponent(req.path) }) },
  );
  const url = await server.start();
  try {
    const exchange = (method: string, path: string, body: unknown): HttpExchange => ({
      request: { method, path, headers: {}, body: null },
      response: { status: 200, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) },
    });
    const recorded: Contract = {
      scenario: "ids",
      server: "test",
      recorded: "",
      description: "",
      exchanges: [
        exchange("POST", "/create", { room_id: "!KvVwSSKlCfKfRNQJJN:localhost" }),
        exchange("GET", "/rooms/%21KvVwSSKlCfKfRNQJJN%3Alocalhost/state", { path: "/rooms/!KvVwSSKlCfKfRNQJJN:localhost/state" }),
      ],
    };
    const results = await replayContract(recorded, { baseUrl: url, volatile: [/![A-Za-z]{18}:localhost/] });
    t.deepEqual(mismatches(results), []);
    t.is(server.log[1]?.path, "/rooms/%21abcdefghijklmnopqr%3Alocalhost/state");
  } finally {
    await server.stop();
  }
});

test("any non-empty OCS-APIRequest passes the CSRF check (a client may send it twice)", async (t) => {
  const fake = await startFake();
  try {
    const get = (headers: Record<string, string>) =>
      fetch(`${fake.url}/ocs/v2.php/cloud/users?format=json`, { headers: { Authorization: basicAuth("_bastide", SERVICE_PASSWORD), ...headers } });
    t.is((await get({ "OCS-APIRequest": "true", "ocs-apirequest": "true" })).status, 200);
    t.is((await get({ "OCS-APIRequest": "" })).status, 412);
  } finally {
    await fake.stop();
  }
});

// ---------------------------------------------------------------------------------------
// What the provisioner tests rely on beyond the recordings

test("an account created with an e-mail only gets a set-password mail and no usable password", async (t) => {
  const fake = await startFake();
  try {
    const response = await fetch(`${fake.url}/ocs/v1.php/cloud/users?format=json`, {
      method: "POST",
      headers: { "OCS-APIRequest": "true", Authorization: basicAuth("_bastide", SERVICE_PASSWORD), "Content-Type": "application/x-www-form-urlencoded" },
      body: "userid=erin&email=Erin%40example.org&displayName=Erin&groups%5B%5D=admin",
    });
    t.is((await response.json()).ocs.meta.statuscode, 100);
    t.like(fake.user("erin"), { email: "erin@example.org", hasPassword: false, passwordSets: 0, groups: ["admin"] });
    t.deepEqual(fake.mails(), [{ to: "erin@example.org", userid: "erin", setPasswordLink: true }]);
    const asErin = await fetch(`${fake.url}/ocs/v2.php/cloud/user?format=json`, { headers: { "OCS-APIRequest": "true", Authorization: basicAuth("erin", "") } });
    t.is(asErin.status, 401);
  } finally {
    await fake.stop();
  }
});

test("500 members are created and listed quickly (no delay unless latencyMs is set)", async (t) => {
  const fake = await startFake();
  try {
    const auth = { "OCS-APIRequest": "true", Authorization: basicAuth("_bastide", SERVICE_PASSWORD) };
    const ids = Array.from({ length: 500 }, (_, i) => `member${String(i).padStart(3, "0")}`);
    const started = Date.now();
    const queue = [...ids];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const r = await fetch(`${fake.url}/ocs/v2.php/cloud/users?format=json`, {
          method: "POST",
          headers: { ...auth, "Content-Type": "application/json" },
          body: JSON.stringify({ userid: id, email: `${id}@example.org`, groups: ["admin"] }),
        });
        if (r.status !== 200) throw new Error(`${id}: HTTP ${r.status}`);
        await r.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const list = await fetch(`${fake.url}/ocs/v1.php/cloud/groups/admin?format=json`, { headers: auth });
    t.is((await list.json()).ocs.data.users.length, 501);
    t.is(fake.server.writes(), 500);
    t.true(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
  } finally {
    await fake.stop();
  }
});
