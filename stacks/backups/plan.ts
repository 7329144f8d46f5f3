// The backup plan: for every volume the blueprints declare, how it is saved consistently.
// Pure: derived from the blueprints, so a volume a service adds without saying how to save it
// stops the plan (and its test) instead of being silently left out of the backups.
//
// Sources, at the pinned versions (stacks/services/images.ts):
// - PostgreSQL 17: pg_dump "makes consistent backups even if the database is being used
//   concurrently" (postgresql.org/docs/17/app-pgdump.html); the custom format is read back by
//   pg_restore. Roles are not in it: the image's entrypoint creates POSTGRES_USER on a fresh
//   volume (docker-library/postgres docker-entrypoint.sh, docker_setup_env/docker_init_database_dir),
//   so one database's dump is enough. The backup job has no Docker socket, so it dumps over the
//   service's private network, by the container's name, as POSTGRES_USER with POSTGRES_PASSWORD
//   in PGPASSWORD: the entrypoint allows password logins from any host (pg_setup_hba_conf:
//   `host all all all $POSTGRES_HOST_AUTH_METHOD`, scram-sha-256 by default since 14,
//   docker-library/docs postgres/content.md, POSTGRES_HOST_AUTH_METHOD). Port 5432: the
//   image's EXPOSE (upstream/postgres.ts, ports).
// - MariaDB 11.8: mariadb-dump --single-transaction dumps InnoDB tables in one consistent
//   transaction without locking them (mariadb.com/kb, mariadb-dump; Nextcloud's admin manual,
//   nextcloud/documentation admin_manual/maintenance/backup.rst, gives the same command).
//   Framadate's tables are InnoDB (docker/framadate, its schema). The password is read from
//   MYSQL_PWD, never given on a command line. Over the network too, as MARIADB_USER, which the
//   entrypoint creates for '%' (any host); port 3306 (upstream/mariadb.ts, ports).
// - Nextcloud: its admin manual (backup.rst above) asks for maintenance mode while the folders
//   and the database are copied, so files and database agree; the html volume holds config,
//   data and apps. The backup job has no Docker socket to switch that mode: it reads the files
//   after the database is dumped ("files-after-database"), so no file the database points at is
//   missing, and the restore runs `occ maintenance:data-fingerprint` (restore.rst) so that
//   clients resynchronise what changed meanwhile.
// - Synapse: docs/usage/administration/backups.md (element-hq/synapse) lists the database (dumped
//   with pg_dump), the media store and the signing key, both in the data volume: plain files.
// - Prosody (Jitsi's accounts), WireGuard's config and Caddy's data/config are small files
//   their programs rewrite whole; they are copied as files.
import type { ContainerBlueprint, ServiceBlueprint, ServiceName } from "../services/blueprint.ts";
import { containerName, volumeName } from "../services/blueprint.ts";
import { IMAGES } from "../services/images.ts";

/** How one volume is saved. */
export type VolumeMethod =
  /** A database's own dump tool, run by the backup job over the service's network; the volume itself is not copied. */
  | { kind: "postgres" }
  | { kind: "mariadb" }
  /** The volume's files, as they are on disk. */
  | { kind: "files"; /** How the service's files and database are kept in agreement. */ quiesce?: "files-after-database" };

/** Every volume any blueprint declares, by `service/volume`, and how it is saved. */
export const VOLUME_METHODS: Record<string, VolumeMethod> = {
  "nextcloud/html": { kind: "files", quiesce: "files-after-database" },
  "nextcloud/db": { kind: "postgres" },
  "matrix/data": { kind: "files" },
  "matrix/db": { kind: "postgres" },
  "identity/db": { kind: "postgres" },
  "polls/db": { kind: "mariadb" },
  "jitsi/accounts": { kind: "files" },
  "vpn/config": { kind: "files" },
  "proxy/data": { kind: "files" },
  "proxy/config": { kind: "files" },
};

/** The port each engine listens on in its official image (upstream/postgres.ts, upstream/mariadb.ts: ports). */
export const DATABASE_PORTS = { postgres: 5432, mariadb: 3306 } as const;

/** A program run inside a container: argv, and environment variables filled from the service's secrets. */
export interface ContainerCommand {
  container: string;
  argv: string[];
  /** Variable → secret name of the service, as in ContainerBlueprint.secretEnv. */
  secretEnv?: Record<string, string>;
}

export interface DatabaseDump {
  service: ServiceName;
  volume: string;
  engine: "postgres" | "mariadb";
  database: string;
  user: string;
  /** Where the backup job reaches the database: the container's name on the service's private network. */
  address: { host: string; port: number };
  /** The service's secret holding the database password (its container's POSTGRES_PASSWORD / MARIADB_PASSWORD). */
  passwordSecret: string;
  /**
   * Writes the dump to standard output, run by the backup job: argv without the connection
   * (the job puts `--host=` and `--port=` right after the program), the password read from
   * the environment variable `passwordEnv` (libpq's PGPASSWORD, MariaDB's MYSQL_PWD).
   */
  dump: { argv: string[]; passwordEnv: "PGPASSWORD" | "MYSQL_PWD" };
  /** Reads a dump on standard input into an empty database of the same name. */
  load: ContainerCommand;
  /** The dump's file name inside the snapshot's dump folder. */
  file: string;
}

