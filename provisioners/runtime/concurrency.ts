// Concurrency: how many calls a server gets at once.
//
// mapLimit and settleLanes bound how many changes a provisioner works on at once; the
// AdaptiveLimiter bounds how many requests are actually in flight to one server, and
// adapts that number to what the server serves. A fixed 16 made a real, CPU-bound
// Nextcloud slower than one request at a time (61.7 s against 41.0 s for 40 members: the
// server only shares its cores out, and the 30 s timeouts then re-sent creations), and
// bought 1.2x on a real Synapse. The limiter before this one hill-climbed on latencies
// (each answer against the fastest of its kind, that kind first timed alone by emptying
// the pipeline) and tried two again after two had not paid: on the real Synapse its limit
// went 1→2→1→2… all run long, and one single-round benchmark measured it at 69.0 s against
// 54.0 s one at a time. So this one starts at one request (the serial path, exactly),
// measures throughput (requests' own work served per unit of time over a window of
// answers), tries one more only while that rises by a clear margin (measuring a small
// gain longer before judging it), and settles for good on the last limit that paid at the
// first try that does not; 429, 5xx, timeouts and dropped connections halve it, for good
// too (the climb, below).

/** The most requests in flight to one server, whatever the limiter learns. */
export const MAX_IN_FLIGHT = 16;

/** Runs `fn` on every item, at most `limit` at a time; results keep the items' order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`mapLimit: limit must be a positive integer, got ${limit}`);
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Like mapLimit, but every item runs even when some fail, and items of the same lane run one after another, in their order;
 * lanes run concurrently, at most `limit` items at a time. An item without a lane is a
 * lane of its own. Every item runs even when some fail; the failures are returned.
 * Why: Synapse writes the events of one room one at a time anyway (see the Matrix plan),
 * so requests in flight for one room only wait inside the server while holding the
 * bound; one per room lets the bound go to requests that can run.
 */
export async function settleLanes<T>(
  items: readonly T[],
  limit: number,
  laneOf: (item: T) => string | undefined,
  fn: (item: T) => Promise<void>,
): Promise<{ item: T; error: unknown }[]> {
  const lanes = new Map<unknown, T[]>();
  for (const item of items) {
    const key = laneOf(item) ?? Symbol("own lane");
    const lane = lanes.get(key);
    if (lane) lane.push(item);
    else lanes.set(key, [item]);
  }
  const failures: { item: T; error: unknown }[] = [];
  await mapLimit([...lanes.values()], limit, async (lane) => {
    for (const item of lane) {
      try {
        await fn(item);
      } catch (error) {
        failures.push({ item, error });
      }
    }
  });
  return failures;
}

// ---------------------------------------------------------------------------------------
// The adaptive limit, as pure functions
//
// A climb from one request in flight: one at a time is exactly the serial path (no
// request waits for another, none is sent twice). The limiter measures what each limit
// serves, over a window of answers given while requests were waiting for a slot (so the
// limit, not the client, set the pace), and tries one more in flight only while the last
// try served clearly more. The first try that does not pay ends the climb, for good: the
// limit goes back to the last one that paid. A failed try thus costs one window at one
// request more than the server can use, once per run, whatever the run's length.
//
// A try that gains a little is measured longer before it is judged: over twice, then four
// times the window, the gain it must show shrinking as the noise of a longer measurement
// does (as the square root of its length). On the real Synapse 1.163.2 each of two and
// three in flight gains 5 to 10 % over the limit below (a fixed three: 1.11x in both rounds
// of bench:provision), which one window of 20 answers cannot tell from noise: the climb
// stopped at one in three runs of four. A clear gain (a server that works in parallel) or
// none (a server that only shares its cores out) is still judged on one window. The
// reference every first try is compared with is measured over two windows: it costs
// nothing (nothing is tried yet), and a reference caught in a burst of noise makes a try
// that does not pay look as if it did.

export interface LimiterSettings {
  initial: number;
  min: number;
  max: number;
  /** Answers one measurement spans, all given while requests were waiting for a slot. */
  window: number;
  /**
   * A limit is kept when it serves at least this fraction more than the one below it over
   * one window (0.1: a tenth; less is within a shared machine's noise), or that fraction
   * shrunk by the square root of a longer measurement's length (a twentieth over four).
   */
  minGain: number;
  /** The longest measurement of a try, in windows. */
  longestWindows: number;
  /** The reference measurement (the first limit's), in windows. */
  referenceWindows: number;
}

