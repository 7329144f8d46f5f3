// The adaptive limiter against simulated servers, on a virtual clock: a CPU-bound server
// (N requests in flight each take about N times as long, and a little more), servers that
// work on k requests at full speed, one that slows down mid-run, one that answers 429.
// No wall time is measured here; the real timings are the benchmark's
// (`npm run bench:provision`).
import test from "ava";
import fc from "fast-check";
import {
  AdaptiveLimiter,
  climbAfterOverload,
  climbAfterWindow,
  gainNeeded,
  needsLongerMeasure,
  DEFAULT_LIMITER,
  kindCost,
  requestKind,
  serverLimiter,
  startClimb,
  windowThroughput,
  type Climb,
  type LimiterSettings,
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
  permit: Permit;
  started: number;
  networkLeft: number;
  workLeft: number;
}

/**
 * Runs `count` requests through a limiter against `model`, event by event, on the
 * limiter's virtual clock; returns the virtual time it took. The client always has a
 * request ready (a provisioner with more lanes than the limit), unless `oneAtATime`: then
 * it sends the next only once the last is answered (a sequential loop).
 */
function simulate(
  settings: Partial<LimiterSettings>,
  model: ServerModel,
  count: number,
  client: { oneAtATime?: boolean } = {},
): { totalMs: number; limits: number[]; limiter: AdaptiveLimiter } {
  let now = 0;
  const limiter = new AdaptiveLimiter(settings, () => now);
  const jobs: Job[] = [];
  const limits: number[] = [];
  let next = 0;
  let done = 0;
  const kindOf = (i: number) => model.kind?.(i) ?? "POST 4 ocs/v1.php/cloud/users";
  const ready = () => next < count && !(client.oneAtATime && jobs.length > 0);
  const epsilon = 1e-9;
  for (let event = 0; event < 1_000_000; event++) {
    for (let permit = ready() ? limiter.tryAcquire(kindOf(next)) : undefined; permit; permit = ready() ? limiter.tryAcquire(kindOf(next)) : undefined) {
      jobs.push({ permit, started: now, networkLeft: model.networkMs, workLeft: model.workMs(next) });
      next++;
    }
    const computing = jobs.filter((j) => j.networkLeft <= epsilon).length;
    const cores = typeof model.cores === "number" ? model.cores : model.cores(done);
    const rate = Math.min(1, cores / Math.max(1, computing)) / (1 + model.contention * Math.max(0, computing - cores));
    const step = Math.min(...jobs.map((j) => (j.networkLeft > epsilon ? j.networkLeft : j.workLeft / rate)));
    now += step;
    for (const job of jobs) {
      if (job.networkLeft > epsilon) job.networkLeft -= step;
      else job.workLeft -= rate * step;
    }
    for (const job of jobs.filter((j) => j.networkLeft <= epsilon && j.workLeft <= epsilon)) {
      jobs.splice(jobs.indexOf(job), 1);
      job.permit.release({ kind: "answer", latencyMs: now - job.started });
      limits.push(limiter.limit);
      done++;
    }
    if (done === count) return { totalMs: now, limits, limiter };
  }
  throw new Error("simulation did not finish");
}

/** A repeatable ±20 % jitter, so no test depends on Math.random. */
const jitter = (i: number, seed = 0) => 0.8 + (0.4 * (((i + seed) * 2654435761) >>> 0) % 1000) / 1000;

const oneAtATime = (model: ServerModel, count: number) => simulate({ max: 1 }, model, count).totalMs;

/** Server with `cores` cores, ±20 % work per request around `workMs`. */
const server = (cores: ServerModel["cores"], contention: number, workMs = 100, seed = 0): ServerModel => ({
  cores,
  workMs: (i) => Math.round(workMs * jitter(i, seed)),
  contention,
  networkMs: 2,
});

test("limiter: on a CPU-bound server it tries two once, goes back to one for good, and loses at most that one try", (t) => {
  const cpuBound = server(1, 0.05);
  const baseline = oneAtATime(cpuBound, 300);
  const { totalMs, limiter } = simulate({}, cpuBound, 300);
  t.deepEqual(limiter.history, [1, 2, 1]);
  t.true(limiter.settled);
  // The try lasts a window of answers (and the few that open and close it), each at most 5 % slower.
  const tryCost = (DEFAULT_LIMITER.window * DEFAULT_LIMITER.longestWindows + 4) * 120 * 0.05;
  t.true(totalMs <= baseline + tryCost, `adaptive ${totalMs} ms against ${baseline} ms one at a time`);
});

