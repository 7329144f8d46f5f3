// Issue 11, "Restore, proven": `restore-drill` and `restore` against a real Docker engine, a real
// restic repository and real PostgreSQL and MariaDB servers in containers.
//
// What stands in for what cannot run here (no registry can be reached, so no upstream image
// can be pulled; images are made with `docker import` of root file systems built from this
// machine's Debian packages, test/support/debian-image.ts):
// - the job's image (docker/backups: postgres:17.11-bookworm + Debian's restic 0.14, coreutils):
//   Debian's restic 0.14.0, coreutils, findutils and dash, which is what the drill and the
//   restore run in it (restic, sha256sum, find, cat, sh);
// - the job's script (the `job` helper's, not merged yet): the backup below does what the
//   layout says the job does: the plan's dump commands run in the database containers into
//   /backup/dumps, one `sha256sum` listing per files volume into /backup/checksums, the manifest
//   (rows counted per table, files and bytes per volume) into /backup/manifest.json, then the
//   plan's `restic backup` of /backup and /data/<service>/<volume> from the job's container;
// - postgres:17.11-alpine: Debian's PostgreSQL 15 behind a small entrypoint doing what the
//   official image's docker-entrypoint.sh does with POSTGRES_USER, POSTGRES_DB and
//   POSTGRES_PASSWORD on an empty data folder (initdb trusting the local socket, the database
//   made by a server listening on its socket only, then the real server);
// - mariadb:11.8.9: Debian's MariaDB 10.11 behind an entrypoint doing what the official one
//   does with MARIADB_DATABASE, MARIADB_USER and MARIADB_PASSWORD (a --skip-networking server
//   makes them, then the real one runs with the blueprint's arguments);
// - the repository: a disk destination (a host folder bound into the job's container, as the
//   stack binds a second disk); test/backups/round-trip.test.ts covers SFTP with a real sshd.
// The engine is one of its own (not the shared test engine): the restore refuses while any
// container labelled bastide.service exists, which other test files create there.
import test from "ava";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { stringify } from "yaml";
import { execInContainer } from "../../provisioners/runtime/docker.ts";
import type { Association } from "../../stacks/config/schema.ts";
import { drillSchema, BACKUP_CONTAINER, DRILL_FILE, MANIFEST_FILE, SECRET_FILES, STATE_DIR, STATE_VOLUME, checksumFile, volumeMountPath, type Manifest } from "../../stacks/backups/layout.ts";
import { backupPlan, type DatabaseDump } from "../../stacks/backups/plan.ts";
import { resticCommands } from "../../stacks/backups/restic.ts";
import { runDrill } from "../../stacks/backups/drill.ts";
import { main as drillCli } from "../../stacks/backups/drill-cli.ts";
import { HOLDS_LABEL, RestoreRefused, runRestore, stackVolumes } from "../../stacks/backups/restore.ts";
import { SERVICE_LABEL } from "../../policies/audit/docker.ts";
import { databaseContainer, databaseEnv, DRILL_LABEL, mustRun, RESTORE_LABEL, startContainer, writeSecretFile } from "../../stacks/backups/throwaway.ts";
import { blueprints as blueprintsOf } from "../../stacks/services/catalog.ts";
import { IMAGES } from "../../stacks/services/images.ts";
import { exampleAssociation, exampleInput } from "../support/association.ts";
import { debianImage } from "../support/debian-image.ts";
import { startDockerEngine, type DockerEngine } from "../support/docker.ts";

const POSTGRES_ENTRYPOINT = String.raw`#!/bin/sh
# Stands in for docker-library/postgres docker-entrypoint.sh (see the test's header).
set -eu
[ "${"${1:-}"}" = postgres ] && shift
mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"
as_postgres() { setpriv --reuid=postgres --regid=postgres --clear-groups "$@"; }
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  printf '%s' "$POSTGRES_PASSWORD" >/tmp/pwfile && chown postgres /tmp/pwfile
  as_postgres initdb -D "$PGDATA" --username="$POSTGRES_USER" --pwfile=/tmp/pwfile --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C >/dev/null
  rm /tmp/pwfile
  as_postgres pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  [ "$POSTGRES_DB" = postgres ] || psql -v ON_ERROR_STOP=1 --username="$POSTGRES_USER" --dbname=postgres -qc "CREATE DATABASE \"$POSTGRES_DB\""
  as_postgres pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
fi
exec setpriv --reuid=postgres --regid=postgres --clear-groups postgres -D "$PGDATA" -c listen_addresses='*' "$@"
`;

