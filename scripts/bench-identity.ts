// `npm run bench:identity -- [--members 500] [--enroll 40] [--teams 20]`: the identity
// provider's cost, measured on a real Keycloak 26.7.3 (test/support/keycloak.ts: dev mode,
// in-memory H2 database, heap capped at 768 MB as the tests run it):
// - Keycloak's resident memory (VmRSS of its JVM, from /proc) once started, after the first
//   provisioning of N members, and after an unchanged second run;
// - the time of that first run, and the calls of the second (it must write nothing);
// - the time to enroll M members without mail (one temporary password each: the batch
//   hand-over an administrator makes for a new association).
import { readFileSync, readdirSync } from "node:fs";
import { parseArgs } from "node:util";
import { desiredState } from "../provisioners/desired.ts";
import { enrollMembers } from "../provisioners/identity/enroll.ts";
import { createIdentityClient, identityProvisioner } from "../provisioners/identity/index.ts";
import { converge } from "../provisioners/model.ts";
import { CallCounter } from "../provisioners/runtime/http.ts";
import { PROVISIONING_CONCURRENCY } from "../stacks/provisioning/index.ts";
import { validateAssociation } from "../stacks/config/load.ts";
import type { AssociationInput } from "../stacks/config/schema.ts";
import { CLIENT_SECRETS_FOR_TESTS, startKeycloak, KEYCLOAK_VERSION } from "../test/support/keycloak.ts";

const { values } = parseArgs({ options: { members: { type: "string", default: "500" }, enroll: { type: "string", default: "40" }, teams: { type: "string", default: "20" } } });
const MEMBERS = Number(values.members);
const ENROLL = Math.min(Number(values.enroll), MEMBERS);
const TEAMS = Number(values.teams);

function association(members: number, teams: number) {
  const input: AssociationInput = {
    organisation: { name: "Banc d'essai", country: "FR", contact: "contact@bench.localhost", president: "Présidence du banc", dpo: { name: "DPO", email: "dpo@bench.localhost" } },
    domain: "bench.localhost",
    host: { target: "local", size: { cpus: 4, memoryGb: 16 } },
    teams: Array.from({ length: teams }, (_, i) => ({ id: `team-${i}`, name: `Équipe ${i}` })),
    members: Array.from({ length: members }, (_, i) => ({
      id: `member.${String(i).padStart(4, "0")}`,
      name: `Membre ${i}`,
      email: `member.${i}@bench.localhost`,
      role: i === 0 ? "admin" : i % 10 === 0 ? "staff" : "volunteer",
      teams: [...new Set([`team-${i % teams}`, ...(i % 3 === 0 ? [`team-${(i + 7) % teams}`] : [])])],
    })) as AssociationInput["members"],
  };
  return validateAssociation(input, "benchmark association");
}

/** The JVM serving `port`: its pid, found by its command line. */
function jvmServing(port: string): number {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (cmdline.some((a) => a.endsWith("/java")) && cmdline.includes(port) && cmdline.includes("--http-port")) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no JVM serving port ${port}`);
}

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const started = performance.now();
const keycloak = await startKeycloak();
try {
  const pid = jvmServing(new URL(keycloak.url).port);
  console.log(`Keycloak ${KEYCLOAK_VERSION} (dev mode, H2 in memory, -Xmx768m), started in ${seconds(performance.now() - started)}`);
  console.log(`  RSS idle:                         ${rssMb(pid).toFixed(0)} MB`);
  const config = association(MEMBERS, TEAMS);
  const desired = { ...desiredState(config), departures: { disable: [], erase: [], enable: [] } };
  const client = (counter?: CallCounter) =>
    createIdentityClient({ baseUrl: keycloak.url, admin: keycloak.admin, clientSecrets: CLIENT_SECRETS_FOR_TESTS, ...(counter ? { counter } : {}) });

  const firstCounter = new CallCounter();
  const t0 = performance.now();
  const first = await converge(identityProvisioner, desired, client(firstCounter), { concurrency: PROVISIONING_CONCURRENCY });
  const firstMs = performance.now() - t0;
  if (first.failed.length > 0) throw new Error(first.failed.map((f) => f.error.message).slice(0, 5).join("\n"));
  console.log(`first run, ${MEMBERS} members in ${TEAMS} teams: ${seconds(firstMs)} (${first.applied.length} changes, ${firstCounter.writes("identity")} writes, ${firstCounter.reads("identity")} reads)`);
  console.log(`  RSS after the first run:          ${rssMb(pid).toFixed(0)} MB`);

  const secondCounter = new CallCounter();
  const t1 = performance.now();
  const second = await converge(identityProvisioner, desired, client(secondCounter), { concurrency: PROVISIONING_CONCURRENCY });
  console.log(`unchanged second run: ${seconds(performance.now() - t1)}, ${second.planned.length} changes, ${secondCounter.writes("identity")} writes, ${secondCounter.reads("identity")} reads`);
  console.log(`  RSS after the second run:         ${rssMb(pid).toFixed(0)} MB`);

  const t2 = performance.now();
  const enrolled = await enrollMembers(client(), desired.identity!.users.slice(0, ENROLL), { byMail: false, minimumLength: config.services.identity.passwords.minimumLength });
  console.log(`enrollment of ${ENROLL} members (one temporary password each, no mail): ${seconds(performance.now() - t2)}, ${enrolled.failed.length} failed`);
  console.log(`  RSS after the enrollment:         ${rssMb(pid).toFixed(0)} MB`);
} finally {
  await keycloak.stop();
}
