// The provisioning core: pure parts, and the HTTP client against a real local server.
import test from "ava";
import { reconcileDepartures, EMPTY_LEDGER } from "../../provisioners/departures.ts";
import { desiredState } from "../../provisioners/desired.ts";
import { keyedSlice, unkeyedSlice, SLICES } from "../../provisioners/slices.ts";
import { converge, ProvisionError, type Change, type ServiceProvisioner } from "../../provisioners/model.ts";
import { mapLimit, settleLanes } from "../../provisioners/runtime/concurrency.ts";
import { AdaptiveLimiter, serverLimiter } from "../../provisioners/runtime/concurrency.ts";
import { CallCounter, HttpClient, HttpError, UncertainWriteError, backoffMs, retryAfterMs, type HttpResponse } from "../../provisioners/runtime/http.ts";
import { FakeServer } from "../fakes/fake-server.ts";
import { exampleAssociation } from "../support/association.ts";

const DAY = 86_400_000;
const t0 = new Date("2026-11-01T10:00:00Z");

test("departures: a removed member is disabled now and erased once the grace period has passed", (t) => {
  const first = reconcileDepartures(EMPTY_LEDGER, ["alice", "bob"], 30, t0);
  t.deepEqual(first.departures, { disable: [], erase: [], enable: [] });

  const bobLeaves = reconcileDepartures(first.ledger, ["alice"], 30, new Date(t0.getTime() + DAY));
  t.deepEqual(bobLeaves.departures.disable, ["bob"]);
  t.truthy(bobLeaves.ledger.departed.bob);
  t.falsy(bobLeaves.ledger.members.bob);

  const stillGrace = reconcileDepartures(bobLeaves.ledger, ["alice"], 30, new Date(t0.getTime() + 20 * DAY));
  t.deepEqual(stillGrace.departures, { disable: [], erase: [], enable: [] }, "nothing to do within the grace period");

  const due = reconcileDepartures(stillGrace.ledger, ["alice"], 30, new Date(t0.getTime() + 31 * DAY));
  t.deepEqual(due.departures.erase, ["bob"]);
  t.falsy(due.ledger.departed.bob, "erased members leave the ledger");
});

test("departures: a member who comes back within the grace period is enabled, keeping their first date", (t) => {
  const first = reconcileDepartures(EMPTY_LEDGER, ["alice", "bob"], 30, t0);
  const gone = reconcileDepartures(first.ledger, ["alice"], 30, new Date(t0.getTime() + DAY));
  const back = reconcileDepartures(gone.ledger, ["alice", "bob"], 30, new Date(t0.getTime() + 2 * DAY));
  t.deepEqual(back.departures.enable, ["bob"]);
  t.deepEqual(back.departures.disable, []);
  t.is(back.ledger.members.bob!.since, first.ledger.members.bob!.since);
});

test("departures: with no grace period, erasure follows on the next run", (t) => {
  const first = reconcileDepartures(EMPTY_LEDGER, ["alice", "bob"], 0, t0);
  const gone = reconcileDepartures(first.ledger, ["alice"], 0, t0);
  t.deepEqual(gone.departures.disable, ["bob"]);
  t.deepEqual(reconcileDepartures(gone.ledger, ["alice"], 0, t0).departures.erase, ["bob"]);
});

test("slices: keyed inputs round-trip to the desired state, for every service", (t) => {
  // Jitsi's slice (Prosody accounts) exists only without the identity provider.
  const states = [desiredState(exampleAssociation()), desiredState(exampleAssociation((input) => (input.services.identity = { enabled: false })))];
  const state = states[0]!;
  for (const service of Object.keys(SLICES) as (keyof typeof SLICES)[]) {
    const part = SLICES[service].part;
    const withPart = states.find((s) => s[part] !== undefined);
    if (!withPart) {
      t.fail(`no association of this test has a ${service} slice`);
      continue;
    }
    const keyed = keyedSlice(withPart, service)!;
    const back = unkeyedSlice(JSON.parse(JSON.stringify(keyed)), service);
    const sortLists = (slice: any) =>
      Object.fromEntries(Object.entries(slice).map(([k, v]) => [k, Array.isArray(v) ? [...v].sort((a: any, b: any) => JSON.stringify(a).localeCompare(JSON.stringify(b))) : v]));
    t.deepEqual(sortLists(back[part]), sortLists(withPart[part]), service);
  }
  const users = (keyedSlice(state, "nextcloud")!.nextcloud as any).users;
  t.deepEqual(Object.keys(users).sort(), ["claire.dubois", "karim.benali", "lea.moreau", "tom.martin"]);
});