export const DEFAULT_LIMITER: LimiterSettings = { initial: 1, min: 1, max: MAX_IN_FLIGHT, window: 20, minGain: 0.1, longestWindows: 4, referenceWindows: 2 };

/** The gain a try must show after `answers` answers: minGain over one window, less over more. */
export const gainNeeded = (answers: number, settings: LimiterSettings) => settings.minGain * Math.sqrt(settings.window / Math.max(answers, settings.window));

/**
 * Whether a try measured over `answers` answers is to be measured longer before it is
 * judged: it gains, but less than a measurement that long can tell from noise, and a
 * longer one is allowed.
 */
export function needsLongerMeasure(climb: Climb, throughput: number, answers: number, settings: LimiterSettings): boolean {
  if (climb.settled || !climb.paid || answers >= settings.window * settings.longestWindows) return false;
  const gain = throughput / climb.paid.throughput - 1;
  return gain > 0 && gain < gainNeeded(answers, settings);
}

/**
 * Where the climb stands. Throughputs are in requests' own work served per unit of time:
 * one at a time on an idle server serves about 1, a server working on two at full
 * speed about 2, one that only shares its cores out about 1 at any limit.
 */
export interface Climb {
  limit: number;
  /** What the first measured limit served: what a settled limit must not fall below. */
  first?: { limit: number; throughput: number };
  /** The highest limit that paid, and what it served. */
  paid?: { limit: number; throughput: number };
  /** The climb is over: no more tries. */
  settled: boolean;
  /** Settled, the windows in a row that served less than the first limit did. */
  slowWindows?: number;
}

export const startClimb = (settings: LimiterSettings): Climb => ({ limit: clamp(settings.initial, settings), settled: settings.min === settings.max });

/**
 * The climb after a measurement of `throughput` at its limit. The first measurement is the
 * reference; each next limit must serve `minGain` more than the last that paid, or the
 * climb settles back on that one. Settled above the first limit, two measurements in a row
 * that serve less than the first did (by the margin) mean the server changed: back to the
 * floor, for good (stepping down one at a time stopped at 4 in flight on a server left with
 * one core, 15 % slower than one at a time, within the margin).
 */
export function climbAfterWindow(climb: Climb, throughput: number, settings: LimiterSettings, answers = settings.window): Climb {
  if (climb.settled) {
    const slower = climb.first !== undefined && climb.limit > settings.min && throughput < climb.first.throughput * (1 - settings.minGain);
    if (!slower) return climb.slowWindows ? { ...climb, slowWindows: 0 } : climb;
    // One window can catch a burst of another load; two in a row are the server.
    const slowWindows = (climb.slowWindows ?? 0) + 1;
    return slowWindows >= 2 ? { ...climb, limit: settings.min, slowWindows: 0 } : { ...climb, slowWindows };
  }
  const measured = { limit: climb.limit, throughput };
  if (climb.paid && throughput < climb.paid.throughput * (1 + gainNeeded(answers, settings))) return { ...climb, limit: climb.paid.limit, settled: true };
  const first = climb.first ?? measured;
  if (climb.limit >= settings.max) return { first, paid: measured, limit: climb.limit, settled: true };
  return { first, paid: measured, limit: climb.limit + 1, settled: false };
}

/** The climb after an overload signal (429, 5xx, a timeout or a dropped connection): half the limit, for good. */
export const climbAfterOverload = (climb: Climb, settings: LimiterSettings): Climb => ({ ...climb, limit: clamp(Math.floor(climb.limit / 2), settings), settled: true });

const clamp = (limit: number, { min, max }: LimiterSettings) => Math.max(min, Math.min(max, limit));

/** What a window of answers served: the sum of their own costs over the time they took. */
export const windowThroughput = (costs: readonly number[], elapsedMs: number) => (elapsedMs > 0 ? costs.reduce((a, b) => a + b, 0) / elapsedMs : 0);

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/**
 * A kind of request's own cost: the median of its recent latencies alone, when it ran
 * alone; otherwise of its latencies each divided by the most requests that were in flight
 * beside it. That is its cost on a server that only shares its cores out, the server where
 * more in flight is a loss; on one that works in parallel it is less than its cost, so a
 * try measured with it looks worse than it is, never better.
 */
