// `npm run bench:provision`: Bastide's provisioning time next to one request at a time,
// against the same kind of server in the same run, then the writes of an unchanged second run.
//
// - fake: the fake Nextcloud and fake Synapse, each adding 30 ms to every request. They
//   do no work, so every request overlaps: their speed-up says nothing of a real server.
// - synapse: a real Synapse 1.163.2 on PostgreSQL (test/support/synapse.ts: Bastide's own
//   homeserver.yaml, loopback only), a fresh database for each run.
// - nextcloud: a real Nextcloud at --nextcloud URL; each run uses its own member and team
//   ids, and deletes what it made afterwards (untimed), so both start from the same server.
//
// "One at a time" is one change at a time and one request in flight per server; Bastide's
// run lets the adaptive limiter (provisioners/runtime/concurrency.ts) choose, up to 16.
// Before the timed runs, one small untimed run of each warms what they share (the database
// cluster, Node's compiled code, the disk cache), so the first timed run pays no more than
// the second; the rounds then alternate which goes first. The machine's load average is
// printed beside each run: a figure taken under another load says little.
import { loadavg } from "node:os";
import { validateAssociation } from "../stacks/config/load.ts";
import type { Association, AssociationInput } from "../stacks/config/schema.ts";
import { NEXTCLOUD_ADMIN_USER } from "../stacks/services/nextcloud/blueprint.ts";
import { PROVISIONING_CONCURRENCY } from "../stacks/provisioning/index.ts";
import { desiredState, type DesiredState } from "../provisioners/desired.ts";
import { run } from "../provisioners/run.ts";
import type { ProvisionedService } from "../provisioners/model.ts";
import { resetServerLimiters, serverLimiter } from "../provisioners/runtime/concurrency.ts";
import { basicAuth, CallCounter, HttpClient, withSlash } from "../provisioners/runtime/http.ts";
import { createFakeNextcloud } from "../test/fakes/nextcloud.ts";
import { createFakeSynapse } from "../test/fakes/synapse.ts";
import { startSynapse, stopPostgres, SYNAPSE_VERSION } from "../test/support/synapse.ts";
import { BenchOptionError, parseBenchOptions, type BenchOptions } from "./bench-options.ts";

const FAKE_PASSWORD = "bench-service-account-password";
const FAKE_SHARED_SECRET = "bench-registration-shared-secret";

/** An association of `members` members in `teams` teams, each in one or two; ids start with `prefix`. */
function association(members: number, teams: number, prefix = ""): { config: Association; desired: DesiredState } {
  const teamList = Array.from({ length: teams }, (_, i) => ({ id: `${prefix}team-${i}`, name: `Équipe ${prefix}${i}` }));
  const memberList = Array.from({ length: members }, (_, i) => ({
    id: `${prefix}member.${String(i).padStart(4, "0")}`,
    name: `Membre ${prefix}${i}`,
    email: `${prefix}member.${i}@bench.localhost`,
    role: i === 0 ? "admin" : i % 10 === 0 ? "staff" : "volunteer",
    teams: [`${prefix}team-${i % teams}`, ...(i % 3 === 0 ? [`${prefix}team-${(i + 7) % teams}`] : [])].filter((t, j, all) => all.indexOf(t) === j),
  }));
  const input: AssociationInput = {
    organisation: { name: "Banc d'essai", country: "FR", contact: "contact@bench.localhost", president: "Présidence du banc", dpo: { name: "DPO", email: "dpo@bench.localhost" } },
    domain: "bench.localhost",
    host: { target: "local", size: { cpus: 4, memoryGb: 16 } },
    members: memberList as AssociationInput["members"],
    teams: teamList,
  };
  const config = validateAssociation(input, "benchmark association");
  return { config, desired: desiredState(config) };
}

/** Where one run provisions: the services in `pulumi up`'s order and their connections. */
interface Target {
  connections: Partial<Record<ProvisionedService, Record<string, unknown>>>;
  /** Writes the server saw; the client's count when absent. */
  serverWrites?: () => number;
  stop(): Promise<void>;
}

interface Timed {
  total: number;
  seconds: Partial<Record<ProvisionedService, number>>;
  states: Record<string, unknown>;
  writes: number;
  /** The limits the limiter took per server, in order, with when and why. */
  limits: string[];
  /** The machine's 1-minute load average when the run started and ended. */
  load: [number, number];
}

