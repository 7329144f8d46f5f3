// The containers and volumes the restore drill and the restore make beside the stack, through
// the Docker API: labelled, so that whatever a killed run left is found and removed by the
// next one; a helper from the job's image that runs restic and sha256sum; database containers
// from the pinned images that load the dumps and count their rows.
//
// Sources, at the pinned versions (stacks/services/images.ts):
// - postgres (docker-library/postgres@6edb0a8c, 17/alpine3.22/docker-entrypoint.sh): on an empty
//   data folder the entrypoint creates POSTGRES_USER, POSTGRES_DB and POSTGRES_PASSWORD with a
//   temporary server that listens on its socket only (docker_temp_server_start: -c
//   listen_addresses=''), then
//   starts the real one: a TCP answer on 127.0.0.1 means the database is ready (the same
//   test as the blueprint's health check). initdb trusts local socket connections, which is
//   how the plan's pg_restore and the row count connect.
// - mariadb (MariaDB/mariadb-docker@1b6429ba, 11.8/docker-entrypoint.sh): MARIADB_DATABASE,
//   MARIADB_USER (at host '%', MARIADB_USER_HOST's default) and MARIADB_PASSWORD are created by
//   a temporary server started with --skip-networking (docker_temp_server_start); a TCP login on
//   127.0.0.1 means the real server is up. The client reads MYSQL_PWD, as the plan's load does.
// - `sha256sum --check --quiet` prints only the lines that fail: "path: FAILED" for a changed
//   file, "path: FAILED open or read" for a missing one (GNU coreutils 9.1, md5sum.c).
import { randomBytes } from "node:crypto";
import { posix } from "node:path";
import type Docker from "dockerode";
import { describeDockerError, execInContainer, type CommandResult } from "../../provisioners/runtime/docker.ts";
import type { ContainerBlueprint, ServiceBlueprint } from "../services/blueprint.ts";
import { containerName } from "../services/blueprint.ts";
import { failedChecks, relativeListing, type ObservedDatabase, type ObservedVolume } from "./check.ts";
import { checksumFile, volumeMountPath, type Manifest } from "./layout.ts";
import type { DatabaseDump } from "./plan.ts";

/** Marks what the drill makes; the value is the run's id. */
export const DRILL_LABEL = "bastide.drill";
/** Marks the helpers the restore makes (never the data volumes it restores into). */
export const RESTORE_LABEL = "bastide.restore";

/** A long job: a restore of a few gigabytes, or loading a large dump. */
const LONG_MS = 6 * 60 * 60_000;
const READY_MS = 5 * 60_000;

export const randomSecret = () => randomBytes(24).toString("base64url");
export const runId = () => randomBytes(4).toString("hex");