test("slices: a service switched off has no slice", (t) => {
  const state = desiredState(exampleAssociation((i) => (i.services.jitsi = { enabled: false })));
  t.is(keyedSlice(state, "jitsi"), undefined);
});

type TestChange = Change<"make", { fail?: boolean }>;
function recordingProvisioner(order: string[]): ServiceProvisioner<string[], string[], TestChange, null> {
  return {
    service: "nextcloud",
    read: async () => [],
    plan: (desired) =>
      desired.map((name, i) => ({ service: "nextcloud", kind: "make", subject: name, member: name, phase: i < 2 ? 1 : 2, payload: { fail: name === "boom" } })),
    apply: async (change) => {
      order.push(change.subject);
      if (change.payload.fail) throw new Error("refused by the server");
    },
  };
}

test("converge applies phase by phase and stops before a phase whose predecessor failed", async (t) => {
  const order: string[] = [];
  const ok = await converge(recordingProvisioner(order), ["a", "b", "c"], null, { concurrency: 4 });
  t.deepEqual(order.slice(0, 2).sort(), ["a", "b"]);
  t.is(order[2], "c");
  t.is(ok.failed.length, 0);

  const order2: string[] = [];
  const failed = await converge(recordingProvisioner(order2), ["a", "boom", "c"], null, { concurrency: 4 });
  t.false(order2.includes("c"), "phase 2 must not start");
  t.is(failed.failed.length, 1);
  t.true(failed.failed[0]!.error instanceof ProvisionError);
  t.is(failed.failed[0]!.error.message, "nextcloud (member boom): boom: refused by the server");
});

test("converge in dry-run plans and writes nothing", async (t) => {
  const order: string[] = [];
  const result = await converge(recordingProvisioner(order), ["a", "b"], null, { concurrency: 2, dryRun: true });
  t.is(result.planned.length, 2);
  t.deepEqual(order, []);
});

test("mapLimit never runs more than its bound at once and keeps the order", async (t) => {
  let running = 0;
  let peak = 0;
  const results = await mapLimit([...Array(20).keys()], 3, async (n) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 5));
    running--;
    return n * 2;
  });
  t.is(peak, 3);
  t.deepEqual(results, [...Array(20).keys()].map((n) => n * 2));
});

const tick = () => new Promise((r) => setTimeout(r, 2));

/** Runs `items` (lane, name) through settleLanes, recording what was in flight; `fail` names the items that throw. */
async function runLanes(items: [string | undefined, string][], limit: number, fail: string[] = []) {
  const inFlight = new Set<string>();
  const laneInFlight = new Map<string, number>();
  let peak = 0;
  let lanePeak = 0;
  const started: string[] = [];
  const failures = await settleLanes(items, limit, ([lane]) => lane, async ([lane, name]) => {
    started.push(name);
    inFlight.add(name);
    peak = Math.max(peak, inFlight.size);
    if (lane !== undefined) {
      laneInFlight.set(lane, (laneInFlight.get(lane) ?? 0) + 1);
      lanePeak = Math.max(lanePeak, laneInFlight.get(lane)!);
    }
    await tick();
    inFlight.delete(name);
    if (lane !== undefined) laneInFlight.set(lane, laneInFlight.get(lane)! - 1);
    if (fail.includes(name)) throw new Error(`${name} refused`);
  });
  return { peak, lanePeak, started, failures };
}

