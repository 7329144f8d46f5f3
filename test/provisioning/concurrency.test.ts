// The adaptive limiter against simulated servers, on a virtual clock: a CPU-bound server
// (N requests in flight each take about N times as long), one that scales, one that slows
// down mid-run, and one that answers 429. No wall time is measured here; the real timings
// are the benchmark's (`npm run bench:provision`).
import test from "ava";
import {
  AdaptiveLimiter,
  DEFAULT_LIMITER,
  limitAfterOverload,
  limitAfterRound,
  NOTHING_LEARNT,
  throughputOf,
  type LimitMemory,
  requestKind,
  serverLimiter,
  type Permit,
} from "../../provisioners/runtime/concurrency.ts";

interface ServerModel {
  /** Requests the server works on at full speed at once. */
  cores: number | ((done: number) => number);
  /** CPU time of request i, in ms. */
  workMs: (i: number) => number;
  /** Extra cost of each request beyond `cores` (context switches, locks): 0.05 = 5 % each. */
  contention: number;
  /** Time on the wire, both ways, that costs the server nothing. */
  networkMs: number;
  kind?: (i: number) => string;
}

interface Job {
  index: number;
  permit: Permit;
  started: number;
  networkLeft: number;
  workLeft: number;
}

/** Runs `count` requests through `limiter` against `model`, 1 ms at a time; returns the virtual time it took. */
function simulate(limiter: AdaptiveLimiter, model: ServerModel, count: number): { totalMs: number; limits: number[] } {
  const jobs: Job[] = [];
  const limits: number[] = [];
  let next = 0;
  let done = 0;
  for (let now = 0; now < 10_000_000; now++) {
    const kindOf = (i: number) => model.kind?.(i) ?? "POST 4 ocs/v1.php/cloud/users";
    for (let permit = next < count ? limiter.tryAcquire(kindOf(next)) : undefined; permit; permit = next < count ? limiter.tryAcquire(kindOf(next)) : undefined) {
      jobs.push({ index: next, permit, started: now, networkLeft: model.networkMs, workLeft: model.workMs(next) });
      next++;
    }
    const computing = jobs.filter((j) => j.networkLeft <= 0);
    const cores = typeof model.cores === "number" ? model.cores : model.cores(done);
    const rate = Math.min(1, cores / Math.max(1, computing.length)) / (1 + model.contention * Math.max(0, computing.length - cores));
    for (const job of jobs) {
      if (job.networkLeft > 0) job.networkLeft--;
      else job.workLeft -= rate;
    }
    for (const job of jobs.filter((j) => j.networkLeft <= 0 && j.workLeft <= 0)) {
      jobs.splice(jobs.indexOf(job), 1);
      job.permit.release({ kind: "answer", latencyMs: now + 1 - job.started });
      limits.push(limiter.limit);
      done++;
    }
    if (done === count) return { totalMs: now + 1, limits };
  }
  throw new Error("simulation did not finish");
}

/** A repeatable ±20 % jitter, so no test depends on Math.random. */
const jitter = (i: number) => 0.8 + 0.4 * (((i * 2654435761) >>> 0) % 1000) / 1000;

const oneAtATime = (model: ServerModel, count: number) => simulate(new AdaptiveLimiter({ max: 1 }), model, count).totalMs;

test("limiter: on a CPU-bound server it stays near one request in flight and is never slower than one at a time", (t) => {
  const server: ServerModel = { cores: 1, workMs: (i) => Math.round(100 * jitter(i)), contention: 0.05, networkMs: 2 };
  const baseline = oneAtATime(server, 300);
  const { totalMs, limits } = simulate(new AdaptiveLimiter(), server, 300);
  t.true(Math.max(...limits.slice(50)) <= 2, `limits after warm-up: ${[...new Set(limits.slice(50))]}`);
  t.true(totalMs <= baseline * 1.02, `adaptive ${totalMs} ms against ${baseline} ms one at a time`);
});

test("limiter: on a CPU-bound server shared with another load (answers from half to twice as long), still not slower than one at a time", (t) => {
  // Another load on the machine: each request's work varies fourfold, at random but repeatably.
  const noisy = (i: number) => 0.5 + 1.5 * ((((i * 2246822519) >>> 0) % 997) / 997);
  const server: ServerModel = { cores: 1, workMs: (i) => Math.round(100 * noisy(i)), contention: 0.05, networkMs: 2 };
  const baseline = oneAtATime(server, 400);
  const { totalMs } = simulate(new AdaptiveLimiter(), server, 400);
  t.true(totalMs <= baseline * 1.02, `adaptive ${totalMs} ms against ${baseline} ms one at a time`);
});

