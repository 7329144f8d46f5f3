// Issue 11, "Restore, proven": a real round trip. The backup job the stack deploys (its rendered
// script, run here with its paths under a scratch folder: test/support/backup-job.ts) sends the
// example's databases and volumes with Debian's restic to a real SFTP server (OpenSSH's sshd on
// 127.0.0.1), from real PostgreSQL and MariaDB: make data, back it up, destroy it, restore it,
// load the dumps with the plan's commands, and compare row for row and byte for byte. Backup and
// restore times and the repository's size are logged (t.log).
import test from "ava";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { DATA_ROOT, DUMP_DIR, SECRET_FILES, SNAPSHOT_ROOT, volumeMountPath } from "../../stacks/backups/layout.ts";
import { backupPlan, type ContainerCommand, type DatabaseDump } from "../../stacks/backups/plan.ts";
import { resticCommands } from "../../stacks/backups/restic.ts";
import { blueprints } from "../../stacks/services/catalog.ts";
import { exampleAssociation } from "../support/association.ts";
import { createDatabases, databasePasswords, installJob, POSTGRES_BIN, sftpBackups } from "../support/backup-job.ts";
import { startMariadb } from "../support/mariadb.ts";
import { requireProgram, run } from "../support/programs.ts";
import { startSftpServer } from "../support/sftp.ts";
import { postgresCluster, stopPostgres } from "../support/synapse.ts";

const MEMBERS = 500;
/**
 * The generated files: random (incompressible) files of FILE_MB MiB, BASTIDE_BACKUP_TEST_MB in all
 * (200 by default; the closing figures use 2048), plus small text files.
 */
const FILE_MB = 2;
const FILE_COUNT = Math.ceil(Number(process.env.BASTIDE_BACKUP_TEST_MB ?? 200) / FILE_MB);
const SMALL_FILES = 1000;

/**
 * Runs a load command of the plan here instead of in its container: the same argv, with the test
 * server's address (inside the container the socket is used), streaming the dump in.
 */
function loadLocally(command: ContainerCommand, connection: string[], secrets: Record<string, string>, dumpFile: string) {
  const [program, ...args] = command.argv;
  const env: Record<string, string> = { ...process.env } as Record<string, string>;
  for (const [variable, secret] of Object.entries(command.secretEnv ?? {})) {
    const value = secrets[secret];
    if (value === undefined) throw new Error(`no value for secret ${secret}`);
    env[variable] = value;
  }
  const input = openSync(dumpFile, "r");
  try {
    const path = program === "pg_dump" || program === "pg_restore" ? join(POSTGRES_BIN, program) : requireProgram(program!, "mariadb-client");
    const result = spawnSync(path, [...connection, ...args], { stdio: [input, "pipe", "pipe"], env, timeout: 300_000 });
    if (result.status !== 0) throw new Error(`${program} failed (${result.status}): ${String(result.stderr)}`);
  } finally {
    closeSync(input);
  }
}

/** Every file under `root`, by relative path: its mode and its content's SHA-256. */
function fingerprint(root: string): Map<string, string> {
  const prints = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else prints.set(relative(root, path), `${(lstatSync(path).mode & 0o7777).toString(8)} ${createHash("sha256").update(readFileSync(path)).digest("hex")}`);
    }
  };
  walk(root);
  return prints;
}

const sizeOf = (dir: string) => Number(run("du", ["-sb", dir]).stdout.split("\t")[0]);
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function timed<T>(work: () => T): [T, number] {
  const start = performance.now();
  const result = work();
  return [result, performance.now() - start];
}

