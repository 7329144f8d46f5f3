// Concurrency: how many calls a server gets at once.
//
// mapLimit and settleLanes bound how many changes a provisioner works on at once; the
// AdaptiveLimiter bounds how many requests are actually in flight to one server, and
// adapts that number to what the server answers. A fixed 16 made a real, CPU-bound
// Nextcloud slower than one request at a time (61.7 s against 41.0 s for 40 members: the
// server only shares its cores out, and the 30 s timeouts then re-sent creations), and
// bought 1.2x on a real Synapse. So the limiter starts at one request, grows while the
// answers come as fast as the fastest seen (the server has idle capacity), shrinks as soon
// as they stop paying (requests only queue inside the server), and halves on 429, 5xx,
// timeouts and dropped connections. Each kind of request is first measured alone, so
// its fastest latency is its own work, not a queue. The signal is TCP Vegas's, as in Netflix's
// concurrency-limits: the observed latency against the fastest one; here it drives a
// hill-climb on throughput, so a server that only shares its cores out stays at one.

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

export interface LimiterSettings {
  initial: number;
  min: number;
  max: number;
  /**
   * A limit is kept only when the request it adds serves at least this fraction of a
   * request more than the limit below (0.25: a quarter); less is within a real server's noise.
   */
  minGain: number;
  /** Rounds before a limit that did not pay is tried again; doubles at each new failure. */
  probeAfterRounds: number;
  /** Answers a round needs at least (and at least the limit): a real server's latencies are noisy. */
  minSamples: number;
}

export const DEFAULT_LIMITER: LimiterSettings = { initial: 1, min: 1, max: MAX_IN_FLIGHT, minGain: 0.25, probeAfterRounds: 4, minSamples: 8 };

/**
 * What one round of `limit` answers says about the server: for each answer, the fastest
 * latency ever seen for its kind of request divided by its own (1: no wait; 1/4: it
 * waited three times its own work). `saturated`: the limit was reached during the round;
 * otherwise the client held the pace back and the round says nothing about more.
 */
export interface Round {
  ratios: readonly number[];
  saturated: boolean;
}

/** What the limiter remembers of earlier rounds. */
export interface LimitMemory {
  /** Throughput measured at each limit (smoothed), in requests per fastest latency. */
  throughput: Record<number, number>;
  /** A limit that did not pay, and the rounds before it is tried again. */
  blocked?: { limit: number; roundsLeft: number; backoff: number };
}

export const NOTHING_LEARNT: LimitMemory = { throughput: {} };

const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/**
 * Requests served per fastest latency at `limit`: limit × mean(fastest / latency). One
 * request at a time on an idle server serves 1; a server that only shares its cores out
 * serves the same at any limit (each answer takes limit times as long).
 */
export const throughputOf = (limit: number, ratios: readonly number[]) => (ratios.length === 0 ? 0 : limit * mean(ratios));

/**
 * The limit after a round of answers: hill-climbing on throughput. Go up one while the
 * limit reached serves more than the one below; step back when it does not, and try it
 * again only after a while (doubling); when answers take more than twice the fastest (the
 * server got slower, or queues), cut straight to what it serves.
 */
export function limitAfterRound(limit: number, round: Round, memory: LimitMemory, settings: LimiterSettings): { limit: number; memory: LimitMemory } {
  if (round.ratios.length === 0) return { limit, memory };
  const served = throughputOf(limit, round.ratios);
  const earlier = memory.throughput[limit];
  const throughput = { ...memory.throughput, [limit]: earlier === undefined ? served : (earlier + served) / 2 };
  // The countdown runs out but is kept: its backoff doubles if that limit fails again.
  const blocked = memory.blocked && { ...memory.blocked, roundsLeft: Math.max(0, memory.blocked.roundsLeft - 1) };
  const next = (to: number, block = blocked) => ({ limit: clamp(to, settings), memory: { throughput, ...(block ? { blocked: block } : {}) } });

  // Stepping down blocks the limit above for a while, longer each time it fails again.
  const stepDown = (to: number) => {
    const down = clamp(to, settings);
    const backoff = memory.blocked?.limit === down + 1 ? memory.blocked.backoff * 2 : settings.probeAfterRounds;
    return next(down, { limit: down + 1, roundsLeft: backoff, backoff });
  };
  // At the floor a slow answer says nothing of more in flight: nothing is blocked.
  if (mean(round.ratios) < 0.5 && limit > settings.min) return stepDown(Math.min(limit - 1, Math.floor(served) + 1));
  const below = throughput[limit - 1];
  if (limit > settings.min && below !== undefined && throughput[limit]! < below + settings.minGain) return stepDown(limit - 1);
  // This limit paid: whatever was learnt against it is forgotten.
  const kept = blocked?.limit === limit ? undefined : blocked;
  const mayGrow = round.saturated && !(kept?.limit === limit + 1 && kept.roundsLeft > 0);
  return next(mayGrow ? limit + 1 : limit, kept);
}