test("settleLanes: changes of one lane never overlap and keep their order; lanes overlap up to the bound", async (t) => {
  const items: [string, string][] = [];
  for (let i = 0; i < 6; i++) for (const lane of ["a", "b", "c", "d", "e"]) items.push([lane, `${lane}${i}`]);
  const { peak, lanePeak, started, failures } = await runLanes(items, 3);
  t.is(lanePeak, 1, "one change of a lane at a time");
  t.is(peak, 3, "three lanes at once, never more");
  for (const lane of ["a", "b", "c", "d", "e"])
    t.deepEqual(
      started.filter((n) => n.startsWith(lane)),
      [0, 1, 2, 3, 4, 5].map((i) => `${lane}${i}`),
      `lane ${lane} in plan order`,
    );
  t.deepEqual(failures, []);
});

test("settleLanes: changes without a lane are each a lane of their own", async (t) => {
  const items: [undefined, string][] = [...Array(8).keys()].map((i) => [undefined, `x${i}`]);
  const { peak, started } = await runLanes(items, 4);
  t.is(peak, 4);
  t.is(started.length, 8);
});

test("settleLanes: a failure is collected and the rest of its lane and the other lanes still run", async (t) => {
  const items: [string, string][] = [["a", "a0"], ["a", "a1"], ["a", "a2"], ["b", "b0"], ["b", "b1"]];
  const { started, failures } = await runLanes(items, 2, ["a1", "b0"]);
  t.deepEqual([...started].sort(), ["a0", "a1", "a2", "b0", "b1"]);
  t.deepEqual(failures.map((f) => [f.item[1], (f.error as Error).message]).sort(), [["a1", "a1 refused"], ["b0", "b0 refused"]]);
});

test("converge applies the changes of one lane one after another, in plan order, and other lanes beside them", async (t) => {
  const inRoom = new Map<string, number>();
  let roomPeak = 0;
  let peak = 0;
  let running = 0;
  const applied: string[] = [];
  const provisioner: ServiceProvisioner<null, null, Change<"invite", null>, null> = {
    service: "matrix",
    read: async () => null,
    plan: () =>
      ["#space", "#space", "#space", "#space", "#room", "#room", "#room"].map((lane, i) => ({ service: "matrix", kind: "invite", subject: `${i} → ${lane}`, phase: 1, lane, payload: null })),
    apply: async (change) => {
      running++;
      peak = Math.max(peak, running);
      inRoom.set(change.lane!, (inRoom.get(change.lane!) ?? 0) + 1);
      roomPeak = Math.max(roomPeak, inRoom.get(change.lane!)!);
      await tick();
      applied.push(change.subject);
      inRoom.set(change.lane!, inRoom.get(change.lane!)! - 1);
      running--;
    },
  };
  const result = await converge(provisioner, null, null, { concurrency: 4 });
  t.is(result.failed.length, 0);
  t.is(roomPeak, 1, "never two writes into one room at once");
  t.is(peak, 2, "the two rooms are written at the same time");
  t.deepEqual(applied.filter((s) => s.endsWith("#space")), ["0 → #space", "1 → #space", "2 → #space", "3 → #space"]);
});

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => ({
  status,
  headers: { "Content-Type": "application/json", ...headers },
  body: JSON.stringify(body),
});

/**
 * A test server and a client of it. The client's timeout is generous, so that on a loaded machine
 * only an injected hang times out, never a slow answer; a test that injects a hang says how long
 * it waits for it.
 */
async function withServer(
  fn: (server: FakeServer, client: HttpClient, waits: number[], counter: CallCounter) => Promise<void>,
  { timeoutMs = 10_000 }: { timeoutMs?: number } = {},
) {
  const server = new FakeServer(() => json(200, { ok: true }));
  const url = await server.start();
  const waits: number[] = [];
  const counter = new CallCounter();
  const client = new HttpClient({
    service: "test",
    baseUrl: url,
    counter,
    timeoutMs,
    retry: { attempts: 4, baseDelayMs: 10, maxDelayMs: 50 },
    sleep: async (ms) => void waits.push(ms),
  });
  try {
    await fn(server, client, waits, counter);
  } finally {
    await server.stop();
  }
}

