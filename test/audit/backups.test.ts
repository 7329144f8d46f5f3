// The audit's backup rules (issue 11): a file without `backups:` is a finding of its own; with
// it, the last good backup must be younger than BACKUP_MAX_AGE_HOURS and a restore drill must
// have succeeded within DRILL_MAX_AGE_DAYS, both read from the job container's records. The
// pure rules on every case, then the real reader against the real test Docker engine: a
// busybox container holding the records, written as the job writes them and parsed with
// layout.ts's schemas.
import test from "ava";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { auditWithFacts } from "../../policies/audit/audit.ts";
import { BACKUP_MAX_AGE_HOURS, DRILL_MAX_AGE_DAYS, declaredBackups, type BackupJobFacts, type DeclaredBackups } from "../../policies/audit/backups.ts";
import { drillRecordOf, writeDrillRecord } from "../../policies/audit/cli.ts";
import { declaredState } from "../../policies/audit/declared.ts";
import { readError, readValue, type AuditReport } from "../../policies/audit/model.ts";
import type { Observed } from "../../policies/audit/observed.ts";
import { auditReport, valueIn } from "../../policies/audit/report.ts";
import { evaluate, type RuleCheck } from "../../policies/audit/rules.ts";
import { readDrillRecord } from "../../policies/reports/backups.ts";
import { securityMeasures } from "../../policies/reports/security.ts";
import { execInContainer } from "../../provisioners/runtime/docker.ts";
import { BACKUP_CONTAINER, drillSchema, statusSchema, STATE_DIR, type BackupStatus, type DrillRecord } from "../../stacks/backups/layout.ts";
import { exampleAssociation } from "../support/association.ts";
import { busyboxImage } from "../support/busybox-image.ts";
import { removeContainer, startDockerEngine, type DockerEngine } from "../support/docker.ts";