/** The limit after an overload signal: 429, 5xx, a timeout or a dropped connection. */
export const limitAfterOverload = (limit: number, settings: LimiterSettings) => clamp(Math.floor(limit / 2), settings);

const clamp = (limit: number, { min, max }: LimiterSettings) => Math.max(min, Math.min(max, limit));

/**
 * The kind of a request, for its fastest latency: method, number of path segments and
 * the first four (ids come later: `ocs/v1.php/cloud/users` vs `.../users/alice/groups`).
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

export class AdaptiveLimiter {
  readonly settings: LimiterSettings;
  private currentLimit: number;
  private running = 0;
  /** A request of a kind never measured runs alone: its latency then is that kind's own. */
  private probing = false;
  /** Bumped at every change of limit: answers to requests sent before it are not counted. */
  private epoch = 0;
  private ratios: number[] = [];
  private saturated = false;
  private memory: LimitMemory = NOTHING_LEARNT;
  /** The fastest latency of each kind of request; first measured alone. */
  private readonly fastest = new Map<string, number>();
  private readonly waiting: Waiting[] = [];
  /** Every limit taken, for the benchmark and tests. */
  readonly history: number[];

  constructor(settings: Partial<LimiterSettings> = {}) {
    this.settings = { ...DEFAULT_LIMITER, ...settings };
    if (this.settings.min < 1 || this.settings.max < this.settings.min) throw new Error(`AdaptiveLimiter: need 1 ≤ min ≤ max, got ${this.settings.min} and ${this.settings.max}`);
    this.currentLimit = clamp(this.settings.initial, this.settings);
    this.history = [this.currentLimit];
  }

  get limit(): number {
    return this.currentLimit;
  }

  get inFlight(): number {
    return this.running;
  }

  /** A permit now for a request of `kind` (see requestKind), or undefined when it must wait. */
  tryAcquire(kind = ""): Permit | undefined {
    if (this.waiting.length > 0 || !this.mayStart(kind)) return undefined;
    return this.grant(kind);
  }

  /** Waits, first come first served, for a permit. */
  acquire(kind = ""): Promise<Permit> {
    const now = this.tryAcquire(kind);
    if (now) return Promise.resolve(now);
    return new Promise<Permit>((resolve) => this.waiting.push({ kind, resolve }));
  }

  private mayStart(kind: string): boolean {
    if (this.probing) return false;
    if (!this.fastest.has(kind)) return this.running === 0;
    if (this.running >= this.currentLimit) {
      this.saturated = true;
      return false;
    }
    return true;
  }

  private grant(kind: string): Permit {
    const probe = !this.fastest.has(kind);
    if (probe) this.probing = true;
    this.running++;
    if (this.running >= this.currentLimit) this.saturated = true;
    const epoch = this.epoch;
    let released = false;
    return {
      release: (outcome) => {
        if (released) return;
        released = true;
        this.running--;
        if (probe) {
          this.probing = false;
          if (outcome.kind === "answer") this.fastest.set(kind, outcome.latencyMs);
          else this.setLimit(limitAfterOverload(this.currentLimit, this.settings));
        } else if (epoch === this.epoch) this.learn(kind, outcome);
        this.serveWaiting();
      },
    };
  }

  private serveWaiting(): void {
    while (this.waiting.length > 0 && this.mayStart(this.waiting[0]!.kind)) {
      const next = this.waiting.shift()!;
      next.resolve(this.grant(next.kind));
    }
  }

  private learn(kind: string, outcome: Outcome): void {
    if (outcome.kind === "overload") return this.setLimit(limitAfterOverload(this.currentLimit, this.settings));
    const fastest = Math.min(this.fastest.get(kind)!, outcome.latencyMs);
    this.fastest.set(kind, fastest);
    this.ratios.push(outcome.latencyMs > 0 ? fastest / outcome.latencyMs : 1);
    if (this.ratios.length < Math.max(this.currentLimit, this.settings.minSamples)) return;
    const { limit, memory } = limitAfterRound(this.currentLimit, { ratios: this.ratios, saturated: this.saturated }, this.memory, this.settings);
    this.memory = memory;
    this.setLimit(limit);
  }

  private setLimit(limit: number): void {
    this.epoch++;
    this.ratios = [];
    this.saturated = this.running >= limit;
    if (limit !== this.currentLimit) {
      this.currentLimit = limit;
      this.history.push(limit);
    }
    // A larger limit lets waiting requests go.
    this.serveWaiting();
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
