// `npm run bench:provision`: provisions 500 members (accounts, groups, team calendars,
// chat rooms) against the test servers, the fake Nextcloud and the fake Synapse, each
// adding 30 ms to every request. Prints Bastide's wall time next to a one-request-at-a-time
// baseline run in the same process, then the writes of a second, unchanged run.
import { parseArgs } from "node:util";
import { validateAssociation } from "../stacks/config/load.ts";
import type { AssociationInput } from "../stacks/config/schema.ts";
import { NEXTCLOUD_ADMIN_USER } from "../stacks/services/nextcloud/blueprint.ts";
import { PROVISIONING_CONCURRENCY } from "../stacks/provisioning/index.ts";
import { desiredState, type DesiredState } from "../provisioners/desired.ts";
import { run } from "../provisioners/run.ts";
import type { ProvisionedService } from "../provisioners/model.ts";
import { createFakeNextcloud, type FakeNextcloud } from "../test/fakes/nextcloud.ts";
import { createFakeSynapse, type FakeSynapse } from "../test/fakes/synapse.ts";

const PASSWORD = "bench-service-account-password";
const SHARED_SECRET = "bench-registration-shared-secret";

const { values } = parseArgs({
  options: { members: { type: "string", default: "500" }, teams: { type: "string", default: "25" }, latency: { type: "string", default: "30" } },
});
const MEMBERS = Number(values.members);
const TEAMS = Number(values.teams);
const LATENCY_MS = Number(values.latency);

/** An association of MEMBERS members in TEAMS teams, each member in one or two teams. */
function association(): DesiredState {
  const teams = Array.from({ length: TEAMS }, (_, i) => ({ id: `team-${i}`, name: `Équipe ${i}` }));
  const members = Array.from({ length: MEMBERS }, (_, i) => ({
    id: `member.${String(i).padStart(4, "0")}`,
    name: `Membre ${i}`,
    email: `member.${i}@bench.localhost`,
    role: i === 0 ? "admin" : i % 10 === 0 ? "staff" : "volunteer",
    teams: [`team-${i % TEAMS}`, ...(i % 3 === 0 ? [`team-${(i + 7) % TEAMS}`] : [])].filter((t, j, all) => all.indexOf(t) === j),
  }));
  const input: AssociationInput = {
    organisation: { name: "Banc d'essai", country: "FR", contact: "contact@bench.localhost", dpo: { name: "DPO", email: "dpo@bench.localhost" } },
    domain: "bench.localhost",
    host: { target: "local", size: { cpus: 4, memoryGb: 8 } },
    members: members as AssociationInput["members"],
    teams,
  };
  return desiredState(validateAssociation(input, "benchmark association"));
}

interface Servers {
  nextcloud: FakeNextcloud;
  synapse: FakeSynapse;
  writes(): number;
  stop(): Promise<void>;
}

async function startServers(desired: DesiredState): Promise<Servers> {
  const nextcloud = await createFakeNextcloud({ users: { [NEXTCLOUD_ADMIN_USER]: PASSWORD } });
  const synapse = await createFakeSynapse({ serverName: desired.matrix!.serverName, registrationSharedSecret: SHARED_SECRET });
  nextcloud.server.latencyMs = LATENCY_MS;
  synapse.server.latencyMs = LATENCY_MS;
  return {
    nextcloud,
    synapse,
    writes: () => nextcloud.server.writes() + synapse.server.writes(),
    stop: async () => {
      await nextcloud.stop();
      await synapse.server.stop();
    },
  };
}

/** One full provisioning run, in the order `pulumi up` runs it; returns seconds and kept states. */
async function provision(servers: Servers, desired: DesiredState, concurrency: number, kept: Record<string, unknown> = {}) {
  const connections: Partial<Record<ProvisionedService, Record<string, unknown>>> = {
    nextcloud: { endpoint: { url: servers.nextcloud.url }, user: NEXTCLOUD_ADMIN_USER, password: PASSWORD },
    calendars: { endpoint: { url: servers.nextcloud.url }, user: NEXTCLOUD_ADMIN_USER, password: PASSWORD },
    matrix: { endpoint: { url: servers.synapse.url }, registrationSharedSecret: SHARED_SECRET },
  };
  const started = performance.now();
  const states: Record<string, unknown> = {};
  const seconds: Record<string, number> = {};
  for (const service of ["nextcloud", "calendars", "matrix"] as const) {
    const t0 = performance.now();
    const result = await run({ service, desired, connection: connections[service]!, concurrency, previousState: kept[service] });
    if (result.failed.length > 0) throw new Error(`${service}: ${result.failed.length} changes failed, e.g. ${result.failed[0]!.message}`);
    states[service] = result.state;
    seconds[service] = (performance.now() - t0) / 1000;
  }
  return { total: (performance.now() - started) / 1000, seconds, states };
}

const fmt = (s: number) => `${s.toFixed(1)} s`;

async function main(): Promise<void> {
  const desired = association();
  console.log(`bench:provision: ${MEMBERS} members, ${TEAMS} teams, ${LATENCY_MS} ms added per request (fake Nextcloud 32 + fake Synapse 1.67)`);

  const baselineServers = await startServers(desired);
  const baseline = await provision(baselineServers, desired, 1);
  const baselineWrites = baselineServers.writes();
  await baselineServers.stop();

  const servers = await startServers(desired);
  const bastide = await provision(servers, desired, PROVISIONING_CONCURRENCY);
  const firstWrites = servers.writes();
  servers.nextcloud.server.resetLog();
  servers.synapse.server.resetLog();
  const rerun = await provision(servers, desired, PROVISIONING_CONCURRENCY, bastide.states);
  const rerunWrites = servers.writes();
  await servers.stop();

  const rows = [
    ["run", "nextcloud", "calendars", "matrix", "total", "writes"],
    ["baseline (1 at a time)", ...["nextcloud", "calendars", "matrix"].map((s) => fmt(baseline.seconds[s]!)), fmt(baseline.total), String(baselineWrites)],
    [`bastide (${PROVISIONING_CONCURRENCY} at a time)`, ...["nextcloud", "calendars", "matrix"].map((s) => fmt(bastide.seconds[s]!)), fmt(bastide.total), String(firstWrites)],
    ["bastide, unchanged re-run", ...["nextcloud", "calendars", "matrix"].map((s) => fmt(rerun.seconds[s]!)), fmt(rerun.total), String(rerunWrites)],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  "));
  console.log(`speed-up: ${(baseline.total / bastide.total).toFixed(1)}x; writes on the unchanged re-run: ${rerunWrites}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