/** One full provisioning run, service after service as `pulumi up` runs them. */
async function provision(target: Target, desired: DesiredState, concurrency: number, kept: Record<string, unknown> = {}): Promise<Timed> {
  const counter = new CallCounter();
  const loadBefore = loadavg()[0]!;
  const startWrites = target.serverWrites?.() ?? 0;
  const states: Record<string, unknown> = {};
  const seconds: Timed["seconds"] = {};
  const started = performance.now();
  for (const [service, connection] of Object.entries(target.connections) as [ProvisionedService, Record<string, unknown>][]) {
    const t0 = performance.now();
    const result = await run({ service, desired, connection, concurrency, counter, previousState: kept[service] });
    if (result.failed.length > 0) throw new Error(`${service}: ${result.failed.length} changes failed, e.g. ${result.failed[0]!.message}`);
    states[service] = result.state;
    seconds[service] = (performance.now() - t0) / 1000;
  }
  const total = (performance.now() - started) / 1000;
  const urls = new Set(Object.values(target.connections).map((c) => (c.endpoint as { url: string }).url));
  const limits = [...urls].map((url) => {
    const limiter = serverLimiter(url);
    const changes = limiter.changes.map((c) => ` → ${c.limit} at ${(c.atMs / 1000).toFixed(1)} s (${c.why})`).join("");
    return `${limiter.history[0]}${changes}${limiter.settled ? ", settled" : ""}`;
  });
  const writes = target.serverWrites ? target.serverWrites() - startWrites : counter.writes();
  return { total, seconds, states, writes, limits, load: [loadBefore, loadavg()[0]!] };
}

interface Comparison {
  title: string;
  services: ProvisionedService[];
  oneAtATime: Timed[];
  bastide: Timed[];
  /** Bastide again on the server its first run provisioned, unchanged. */
  reruns: Timed[];
}

/** A fresh target; `warmUp`: for the untimed warm-up run, a small association is enough. */
type Fresh = (run: "one" | "bastide", round: number, warmUp: boolean) => Promise<{ target: Target; desired: DesiredState; cleanUp?: () => Promise<void> }>;

/** Members and teams of the untimed warm-up runs. */
const WARM_UP = { members: 20, teams: 4 };

/** Runs one small, untimed provisioning of each kind, so that neither timed run is the first. */
async function warmUp(fresh: Fresh): Promise<void> {
  for (const which of ["one", "bastide"] as const) {
    resetServerLimiters(which === "one" ? { max: 1 } : {});
    const { target, desired, cleanUp } = await fresh(which, 0, true);
    try {
      await provision(target, desired, which === "one" ? 1 : PROVISIONING_CONCURRENCY);
      await cleanUp?.();
    } finally {
      await target.stop();
    }
  }
}

/**
 * After a warm-up, rounds of one run at a time and one Bastide run, each on a fresh target,
 * in alternating order: a machine whose other load comes and goes favours neither.
 */
async function compare(title: string, rounds: number, fresh: Fresh): Promise<Comparison> {
  const comparison: Comparison = { title, services: [], oneAtATime: [], bastide: [], reruns: [] };
  await warmUp(fresh);
  for (let round = 0; round < rounds; round++) {
    for (const which of round % 2 === 0 ? (["one", "bastide"] as const) : (["bastide", "one"] as const)) {
      resetServerLimiters(which === "one" ? { max: 1 } : {});
      const { target, desired, cleanUp } = await fresh(which, round, false);
      comparison.services = Object.keys(target.connections) as ProvisionedService[];
      try {
        if (which === "one") comparison.oneAtATime.push(await provision(target, desired, 1));
        else {
          const first = await provision(target, desired, PROVISIONING_CONCURRENCY);
          comparison.bastide.push(first);
          comparison.reruns.push(await provision(target, desired, PROVISIONING_CONCURRENCY, first.states));
        }
        await cleanUp?.();
      } finally {
        await target.stop();
      }
    }
  }
  return comparison;
}

const fmt = (s: number) => `${s.toFixed(1)} s`;
const sum = (runs: Timed[], pick: (t: Timed) => number) => runs.reduce((total, t) => total + pick(t), 0);

