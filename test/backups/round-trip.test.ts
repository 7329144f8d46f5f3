// Issue 11, "Restore, proven": a real round trip. Debian's restic to a real SFTP server (OpenSSH's
// sshd on 127.0.0.1), real PostgreSQL and MariaDB: make data, dump it with the backup plan's
// commands, back it up, destroy it, restore it, load the dumps, and compare row for row and
// byte for byte. Backup and restore times and the repository's size are logged (t.log).
import test from "ava";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { backupPlan, type ContainerCommand, type DatabaseDump } from "../../stacks/backups/plan.ts";
import { resticCommands } from "../../stacks/backups/restic.ts";
import { backupSettings, knownHostsLine } from "../../stacks/backups/settings.ts";
import { blueprints } from "../../stacks/services/catalog.ts";
import { exampleAssociation } from "../support/association.ts";
import { startMariadb } from "../support/mariadb.ts";
import { requireProgram, run } from "../support/programs.ts";
import { startSftpServer } from "../support/sftp.ts";
import { postgresCluster, stopPostgres } from "../support/synapse.ts";

const POSTGRES_BIN = "/usr/lib/postgresql/15/bin";
const MEMBERS = 500;
/**
 * The generated files: random (incompressible) files of FILE_MB MiB, BASTIDE_BACKUP_TEST_MB in all
 * (200 by default; the closing figures use 2048), plus small text files.
 */
const FILE_MB = 2;
const FILE_COUNT = Math.ceil(Number(process.env.BASTIDE_BACKUP_TEST_MB ?? 200) / FILE_MB);
const SMALL_FILES = 1000;

/**
 * Runs a dump or load command of the plan here instead of in its container: the same argv, with
 * the test server's address (inside the container the socket is used), streaming files in and out.
 */