/** Removes every container (with its anonymous volumes) and then every volume carrying `label`. */
export async function removeLabelled(docker: Docker, label: string): Promise<{ containers: string[]; volumes: string[] }> {
  const containers = await docker.listContainers({ all: true, filters: { label: [label] } });
  for (const c of containers) await ignoreMissing(docker.getContainer(c.Id).remove({ force: true, v: true }));
  const { Volumes } = await docker.listVolumes({ filters: { label: [label] } });
  for (const v of Volumes ?? []) await ignoreMissing(docker.getVolume(v.Name).remove());
  return { containers: containers.map((c) => (c.Names[0] ?? c.Id).replace(/^\//, "")), volumes: (Volumes ?? []).map((v) => v.Name) };
}

async function ignoreMissing(removal: Promise<unknown>): Promise<void> {
  try {
    await removal;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  }
}

export interface Mount {
  type: "volume" | "bind";
  source: string;
  target: string;
  readOnly?: boolean;
}

export interface HelperSpec {
  name: string;
  image: string;
  labels: Record<string, string>;
  env?: Record<string, string>;
  mounts: Mount[];
  /** The Docker network mode: the job's own, so restic reaches the destination as the job does. */
  networkMode: string;
  /** Replaces the image's entrypoint; `idle`: the container only waits, for commands to be run in it. */
  entrypoint?: string[] | "idle";
  command?: string[];
  user?: string;
}

/** Creates and starts a container. */
export async function startContainer(docker: Docker, spec: HelperSpec): Promise<Docker.Container> {
  const container = await docker.createContainer({
    name: spec.name,
    Image: spec.image,
    ...(spec.entrypoint === "idle" ? { Entrypoint: ["sleep"], Cmd: ["infinity"] } : { Entrypoint: spec.entrypoint, Cmd: spec.command }),
    Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
    Labels: spec.labels,
    ...(spec.user ? { User: spec.user } : {}),
    HostConfig: {
      NetworkMode: spec.networkMode,
      Mounts: spec.mounts.map((m) => ({ Type: m.type, Source: m.source, Target: m.target, ReadOnly: m.readOnly ?? false })),
      SecurityOpt: ["no-new-privileges:true"],
    },
  });
  await container.start();
  return container;
}

export async function createVolume(docker: Docker, name: string, labels: Record<string, string>): Promise<void> {
  await docker.createVolume({ Name: name, Labels: labels });
}

/** Runs a command that must succeed; fails with the last lines it printed on standard error. */
export async function mustRun(docker: Docker, container: string, argv: readonly string[], options: { input?: string; timeoutMs?: number; what: string }): Promise<CommandResult> {
  const result = await execInContainer(docker, container, argv, { ...(options.input !== undefined ? { input: options.input } : {}), timeoutMs: options.timeoutMs ?? LONG_MS });
  if (result.exitCode !== 0) throw new Error(`${options.what} failed (exit ${result.exitCode}): ${tail(result.stderr || result.stdout)}`);
  return result;
}

const tail = (text: string) => text.trim().split("\n").slice(-3).join(" ").slice(0, 400) || "no message";

/** Writes a root-only file in a container from standard input: secrets never go on a command line. */
export async function writeSecretFile(docker: Docker, container: string, path: string, content: string): Promise<void> {
  await mustRun(docker, container, ["sh", "-c", 'umask 077 && mkdir -p "$(dirname "$0")" && cat > "$0"', path], { input: content, what: `writing ${path}`, timeoutMs: 30_000 });
}

/** Copies a folder from one container to the same place in another (Docker's archive API, as `docker cp`). */
export async function copyFolder(docker: Docker, from: string, to: string, folder: string): Promise<void> {
  const archive = await docker.getContainer(from).getArchive({ path: folder });
  await mustRun(docker, to, ["mkdir", "-p", posix.dirname(folder)], { what: `making ${posix.dirname(folder)}`, timeoutMs: 30_000 });
  await docker.getContainer(to).putArchive(archive, { path: posix.dirname(folder) });
}

/** Checks one restored files volume: its sha256sum listing, and the count of files restored. */
export async function checkVolume(docker: Docker, helper: string, root: string, volume: Manifest["volumes"][number]): Promise<ObservedVolume> {
  const dir = posix.join(root, volumeMountPath(volume.service, volume.volume));
  const listingPath = posix.join(root, volume.checksums || checksumFile(volume.service, volume.volume));
  const listing = relativeListing((await mustRun(docker, helper, ["cat", listingPath], { what: `reading ${listingPath}`, timeoutMs: 120_000 })).stdout, volumeMountPath(volume.service, volume.volume));
  const listed = listing.split("\n").filter(Boolean).length;
  const check = await execInContainer(docker, helper, ["sha256sum", "--check", "--quiet", "--strict", "-"], { input: listing, workingDir: dir, timeoutMs: LONG_MS });
  const failed = failedChecks(check.stdout);
  if (check.exitCode !== 0 && failed.length === 0) throw new Error(`sha256sum --check in ${dir} failed: ${tail(check.stderr)}`);
  const counted = await mustRun(docker, helper, ["find", dir, "-type", "f", "-printf", "."], { what: `counting the files in ${dir}`, timeoutMs: LONG_MS });
  return { service: volume.service, volume: volume.volume, files: counted.stdout.length, listed, failed };
}

/** The blueprint's container that writes a dump's database, and its data volume's path. */
export function databaseContainer(blueprints: readonly ServiceBlueprint[], dump: DatabaseDump): { container: ContainerBlueprint; dataPath: string } {
  const blueprint = blueprints.find((b) => b.service === dump.service);
  const container = blueprint?.containers.find((c) => containerName(dump.service, c.name) === dump.load.container);
  const dataPath = container?.volumes?.find((v) => v.volume === dump.volume)?.path;
  if (!container || !dataPath) throw new Error(`${dump.service}/${dump.volume}: no container of the blueprints writes this database`);
  return { container, dataPath };
}

/** The database container's environment: the blueprint's, its secrets filled, and the load's own secrets (MYSQL_PWD). */
export function databaseEnv(container: ContainerBlueprint, dump: DatabaseDump, secret: (name: string) => string): Record<string, string> {
  const env: Record<string, string> = { ...(container.env ?? {}) };
  for (const [variable, name] of Object.entries({ ...(container.secretEnv ?? {}), ...(dump.load.secretEnv ?? {}) })) env[variable] = secret(name);
  return env;
}

export interface DatabaseRun {
  name: string;
  image: string;
  labels: Record<string, string>;
  env: Record<string, string>;
  container: ContainerBlueprint;
  /** Where the database keeps its files: a throwaway volume (drill) or the stack's own (restore). */
  data: Mount;
  /** The volume holding the restored snapshot, mounted read-only to read the dump from. */
  snapshot: Mount;
}

/** Starts a database from its pinned image, waits until it answers on 127.0.0.1, without a network beside its own loopback. */
export async function startDatabase(docker: Docker, run: DatabaseRun, dump: DatabaseDump): Promise<void> {
  await startContainer(docker, {
    name: run.name,
    image: run.image,
    labels: run.labels,
    env: run.env,
    mounts: [run.data, run.snapshot],
    // No network and no published port: nothing but this command reaches it.
    networkMode: "none",
    ...(run.container.entrypoint ? { entrypoint: run.container.entrypoint } : {}),
    ...(run.container.command ? { command: run.container.command } : {}),
    ...(run.container.user ? { user: run.container.user } : {}),
  });
  const probe =
    dump.engine === "postgres"
      ? ["pg_isready", "-h", "127.0.0.1", "-U", dump.user, "-d", dump.database]
      : ["mariadb", "--protocol=TCP", "--host=127.0.0.1", `--user=${dump.user}`, "-e", "SELECT 1", dump.database];
  const deadline = Date.now() + READY_MS;
  for (;;) {
    const state = await docker.getContainer(run.name).inspect();
    if (!state.State.Running) throw new Error(`the ${dump.engine} container for ${dump.file} stopped (exit ${state.State.ExitCode}): ${await logTail(docker, run.name)}`);
    const answer = await execInContainer(docker, run.name, probe, { timeoutMs: 30_000 }).catch(() => undefined);
    if (answer?.exitCode === 0) return;
    if (Date.now() > deadline) throw new Error(`the ${dump.engine} container for ${dump.file} did not answer within ${READY_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function logTail(docker: Docker, name: string): Promise<string> {
  try {
    const logs = await docker.getContainer(name).logs({ stdout: true, stderr: true, tail: 5 });
    return tail(logs.toString("utf8").replace(/[\x00-\x08]/g, ""));
  } catch (error) {
    return describeDockerError(error);
  }
}

/** Loads a dump with the plan's own load command, reading the file on standard input. */
export async function loadDump(docker: Docker, container: string, dump: DatabaseDump, file: string): Promise<void> {
  // "$0" is the file, "$@" the plan's argv: no quoting of either.
  await mustRun(docker, container, ["sh", "-c", 'exec "$@" < "$0"', file, ...dump.load.argv], { what: `loading ${dump.file}`, timeoutMs: LONG_MS });
}

/**
 * Rows per table, counted exactly (not the statistics' estimate). PostgreSQL names a table of
 * the public schema by its name and any other as schema.table, as psql's \dt shows them.
 */
export const POSTGRES_ROW_COUNTS = `SELECT CASE WHEN schemaname = 'public' THEN tablename ELSE schemaname || '.' || tablename END AS name,
  (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', schemaname, tablename), false, true, '')))[1]::text AS rows
FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`;

const backquoted = (name: string) => `\`${name.replaceAll("`", "``")}\``;

/** One row with one exact count per table, in the order given. */
export const mariadbRowCounts = (tables: readonly string[]) => `SELECT ${tables.map((t) => `(SELECT COUNT(*) FROM ${backquoted(t)})`).join(", ")}`;

export async function countRows(docker: Docker, container: string, dump: DatabaseDump): Promise<Record<string, number>> {
  if (dump.engine === "postgres") {
    const out = await mustRun(docker, container, ["psql", `--username=${dump.user}`, `--dbname=${dump.database}`, "--no-password", "-v", "ON_ERROR_STOP=1", "-tA", "-F", "\t", "-c", POSTGRES_ROW_COUNTS], { what: `counting rows of ${dump.file}`, timeoutMs: LONG_MS });
    return Object.fromEntries(out.stdout.split("\n").filter(Boolean).map((line) => { const [name, rows] = line.split("\t"); return [name!, Number(rows)]; }));
  }
  const mariadb = (sql: string) => mustRun(docker, container, ["mariadb", `--user=${dump.user}`, "--batch", "--skip-column-names", "-e", sql, dump.database], { what: `counting rows of ${dump.file}`, timeoutMs: LONG_MS });
  const tables = (await mariadb("SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'")).stdout.split("\n").filter(Boolean).map((line) => line.split("\t")[0]!);
  if (tables.length === 0) return {};
  const counts = (await mariadb(mariadbRowCounts(tables))).stdout.trim().split("\t").map(Number);
  return Object.fromEntries(tables.map((t, i) => [t, counts[i]!]));
}

/** Loads one dump and counts its rows; a failure is an observation, not a crash. */
export async function loadAndCount(docker: Docker, run: DatabaseRun, dump: DatabaseDump, file: string): Promise<ObservedDatabase> {
  try {
    await startDatabase(docker, run, dump);
    await loadDump(docker, run.name, dump, file);
    return { file: dump.file, tables: await countRows(docker, run.name, dump) };
  } catch (error) {
    return { file: dump.file, failed: (error as Error).message };
  }
}