test("limiter: the old fixed 16 in flight is slower than one at a time on that server (the issue's finding)", (t) => {
  const server: ServerModel = { cores: 1, workMs: (i) => Math.round(100 * jitter(i)), contention: 0.05, networkMs: 2 };
  const fixed = simulate(new AdaptiveLimiter({ initial: 16, min: 16, max: 16 }), server, 300).totalMs;
  t.true(fixed > oneAtATime(server, 300) * 1.3);
});

test("limiter: on a two-core server it settles at two or three, and finishes well ahead of one at a time", (t) => {
  const server: ServerModel = { cores: 2, workMs: (i) => Math.round(100 * jitter(i)), contention: 0.05, networkMs: 2 };
  const { totalMs, limits } = simulate(new AdaptiveLimiter(), server, 300);
  const late = limits.slice(100);
  t.true(Math.min(...late) >= 2 && Math.max(...late) <= 4, `limits: ${[...new Set(late)]}`);
  t.true(totalMs < oneAtATime(server, 300) * 0.6, `${totalMs} ms`);
});

test("limiter: on a server that scales it grows to many in flight", (t) => {
  const server: ServerModel = { cores: 64, workMs: (i) => Math.round(100 * jitter(i)), contention: 0, networkMs: 2 };
  const { totalMs, limits } = simulate(new AdaptiveLimiter(), server, 500);
  t.true(Math.max(...limits) >= 8, `peak ${Math.max(...limits)}`);
  t.true(totalMs < oneAtATime(server, 500) / 4, `${totalMs} ms`);
});

test("limiter: when the server slows down (latency rises), the limit comes back down", (t) => {
  // Scales for the first 300 answers, then only one core is left (another load took the rest).
  const server: ServerModel = { cores: (done) => (done < 300 ? 64 : 1), workMs: (i) => Math.round(100 * jitter(i)), contention: 0.05, networkMs: 2 };
  const { limits } = simulate(new AdaptiveLimiter(), server, 600);
  t.true(Math.max(...limits.slice(0, 300)) >= 8);
  t.true(Math.max(...limits.slice(450)) <= 2, `limits at the end: ${[...new Set(limits.slice(450))]}`);
});

test("limiter: a mix of fast reads and slow writes is judged per kind of request", (t) => {
  // Reads take 10 ms, creations 100 ms: compared with the fastest read, every creation
  // would look like a queue of ten; compared with the fastest creation, it is no queue.
  const server: ServerModel = {
    cores: 64,
    workMs: (i) => Math.round((i % 2 ? 100 : 10) * jitter(i)),
    contention: 0,
    networkMs: 2,
    kind: (i) => (i % 2 ? "POST 4 ocs/v1.php/cloud/users" : "GET 5 ocs/v1.php/cloud/users"),
  };
  t.true(Math.max(...simulate(new AdaptiveLimiter(), server, 500).limits) >= 8);
});

test("limiter: a kind of request first seen at many in flight is measured alone, so a CPU-bound server is not mistaken for an idle one", (t) => {
  // Phases as converge runs them: 40 creations of users, then of rooms, then invites...
  const server: ServerModel = { cores: 1, workMs: (i) => Math.round(100 * jitter(i)), contention: 0.05, networkMs: 2, kind: (i) => `POST 3 kind-${Math.floor(i / 40)}` };
  const { totalMs, limits } = simulate(new AdaptiveLimiter(), server, 400);
  t.true(limits.filter((l) => l > 2).length <= 10, `limits: ${limits.join(",")}`);
  t.true(totalMs <= oneAtATime(server, 400) * 1.02);
});

test("limiter: the first request of a kind runs alone; the others of that kind wait for its answer", (t) => {
  const limiter = new AdaptiveLimiter({ initial: 4 });
  const probe = limiter.tryAcquire("POST users")!;
  t.is(limiter.tryAcquire("POST users"), undefined);
  t.is(limiter.tryAcquire("GET users"), undefined, "nothing else runs beside a probe");
  probe.release({ kind: "answer", latencyMs: 100 });
  t.truthy(limiter.tryAcquire("POST users"));
  t.truthy(limiter.tryAcquire("POST users"));
});