const MARIADB_ENTRYPOINT = String.raw`#!/bin/sh
# Stands in for docker-library/mariadb docker-entrypoint.sh (see the test's header).
set -eu
[ "${"${1:-}"}" = mariadbd ] && shift
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld /var/lib/mysql
if [ ! -d /var/lib/mysql/mysql ]; then
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql --auth-root-authentication-method=socket --skip-test-db >/dev/null
  mariadbd --user=mysql --datadir=/var/lib/mysql --skip-networking "$@" & pid=$!
  until mariadb --user=root -e 'SELECT 1' >/dev/null 2>&1; do sleep 0.2; done
  mariadb --user=root <<SQL
CREATE DATABASE \`$MARIADB_DATABASE\`;
CREATE USER '$MARIADB_USER'@'%' IDENTIFIED BY '$MARIADB_PASSWORD';
GRANT ALL ON \`$MARIADB_DATABASE\`.* TO '$MARIADB_USER'@'%';
SQL
  kill "$pid" && wait "$pid" || true
fi
exec mariadbd --user=mysql --datadir=/var/lib/mysql --bind-address=127.0.0.1 "$@"
`;

const entrypointSetup = (path: string, script: string) =>
  `mkdir -p "$root/usr/local/bin" && cat >"$root${path}" <<'BASTIDE_EOF'\n${script}BASTIDE_EOF\nchmod 755 "$root${path}"`;