export interface FilesBackup {
  service: ServiceName;
  volume: string;
  /** The Docker volume; the job reads it on the host. */
  dockerVolume: string;
  quiesce?: "files-after-database";
}

export interface BackupPlan {
  dumps: DatabaseDump[];
  files: FilesBackup[];
}

export class UncoveredVolumeError extends Error {}

const key = (service: ServiceName, volume: string) => `${service}/${volume}`;

function mountingContainer(blueprint: ServiceBlueprint, volume: string): ContainerBlueprint {
  const mounting = blueprint.containers.filter((c) => c.volumes?.some((v) => v.volume === volume && !v.readOnly));
  if (mounting.length !== 1)
    throw new UncoveredVolumeError(`${key(blueprint.service, volume)}: a database volume must be written by exactly one container, found ${mounting.length}`);
  return mounting[0]!;
}

function envOf(container: ContainerBlueprint, name: string, service: ServiceName): string {
  const value = container.env?.[name];
  if (!value) throw new UncoveredVolumeError(`${key(service, container.name)}: the database container sets no ${name}, which the dump needs`);
  return value;
}

function secretOf(container: ContainerBlueprint, variable: string, service: ServiceName, volume: string): string {
  const secret = container.secretEnv?.[variable];
  if (!secret) throw new UncoveredVolumeError(`${key(service, volume)}: the database container has no ${variable} secret for the dump to log in with`);
  return secret;
}

function postgresDump(blueprint: ServiceBlueprint, volume: string): DatabaseDump {
  const container = mountingContainer(blueprint, volume);
  if (container.image !== IMAGES.postgres)
    throw new UncoveredVolumeError(`${key(blueprint.service, volume)} is saved with pg_dump, but its container runs ${container.image}`);
  const [database, user] = [envOf(container, "POSTGRES_DB", blueprint.service), envOf(container, "POSTGRES_USER", blueprint.service)];
  const name = containerName(blueprint.service, container.name);
  return {
    service: blueprint.service,
    volume,
    engine: "postgres",
    database,
    user,
    address: { host: name, port: DATABASE_PORTS.postgres },
    passwordSecret: secretOf(container, "POSTGRES_PASSWORD", blueprint.service, volume),
    // Custom format: compressed, and pg_restore can load it into a fresh database.
    dump: { argv: ["pg_dump", `--username=${user}`, `--dbname=${database}`, "--format=custom", "--no-password"], passwordEnv: "PGPASSWORD" },
    load: { container: name, argv: ["pg_restore", `--username=${user}`, `--dbname=${database}`, "--exit-on-error", "--no-owner", "--no-password"] },
    file: `${blueprint.service}-${volume}.pgdump`,
  };
}

function mariadbDump(blueprint: ServiceBlueprint, volume: string): DatabaseDump {
  const container = mountingContainer(blueprint, volume);
  if (container.image !== IMAGES.mariadb)
    throw new UncoveredVolumeError(`${key(blueprint.service, volume)} is saved with mariadb-dump, but its container runs ${container.image}`);
  const [database, user] = [envOf(container, "MARIADB_DATABASE", blueprint.service), envOf(container, "MARIADB_USER", blueprint.service)];
  const password = secretOf(container, "MARIADB_PASSWORD", blueprint.service, volume);
  const name = containerName(blueprint.service, container.name);
  const secretEnv = { MYSQL_PWD: password };
  return {
    service: blueprint.service,
    volume,
    engine: "mariadb",
    database,
    user,
    address: { host: name, port: DATABASE_PORTS.mariadb },
    passwordSecret: password,
    dump: {
      // --no-tablespaces: tablespace statements need the PROCESS privilege, which the service's user lacks.
      // --skip-extended-insert: one INSERT line per row, so the job counts each table's rows in the dump itself.
      argv: ["mariadb-dump", `--user=${user}`, "--single-transaction", "--skip-extended-insert", "--routines", "--triggers", "--no-tablespaces", "--default-character-set=utf8mb4", database],
      passwordEnv: "MYSQL_PWD",
    },
    load: { container: name, argv: ["mariadb", `--user=${user}`, "--default-character-set=utf8mb4", database], secretEnv },
    file: `${blueprint.service}-${volume}.sql`,
  };
}

/** The backup plan of these blueprints; refuses a volume VOLUME_METHODS does not cover. */
export function backupPlan(blueprints: readonly ServiceBlueprint[]): BackupPlan {
  const plan: BackupPlan = { dumps: [], files: [] };
  for (const blueprint of blueprints) {
    for (const { name } of blueprint.volumes) {
      const method = VOLUME_METHODS[key(blueprint.service, name)];
      if (!method)
        throw new UncoveredVolumeError(
          `${key(blueprint.service, name)} is a volume no backup covers: say how it is saved consistently in VOLUME_METHODS (stacks/backups/plan.ts), with its source`,
        );
      if (method.kind === "postgres") plan.dumps.push(postgresDump(blueprint, name));
      else if (method.kind === "mariadb") plan.dumps.push(mariadbDump(blueprint, name));
      else plan.files.push({ service: blueprint.service, volume: name, dockerVolume: volumeName(blueprint.service, name), ...(method.quiesce ? { quiesce: method.quiesce } : {}) });
    }
  }
  return plan;
}