const config = exampleAssociation((input) => (input.backups = { destination: { type: "sftp", host: "u123456.your-storagebox.de", user: "u123456", path: "/backups/bastide", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfQchOBj6ARnpfH+llfBS54nizCaW0mnxg4JOS2emkz", country: "DE" } }));
const spec = declaredBackups(config)!;
const HOUR = 3_600_000;
const READ_AT = new Date("2026-03-15T10:00:00Z");
const ago = (hours: number, from = READ_AT) => new Date(from.getTime() - hours * HOUR).toISOString().replace(/\.\d{3}Z$/, "Z");

const run = (outcome: "ok" | "failed", finishedHoursAgo: number, from = READ_AT, error?: string) => ({
  reason: "daily" as const,
  startedAt: ago(finishedHoursAgo + 0.5, from),
  finishedAt: ago(finishedHoursAgo, from),
  outcome,
  ...(outcome === "ok" ? { snapshot: "4f2a9c1e", totalBytes: 2_000_000, addedBytes: 10_000 } : { error }),
});
const status = (lastSuccessHoursAgo: number | undefined, lastRun = run("ok", lastSuccessHoursAgo ?? 1), from = READ_AT): BackupStatus =>
  statusSchema.parse({ version: 1, lastRun, ...(lastSuccessHoursAgo === undefined ? {} : { lastSuccess: run("ok", lastSuccessHoursAgo, from) }) });
const drill = (daysAgo: number, outcome: "ok" | "failed" = "ok", from = READ_AT): DrillRecord =>
  drillSchema.parse({
    version: 1,
    at: ago(daysAgo * 24, from),
    snapshot: "4f2a9c1e",
    snapshotTime: ago(daysAgo * 24 + 1, from),
    outcome,
    databases: [{ file: "nextcloud-db.dump", tables: 120, rows: 5400, matches: outcome === "ok" }],
    volumes: [],
    seconds: 80,
    problems: outcome === "ok" ? [] : ["nextcloud-db.dump: 12 rows missing in oc_filecache"],
  });

/** Only the backup checks, as `rule: status: observed`. */
function backupChecks(facts: BackupJobFacts | Error | undefined, declared = declaredState(config)): RuleCheck[] {
  const observed: Observed = { containers: readValue([], READ_AT) };
  if (facts instanceof Error) observed.backupJob = readError(facts, READ_AT);
  else if (facts) observed.backupJob = readValue(facts, READ_AT);
  return evaluate(declared, observed).filter((c) => c.service === "backups");
}
const verdicts = (checks: RuleCheck[]) => Object.fromEntries(checks.map((c) => [c.rule, `${c.status}: ${c.observed}`]));
const running = (s: BackupStatus | null, d: DrillRecord | null = drill(3)): BackupJobFacts => ({ container: "running", status: s, drill: d });

test("no backups: section is a finding of its own, and the report fails with it, in French too", (t) => {
  const without = exampleAssociation();
  const checks = backupChecks(undefined, declaredState(without));
  t.deepEqual(checks.map((c) => [c.rule, c.status]), [["backups.configured", "fail"]]);
  // The other rules all unread (no engine): the backups finding still fails the report on its own.
  const all = evaluate(declaredState(without), { containers: readError(new Error("no engine"), READ_AT) });
  const report = auditReport({ config: without, checks: all.map((c) => (c.rule === "backups.configured" ? c : { ...c, status: "pass" as const })), unreachable: [], language: "fr", generatedAt: READ_AT });
  t.is(report.result, "fail");
  t.is(report.exitCode, 1);
  t.regex(report.checks.find((c) => c.rule === "backups.configured")!.observed, /^aucun\s:\spas de section backups: dans le fichier de l’association\s;\sun disque perdu/);
});

test("backups.recent: a backup within the limit passes; an older one fails with its age; the limit is 26 hours", (t) => {
  t.is(BACKUP_MAX_AGE_HOURS, 26);
  t.is(spec.maxAgeHours, 26);
  t.regex(verdicts(backupChecks(running(status(3))))["backups.recent"]!, /^pass: last good backup 2026-03-15T07:00:00Z \(3 h ago, daily\)$/);
  t.regex(verdicts(backupChecks(running(status(25.9))))["backups.recent"]!, /^pass/);
  t.regex(verdicts(backupChecks(running(status(27, run("ok", 27)))))["backups.recent"]!, /^fail: last good backup 2026-03-14T07:00:00Z \(27 h ago, daily\)$/);
});

test("backups.recent: a failure after the last good backup is named with its step and time", (t) => {
  const failed = run("failed", 2, READ_AT, "restic backup: Fatal: unable to open repository: ssh: connect to host u123456.your-storagebox.de port 22: Connection refused");
  const verdict = verdicts(backupChecks(running(status(30, failed))))["backups.recent"]!;
  t.regex(verdict, /^fail: last good backup .* \(30 h ago, daily\); last run failed at 2026-03-15T08:00:00Z: restic backup: Fatal: unable to open repository/);
  const never = verdicts(backupChecks(running(status(undefined, failed))))["backups.recent"]!;
  t.regex(never, /^fail: no good backup yet; last run failed at 2026-03-15T08:00:00Z: restic backup/);
  // A failure before the last good backup is history, not news.
  t.notRegex(verdicts(backupChecks(running(status(1, run("ok", 1)))))["backups.recent"]!, /failed/);
});

test("backups.recent and backups.drill: a missing, stopped or silent job fails; an unreadable engine leaves them unread", (t) => {
  for (const rule of ["backups.recent", "backups.drill"]) {
    t.regex(verdicts(backupChecks({ container: "missing" }))[rule]!, new RegExp(`^fail: no container ${BACKUP_CONTAINER}: the backup job is not deployed$`));
    t.regex(verdicts(backupChecks({ container: "stopped" }))[rule]!, /^fail: container bastide-backups is stopped/);
    t.regex(verdicts(backupChecks(new Error("cannot read status.json: permission denied")))[rule]!, /^unread: not read: cannot read/);
  }
  t.is(valueIn("no container bastide-backups: the backup job is not deployed", "fr"), "aucun conteneur bastide-backups: la tâche de sauvegarde n’est pas déployée");
  t.regex(valueIn("last good backup 2026-03-14T07:00:00Z (27 h ago, daily)", "fr"), /^dernière sauvegarde réussie 2026-03-14T07:00:00Z \(27 h plus tôt, daily\)$/);
  t.regex(verdicts(backupChecks(running(null, null)))["backups.recent"]!, /^fail: no backup has run yet$/);
  t.regex(verdicts(backupChecks(running(null, null)))["backups.drill"]!, /^fail: no restore drill yet/);
  t.regex(verdicts(backupChecks({ container: "running", status: { invalid: "status.json: lastRun.outcome: Invalid option" }, drill: null }))["backups.recent"]!, /^fail: status\.json: lastRun\.outcome/);
});

test("backups.drill: a successful drill within 30 days passes; an older or failed one fails, quoting its problems", (t) => {
  t.is(DRILL_MAX_AGE_DAYS, 30);
  t.regex(verdicts(backupChecks(running(status(2), drill(12))))["backups.drill"]!, /^pass: last successful restore drill 2026-03-03T10:00:00Z \(12 days ago\)$/);
  t.regex(verdicts(backupChecks(running(status(2), drill(31))))["backups.drill"]!, /^fail: last successful restore drill .* \(31 days ago\)$/);
  t.regex(verdicts(backupChecks(running(status(2), drill(1, "failed"))))["backups.drill"]!, /^fail: last restore drill failed at 2026-03-14T10:00:00Z: nextcloud-db\.dump: 12 rows missing in oc_filecache$/);
});

// --- the real reader, against the real test Docker engine -------------------------------------

let engine: DockerEngine | undefined;
let image = "";
/** Its own name: other tests' containers and a real job never collide with it. */
const JOB = "bastide-audit-test-backups";
const jobSpec: DeclaredBackups = { ...spec, container: JOB };
const liveDeclared = { ...declaredState(config), backups: jobSpec };
const outputs: string[] = [];

test.before(async () => {
  engine = await startDockerEngine();
  image = await busyboxImage(engine.docker, { php: false });
  await removeContainer(engine.docker, JOB);
});

test.after.always(async () => {
  for (const dir of outputs) rmSync(dir, { recursive: true, force: true });
  if (engine) {
    await removeContainer(engine.docker, JOB);
    await engine.release();
  }
});

async function startJob(docker: Docker): Promise<void> {
  await removeContainer(docker, JOB);
  const container = await docker.createContainer({ name: JOB, Image: image, Cmd: ["sleep", "86400"], HostConfig: { NetworkMode: "host" } });
  await container.start();
  const made = await execInContainer(docker, JOB, ["mkdir", "-p", STATE_DIR]);
  if (made.exitCode !== 0) throw new Error(made.stderr);
}

/** Writes a record into the job's container as the job does: a file in its state folder. */
async function writeRecord(docker: Docker, path: string, content: string): Promise<void> {
  const written = await execInContainer(docker, JOB, ["sh", "-c", 'cat > "$0"', path], { input: content });
  if (written.exitCode !== 0) throw new Error(written.stderr);
}

/** The audit through its real reader, with no other container in sight: its backup checks. */
async function liveAudit(docker: Docker): Promise<{ checks: Record<string, string>; report: AuditReport; observed: Observed }> {
  const { report, observed } = await auditWithFacts({ config, declared: liveDeclared, connections: { docker: { docker, labels: ["bastide.backups-audit-test=none"] } }, language: "en" });
  return { checks: verdicts(report.checks.filter((c) => c.service === "backups") as RuleCheck[]), report, observed };
}

test.serial("live: no job container fails both rules; a running job without records says none was made", async (t) => {
  const docker = engine!.docker;
  await removeContainer(docker, JOB);
  const absent = await liveAudit(docker);
  t.regex(absent.checks["backups.recent"]!, /^fail: no container bastide-audit-test-backups: the backup job is not deployed$/);
  t.regex(absent.checks["backups.drill"]!, /^fail: no container/);
  t.deepEqual(absent.report.unreachable.filter((u) => u.service === "backups"), []);

  await startJob(docker);
  const empty = await liveAudit(docker);
  t.regex(empty.checks["backups.recent"]!, /^fail: no backup has run yet$/);
  t.regex(empty.checks["backups.drill"]!, /^fail: no restore drill yet/);
  t.is(drillRecordOf(empty.observed), undefined);
});

test.serial("live: fresh records pass; the drill record is saved beside the report and the DPO's measures quote its date", async (t) => {
  const docker = engine!.docker;
  await startJob(docker);
  const now = new Date();
  const record = drill(4, "ok", now);
  await writeRecord(docker, jobSpec.statusFile, JSON.stringify(status(3, run("ok", 3, now), now)));
  await writeRecord(docker, jobSpec.drillFile, JSON.stringify(record));
  const { checks, observed } = await liveAudit(docker);
  t.regex(checks["backups.recent"]!, /^pass: last good backup .* \(3 h ago, daily\)$/);
  t.regex(checks["backups.drill"]!, /^pass: last successful restore drill .* \(4 days ago\)$/);
  const kept = drillRecordOf(observed)!;
  t.deepEqual(kept, record);
  const out = mkdtempSync(join(tmpdir(), "bastide-audit-drill-"));
  outputs.push(out);
  const file = writeDrillRecord(kept, out);
  const backups = securityMeasures(config, readDrillRecord(file)).find((m) => m.id === "backups")!;
  t.is(backups.status, "in-place");
  t.true(backups.detail.en.includes(`Last successful restore drill on ${new Intl.DateTimeFormat("en-GB", { dateStyle: "long", timeZone: "UTC" }).format(new Date(record.at))}`));
});

test.serial("live: a failed run after an old success, a damaged record and a stopped job each fail, saying why", async (t) => {
  const docker = engine!.docker;
  await startJob(docker);
  const now = new Date();
  const failed = run("failed", 1, now, "pg_dump nextcloud: connection refused");
  await writeRecord(docker, jobSpec.statusFile, JSON.stringify(status(40, failed, now)));
  await writeRecord(docker, jobSpec.drillFile, "{ not json");
  const { checks } = await liveAudit(docker);
  t.regex(checks["backups.recent"]!, /^fail: last good backup .* \(40 h ago, daily\); last run failed at .*: pg_dump nextcloud: connection refused$/);
  t.regex(checks["backups.drill"]!, /^fail: \/var\/lib\/bastide-backups\/drill\.json: not JSON/);

  await docker.getContainer(JOB).stop({ t: 0 });
  const stopped = await liveAudit(docker);
  t.regex(stopped.checks["backups.recent"]!, /^fail: container bastide-audit-test-backups is stopped: no backup runs$/);
});