async function images(docker: Docker) {
  const [job, postgres, mariadb] = await Promise.all([
    debianImage(docker, { name: "bastide-test/backups-job", packages: ["restic", "coreutils", "findutils", "dash"], setup: 'mkdir -p "$root/root"' }),
    debianImage(docker, {
      name: "bastide-test/backups-postgres",
      packages: ["postgresql-15", "postgresql-client-15", "dash", "coreutils", "util-linux"],
      setup: `${entrypointSetup("/usr/local/bin/docker-entrypoint.sh", POSTGRES_ENTRYPOINT)}
printf 'postgres:x:999:999:PostgreSQL:/var/lib/postgresql:/bin/sh\\n' >>"$root/etc/passwd"; printf 'postgres:x:999:\\n' >>"$root/etc/group"
mkdir -p "$root/var/lib/postgresql/data" "$root/var/run/postgresql"`,
      changes: ['ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]', "ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "ENV PGDATA=/var/lib/postgresql/data"],
    }),
    debianImage(docker, {
      name: "bastide-test/backups-mariadb",
      packages: ["mariadb-server-core", "mariadb-client-core", "mariadb-client", "dash", "coreutils", "mawk", "sed", "grep", "hostname", "findutils"],
      setup: `${entrypointSetup("/usr/local/bin/docker-entrypoint.sh", MARIADB_ENTRYPOINT)}
printf 'mysql:x:100:101:MariaDB:/var/lib/mysql:/bin/sh\\n' >>"$root/etc/passwd"; printf 'mysql:x:101:\\n' >>"$root/etc/group"
mkdir -p "$root/var/lib/mysql" "$root/run/mysqld"`,
      changes: ['ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]'],
    }),
  ]);
  return { job, postgres, mariadb };
}

// ---- The world: the stack's databases and files volumes, the job's container, a disk repository.

const work = mkdtempSync(join(tmpdir(), "bastide-drill-"));
const repository = join(work, "repository");
const REPOSITORY_PASSWORD = "test-repository-password-0001";
const config: Association = exampleAssociation((input) => {
  input.backups = { destination: { type: "disk", path: repository } };
});
const blueprints = blueprintsOf(config);
const plan = backupPlan(blueprints);
const dumpOf = (service: string): DatabaseDump => plan.dumps.find((d) => d.service === service)!;
const [nextcloudDb, pollsDb] = [dumpOf("nextcloud"), dumpOf("polls")];
/** The files volumes this test backs up (the manifest lists what the job backed up). */
const FILES = plan.files.filter((f) => (f.service === "nextcloud" && f.volume === "html") || (f.service === "proxy" && f.volume === "data"));
const STAGING = "bastide-test-backup-staging";
/** The stack's generated secrets, as the serviceSecrets output gives them (fake values). */
const serviceSecrets = Object.fromEntries(blueprints.map((b) => [b.service, Object.fromEntries(b.secrets.map((s) => [s.name, `fake-${b.service}-${s.name}-0001`]))]));
const secret = (service: string) => (name: string) => serviceSecrets[service]![name]!;

let engine: DockerEngine;
let docker: Docker;
let testImages: Awaited<ReturnType<typeof images>>;
const imageOverrides = () => ({ [IMAGES.postgres]: testImages.postgres, [IMAGES.mariadb]: testImages.mariadb });

async function startStackDatabase(dump: DatabaseDump): Promise<void> {
  const { container, dataPath } = databaseContainer(blueprints, dump);
  await startContainer(docker, {
    name: dump.load.container,
    image: dump.engine === "postgres" ? testImages.postgres : testImages.mariadb,
    labels: { [SERVICE_LABEL]: dump.service },
    env: databaseEnv(container, dump, secret(dump.service)),
    mounts: [{ type: "volume", source: `bastide-${dump.service}-${dump.volume}`, target: dataPath }, { type: "volume", source: STAGING, target: "/backup" }],
    networkMode: "none",
    ...(container.command ? { command: container.command } : {}),
  });
  const probe = dump.engine === "postgres" ? ["pg_isready", "-h", "127.0.0.1", "-U", dump.user, "-d", dump.database] : ["mariadb", "--protocol=TCP", "--host=127.0.0.1", `--user=${dump.user}`, "-e", "SELECT 1", dump.database];
  for (let i = 0; ; i++) {
    if ((await execInContainer(docker, dump.load.container, probe)).exitCode === 0) return;
    if (i > 300) throw new Error(`${dump.load.container} did not start`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const psql = async (sql: string) => (await mustRun(docker, nextcloudDb.load.container, ["psql", `--username=${nextcloudDb.user}`, `--dbname=${nextcloudDb.database}`, "-v", "ON_ERROR_STOP=1", "-qtA", "-c", sql], { what: sql.slice(0, 40) })).stdout;
const mariadb = async (sql: string) => (await mustRun(docker, pollsDb.load.container, ["mariadb", `--user=${pollsDb.user}`, "--batch", "--skip-column-names", "--default-character-set=utf8mb4", "-e", sql, pollsDb.database], { what: sql.slice(0, 40) })).stdout;

/** Every row of every table, in order: what "row for row" compares. */
async function rows() {
  return {
    members: await psql("COPY (SELECT * FROM members ORDER BY id) TO STDOUT"),
    filecache: await psql("COPY (SELECT * FROM filecache ORDER BY id) TO STDOUT"),
    poll: await mariadb("SELECT * FROM poll ORDER BY id"),
    vote: await mariadb("SELECT * FROM vote ORDER BY id"),
  };
}

/** Every entry of the files volumes: mode, owner and type, and each file's SHA-256: what "byte for byte" compares. */
async function files(): Promise<string> {
  const name = "bastide-test-look";
  await startContainer(docker, { name, image: testImages.job, labels: {}, mounts: FILES.map((f) => ({ type: "volume", source: f.dockerVolume, target: volumeMountPath(f.service, f.volume), readOnly: true })), networkMode: "none", entrypoint: "idle" });
  try {
    const listing = await mustRun(docker, name, ["sh", "-c", "cd /data && find . -printf '%m %U:%G %y %p\\n' | sort && find . -type f -exec sha256sum {} + | sort -k 2"], { what: "fingerprinting the volumes" });
    return listing.stdout;
  } finally {
    await docker.getContainer(name).remove({ force: true });
  }
}

const job = (argv: string[], input?: string) => mustRun(docker, BACKUP_CONTAINER, argv, { what: argv.slice(0, 3).join(" "), ...(input !== undefined ? { input } : {}) });
const restic = resticCommands(config.backups!, { passwordFile: SECRET_FILES.repositoryPassword });

/** One backup, as the job makes it; `tamper` changes a file after its checksum and drops a row after its count. */
async function backup(tamper = false): Promise<string> {
  await job(["sh", "-c", "rm -rf /backup/dumps /backup/checksums && mkdir -p /backup/dumps /backup/checksums"]);
  const manifest: Manifest = { version: 1, createdAt: new Date().toISOString(), reason: "manual", images: {}, dumps: [], volumes: [] };
  const counts: Record<string, Record<string, number>> = {
    [nextcloudDb.file]: { members: Number(await psql("SELECT count(*) FROM members")), filecache: Number(await psql("SELECT count(*) FROM filecache")) },
    [pollsDb.file]: { poll: Number(await mariadb("SELECT count(*) FROM poll")), vote: Number(await mariadb("SELECT count(*) FROM vote")) },
  };
  if (tamper) await psql("DELETE FROM filecache WHERE id = 7");
  for (const dump of [nextcloudDb, pollsDb]) {
    const file = `/backup/dumps/${dump.file}`;
    await mustRun(docker, dump.dump.container, ["sh", "-c", 'exec "$@" > "$0"', file, ...dump.dump.argv], { what: `dumping ${dump.file}` });
    const bytes = Number((await job(["stat", "-c", "%s", file])).stdout);
    manifest.dumps.push({ service: dump.service, volume: dump.volume, engine: dump.engine, database: dump.database, file: dump.file, bytes, tables: counts[dump.file]! });
  }
  for (const f of FILES) {
    const listing = checksumFile(f.service, f.volume);
    await job(["sh", "-c", 'cd "$0" && find . -type f -exec sha256sum {} + > "$1"', volumeMountPath(f.service, f.volume), listing]);
    const sizes = (await job(["find", volumeMountPath(f.service, f.volume), "-type", "f", "-printf", "%s\\n"])).stdout.split("\n").filter(Boolean).map(Number);
    manifest.volumes.push({ service: f.service, volume: f.volume, files: sizes.length, bytes: sizes.reduce((a, b) => a + b, 0), checksums: listing });
  }
  if (tamper) await inVolumes(["sh", "-c", "printf changed >> '/data/nextcloud/html/data/member-3/files/Rapport annuel 3.odt'"]);
  await job(["sh", "-c", 'cat > "$0"', MANIFEST_FILE], JSON.stringify(manifest));
  await job(restic.backup(["/backup", ...FILES.map((f) => volumeMountPath(f.service, f.volume))]).argv);
  const snapshots = JSON.parse((await job(restic.snapshots.argv)).stdout) as { id: string; time: string }[];
  return snapshots.sort((a, b) => Date.parse(a.time) - Date.parse(b.time)).at(-1)!.id;
}

/** Runs a command with the files volumes mounted writable, as their services would write them. */
async function inVolumes(argv: string[]): Promise<void> {
  const name = "bastide-test-writer";
  await startContainer(docker, { name, image: testImages.job, labels: {}, mounts: FILES.map((f) => ({ type: "volume", source: f.dockerVolume, target: volumeMountPath(f.service, f.volume) })), networkMode: "none", entrypoint: "idle" });
  try {
    await mustRun(docker, name, argv, { what: argv.join(" ").slice(0, 60) });
  } finally {
    await docker.getContainer(name).remove({ force: true });
  }
}

async function labelled(label: string) {
  const [containers, { Volumes }, networks] = await Promise.all([
    docker.listContainers({ all: true, filters: { label: [label] } }),
    docker.listVolumes({ filters: { label: [label] } }),
    docker.listNetworks({ filters: { label: [label] } }),
  ]);
  return { containers: containers.map((c) => c.Names[0]), volumes: (Volumes ?? []).map((v) => v.Name), networks: networks.map((n) => n.Name) };
}

const nothing = { containers: [], volumes: [], networks: [] };
let goodSnapshot: string;
let before: { rows: Awaited<ReturnType<typeof rows>>; files: string };

test.before(async (t) => {
  t.timeout(20 * 60_000);
  mkdirSync(repository);
  engine = await startDockerEngine({ root: join(tmpdir(), "bastide-docker-backups") });
  docker = engine.docker;
  testImages = await images(docker);
  // Leftovers of a killed run of this file.
  for (const c of await docker.listContainers({ all: true })) await docker.getContainer(c.Id).remove({ force: true, v: true });
  for (const v of (await docker.listVolumes()).Volumes ?? []) await docker.getVolume(v.Name).remove();

  for (const v of stackVolumes(blueprints)) await docker.createVolume({ Name: v.name, Labels: { [HOLDS_LABEL]: v.holds } });
  await docker.createVolume({ Name: STAGING });
  await Promise.all([startStackDatabase(nextcloudDb), startStackDatabase(pollsDb)]);
  await psql(`CREATE TABLE members (id serial PRIMARY KEY, uid text UNIQUE NOT NULL, name text NOT NULL, avatar bytea, joined timestamptz NOT NULL);
    INSERT INTO members (uid, name, avatar, joined) SELECT 'member-' || i, 'Membre n°' || i || ' Élodie 🎉', decode(md5(i::text), 'hex'), timestamptz '2026-01-01 00:00:00+00' + i * interval '37 minutes' FROM generate_series(1, 500) AS i;
    CREATE TABLE filecache (id bigserial PRIMARY KEY, member integer REFERENCES members(id), path text NOT NULL, etag text);
    INSERT INTO filecache (member, path, etag) SELECT 1 + i % 500, 'files/document-' || i || '.odt', md5(i::text) FROM generate_series(1, 5000) AS i;`);
  await mariadb(`CREATE TABLE poll (id INT AUTO_INCREMENT PRIMARY KEY, title VARCHAR(255) NOT NULL) ENGINE=InnoDB;
    CREATE TABLE vote (id INT AUTO_INCREMENT PRIMARY KEY, poll_id INT NOT NULL, name VARCHAR(64), FOREIGN KEY (poll_id) REFERENCES poll(id)) ENGINE=InnoDB;
    INSERT INTO poll (title) SELECT CONCAT('Réunion n°', seq, ' 🗓') FROM seq_1_to_200;
    INSERT INTO vote (poll_id, name) SELECT 1 + seq % 200, CONCAT('Participant·e ', seq) FROM seq_1_to_2000;`);
  // Files with owners and modes of their own, a name with spaces, and random content.
  await inVolumes([
    "sh",
    "-c",
    `for i in $(seq 1 40); do d=/data/nextcloud/html/data/member-$i/files; mkdir -p "$d"; head -c $((i * 4096)) /dev/urandom > "$d/photo-$i.jpg"; printf 'Rapport %s\\n' "$i" > "$d/Rapport annuel $i.odt"; done
     mkdir -p /data/nextcloud/html/config && printf '<?php $CONFIG = [];\\n' > /data/nextcloud/html/config/config.php && chmod 640 /data/nextcloud/html/config/config.php
     chown -R 33:33 /data/nextcloud/html
     mkdir -p /data/proxy/data/caddy/certificates && head -c 2048 /dev/urandom > /data/proxy/data/caddy/certificates/site.key && chmod 600 /data/proxy/data/caddy/certificates/site.key`,
  ]);

  // The job's container, as the stack runs it: its state volume, the data read-only, the disk destination, its secret files.
  await startContainer(docker, {
    name: BACKUP_CONTAINER,
    image: testImages.job,
    labels: {},
    mounts: [
      { type: "volume", source: STATE_VOLUME, target: STATE_DIR },
      { type: "volume", source: STAGING, target: "/backup" },
      { type: "bind", source: repository, target: repository },
      ...FILES.map((f) => ({ type: "volume" as const, source: f.dockerVolume, target: volumeMountPath(f.service, f.volume), readOnly: true })),
    ],
    networkMode: "host",
    entrypoint: "idle",
  });
  await writeSecretFile(docker, BACKUP_CONTAINER, SECRET_FILES.repositoryPassword, REPOSITORY_PASSWORD);
  await job(restic.init.argv);
  goodSnapshot = await backup();
  before = { rows: await rows(), files: await files() };
});

test.after.always(async () => {
  if (docker) {
    for (const c of await docker.listContainers({ all: true })) await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
    for (const v of (await docker.listVolumes()).Volumes ?? []) await docker.getVolume(v.Name).remove().catch(() => undefined);
  }
  await engine?.release();
  rmSync(work, { recursive: true, force: true });
});

test.serial("a drill of a good snapshot passes, records drill.json in the job's state volume, and leaves nothing behind (even a killed drill's leftovers)", async (t) => {
  t.timeout(10 * 60_000);
  // What a drill killed half-way would have left.
  await docker.createVolume({ Name: "bastide-drill-dead-restore", Labels: { [DRILL_LABEL]: "dead" } });
  await startContainer(docker, { name: "bastide-drill-dead-restic", image: testImages.job, labels: { [DRILL_LABEL]: "dead" }, mounts: [], networkMode: "none", entrypoint: "idle" });

  const { record, report } = await runDrill({ docker, config, images: imageOverrides() });
  t.log(report);
  t.is(record.outcome, "ok", record.problems.join("\n"));
  t.is(record.snapshot, goodSnapshot);
  t.deepEqual(record.problems, []);
  t.deepEqual(record.databases.map((d) => [d.file, d.tables, d.rows, d.matches]), [[nextcloudDb.file, 2, 5500, true], [pollsDb.file, 2, 2200, true]]);
  t.deepEqual(record.volumes.map((v) => [`${v.service}/${v.volume}`, v.files, v.matches]), [["nextcloud/html", 81, true], ["proxy/data", 1, true]]);
  t.regex(report, /Outcome: the backup restores as recorded|Résultat : la sauvegarde se restaure à l'identique/);

  const written = drillSchema.parse(JSON.parse((await job(["cat", DRILL_FILE])).stdout));
  t.deepEqual(written, record);
  t.deepEqual(await labelled(DRILL_LABEL), nothing);
});

test.serial("npm run restore-drill: a snapshot with a changed file and a missing row exits 1 naming both; an unknown snapshot exits 2; nothing is left behind", async (t) => {
  t.timeout(10 * 60_000);
  const bad = await backup(true);
  const file = join(work, "association.yaml");
  writeFileSync(file, stringify({ ...exampleInput(), backups: { destination: { type: "disk", path: repository } } }));
  const env = { ...process.env, DOCKER_HOST: `unix://${engine.socketPath}` };
  const printed = { log: [] as string[], error: [] as string[] };
  const out = { log: (text: string) => printed.log.push(text), error: (text: string) => printed.error.push(text) };

  t.is(await drillCli(["--snapshot", bad.slice(0, 8), file], env, out, { images: imageOverrides() }), 1);
  const report = printed.log.join("\n");
  t.log(report);
  t.regex(report, /nextcloud-db\.pgdump.*filecache.*4999.*5000/);
  t.regex(report, /nextcloud\/html.*Rapport annuel 3\.odt/);
  const record = drillSchema.parse(JSON.parse((await job(["cat", DRILL_FILE])).stdout));
  t.is(record.outcome, "failed");
  t.is(record.snapshot, bad);
  t.is(record.problems.length, 2, record.problems.join("\n"));
  t.true(record.databases.find((d) => d.file === pollsDb.file)?.matches);
  t.deepEqual(await labelled(DRILL_LABEL), nothing);

  t.is(await drillCli(["--snapshot", "deadbeef", file], env, out, { images: imageOverrides() }), 2);
  t.regex(printed.error.join("\n"), /no snapshot deadbeef/);
  t.is(drillSchema.parse(JSON.parse((await job(["cat", DRILL_FILE])).stdout)).snapshot, bad, "a drill that could not run records nothing");
  t.deepEqual(await labelled(DRILL_LABEL), nothing);
});

const restoreOptions = () => ({
  docker,
  config,
  snapshot: goodSnapshot,
  serviceSecrets,
  jobFiles: [{ path: SECRET_FILES.repositoryPassword, content: REPOSITORY_PASSWORD, holdsSecrets: true, mode: "0400" }],
  jobImage: testImages.job,
  networkMode: "host",
  images: imageOverrides(),
});

async function engineState() {
  const containers = (await docker.listContainers({ all: true })).map((c) => `${c.Names[0]} ${c.State}`).sort();
  const volumes = ((await docker.listVolumes()).Volumes ?? []).map((v) => v.Name).sort();
  return { containers, volumes, files: await files() };
}

test.serial("a restore onto a running stack, or onto volumes that hold data, is refused with nothing changed", async (t) => {
  t.timeout(10 * 60_000);
  const unchanged = await engineState();
  const running = await t.throwsAsync(runRestore(restoreOptions()), { instanceOf: RestoreRefused });
  t.regex(running!.message, /bastide-nextcloud-db.*bastide-polls-db|bastide-polls-db.*bastide-nextcloud-db/);
  t.regex((running as RestoreRefused).reason.fr, /n'écrase jamais/);
  t.deepEqual(await engineState(), unchanged);

  // The containers gone, the volumes still full: refused too, naming them.
  for (const name of [nextcloudDb.load.container, pollsDb.load.container, BACKUP_CONTAINER]) await docker.getContainer(name).remove({ force: true });
  const stopped = await engineState();
  const full = await t.throwsAsync(runRestore(restoreOptions()), { instanceOf: RestoreRefused });
  for (const volume of ["bastide-nextcloud-html", "bastide-nextcloud-db", "bastide-polls-db", "bastide-proxy-data"]) t.true(full!.message.includes(volume), volume);
  t.false(full!.message.includes("bastide-matrix-data"), "an empty volume is not named");
  t.deepEqual(await engineState(), stopped);
  t.deepEqual(await labelled(RESTORE_LABEL), nothing);
});

test.serial("a restore onto an empty engine gives the stack's volumes, files byte for byte and databases row for row, which the stack adopts", async (t) => {
  t.timeout(15 * 60_000);
  for (const v of (await docker.listVolumes()).Volumes ?? []) await docker.getVolume(v.Name).remove();
  t.deepEqual((await docker.listVolumes()).Volumes ?? [], []);

  const result = await runRestore(restoreOptions());
  t.deepEqual(result.problems, []);
  t.is(result.snapshot.id, goodSnapshot);
  t.deepEqual(await labelled(RESTORE_LABEL), nothing);
  // The stack's volumes, with the stack's labels (a different label would make `pulumi up` replace them).
  for (const v of stackVolumes(blueprints)) t.deepEqual((await docker.getVolume(v.name).inspect()).Labels, { [HOLDS_LABEL]: v.holds }, v.name);
  // Docker's volume create of an existing name answers with it, unchanged: what the stack's docker.Volume does on the next `pulumi up`.
  const html = stackVolumes(blueprints).find((v) => v.name === "bastide-nextcloud-html")!;
  const made = (await docker.getVolume(html.name).inspect()) as Docker.VolumeInspectInfo & { CreatedAt: string };
  await docker.createVolume({ Name: html.name, Labels: { [HOLDS_LABEL]: html.holds } });
  t.is(((await docker.getVolume(html.name).inspect()) as typeof made).CreatedAt, made.CreatedAt);

  t.is(await files(), before.files);
  // The services' databases start on the restored volumes as the stack starts them.
  await docker.createVolume({ Name: STAGING });
  await Promise.all([startStackDatabase(nextcloudDb), startStackDatabase(pollsDb)]);
  t.deepEqual(await rows(), before.rows);
});