test("limiter: on a CPU-bound server shared with another load (answers from half to twice as long), still one try and no slower", (t) => {
  const noisy = (i: number) => 0.5 + 1.5 * ((((i * 2246822519) >>> 0) % 997) / 997);
  const shared: ServerModel = { cores: 1, workMs: (i) => Math.round(100 * noisy(i)), contention: 0.05, networkMs: 2 };
  const baseline = oneAtATime(shared, 400);
  const { totalMs, limiter } = simulate({}, shared, 400);
  t.deepEqual(limiter.history, [1, 2, 1]);
  t.true(totalMs <= baseline * 1.02, `adaptive ${totalMs} ms against ${baseline} ms one at a time`);
});

test("limiter: the old fixed 16 in flight is slower than one at a time on that server (the issue's finding)", (t) => {
  const cpuBound = server(1, 0.05);
  const fixed = simulate({ initial: 16, min: 16, max: 16 }, cpuBound, 300).totalMs;
  t.true(fixed > oneAtATime(cpuBound, 300) * 1.3);
});

test("limiter (property): on a server that works on k requests at full speed, never slower than one at a time, not far past k, and faster when k > 1", (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.double({ min: 0, max: 0.1, noNaN: true }),
      fc.integer({ min: 20, max: 150 }),
      fc.integer({ min: 200, max: 320 }),
      fc.nat(10_000),
      (cores, contention, workMs, count, seed) => {
        const model = server(cores, contention, workMs, seed);
        const baseline = oneAtATime(model, count);
        const { totalMs, limiter } = simulate({}, model, count);
        const tryCost = (DEFAULT_LIMITER.window * DEFAULT_LIMITER.longestWindows + 4) * workMs * 1.2 * contention * cores;
        if (totalMs > baseline + tryCost) return false;
        // One more than k may pay: the time on the wire overlaps another request's work. A run
        // may end in the middle of a try, one above the last limit that paid.
        const kept = limiter.settled ? limiter.limit : limiter.limit - 1;
        if (kept > cores + 1) return false;
        return cores === 1 || totalMs < baseline * 0.8;
      },
    ),
    { numRuns: 25, seed: 8 },
  );
  t.pass();
});

test("limiter (property): on a server that only gets slower with more in flight, like the real Nextcloud, one try and a bounded cost", (t) => {
  fc.assert(
    fc.property(fc.double({ min: 0.02, max: 0.5, noNaN: true }), fc.integer({ min: 20, max: 200 }), fc.nat(10_000), (contention, workMs, seed) => {
      const model = server(1, contention, workMs, seed);
      // Only a server where a second request costs more than its time on the wire saves
      // (twice over): with 2 ms on the wire and 20 ms of work, 2 % of contention makes two in
      // flight 8 % faster, and the limiter rightly keeps two.
      fc.pre(contention * workMs > 2 * model.networkMs);
      const baseline = oneAtATime(model, 300);
      const { totalMs, limiter } = simulate({}, model, 300);
      const tryCost = (DEFAULT_LIMITER.window * DEFAULT_LIMITER.longestWindows + 4) * workMs * 1.2 * contention;
      // The cost of the one try depends on the window, not on the run's length.
      return limiter.history.join() === "1,2,1" && totalMs <= baseline + tryCost;
    }),
    { numRuns: 25, seed: 8 },
  );
  t.pass();
});

test("limiter: on a server that scales it grows to many in flight", (t) => {
  // Each step must serve a tenth more than the last: 10 in flight at most, 11 being only 10 % more.
  const scaling = server(64, 0);
  const { totalMs, limits } = simulate({}, scaling, 500);
  t.true(Math.max(...limits) >= 6, `peak ${Math.max(...limits)}`);
  t.true(totalMs < oneAtATime(scaling, 500) / 4, `${totalMs} ms`);
});

test("limiter: when a settled limit serves less than one at a time once did (the server slowed down), it falls back to one", (t) => {
  // Scales for the first 400 answers, then only one core is left (another load took the rest).
  const slowing = server((done) => (done < 400 ? 64 : 1), 0.05);
  const { limits, limiter } = simulate({}, slowing, 700);
  t.true(Math.max(...limits.slice(0, 400)) >= 6);
  t.is(limiter.limit, 1, `limits: ${limiter.history}`);
  t.true(Math.max(...limits.slice(500)) === 1, `limits at the end: ${[...new Set(limits.slice(500))]}`);
});