// A PUT: sending it twice does no more than once (RFC 9110 §9.2.2). A creation (POST) that
// gets no answer is not sent again: see the tests of creations below.
test("http: 5xx, dropped connections and timeouts are retried until the answer comes", async (t) => {
  await withServer(async (server, client, waits, counter) => {
    server.inject({ times: 1, response: { status: 503 } });
    server.inject({ times: 1, response: "drop" });
    server.inject({ times: 1, response: "hang" });
    const response = await client.request("PUT", "/thing", { body: { a: 1 } });
    t.is(response.status, 200);
    t.deepEqual(response.json, { ok: true });
    t.is(server.log.length, 4);
    t.is(waits.length, 3);
    t.is(counter.writes("test"), 4, "every attempt is counted");
  }, { timeoutMs: 2_000 });
});

test("http: 429 waits what Retry-After or retry_after_ms asks", async (t) => {
  await withServer(async (server, client, waits) => {
    server.inject({ times: 1, response: json(429, { errcode: "M_LIMIT_EXCEEDED", retry_after_ms: 40 }) });
    server.inject({ times: 1, response: { status: 429, headers: { "Retry-After": "2" } } });
    t.is((await client.request("GET", "/x")).status, 200);
    t.deepEqual(waits, [40, 2000]);
  });
});

test("http: other 4xx answers are returned at once, not retried", async (t) => {
  await withServer(async (server, client, waits) => {
    server.inject({ times: 1, response: json(403, { errcode: "M_FORBIDDEN" }) });
    const response = await client.request("GET", "/x");
    t.is(response.status, 403);
    t.is(response.json.errcode, "M_FORBIDDEN");
    t.deepEqual(waits, []);
    t.is(server.log.length, 1);
  });
});

test("http: when retries run out the error says which service and call, without credentials", async (t) => {
  await withServer(async (server, _client, waits) => {
    const secretClient = new HttpClient({
      service: "nextcloud",
      baseUrl: server.url,
      headers: { Authorization: "Basic c2VjcmV0OnNlY3JldA==" },
      retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
      sleep: async (ms) => void waits.push(ms),
    });
    server.inject({ times: 5, response: { status: 502 } });
    const error = await t.throwsAsync(secretClient.request("GET", "/ocs/v2.php/cloud/users"), { instanceOf: HttpError });
    t.regex(error!.message, /nextcloud: GET \/ocs\/v2.php\/cloud\/users still failing after 3 attempts \(HTTP 502\)/);
    t.notRegex(error!.message, /c2VjcmV0|secret/);
  });
});

test("http: backoff grows exponentially within its cap, and Retry-After dates are understood", (t) => {
  const policy = { attempts: 6, baseDelayMs: 100, maxDelayMs: 1000 };
  t.is(backoffMs(0, policy, () => 1), 100);
  t.is(backoffMs(3, policy, () => 1), 800);
  t.is(backoffMs(10, policy, () => 1), 1000);
  const now = Date.parse("2026-11-21T10:00:00Z");
  const headers = new Headers({ "Retry-After": "Sat, 21 Nov 2026 10:00:05 GMT" });
  t.is(retryAfterMs({ status: 429, headers, text: "", json: undefined }, now), 5000);
});

/** A server whose creations take `creationMs`, longer than the client waits: the original completes after the timeout. */
async function withSlowCreations(creationMs: number, fn: (server: FakeServer, created: string[], originalDone: Promise<void>, posts: () => number) => Promise<void>) {
  const created: string[] = [];
  let posted = 0;
  let done!: () => void;
  const originalDone = new Promise<void>((resolve) => (done = resolve));
  const server = new FakeServer(async (request) => {
    if (request.method === "POST") {
      posted++;
      await new Promise((r) => setTimeout(r, creationMs));
      // A second creation of the same account is what a real Nextcloud raced into a duplicate key.
      if (created.includes(request.body)) return json(500, { error: "duplicate key" });
      created.push(request.body);
      done();
      return json(200, { created: true });
    }
    return created.length > 0 ? json(200, { id: "alice" }) : json(404, { error: "no such user" });
  });
  await server.start();
  try {
    await fn(server, created, originalDone, () => posted);
  } finally {
    await server.stop();
  }
}

const creationClient = (url: string, waits: number[] = [], creationTimeoutMs = 100) =>
  new HttpClient({
    service: "test",
    baseUrl: url,
    timeoutMs: 50,
    creationTimeoutMs,
    retry: { attempts: 4, baseDelayMs: 10, maxDelayMs: 50 },
    sleep: async (ms) => void waits.push(ms),
  });

