// Issue 11: the backup job, run for real. The script backupJob() renders for the example (every
// database and volume of its blueprints), its paths under a scratch folder and its databases on
// loopback, run with Debian's pg_dump, mariadb-dump, restic and ssh against a real SFTP server,
// PostgreSQL and MariaDB. What it recorded is read back from the restored snapshot: the dumps,
// the manifest (manifestSchema), the checksum listings (sha256sum --check) and the status
// (statusSchema); a second run and the retention; a failure and what it says.
import test from "ava";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { backupJob } from "../../stacks/backups/job.ts";
import { checksumFile, DUMP_DIR, JOB_COMMAND, MANIFEST_FILE, manifestSchema, SECRET_FILES, STATE_DIR, statusSchema, STATUS_FILE, volumeMountPath } from "../../stacks/backups/layout.ts";
import { backupPlan } from "../../stacks/backups/plan.ts";
import { resticCommands } from "../../stacks/backups/restic.ts";
import { S3_ACCESS_KEY_CONFIG } from "../../stacks/backups/settings.ts";
import { SMTP_PASSWORD_CONFIG } from "../../stacks/config/mail.ts";
import { blueprints } from "../../stacks/services/catalog.ts";
import { exampleAssociation } from "../support/association.ts";
import { createDatabases, databasePasswords, installJob, POSTGRES_BIN, sftpBackups } from "../support/backup-job.ts";
import { POSTGRES_ROW_COUNTS } from "../../stacks/backups/throwaway.ts";
import { freePort } from "../support/docker.ts";
import { startMariadb } from "../support/mariadb.ts";
import { startSftpServer } from "../support/sftp.ts";
import { startMailRelay } from "../support/smtp.ts";
import { startS3Server } from "../support/s3.ts";
import { postgresCluster, stopPostgres } from "../support/synapse.ts";

const MEMBERS = 120;