test("limiter rule: throughput per limit, growth only when saturated and paying, cut when latency doubles", (t) => {
  const step = (limit: number, ratios: number[], memory: LimitMemory = NOTHING_LEARNT, saturated = true) =>
    limitAfterRound(limit, { ratios, saturated }, memory, DEFAULT_LIMITER);
  t.is(throughputOf(4, [1, 1, 0.5, 0.5]), 3);
  t.is(step(1, [1]).limit, 2);
  t.is(step(1, [1], NOTHING_LEARNT, false).limit, 1, "the client held the pace: nothing learnt");
  t.is(step(1, [0.2]).limit, 2, "one slow answer alone (another load on the machine) does not keep the limit at one");
  t.is(step(16, Array(16).fill(1 / 16)).limit, 2, "answers sixteen times slower: cut to what is served");
  t.is(step(16, Array(16).fill(1)).limit, 16, "never above max");

  const atOne = step(1, [0.9]);
  const atTwo = step(2, [0.45, 0.45], atOne.memory);
  t.is(atTwo.limit, 1, "two in flight served no more than one: back to one");
  t.deepEqual(atTwo.memory.blocked, { limit: 2, roundsLeft: 4, backoff: 4 });
  let memory = atTwo.memory;
  for (let round = 0; round < 3; round++) {
    const held = step(1, [0.9], memory);
    t.is(held.limit, 1, `round ${round}: two is not tried again yet`);
    memory = held.memory;
  }
  const probe = step(1, [0.9], memory);
  t.is(probe.limit, 2, "tried again after four rounds");
  t.deepEqual(step(2, [0.45, 0.45], probe.memory).memory.blocked, { limit: 2, roundsLeft: 8, backoff: 8 }, "and waits twice as long after failing again");
  t.is(step(2, [0.95, 0.95], atOne.memory).limit, 3, "two served twice as much: try three");
  t.is(step(2, [0.55, 0.55], atOne.memory).limit, 1, "the second request added a fifth of a request (1.1 against 0.9): noise, back to one");

  t.is(limitAfterOverload(9, DEFAULT_LIMITER), 4);
  t.is(limitAfterOverload(1, DEFAULT_LIMITER), 1);
});

test("limiter: an overload halves the limit once, however many requests in flight report it", (t) => {
  const limiter = new AdaptiveLimiter({ initial: 8 });
  limiter.tryAcquire("GET")!.release({ kind: "answer", latencyMs: 10 });
  const permits = Array.from({ length: 8 }, () => limiter.tryAcquire("GET")!);
  t.is(limiter.tryAcquire(), undefined);
  for (const permit of permits) permit.release({ kind: "overload" });
  t.is(limiter.limit, 4);
  t.deepEqual(limiter.history, [8, 4]);
});

test("limiter: waiting requests go first come first served, as slots free", async (t) => {
  const limiter = new AdaptiveLimiter({ initial: 1, max: 1 });
  const first = limiter.tryAcquire()!;
  const order: number[] = [];
  const waiters = [1, 2, 3].map((n) => limiter.acquire().then((permit) => (order.push(n), permit)));
  t.is(limiter.tryAcquire(), undefined, "no jumping the queue");
  first.release({ kind: "answer", latencyMs: 1 });
  (await waiters[0]!).release({ kind: "answer", latencyMs: 1 });
  (await waiters[1]!).release({ kind: "answer", latencyMs: 1 });
  (await waiters[2]!).release({ kind: "answer", latencyMs: 1 });
  t.deepEqual(order, [1, 2, 3]);
  t.is(limiter.inFlight, 0);
});

test("limiter: one per server, shared by every client of that origin", (t) => {
  t.is(serverLimiter("http://127.0.0.1:8008/_matrix"), serverLimiter("http://127.0.0.1:8008/"));
  t.not(serverLimiter("http://127.0.0.1:8008/"), serverLimiter("http://127.0.0.1:8009/"));
});

test("request kinds: ids after the fourth segment and query strings do not make a new kind", (t) => {
  t.is(requestKind("get", "ocs/v1.php/cloud/users/alice?format=json"), requestKind("GET", "ocs/v1.php/cloud/users/bob?format=json"));
  t.not(requestKind("POST", "ocs/v1.php/cloud/users?format=json"), requestKind("POST", "ocs/v1.php/cloud/users/alice/groups?format=json"));
});