export function kindCost(alone: readonly number[], shared: readonly number[]): number | undefined {
  if (alone.length > 0) return median(alone);
  return shared.length > 0 ? median(shared) : undefined;
}

/** Latencies of one kind kept for its cost: the recent ones, as a server warms up. */
const RECENT_SAMPLES = 31;

/**
 * The kind of a request, for its cost: method, number of path segments and the first
 * four (ids come later: `ocs/v1.php/cloud/users` vs `.../users/alice/groups`).
 */
export function requestKind(method: string, path: string): string {
  const segments = path.split("?")[0]!.split("/").filter(Boolean);
  return `${method.toUpperCase()} ${segments.length} ${segments.slice(0, 4).join("/")}`;
}

// ---------------------------------------------------------------------------------------
// The limiter

/** What a request's answer said: its latency, or that the server is overloaded. */
export type Outcome = { kind: "answer"; latencyMs: number } | { kind: "overload" };

/** A slot for one request; released once, with what its answer said. */
export interface Permit {
  release(outcome: Outcome): void;
}

interface Waiting {
  kind: string;
  resolve(permit: Permit): void;
}

export interface LimitChange {
  limit: number;
  atMs: number;
  /** "overload", or what the window that decided it served (see Climb). */
  why: string;
}

interface InFlight {
  kind: string;
  /** The limit's epoch when it was sent: answers to requests sent under another limit are not counted. */
  epoch: number;
  /** The most requests in flight at once during its life, itself included. */
  peak: number;
}

export class AdaptiveLimiter {
  readonly settings: LimiterSettings;
  private climb: Climb;
  private readonly flying = new Set<InFlight>();
  /** Bumped at every change of limit. */
  private epoch = 0;
  /** A request was refused a slot since the last grant: there is demand beyond the limit. */
  private refused = false;
  /** The measurement under way: its answers' costs, and how many it needs before a verdict. */
  private window: { startedAt: number; costs: number[]; needs: number } | undefined;
  private readonly alone = new Map<string, number[]>();
  private readonly shared = new Map<string, number[]>();
  private readonly waiting: Waiting[] = [];
  private readonly clock: () => number;
  /** Every limit taken, for the benchmark and tests. */
  readonly history: number[];
  /** Every change of limit, when (ms after the limiter was made) and why: what the benchmark prints. */
  readonly changes: LimitChange[] = [];
  private readonly createdAt: number;

  /** `clock`: milliseconds; tests pass a virtual one. */
  constructor(settings: Partial<LimiterSettings> = {}, clock: () => number = () => performance.now()) {
    this.settings = { ...DEFAULT_LIMITER, ...settings };
    const { min, max, window, minGain, longestWindows, referenceWindows } = this.settings;
    if (min < 1 || max < min) throw new Error(`AdaptiveLimiter: need 1 ≤ min ≤ max, got ${min} and ${max}`);
    if (!Number.isInteger(window) || window < 1 || !(minGain >= 0)) throw new Error(`AdaptiveLimiter: need a window of at least 1 answer and a gain ≥ 0, got ${window} and ${minGain}`);
    if (![longestWindows, referenceWindows].every((n) => Number.isInteger(n) && n >= 1)) throw new Error(`AdaptiveLimiter: need measurements of at least 1 window, got ${longestWindows} and ${referenceWindows}`);
    this.clock = clock;
    this.createdAt = clock();
    this.climb = startClimb(this.settings);
    this.history = [this.climb.limit];
  }

  get limit(): number {
    return this.climb.limit;
  }

  get inFlight(): number {
    return this.flying.size;
  }

  /** The climb is over: the limit changes no more, but for an overload or a server that slows down. */
  get settled(): boolean {
    return this.climb.settled;
  }

  /** A permit now for a request of `kind` (see requestKind), or undefined when it must wait. */
  tryAcquire(kind = ""): Permit | undefined {
    if (this.waiting.length > 0 || this.flying.size >= this.climb.limit) {
      this.refused = true;
      return undefined;
    }
    return this.grant(kind);
  }

  /** Waits, first come first served, for a permit. */
  acquire(kind = ""): Promise<Permit> {
    const now = this.tryAcquire(kind);
    if (now) return Promise.resolve(now);
    return new Promise<Permit>((resolve) => this.waiting.push({ kind, resolve }));
  }