test.serial("backup job: the rendered script dumps every database, lists every volume, snapshots, keeps the retention and says when it failed", async (t) => {
  t.timeout(10 * 60_000);
  const smtpPassword = randomBytes(18).toString("base64url");
  const [sftp, postgres, mariadb, relay] = await Promise.all([startSftpServer(), postgresCluster(), startMariadb(), startMailRelay("relais \"bastide\"", smtpPassword)]);
  const root = mkdtempSync(join(tmpdir(), "bastide-job-"));
  t.teardown(async () => {
    await Promise.all([sftp.stop(), mariadb.stop(), stopPostgres(), relay.stop()]);
    rmSync(root, { recursive: true, force: true });
  });

  const backups = sftpBackups(sftp, "repository", { retention: { daily: 2, weekly: 0, monthly: 0 } });
  // With a mail relay: a failed run writes to the admins.
  const mail = { host: relay.host, port: relay.port, security: "starttls", from: "sauvegardes@jardins-canal.localhost", username: relay.username };
  const withMail = (destination: Record<string, unknown>) =>
    exampleAssociation((input) => {
      input.backups = { destination, retention: backups.retention };
      input.mail = mail;
    });
  const config = withMail(backups.destination);
  const admins = config.members.filter((m) => m.role === "admin").map((m) => m.email);
  t.true(admins.length > 0);
  const list = blueprints(config);
  const repositoryPassword = randomBytes(32).toString("base64url");
  const sshPrivateKey = readFileSync(sftp.clientKey, "utf8");
  const servers = { postgres, mariadb };
  const passwords = databasePasswords(backupPlan(list));
  createDatabases(backupPlan(list), servers, passwords);
  const relaySecrets = { provided: { [SMTP_PASSWORD_CONFIG]: smtpPassword }, trustedCertificates: relay.certificate };
  const job = installJob(config, list, { root, servers, passwords, secrets: { repositoryPassword, sshPrivateKey }, ...relaySecrets });

  // ---- Data: rows in every database (and one empty table each), files in every volume.
  const expectedTables = new Map<string, Record<string, number>>();
  for (const [i, dump] of job.plan.dumps.entries()) {
    const rows = MEMBERS * (i + 1);
    if (dump.engine === "postgres") {
      postgres.query(dump.database, `SET ROLE ${dump.user};
        CREATE TABLE members (id serial PRIMARY KEY, name text NOT NULL, note text);
        INSERT INTO members (name, note) SELECT 'Membre ' || g || ' Élodie', E'ligne 1\\nligne 2\\ttab' FROM generate_series(1, ${rows}) AS g;
        CREATE TABLE "empty table" (id int);
        CREATE SCHEMA "Archives"; CREATE TABLE "Archives"."vieux ""membres""" (id int); INSERT INTO "Archives"."vieux ""membres""" VALUES (1), (2)`);
      // Named as the restore drill counts them (throwaway.ts, POSTGRES_ROW_COUNTS).
      expectedTables.set(dump.file, { members: rows, "empty table": 0, 'Archives.vieux "membres"': 2 });
    } else {
      mariadb.sql(`CREATE TABLE poll (id INT AUTO_INCREMENT PRIMARY KEY, title VARCHAR(255), body TEXT) ENGINE=InnoDB;
        INSERT INTO poll (title, body) SELECT CONCAT('Réunion ', seq), CONCAT('ligne 1\\nINSERT INTO \`poll\` VALUES (', seq, ');') FROM seq_1_to_${rows};
        CREATE TABLE empty_table (id INT) ENGINE=InnoDB;`, dump.database);
      expectedTables.set(dump.file, { poll: rows, empty_table: 0 });
    }
  }
  for (const { service, volume } of job.plan.files) {
    const folder = join(root, volumeMountPath(service, volume));
    mkdirSync(join(folder, "sous dossier"), { recursive: true });
    writeFileSync(join(folder, "config.php"), `<?php // ${service}/${volume}\n`);
    writeFileSync(join(folder, "sous dossier", "photo d'été.jpg"), randomBytes(64 * 1024));
    writeFileSync(join(folder, "sous dossier", "two\nlines.txt"), "a file name with a newline\n");
  }

  // ---- First run.
  const first = await job.run(["run", "--reason", "manual"]);
  t.is(first.status, 0, first.stderr + first.stdout);
  const status1 = statusSchema.parse(JSON.parse(readFileSync(join(root, STATUS_FILE), "utf8")));
  t.is(status1.lastRun.outcome, "ok");
  t.is(status1.lastRun.reason, "manual");
  t.regex(status1.lastRun.snapshot ?? "", /^[0-9a-f]{8,64}$/);
  t.true((status1.lastRun.totalBytes ?? 0) > 3 * 64 * 1024, `${status1.lastRun.totalBytes} bytes`);
  t.true((status1.lastRun.addedBytes ?? 0) > 0);
  t.deepEqual(status1.lastSuccess, status1.lastRun);

  const restic = resticCommands(backups, { passwordFile: join(root, SECRET_FILES.repositoryPassword), sshKey: sftp.clientKey, knownHosts: sftp.knownHosts });
  const resticJson = (argv: string[]) => {
    const answer = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout: 120_000 });
    if (answer.status !== 0) throw new Error(answer.stderr);
    return JSON.parse(answer.stdout) as { short_id: string; id: string; paths: string[] }[];
  };
  const snapshots1 = resticJson(restic.snapshots.argv);
  t.is(snapshots1.length, 1);
  t.true(snapshots1[0]!.id.startsWith(status1.lastRun.snapshot!), "the status names restic's snapshot");
  t.deepEqual([...snapshots1[0]!.paths].sort(), [join(root, "backup"), join(root, "data")]);

  // ---- What the snapshot holds, restored elsewhere.
  const target = join(root, "restored");
  const [resticProgram, ...restoreArgs] = restic.restore(status1.lastRun.snapshot!, target).argv;
  const restored = spawnSync(resticProgram!, restoreArgs, { encoding: "utf8", timeout: 120_000 });
  t.is(restored.status, 0, restored.stderr);
  const manifest = manifestSchema.parse(JSON.parse(readFileSync(join(target, root, MANIFEST_FILE), "utf8")));
  t.is(manifest.reason, "manual");
  t.is(manifest.images["bastide-nextcloud-db"], list.find((b) => b.service === "nextcloud")!.containers.find((c) => c.name === "db")!.image);
  t.deepEqual(manifest.dumps.map((d) => `${d.service}/${d.volume}`).sort(), job.plan.dumps.map((d) => `${d.service}/${d.volume}`).sort());
  for (const dump of manifest.dumps) {
    t.deepEqual(dump.tables, expectedTables.get(dump.file), `${dump.file}: rows per table, counted in the dump`);
    if (dump.engine === "postgres") {
      // The very names and counts the restore drill reads from a loaded database.
      const counted = spawnSync(join(POSTGRES_BIN, "psql"), ["-h", "127.0.0.1", "-p", String(postgres.port), "-U", "postgres", "-d", dump.database, "-tA", "-F", "\t", "-c", POSTGRES_ROW_COUNTS], { encoding: "utf8" });
      t.is(counted.status, 0, counted.stderr);
      t.deepEqual(dump.tables, Object.fromEntries(counted.stdout.split("\n").filter(Boolean).map((line) => [line.split("\t")[0]!, Number(line.split("\t")[1])])));
    }
    const file = join(target, root, DUMP_DIR, dump.file);
    t.true(existsSync(file), `${dump.file} is in the snapshot`);
    t.is(readFileSync(file).length, dump.bytes);
  }
  t.deepEqual(manifest.volumes.map((v) => `${v.service}/${v.volume}`).sort(), job.plan.files.map((f) => `${f.service}/${f.volume}`).sort());
  for (const volume of manifest.volumes) {
    t.is(volume.files, 3, `${volume.service}/${volume.volume}: the three files written`);
    t.is(volume.checksums, join(root, checksumFile(volume.service, volume.volume)));
    const check = spawnSync("sha256sum", ["--check", "--strict", join(target, volume.checksums)], { cwd: join(target, root, volumeMountPath(volume.service, volume.volume)), encoding: "utf8" });
    t.is(check.status, 0, `${volume.service}/${volume.volume}: ${check.stdout}${check.stderr}`);
  }
  // The check can fail: a restored file changed is caught.
  const nextcloudFiles = join(target, root, volumeMountPath("nextcloud", "html"));
  writeFileSync(join(nextcloudFiles, "config.php"), "<?php // changed\n");
  t.not(spawnSync("sha256sum", ["--check", "--quiet", join(target, root, checksumFile("nextcloud", "html"))], { cwd: nextcloudFiles }).status, 0);

  // ---- A second run adds a snapshot; forget keeps the retention (one snapshot per day: both
  // runs are today, so restic's --keep-daily keeps the newer only).
  postgres.query(job.plan.dumps[0]!.database, `INSERT INTO members (name) VALUES ('nouveau')`);
  // Two runs never overlap: while another holds the job's lock (flock, as a running backup does), this one waits.
  const lockFile = join(root, STATE_DIR, "run.lock");
  const holder = spawn("flock", ["--close", lockFile, "sleep", "60"], { stdio: "ignore", detached: true });
  const released = new Promise((resolve) => holder.once("exit", resolve));
  t.teardown(() => {
    if (holder.exitCode === null && holder.signalCode === null) process.kill(-holder.pid!, "SIGTERM");
  });
  while (spawnSync("flock", ["--nonblock", lockFile, "true"]).status === 0) await new Promise((resolve) => setTimeout(resolve, 20));
  const pending = job.run(["run", "--reason", "daily"]);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const manifestFile = join(root, MANIFEST_FILE);
  t.is(existsSync(manifestFile) && manifestSchema.parse(JSON.parse(readFileSync(manifestFile, "utf8"))).reason, "manual", "the waiting run has not touched the snapshot folder");
  process.kill(-holder.pid!, "SIGTERM");
  await released;
  const second = await pending;
  t.is(second.status, 0, second.stderr + second.stdout);
  const status2 = statusSchema.parse(JSON.parse(readFileSync(join(root, STATUS_FILE), "utf8")));
  t.not(status2.lastRun.snapshot, status1.lastRun.snapshot);
  t.is(status2.lastSuccess?.reason, "daily");
  const snapshots2 = resticJson(restic.snapshots.argv);
  t.deepEqual(snapshots2.map((s) => s.short_id), [status2.lastRun.snapshot!.slice(0, 8)]);

  t.is(relay.received.length, 0, "no mail while the backups succeed");

  // ---- Usage mistakes are refused before anything runs.
  t.is((await job.run(["run", "--reason", "weekly"])).status, 2);
  t.is((await job.run(["backup"])).status, 2);

  // ---- An unreachable destination: status failed naming the step, non-zero exit, no secret anywhere.
  const closedPort = await freePort();
  const unreachable = withMail({ ...backups.destination, port: closedPort });
  const broken = installJob(unreachable, blueprints(unreachable), { root, servers, passwords, secrets: { repositoryPassword, sshPrivateKey }, ...relaySecrets });
  const failed = await broken.run(["run", "--reason", "pre-upgrade"]);
  t.not(failed.status, 0);
  const status3 = statusSchema.parse(JSON.parse(readFileSync(join(root, STATUS_FILE), "utf8")));
  t.is(status3.lastRun.outcome, "failed");
  t.is(status3.lastRun.reason, "pre-upgrade");
  t.regex(status3.lastRun.error ?? "", /^open the repository failed: .+/);
  t.is(status3.lastRun.snapshot, undefined);
  t.deepEqual(status3.lastSuccess, status2.lastSuccess, "the last good backup is still known");
  // One short mail to the admins, through the relay, logged in over STARTTLS.
  t.is(relay.received.length, 1, failed.stdout + failed.stderr);
  const [sent] = relay.received;
  t.is(sent!.user, relay.username);
  t.deepEqual(sent!.to.sort(), [...admins].sort());
  t.regex(sent!.data, /^Subject: \[Bastide\] the backup of \S+ failed$/m);
  t.true(sent!.data.includes(status3.lastRun.error!), "the mail says the step and its last line");
  const said = [sent!.data, failed.stdout, failed.stderr, first.stdout, first.stderr, second.stdout, second.stderr, readFileSync(join(root, STATUS_FILE), "utf8")].join("\n");
  const keyBody = sshPrivateKey.split("\n")[1]!;
  for (const secret of [repositoryPassword, keyBody, smtpPassword, ...passwords.values()]) t.false(said.includes(secret), "a secret was printed or recorded");
  t.log(`first run ${(first.ms / 1000).toFixed(1)} s, second ${(second.ms / 1000).toFixed(1)} s; failure said: ${status3.lastRun.error}`);
});