test("limiter: a mix of fast reads and slow writes is weighed per kind of request", (t) => {
  // Reads take 10 ms, creations 100 ms: counted alike, a window with more creations would
  // serve less and one with more reads more, whatever the limit.
  const mixed: ServerModel = {
    cores: 64,
    workMs: (i) => Math.round((i % 3 ? 100 : 10) * jitter(i)),
    contention: 0,
    networkMs: 2,
    kind: (i) => (i % 3 ? "POST 4 ocs/v1.php/cloud/users" : "GET 5 ocs/v1.php/cloud/users"),
  };
  const { limiter } = simulate({}, mixed, 500);
  t.true(Math.max(...limiter.history) >= 6, `limits: ${limiter.history}`);
});

test("limiter: kinds of request first seen at two in flight are not mistaken for a gain on a CPU-bound server", (t) => {
  // Phases as converge runs them: 40 creations of users, then of rooms, then invites...
  const phases: ServerModel = { ...server(1, 0.05), kind: (i) => `POST 3 kind-${Math.floor(i / 40)}` };
  const { totalMs, limits } = simulate({}, phases, 400);
  t.true(Math.max(...limits) <= 2, `limits: ${[...new Set(limits)]}`);
  t.true(totalMs <= oneAtATime(phases, 400) * 1.02);
});

test("limiter: a client that sends one request at a time never makes it try two", (t) => {
  const { limiter } = simulate({}, server(64, 0), 200, { oneAtATime: true });
  t.deepEqual(limiter.history, [1]);
});

test("limiter: at one in flight a second request waits, whatever its kind: the serial path, with nothing sent alone first", (t) => {
  const limiter = new AdaptiveLimiter({}, () => 0);
  const first = limiter.tryAcquire("POST users")!;
  t.is(limiter.tryAcquire("POST users"), undefined);
  t.is(limiter.tryAcquire("GET users"), undefined);
  first.release({ kind: "answer", latencyMs: 100 });
  t.truthy(limiter.tryAcquire("GET users"), "a kind never seen goes as soon as the slot is free");
  t.is(new AdaptiveLimiter({ max: 1 }).settled, true, "one at a time has nothing to try");
});

test("limiter rule: climbs while each limit serves a tenth more than the last that paid, settles back at the first that does not", (t) => {
  const settings = DEFAULT_LIMITER;
  let climb = startClimb(settings);
  t.deepEqual(climb, { limit: 1, settled: false });
  climb = climbAfterWindow(climb, 0.95, settings);
  t.is(climb.limit, 2, "the first window is the reference; try two");
  climb = climbAfterWindow(climb, 1.5, settings);
  t.is(climb.limit, 3, "two served half as much again: try three");
  climb = climbAfterWindow(climb, 1.6, settings);
  t.deepEqual({ limit: climb.limit, settled: climb.settled }, { limit: 2, settled: true }, "three served 1.6, less than 1.5 and a tenth: back to two, for good");
  t.is(climbAfterWindow(climb, 3, settings).limit, 2, "settled: even a window that looks better tries nothing");
  t.is(climbAfterWindow(climb, 0.9, settings).limit, 2, "within the margin of what one served");
  const slowOnce = climbAfterWindow(climb, 0.8, settings);
  t.is(slowOnce.limit, 2, "serving less than one at a time did, by more than the margin, once: a burst of another load, maybe");
  t.is(climbAfterWindow(climbAfterWindow({ ...climb, limit: 5 }, 0.8, settings), 0.8, settings).limit, 1, "twice in a row: back to one");
  t.is(climbAfterWindow(climbAfterWindow(slowOnce, 1.4, settings), 0.8, settings).limit, 2, "not in a row: kept");
  t.deepEqual(climbAfterWindow(startClimb({ ...settings, initial: 16 }), 1, settings), { limit: 16, first: { limit: 16, throughput: 1 }, paid: { limit: 16, throughput: 1 }, settled: true });
  t.deepEqual(climbAfterOverload({ limit: 9, settled: false }, settings), { limit: 4, settled: true });
  t.is(climbAfterOverload({ limit: 1, settled: false }, settings).limit, 1);
});