test("http: a creation that times out is not sent again; verify reads back the one the server completed", async (t) => {
  await withSlowCreations(300, async (server, created, originalDone, posts) => {
    const client = creationClient(server.url);
    const verify = async (): Promise<HttpResponse | undefined> => {
      await originalDone; // a read made once the server finished, as a slow server would
      const answer = await client.request("GET", "/users/alice");
      return answer.status === 200 ? answer : undefined;
    };
    const response = await client.request("POST", "/users", { body: { id: "alice" }, verify });
    t.is(response.status, 200);
    t.deepEqual(response.json, { id: "alice" });
    t.is(created.length, 1, "one creation only");
    t.is(posts(), 1, "the creation was sent once");
  });
});

test("http: a creation that times out, not found when read back, fails clearly instead of racing its original", async (t) => {
  await withSlowCreations(300, async (server, created, originalDone, posts) => {
    const client = creationClient(server.url);
    const verify = async () => undefined;
    const error = await t.throwsAsync(client.request("POST", "/users", { body: { id: "alice" }, verify }), { instanceOf: UncertainWriteError });
    t.regex(error!.message, /test: POST \/users got no answer \(timed out after 0.1 s\); it was not there when read back, but the server may still be running it, so it was not sent again/);
    await originalDone;
    t.is(created.length, 1);
    t.is(posts(), 1);
  });
});

test("http: a creation whose connection drops or whose gateway times out is not sent again; a 503 is", async (t) => {
  await withServer(async (server, client) => {
    server.inject({ times: 1, response: "drop" });
    await t.throwsAsync(client.request("POST", "/users", { body: { id: "a" } }), { instanceOf: UncertainWriteError });
    server.inject({ times: 1, response: { status: 504 } });
    await t.throwsAsync(client.request("POST", "/users", { body: { id: "b" } }), { instanceOf: UncertainWriteError, message: /HTTP 504/ });
    t.is(server.log.length, 2);
    server.inject({ times: 1, response: { status: 503 } });
    t.is((await client.request("POST", "/users", { body: { id: "c" } })).status, 200, "a 503 is an answer: the server is no longer running it");
    t.is(server.log.length, 4);
  });
});

test("http: a creation refused before it reached the server is sent again", async (t) => {
  // Nothing listens on port 2 (below 1024, unassigned here): the connection is refused, the request never sent.
  const waits: number[] = [];
  const error = await t.throwsAsync(creationClient("http://127.0.0.1:2", waits, 10_000).request("POST", "/users", { body: { id: "a" } }), { instanceOf: HttpError });
  t.false(error instanceof UncertainWriteError);
  t.regex(error!.message, /still failing after 4 attempts \(ECONNREFUSED\)/);
  t.is(waits.length, 3);
});

test("http: every attempt waits for its server's limiter, which learns from the answers", async (t) => {
  await withServer(async (server, client) => {
    const limiter = new AdaptiveLimiter({ initial: 4 });
    // A generous timeout: only the injected 503 may count as an overload, however loaded the machine.
    const limited = new HttpClient({ ...client.options, limiter, timeoutMs: 10_000 });
    server.inject({ times: 1, response: { status: 503 } });
    await limited.request("GET", "/x");
    t.deepEqual(limiter.history, [4, 2], "a 503 halves the limit");
    t.is(limiter.inFlight, 0, "every permit is given back");
  });
});

test("http: clients of the same server share one bound on requests in flight", async (t) => {
  let running = 0;
  let peak = 0;
  const server = new FakeServer(async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 20));
    running--;
    return json(200, {});
  });
  const url = await server.start();
  try {
    const limiter = serverLimiter(url);
    const clients = [new HttpClient({ service: "a", baseUrl: url }), new HttpClient({ service: "b", baseUrl: `${url}/other/` })];
    await Promise.all(Array.from({ length: 12 }, (_, i) => clients[i % 2]!.request("GET", `/x/${i}`)));
    t.true(peak <= Math.max(...limiter.history), `peak ${peak}, limits ${limiter.history}`);
    t.true(peak < 12);
  } finally {
    await server.stop();
  }
});