  private grant(kind: string): Permit {
    this.refused = false;
    const request: InFlight = { kind, epoch: this.epoch, peak: 0 };
    this.flying.add(request);
    for (const other of this.flying) other.peak = Math.max(other.peak, this.flying.size);
    let released = false;
    return {
      release: (outcome) => {
        if (released) return;
        released = true;
        const demand = this.waiting.length > 0 || this.refused;
        this.flying.delete(request);
        this.learn(request, outcome, demand);
        this.serveWaiting();
      },
    };
  }

  private serveWaiting(): void {
    while (this.waiting.length > 0 && this.flying.size < this.climb.limit) {
      const next = this.waiting.shift()!;
      next.resolve(this.grant(next.kind));
    }
  }

  /** `demand`: requests were waiting when this one was answered, so its slot was taken again at once. */
  private learn(request: InFlight, outcome: Outcome, demand: boolean): void {
    const sentUnderOtherLimit = (r: InFlight) => r.epoch !== this.epoch;
    if (sentUnderOtherLimit(request)) {
      // Once the last of those is answered, only requests sent under this limit are in flight.
      if (demand && ![...this.flying].some(sentUnderOtherLimit)) this.window = this.newWindow();
      return;
    }
    if (outcome.kind === "overload") return this.move(climbAfterOverload(this.climb, this.settings), "overload");
    if (this.climb.settled && this.climb.limit <= this.settings.min) return;
    this.record(request, outcome.latencyMs);
    // The client set the pace (or requests of another limit are still in flight): no measurement.
    if (!demand || [...this.flying].some(sentUnderOtherLimit)) {
      this.window = undefined;
      return;
    }
    if (!this.window) {
      this.window = this.newWindow();
      return;
    }
    const { costs, startedAt } = this.window;
    costs.push(kindCost(this.alone.get(request.kind) ?? [], this.shared.get(request.kind) ?? [])!);
    if (costs.length < this.window.needs) return;
    const throughput = windowThroughput(costs, this.clock() - startedAt);
    if (needsLongerMeasure(this.climb, throughput, costs.length, this.settings)) {
      this.window.needs = costs.length * 2;
      return;
    }
    this.window = undefined;
    this.move(climbAfterWindow(this.climb, throughput, this.settings, costs.length), `served ${throughput.toFixed(2)}${costs.length > this.settings.window ? ` over ${costs.length} answers` : ""}`);
  }

  private newWindow() {
    const { window, referenceWindows } = this.settings;
    return { startedAt: this.clock(), costs: [] as number[], needs: this.climb.paid || this.climb.settled ? window : window * referenceWindows };
  }

  private record(request: InFlight, latencyMs: number): void {
    const samples = request.peak <= 1 ? this.alone : this.shared;
    const kept = samples.get(request.kind) ?? [];
    kept.push(latencyMs / Math.max(1, request.peak));
    if (kept.length > RECENT_SAMPLES) kept.shift();
    samples.set(request.kind, kept);
  }

  private move(climb: Climb, why: string): void {
    const before = this.climb.limit;
    this.climb = climb;
    if (climb.limit === before) return;
    this.epoch++;
    this.window = undefined;
    this.history.push(climb.limit);
    this.changes.push({ limit: climb.limit, atMs: this.clock() - this.createdAt, why });
  }
}

// One limiter per server, shared by every client and call site that talks to it: the
// requests in flight are counted per server, not per loop.
const limiters = new Map<string, AdaptiveLimiter>();
let newLimiterSettings: Partial<LimiterSettings> = {};

/** The limiter of the server at `url` (its origin: scheme, host and port). */
export function serverLimiter(url: string): AdaptiveLimiter {
  const origin = new URL(url).origin;
  let limiter = limiters.get(origin);
  if (!limiter) limiters.set(origin, (limiter = new AdaptiveLimiter(newLimiterSettings)));
  return limiter;
}

/**
 * Forgets what was learnt of every server, and sets how the next limiters start: the
 * benchmark's one-at-a-time baseline is `{ max: 1 }`, against the same server as Bastide's run.
 */
export function resetServerLimiters(settings: Partial<LimiterSettings> = {}): void {
  limiters.clear();
  newLimiterSettings = settings;
}