function report(c: Comparison): boolean {
  const row = (label: string, runs: Timed[]) => [
    label,
    ...c.services.map((s) => fmt(sum(runs, (t) => t.seconds[s]!))),
    fmt(sum(runs, (t) => t.total)),
    String(sum(runs, (t) => t.writes)),
    runs.map((t) => t.load.map((l) => l.toFixed(1)).join("→")).join(", "),
  ];
  const rounds = c.bastide.length;
  const rows = [
    ["run", ...c.services, "total", "writes", "load average (1 min) at start→end"],
    ...(rounds > 1
      ? c.bastide.flatMap((_, i) => [row(`round ${i + 1}: one at a time`, [c.oneAtATime[i]!]), row(`round ${i + 1}: bastide`, [c.bastide[i]!])])
      : []),
    row(`one request at a time${rounds > 1 ? `, ${rounds} runs` : ""}`, c.oneAtATime),
    row(`bastide (adaptive, ≤ ${PROVISIONING_CONCURRENCY})${rounds > 1 ? `, ${rounds} runs` : ""}`, c.bastide),
    row(`bastide, unchanged re-run${rounds > 1 ? `, ${rounds} runs` : ""}`, c.reruns),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log(`\n${c.title}`);
  for (const r of rows) console.log(`  ${r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ")}`);
  const one = sum(c.oneAtATime, (t) => t.total);
  const bastide = sum(c.bastide, (t) => t.total);
  const notSlower = bastide <= one;
  const rerunWrites = sum(c.reruns, (t) => t.writes);
  console.log(`  Bastide ${fmt(bastide)} against ${fmt(one)} one at a time: ${(one / bastide).toFixed(2)}x (${notSlower ? "not slower" : "SLOWER"}); writes on the unchanged re-run: ${rerunWrites}`);
  console.log(`  limits the limiter took (per server, Bastide's first run${rounds > 1 ? "s" : ""}; throughput in requests' own work per unit of time, about 1 one at a time):`);
  for (const [i, t] of c.bastide.entries()) console.log(`    run ${i + 1}: ${t.limits.join(" / ")}`);
  return notSlower;
}

async function fakeComparison(o: BenchOptions["fake"], rounds: number): Promise<Comparison> {
  const full = association(o.members, o.teams).desired;
  const small = association(WARM_UP.members, WARM_UP.teams).desired;
  return compare(`FAKE servers (fake Nextcloud + fake Synapse, ${o.latencyMs} ms added per request, no real work: not a real server's figure): ${o.members} members, ${o.teams} teams`, rounds, async (_which, _round, warm) => {
    const desired = warm ? small : full;
    const nextcloud = await createFakeNextcloud({ users: { [NEXTCLOUD_ADMIN_USER]: FAKE_PASSWORD } });
    const synapse = await createFakeSynapse({ serverName: desired.matrix!.serverName, registrationSharedSecret: FAKE_SHARED_SECRET });
    nextcloud.server.latencyMs = o.latencyMs;
    synapse.server.latencyMs = o.latencyMs;
    const nextcloudConnection = { endpoint: { url: nextcloud.url }, user: NEXTCLOUD_ADMIN_USER, password: FAKE_PASSWORD };
    return {
      desired,
      target: {
        connections: { nextcloud: nextcloudConnection, calendars: nextcloudConnection, matrix: { endpoint: { url: synapse.url }, registrationSharedSecret: FAKE_SHARED_SECRET } },
        serverWrites: () => nextcloud.server.writes() + synapse.server.writes(),
        stop: async () => {
          await nextcloud.stop();
          await synapse.server.stop();
        },
      },
    };
  });
}

async function synapseComparison(o: BenchOptions["synapse"], rounds: number): Promise<Comparison> {
  const full = association(o.members, o.teams);
  const small = association(WARM_UP.members, WARM_UP.teams);
  try {
    return await compare(`REAL Synapse ${SYNAPSE_VERSION} on 127.0.0.1 (PostgreSQL 15, Bastide's homeserver.yaml), a fresh database per run: ${o.members} members, ${o.teams} teams`, rounds, async (_which, _round, warm) => {
      const { config, desired } = warm ? small : full;
      const synapse = await startSynapse({ config });
      return {
        desired,
        target: { connections: { matrix: { endpoint: { url: synapse.url }, registrationSharedSecret: synapse.registrationSharedSecret } }, stop: () => synapse.stop() },
      };
    });
  } finally {
    await stopPostgres();
  }
}

async function nextcloudComparison(o: NonNullable<BenchOptions["nextcloud"]>, rounds: number): Promise<Comparison> {
  const connection = { endpoint: { url: o.url }, user: o.user, password: o.password };
  return compare(`REAL Nextcloud at ${o.url}: ${o.members} members, ${o.teams} teams`, rounds, async (which, round, warm) => {
    // Ids of their own per run, so that no run finds another's accounts.
    const prefix = `${warm ? "warm-" : ""}${which === "one" ? "one" : "ada"}${round}-`;
    const { desired } = warm ? association(WARM_UP.members, WARM_UP.teams, prefix) : association(o.members, o.teams, prefix);
    const existingGroups = await nextcloudGroups(o);
    return {
      desired,
      target: { connections: { nextcloud: connection, calendars: connection }, stop: async () => {} },
      cleanUp: () => deleteMadeByRun(o, desired, existingGroups),
    };
  });
}

function adminClient(o: NonNullable<BenchOptions["nextcloud"]>): HttpClient {
  return new HttpClient({ service: "bench cleanup", baseUrl: withSlash(o.url), headers: { Authorization: basicAuth(o.user, o.password), "OCS-APIRequest": "true" } });
}

async function nextcloudGroups(o: NonNullable<BenchOptions["nextcloud"]>): Promise<Set<string>> {
  const answer = await adminClient(o).request("GET", "ocs/v1.php/cloud/groups?format=json");
  if (answer.status !== 200) throw new Error(`reading the groups of ${o.url}: HTTP ${answer.status} (is the admin's password right?)`);
  return new Set<string>(answer.json.ocs.data.groups);
}

/** Deletes the accounts, groups and calendars a run made (not timed). */
async function deleteMadeByRun(o: NonNullable<BenchOptions["nextcloud"]>, desired: DesiredState, existingGroups: Set<string>): Promise<void> {
  resetServerLimiters();
  const http = adminClient(o);
  const nextcloud = desired.nextcloud!;
  const expect = async (what: string, answer: Promise<{ status: number }>) => {
    const { status } = await answer;
    if (status >= 300 && status !== 404) throw new Error(`cleaning up ${what}: HTTP ${status}`);
  };
  for (const calendar of nextcloud.calendars) {
    // Past Nextcloud's calendar trash bin, so the next run can make the same uri again: the
    // header its DAV trash-bin plugin reads (nextcloud/server apps/dav/lib/CalDAV/Trashbin/Plugin.php;
    // not yet checked against a real 34 here).
    await expect(`calendar ${calendar.uri}`, http.request("DELETE", `remote.php/dav/calendars/${encodeURIComponent(o.user)}/${encodeURIComponent(calendar.uri)}/`, { headers: { "X-NC-CalDAV-No-Trashbin": "1" } }));
  }
  for (const user of nextcloud.users) await expect(`user ${user.id}`, http.request("DELETE", `ocs/v1.php/cloud/users/${encodeURIComponent(user.id)}?format=json`));
  for (const group of nextcloud.groups.filter((g) => !existingGroups.has(g.id))) {
    await expect(`group ${group.id}`, http.request("DELETE", `ocs/v1.php/cloud/groups/${encodeURIComponent(group.id)}?format=json`));
  }
}

async function main(): Promise<void> {
  let options: BenchOptions;
  try {
    options = parseBenchOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof BenchOptionError)) throw error;
    console.error(error.message);
    process.exit(2);
  }
  console.log(`bench:provision: Bastide against one request at a time, on the same kind of server in the same run (targets: ${options.targets.join(", ")})`);
  const verdicts: boolean[] = [];
  for (const target of options.targets) {
    if (target === "fake") report(await fakeComparison(options.fake, 1));
    if (target === "synapse") verdicts.push(report(await synapseComparison(options.synapse, options.rounds)));
    if (target === "nextcloud") verdicts.push(report(await nextcloudComparison(options.nextcloud!, options.rounds)));
  }
  // Only real servers judge: Bastide must never be slower than one request at a time there.
  if (verdicts.includes(false)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