function runLocally(command: ContainerCommand, connection: string[], secrets: Record<string, string>, io: { stdin?: string; stdout?: string }) {
  const [program, ...args] = command.argv;
  const env: Record<string, string> = { ...process.env } as Record<string, string>;
  for (const [variable, secret] of Object.entries(command.secretEnv ?? {})) {
    const value = secrets[secret];
    if (value === undefined) throw new Error(`no value for secret ${secret}`);
    env[variable] = value;
  }
  const input = io.stdin ? openSync(io.stdin, "r") : "ignore";
  const output = io.stdout ? openSync(io.stdout, "w", 0o600) : "pipe";
  try {
    const path = program === "pg_dump" || program === "pg_restore" ? join(POSTGRES_BIN, program) : requireProgram(program!, "mariadb-client");
    const result = spawnSync(path, [...connection, ...args], { stdio: [input, output, "pipe"], env, timeout: 300_000 });
    if (result.status !== 0) throw new Error(`${program} failed (${result.status}): ${String(result.stderr)}`);
  } finally {
    if (typeof input === "number") closeSync(input);
    if (typeof output === "number") closeSync(output);
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
  const plan = backupPlan(blueprints(exampleAssociation()));
  const dumpOf = (service: string): DatabaseDump => {
    const dump = plan.dumps.find((d) => d.service === service);
    if (!dump) throw new Error(`the plan has no dump for ${service}`);
    return dump;
  };
  const [nextcloudDb, pollsDb] = [dumpOf("nextcloud"), dumpOf("polls")];
  const filesVolume = plan.files.find((f) => f.service === "nextcloud" && f.volume === "html")!;
  t.truthy(filesVolume, "the plan copies Nextcloud's files");

  const [sftp, cluster, mariadb] = await Promise.all([startSftpServer(), postgresCluster(), startMariadb()]);
  const work = mkdtempSync(join(tmpdir(), "bastide-backup-"));
  t.teardown(async () => {
    await Promise.all([sftp.stop(), mariadb.stop(), stopPostgres()]);
    rmSync(work, { recursive: true, force: true });
  });

  // ---- The data: a Nextcloud-like database with MEMBERS accounts, Framadate-like polls, files.
  const pg = ["--host=127.0.0.1", `--port=${cluster.port}`];
  cluster.query("postgres", `CREATE ROLE ${nextcloudDb.user} LOGIN`);
  cluster.query("postgres", `CREATE DATABASE ${nextcloudDb.database} OWNER ${nextcloudDb.user} TEMPLATE template0 ENCODING 'UTF8'`);
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

  const pollsPassword = randomBytes(24).toString("base64url");
  mariadb.sql(`CREATE DATABASE ${pollsDb.database} CHARACTER SET utf8mb4; CREATE USER '${pollsDb.user}'@'%' IDENTIFIED BY '${pollsPassword}'; GRANT ALL ON ${pollsDb.database}.* TO '${pollsDb.user}'@'%';`);
  mariadb.sql(
    `CREATE TABLE poll (id INT AUTO_INCREMENT PRIMARY KEY, title VARCHAR(255) NOT NULL, admin_name VARCHAR(64), end_date DATE) ENGINE=InnoDB;
     CREATE TABLE vote (id INT AUTO_INCREMENT PRIMARY KEY, poll_id INT NOT NULL, name VARCHAR(64), choices VARCHAR(255), FOREIGN KEY (poll_id) REFERENCES poll(id)) ENGINE=InnoDB;
     INSERT INTO poll (title, admin_name, end_date) SELECT CONCAT('Réunion n°', seq, ' 🗓'), CONCAT('Membre ', seq), DATE_ADD('2026-01-01', INTERVAL seq DAY) FROM seq_1_to_${MEMBERS};
     INSERT INTO vote (poll_id, name, choices) SELECT 1 + seq % ${MEMBERS}, CONCAT('Participant·e ', seq), REPEAT('01', 1 + seq % 20) FROM seq_1_to_${10 * MEMBERS};`,
    pollsDb.database,
  );
  const mariaRows = () => mariadb.sql("SELECT * FROM poll ORDER BY id; SELECT * FROM vote ORDER BY id;", pollsDb.database);

  // The volume as Docker keeps it on the host: /var/lib/docker/volumes/<name>/_data.
  const volume = join(work, "volumes", filesVolume.dockerVolume, "_data");
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

  // ---- Back up: dumps into the staging folder, then one snapshot of it and of the volume.
  const secretsDir = join(work, "secrets");
  mkdirSync(secretsDir, { mode: 0o700 });
  const passwordFile = join(secretsDir, "restic-password");
  writeFileSync(passwordFile, randomBytes(32).toString("base64url"), { mode: 0o600 });
  const settings = backupSettings.parse({ destination: { type: "sftp", host: sftp.host, port: sftp.port, user: sftp.user, path: join(sftp.writable, "repository"), hostKey: sftp.hostKey, country: "FR" } });
  if (settings.destination.type !== "sftp") throw new Error("an SFTP destination was parsed");
  // known_hosts as the job writes it from the association file's hostKey: real ssh must accept it.
  const knownHosts = join(secretsDir, "known_hosts");
  writeFileSync(knownHosts, knownHostsLine(settings.destination), { mode: 0o600 });
  const restic = resticCommands(settings, { passwordFile, sshKey: sftp.clientKey, knownHosts });
  const resticRun = (argv: string[]) => {
    const answer = run(argv[0]!, argv.slice(1), { timeoutMs: 600_000 });
    if (answer.status !== 0) throw new Error(`restic ${argv.find((arg) => !arg.startsWith("-") && arg !== "restic" && !arg.startsWith("sftp.command"))} failed: ${answer.stderr}`);
    return answer.stdout;
  };
  resticRun(restic.init.argv);

  const staging = join(work, "staging");
  mkdirSync(staging, { mode: 0o700 });
  // The only secret the dumps read: Framadate's database password (PostgreSQL logs in over the socket in its container).
  const secrets = { [pollsDb.dump.secretEnv!.MYSQL_PWD!]: pollsPassword };
  const mariaConnection = ["--no-defaults", "--host=127.0.0.1", `--port=${mariadb.port}`];
  const [, backupMs] = timed(() => {
    runLocally(nextcloudDb.dump, pg, secrets, { stdout: join(staging, nextcloudDb.file) });
    runLocally(pollsDb.dump, mariaConnection, secrets, { stdout: join(staging, pollsDb.file) });
    resticRun(restic.backup([staging, volume]).argv);
  });
  resticRun(restic.check.argv);
  const snapshots = JSON.parse(resticRun(restic.snapshots.argv)) as { paths: string[]; hostname: string }[];
  t.is(snapshots.length, 1);
  t.deepEqual([...snapshots[0]!.paths].sort(), [staging, volume].sort());
  const repositorySize = sizeOf(join(sftp.writable, "repository"));
  const dataSize = sizeOf(volume) + sizeOf(staging);
  // Encrypted: no member's name is readable in the repository.
  t.is(run("grep", ["-rl", "Élodie", join(sftp.writable, "repository")]).stdout, "");

  // ---- Destroy everything the backup holds.
  psql("DROP TABLE filecache; DROP TABLE members;");
  mariadb.sql(`DROP DATABASE ${pollsDb.database}; CREATE DATABASE ${pollsDb.database} CHARACTER SET utf8mb4;`);
  rmSync(volume, { recursive: true, force: true });
  rmSync(staging, { recursive: true, force: true });
  t.is(psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").trim(), "0");

  // ---- Restore the latest snapshot, load the dumps.
  const target = join(work, "restored");
  const [, restoreMs] = timed(() => {
    resticRun(restic.restore("latest", target).argv);
    runLocally(nextcloudDb.load, pg, secrets, { stdin: join(target, staging, nextcloudDb.file) });
    runLocally(pollsDb.load, mariaConnection, secrets, { stdin: join(target, staging, pollsDb.file) });
  });

  // ---- Compare: row for row, byte for byte.
  t.deepEqual(pgRows(), before.pg);
  t.is(mariaRows(), before.maria);
  t.deepEqual(fingerprint(join(target, volume)), before.files);

  t.log(
    `${MEMBERS} members; ${mib(dataSize)} backed up (${FILE_COUNT} files of ${FILE_MB} MiB, ${SMALL_FILES} small ones, two dumps): ` +
      `backup ${seconds(backupMs)} (dumps + restic to SFTP), restore ${seconds(restoreMs)} (restic + loading the dumps), repository ${mib(repositorySize)}`,
  );
});