/** `bastide-backup schedule` for a daily time: the wait it announces, then how it stops on Docker's stop signal. */
async function scheduleFor(time: string): Promise<{ waitSeconds: number; announcedAt: number; code: number | null; stoppedMs: number; output: string }> {
  const root = mkdtempSync(join(tmpdir(), "bastide-schedule-"));
  try {
    const config = exampleAssociation((input) => (input.backups = { destination: { type: "disk", path: "/mnt/backup" }, time }));
    const list = blueprints(config);
    const job = installJob(config, list, { root, passwords: databasePasswords(backupPlan(list)), secrets: { repositoryPassword: "unused" } });
    const child = spawn(job.script, ["schedule"], { env: job.env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += String(chunk)));
    child.stderr.on("data", (chunk) => (output += String(chunk)));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const deadline = Date.now() + 10_000;
    while (!/next backup in \d+ s/.test(output) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const waitSeconds = Number(/next backup in (\d+) s/.exec(output)?.[1] ?? Number.NaN);
    const announcedAt = Date.now();
    const stopAt = performance.now();
    // The base image's STOPSIGNAL is SIGINT (repos/postgres/remote/17.11-bookworm.md).
    child.kill("SIGINT");
    const code = await Promise.race([exited, new Promise<null>((resolve) => setTimeout(() => (child.kill("SIGKILL"), resolve(null)), 5_000))]);
    return { waitSeconds, announcedAt, code, stoppedMs: performance.now() - stopAt, output };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const hhmm = (date: Date) => `${String(date.getUTCHours()).padStart(2, "0")}:${String(date.getUTCMinutes()).padStart(2, "0")}`;
/** Seconds from `from` (ms) to the minute `date` falls in. */
const secondsUntil = (date: Date, from: number) => (Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes()) - from) / 1000;

// Serial: the other test's spawnSync calls would block this process's event loop, and with it the reading of the announced wait.
test.serial("backup job: the schedule waits for the next daily time (UTC), today or tomorrow, and stops at once on SIGINT", async (t) => {
  const soon = new Date(Date.now() + 3 * 60_000);
  const later = await scheduleFor(hhmm(soon));
  t.true(Math.abs(later.waitSeconds - secondsUntil(soon, later.announcedAt)) <= 3, `${later.waitSeconds} s announced, ${secondsUntil(soon, later.announcedAt)} expected: ${later.output}`);
  t.is(later.code, 0, later.output);
  t.true(later.stoppedMs < 3000, `stopped in ${later.stoppedMs} ms`);
  t.regex(later.output, /stopped/);

  // A time already past today: tomorrow at that time.
  const past = new Date(Date.now() - 2 * 60_000);
  const tomorrow = await scheduleFor(hhmm(past));
  t.true(Math.abs(tomorrow.waitSeconds - (secondsUntil(past, tomorrow.announcedAt) + 86_400)) <= 3, `${tomorrow.waitSeconds} s announced: ${tomorrow.output}`);
  t.is(tomorrow.code, 0, tomorrow.output);
});

test("backup job: the blueprint, pure: no job without backups; every dump's password from its service; databases dumped before any volume is read; secrets only in secret files", (t) => {
  t.is(backupJob(exampleAssociation(), blueprints(exampleAssociation())), undefined);
  const hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0zZ1JzLt0mEhQpYc2Y4q0bXg1YVfWc6D8h0Jr3pXqS";
  const config = exampleAssociation((input) => (input.backups = { destination: { type: "sftp", host: "u1.your-storagebox.de", port: 23, user: "u1", path: "/backups", hostKey, country: "DE" } }));
  const list = blueprints(config);
  const plan = backupPlan(list);
  const job = backupJob(config, list)!;
  t.deepEqual(job.command, [JOB_COMMAND, "schedule"]);
  t.deepEqual(
    Object.values(job.serviceSecretEnv).sort((a, b) => a.service.localeCompare(b.service)),
    plan.dumps.map((d) => ({ service: d.service, secret: d.passwordSecret })).sort((a, b) => a.service.localeCompare(b.service)),
  );
  t.deepEqual(job.providedSecretEnv, {}, "SFTP and no relay: nothing for the admin to supply");
  const files = job.files({ repositoryPassword: "the-repository-password", sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nthe-key\n" });
  t.deepEqual(files.map((f) => [f.path, f.mode, f.holdsSecrets]), [
    [JOB_COMMAND, "0500", false],
    [SECRET_FILES.repositoryPassword, "0400", true],
    [SECRET_FILES.sshKey, "0400", true],
    [SECRET_FILES.knownHosts, "0400", false],
  ]);
  t.is(files.find((f) => f.path === SECRET_FILES.knownHosts)!.content, `[u1.your-storagebox.de]:23 ${hostKey}\n`);
  const script = files[0]!.content;
  t.false(/the-repository-password|the-key/.test(script));
  const lastDump = Math.max(...plan.dumps.map((d) => script.indexOf(`DUMP='${DUMP_DIR}/${d.file}'`)));
  const firstListing = Math.min(...plan.files.map((f) => script.indexOf(`VOLUME='${volumeMountPath(f.service, f.volume)}'`)));
  t.true(plan.dumps.every((d) => script.includes(`DUMP='${DUMP_DIR}/${d.file}'`)) && plan.files.every((f) => script.includes(`VOLUME='${volumeMountPath(f.service, f.volume)}'`)));
  t.true(lastDump < firstListing, "every database is dumped before any volume is read (Nextcloud's files after its database)");
  t.throws(() => job.files({ repositoryPassword: "x" }), { message: /SSH private key/ });
});

test.serial("backup job: to S3-compatible storage (a real S3 server over HTTPS), with the access key the admin supplies", async (t) => {
  t.timeout(5 * 60_000);
  const [s3, postgres, mariadb] = await Promise.all([startS3Server(), postgresCluster(), startMariadb()]);
  const root = mkdtempSync(join(tmpdir(), "bastide-job-s3-"));
  t.teardown(async () => {
    await Promise.all([s3.stop(), mariadb.stop(), stopPostgres()]);
    rmSync(root, { recursive: true, force: true });
  });
  s3.createBucket("asso-exemple-backups");
  const config = exampleAssociation((input) => (input.backups = { destination: { type: "s3", endpoint: s3.endpoint, bucket: "asso-exemple-backups", country: "FR" } }));
  const list = blueprints(config);
  const passwords = databasePasswords(backupPlan(list));
  const servers = { postgres, mariadb };
  createDatabases(backupPlan(list), servers, passwords);
  const job = installJob(config, list, {
    root,
    servers,
    passwords,
    secrets: { repositoryPassword: randomBytes(32).toString("base64url") },
    // The admin's key pair, by the Pulumi config keys the blueprint names; the run's certificate as the trusted CA (Go reads SSL_CERT_FILE).
    provided: { [S3_ACCESS_KEY_CONFIG.id]: s3.env.AWS_ACCESS_KEY_ID!, [S3_ACCESS_KEY_CONFIG.secret]: s3.env.AWS_SECRET_ACCESS_KEY! },
    extraEnv: { SSL_CERT_FILE: s3.env.SSL_CERT_FILE! },
  });
  t.deepEqual(Object.keys(job.job.providedSecretEnv).sort(), ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);
  const ran = await job.run(["run", "--reason", "manual"]);
  t.is(ran.status, 0, ran.stderr + ran.stdout);
  const status = statusSchema.parse(JSON.parse(readFileSync(join(root, STATUS_FILE), "utf8")));
  t.is(status.lastRun.outcome, "ok");
  t.regex(status.lastRun.snapshot ?? "", /^[0-9a-f]{8}/);
  t.true(existsSync(join(s3.root, "asso-exemple-backups", "bastide", "config")), "the repository is in the bucket, under the prefix");
});