test("backup round trip: PostgreSQL, MariaDB and files through restic to a real SFTP server, destroyed and restored identical", async (t) => {
  t.timeout(20 * 60_000);
  requireProgram("restic", "restic");
  const [sftp, cluster, mariadb] = await Promise.all([startSftpServer(), postgresCluster(), startMariadb()]);
  const root = mkdtempSync(join(tmpdir(), "bastide-backup-"));
  t.teardown(async () => {
    await Promise.all([sftp.stop(), mariadb.stop(), stopPostgres()]);
    rmSync(root, { recursive: true, force: true });
  });
  const settings = sftpBackups(sftp);
  const config = exampleAssociation((input) => (input.backups = { destination: settings.destination }));
  const list = blueprints(config);
  const plan = backupPlan(list);
  const dumpOf = (service: string): DatabaseDump => {
    const dump = plan.dumps.find((d) => d.service === service);
    if (!dump) throw new Error(`the plan has no dump for ${service}`);
    return dump;
  };
  const [nextcloudDb, pollsDb] = [dumpOf("nextcloud"), dumpOf("polls")];
  const filesVolume = plan.files.find((f) => f.service === "nextcloud" && f.volume === "html")!;
  t.truthy(filesVolume, "the plan copies Nextcloud's files");

  // Every database of the example exists, as the images' entrypoints make them, and the job is installed.
  const servers = { postgres: cluster, mariadb };
  const passwords = databasePasswords(plan);
  createDatabases(plan, servers, passwords);
  const repositoryPassword = randomBytes(32).toString("base64url");
  const job = installJob(config, list, { root, servers, passwords, secrets: { repositoryPassword, sshPrivateKey: readFileSync(sftp.clientKey, "utf8") } });

  // ---- The data: a Nextcloud-like database with MEMBERS accounts, Framadate-like polls, files.
  const pg = ["--host=127.0.0.1", `--port=${cluster.port}`];
  const psql = (sql: string) => {
    // The whole table comes back at once: room beyond spawnSync's 1 MiB default.
    const answer = spawnSync(join(POSTGRES_BIN, "psql"), [...pg, `--username=${nextcloudDb.user}`, `--dbname=${nextcloudDb.database}`, "-v", "ON_ERROR_STOP=1", "-qtA", "-c", sql], { encoding: "utf8", timeout: 120_000, maxBuffer: 256 * 1024 * 1024 });
    if (answer.status !== 0) throw new Error(`${sql}: ${answer.stderr}${answer.error?.message ?? ""}`);
    return answer.stdout;
  };
  psql(`CREATE TABLE members (id serial PRIMARY KEY, uid text UNIQUE NOT NULL, name text NOT NULL, email text NOT NULL, quota bigint, avatar bytea, joined timestamptz NOT NULL);
        INSERT INTO members (uid, name, email, quota, avatar, joined)
          SELECT 'member-' || i, 'Membre n°' || i || ' Élodie 🎉', 'm' || i || '@asso-exemple.fr', i * 1048576, decode(md5(i::text) || md5((i * 7)::text), 'hex'), timestamptz '2026-01-01 00:00:00+00' + i * interval '37 minutes'
          FROM generate_series(1, ${MEMBERS}) AS i;
        CREATE TABLE filecache (id bigserial PRIMARY KEY, member integer REFERENCES members(id), path text NOT NULL, size bigint, etag text);
        INSERT INTO filecache (member, path, size, etag)
          SELECT 1 + i % ${MEMBERS}, 'files/dossier-' || (i % 50) || '/document-' || i || '.odt', i * 13, md5(i::text) FROM generate_series(1, 40 * ${MEMBERS}) AS i;`);
  const pgTables = ["members", "filecache"];
  const pgRows = () => Object.fromEntries(pgTables.map((table) => [table, psql(`COPY (SELECT * FROM ${table} ORDER BY id) TO STDOUT`)]));

  const pollsPassword = passwords.get(`polls/${pollsDb.passwordSecret}`)!;
  mariadb.sql(
    `CREATE TABLE poll (id INT AUTO_INCREMENT PRIMARY KEY, title VARCHAR(255) NOT NULL, admin_name VARCHAR(64), end_date DATE) ENGINE=InnoDB;
     CREATE TABLE vote (id INT AUTO_INCREMENT PRIMARY KEY, poll_id INT NOT NULL, name VARCHAR(64), choices VARCHAR(255), FOREIGN KEY (poll_id) REFERENCES poll(id)) ENGINE=InnoDB;
     INSERT INTO poll (title, admin_name, end_date) SELECT CONCAT('Réunion n°', seq, ' 🗓'), CONCAT('Membre ', seq), DATE_ADD('2026-01-01', INTERVAL seq DAY) FROM seq_1_to_${MEMBERS};
     INSERT INTO vote (poll_id, name, choices) SELECT 1 + seq % ${MEMBERS}, CONCAT('Participant·e ', seq), REPEAT('01', 1 + seq % 20) FROM seq_1_to_${10 * MEMBERS};`,
    pollsDb.database,
  );
  const mariaRows = () => mariadb.sql("SELECT * FROM poll ORDER BY id; SELECT * FROM vote ORDER BY id;", pollsDb.database);

  // The volume as the job's container mounts it.
  const volume = join(root, volumeMountPath(filesVolume.service, filesVolume.volume));
  for (let i = 0; i < FILE_COUNT; i++) {
    const dir = join(volume, "data", `member-${i % MEMBERS}`, "files");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `photo-${i}.jpg`), randomBytes(FILE_MB * 1024 * 1024));
  }
  mkdirSync(join(volume, "config"), { recursive: true });
  writeFileSync(join(volume, "config", "config.php"), "<?php $CONFIG = ['instanceid' => 'test'];\n", { mode: 0o640 });
  for (let i = 0; i < SMALL_FILES; i++) {
    const dir = join(volume, "data", `member-${i % MEMBERS}`, "files");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `note-${i}.md`), `# Note ${i}\n${"texte ".repeat(i % 300)}\n`);
  }

  const before = { pg: pgRows(), maria: mariaRows(), files: fingerprint(volume) };
  t.is(before.pg.members!.trim().split("\n").length, MEMBERS);
  t.is(before.files.size, FILE_COUNT + SMALL_FILES + 1);

  // ---- Back up: the job, as the container runs it (dumps, listings, manifest, restic backup).
  const restic = resticCommands(settings, { passwordFile: join(root, SECRET_FILES.repositoryPassword), sshKey: sftp.clientKey, knownHosts: sftp.knownHosts });
  const resticRun = (argv: string[]) => {
    const answer = run(argv[0]!, argv.slice(1), { timeoutMs: 600_000 });
    if (answer.status !== 0) throw new Error(`restic ${argv.find((arg) => !arg.startsWith("-") && arg !== "restic" && !arg.startsWith("sftp.command"))} failed: ${answer.stderr}`);
    return answer.stdout;
  };
  const backup = await job.run(["run", "--reason", "manual"]);
  t.is(backup.status, 0, backup.stderr + backup.stdout);
  const backupMs = backup.ms;
  resticRun(restic.check.argv);
  const snapshots = JSON.parse(resticRun(restic.snapshots.argv)) as { paths: string[]; hostname: string }[];
  t.is(snapshots.length, 1);
  const staging = join(root, SNAPSHOT_ROOT);
  t.deepEqual([...snapshots[0]!.paths].sort(), [staging, join(root, DATA_ROOT)].sort());
  const repositorySize = sizeOf(join(sftp.writable, "repository"));
  const dataSize = sizeOf(join(root, DATA_ROOT)) + sizeOf(staging);
  // Encrypted: no member's name is readable in the repository.
  t.is(run("grep", ["-rl", "Élodie", join(sftp.writable, "repository")]).stdout, "");

  // ---- Destroy everything the backup holds.
  psql("DROP TABLE filecache; DROP TABLE members;");
  mariadb.sql(`DROP DATABASE ${pollsDb.database}; CREATE DATABASE ${pollsDb.database} CHARACTER SET utf8mb4;`);
  rmSync(volume, { recursive: true, force: true });
  rmSync(staging, { recursive: true, force: true });
  t.is(psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").trim(), "0");

  // ---- Restore the latest snapshot, load the dumps.
  const target = join(root, "restored");
  // The only secret the loads read: Framadate's database password (PostgreSQL logs in over the socket in its container).
  const secrets = { [pollsDb.load.secretEnv!.MYSQL_PWD!]: pollsPassword };
  const mariaConnection = ["--no-defaults", "--host=127.0.0.1", `--port=${mariadb.port}`];
  const restoredDump = (dump: DatabaseDump) => join(target, root, DUMP_DIR, dump.file);
  const [, restoreMs] = timed(() => {
    resticRun(restic.restore("latest", target).argv);
    loadLocally(nextcloudDb.load, pg, secrets, restoredDump(nextcloudDb));
    loadLocally(pollsDb.load, mariaConnection, secrets, restoredDump(pollsDb));
  });

  // ---- Compare: row for row, byte for byte.
  t.deepEqual(pgRows(), before.pg);
  t.is(mariaRows(), before.maria);
  t.deepEqual(fingerprint(join(target, volume)), before.files);

  t.log(
    `${MEMBERS} members; ${mib(dataSize)} backed up (${FILE_COUNT} files of ${FILE_MB} MiB, ${SMALL_FILES} small ones, the four dumps and their manifest): ` +
      `backup ${seconds(backupMs)} (the job: four dumps, listings, restic to SFTP, forget), restore ${seconds(restoreMs)} (restic + loading the dumps), repository ${mib(repositorySize)}`,
  );
});