test("limiter rule: a try that gains a little is measured longer, and judged against a gain that shrinks with the measurement", (t) => {
  const settings = DEFAULT_LIMITER;
  const trying: Climb = { limit: 2, first: { limit: 1, throughput: 1 }, paid: { limit: 1, throughput: 1 }, settled: false };
  const { window } = settings;
  t.false(needsLongerMeasure(trying, 1.3, window, settings), "a clear gain is judged on one window");
  t.false(needsLongerMeasure(trying, 0.97, window, settings), "so is none");
  t.true(needsLongerMeasure(trying, 1.06, window, settings), "6 %: within one window's noise, measure twice as long");
  t.true(needsLongerMeasure(trying, 1.06, window * 2, settings), "6 % over two windows: still less than 10 % / √2");
  t.false(needsLongerMeasure(trying, 1.06, window * 4, settings), "four windows is the longest");
  t.is(climbAfterWindow(trying, 1.06, settings, window * 4).limit, 3, "6 % over four windows is more than 10 % / √4: it pays, try three");
  t.deepEqual(climbAfterWindow(trying, 1.04, settings, window * 4), { ...trying, limit: 1, settled: true }, "4 % over four windows does not");
  t.false(needsLongerMeasure({ ...trying, settled: true }, 1.06, window, settings), "a settled limit is not measured for a try");
  t.false(needsLongerMeasure({ limit: 1, settled: false }, 1.06, window, settings), "nor the reference, which has nothing to be compared with");
  t.is(gainNeeded(window / 2, settings), settings.minGain, "never more lenient than one window");
});

test("limiter rule (property): whatever the measurements, the limit rises one step at a time, falls back at most twice (the second time to one), and never rises again", (t) => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0.01, max: 20, noNaN: true }), { maxLength: 40 }), fc.integer({ min: 1, max: 16 }), (throughputs, max) => {
      const settings: LimiterSettings = { ...DEFAULT_LIMITER, max };
      let climb: Climb = startClimb(settings);
      const limits = [climb.limit];
      for (const throughput of throughputs) {
        climb = climbAfterWindow(climb, throughput, settings);
        if (climb.limit !== limits.at(-1)) limits.push(climb.limit);
      }
      const firstFall = limits.findIndex((limit, i) => i > 0 && limit < limits[i - 1]!);
      const rising = firstFall === -1 ? limits : limits.slice(0, firstFall);
      if (!rising.every((limit, i) => i === 0 || limit === rising[i - 1]! + 1)) return false;
      if (limits.some((limit) => limit > max)) return false;
      // After the fall back, at most one more fall, to one (the server slowed down), and no rise.
      const after = firstFall === -1 ? [] : limits.slice(firstFall);
      return after.length <= 2 && (after.length < 2 || after[1] === 1);
    }),
  );
  t.pass();
});

test("limiter: a kind's cost is its median alone, else its latencies shared out among the requests in flight beside it", (t) => {
  t.is(kindCost([100, 300, 110], [1]), 110);
  t.is(kindCost([], [40, 60]), 50);
  t.is(kindCost([], []), undefined);
  t.is(windowThroughput([100, 100, 100], 150), 2, "three answers of 100 ms of work in 150 ms: two at full speed");
});

test("limiter: answers to requests sent under an earlier limit say nothing of the new one", (t) => {
  let now = 0;
  const limiter = new AdaptiveLimiter({ window: 1, referenceWindows: 1 }, () => now);
  const answer = (permit: Permit, at: number, latencyMs: number) => {
    now = at;
    t.is(limiter.tryAcquire("GET"), undefined, "a request is always waiting");
    permit.release({ kind: "answer", latencyMs });
  };
  const a = limiter.tryAcquire("GET")!;
  answer(a, 100, 100); // opens the window
  const b = limiter.tryAcquire("GET")!;
  answer(b, 200, 100); // one served 1: try two
  t.is(limiter.limit, 2);
  const c = limiter.tryAcquire("GET")!;
  const d = limiter.tryAcquire("GET")!;
  answer(c, 250, 150); // opens the window
  const e = limiter.tryAcquire("GET")!;
  answer(d, 300, 200); // 100 ms of work (its cost alone) in 50 ms: two served 2, try three
  t.is(limiter.limit, 3);
  const f = limiter.tryAcquire("GET")!;
  limiter.tryAcquire("GET")!;
  e.release({ kind: "overload" });
  t.is(limiter.limit, 3, "e was sent under two: its overload does not judge three");
  f.release({ kind: "overload" });
  t.deepEqual(limiter.history, [1, 2, 3, 1], "f was sent under three: halved, and the climb is over");
  t.deepEqual(
    limiter.changes.map((c) => [c.atMs, c.why]),
    [[200, "served 1.00"], [300, "served 2.00"], [300, "overload"]],
  );
  t.true(limiter.settled);
});

test("limiter: an overload halves the limit once, however many requests in flight report it", (t) => {
  const limiter = new AdaptiveLimiter({ initial: 8 });
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
