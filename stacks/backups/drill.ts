// The restore drill: the latest (or a chosen) snapshot restored beside the running stack into
// throwaway containers and a throwaway volume, checked against the manifest the backup wrote,
// its record written where the audit reads it (layout.DRILL_FILE in the job's state volume),
// and everything it made removed, even when it fails. The live stack is only read: the job's
// container is inspected and its secret files copied, never printed.
import type Docker from "dockerode";
import type { Language } from "../../cli/command.ts";
import { describeDockerError } from "../../provisioners/runtime/docker.ts";
import type { Association } from "../config/schema.ts";
import { blueprints as blueprintsOf } from "../services/catalog.ts";
import { chooseSnapshot, compareWithManifest, drillRecord, drillReport, type Observed, type ObservedDatabase, type SnapshotEntry } from "./check.ts";
import { BACKUP_CONTAINER, DRILL_FILE, drillSchema, MANIFEST_FILE, manifestSchema, SECRET_DIR, SECRET_FILES, STATE_DIR, DUMP_DIR, type DrillRecord, type Manifest } from "./layout.ts";
import type { ContainerBlueprint, ServiceBlueprint } from "../services/blueprint.ts";
import { backupPlan, type DatabaseDump } from "./plan.ts";
import { resticCommands, S3_KEY_ENV, type ResticFiles } from "./restic.ts";
import type { BackupSettings } from "./settings.ts";
import { checkVolume, copyFolder, createVolume, databaseContainer, databaseEnv, DRILL_LABEL, loadAndCount, mustRun, randomSecret, removeLabelled, runId, startContainer, type DatabaseRun, type Mount } from "./throwaway.ts";

/** The snapshot could not be found, restored or read (or the job is missing): the drill or restore could not run, exit 2. */
export class SnapshotError extends Error {}

export interface DrillOptions {
  docker: Docker;
  config: Association;
  /** A snapshot id (or its first 8 hex digits); the newest when absent. */
  snapshot?: string | undefined;
  /** Images to run instead of the pinned ones, by pinned reference (tests: no registry here). */
  images?: Readonly<Record<string, string>>;
  now?: () => Date;
}

export interface DrillResult {
  record: DrillRecord;
  report: string;
}

/** Where the snapshot is restored inside the throwaway volume. */
const RESTORE_ROOT = "/restore";

/** restic's files as the job's container holds them (layout.SECRET_FILES). */
export function jobResticFiles(settings: BackupSettings): ResticFiles {
  return settings.destination.type === "sftp"
    ? { passwordFile: SECRET_FILES.repositoryPassword, sshKey: SECRET_FILES.sshKey, knownHosts: SECRET_FILES.knownHosts }
    : { passwordFile: SECRET_FILES.repositoryPassword };
}

/** Lists the snapshots and picks the one asked for. */
export async function findSnapshot(docker: Docker, helper: string, settings: BackupSettings, wanted: string | undefined): Promise<SnapshotEntry> {
  const restic = resticCommands(settings, jobResticFiles(settings));
  const listed = await mustRun(docker, helper, restic.snapshots.argv, { what: "restic snapshots", timeoutMs: 10 * 60_000 }).catch((error: Error) => {
    throw new SnapshotError(error.message);
  });
  const snapshot = chooseSnapshot(JSON.parse(listed.stdout || "[]") as SnapshotEntry[], wanted);
  if (!snapshot) throw new SnapshotError(wanted ? `no snapshot ${wanted} in the repository (the job's log and status name the snapshots it made)` : "the repository holds no snapshot yet: has the backup job run?");
  return snapshot;
}

/** Restores a snapshot under `target` in the helper and reads its manifest. */
export async function restoreSnapshot(docker: Docker, helper: string, settings: BackupSettings, snapshot: SnapshotEntry, target: string): Promise<Manifest> {
  const restic = resticCommands(settings, jobResticFiles(settings));
  await mustRun(docker, helper, restic.restore(snapshot.id, target).argv, { what: `restic restore ${snapshot.id.slice(0, 8)}` }).catch((error: Error) => {
    throw new SnapshotError(error.message);
  });
  const text = (await mustRun(docker, helper, ["cat", `${target.replace(/\/$/, "")}${MANIFEST_FILE}`], { what: "reading the manifest", timeoutMs: 60_000 })).stdout;
  const manifest = manifestSchema.safeParse(JSON.parse(text));
  if (!manifest.success) throw new SnapshotError(`the snapshot's ${MANIFEST_FILE} does not follow the manifest's schema: ${manifest.error.issues[0]?.message}`);
  return manifest.data;
}

/**
 * Checks a snapshot restored under `root`: every files volume against its checksums, then every
 * dump loaded, one database at a time (the server's memory is the stack's), into the container
 * `databaseRun` describes, its rows counted, and the container stopped cleanly and removed.
 */
export async function checkRestored(
  docker: Docker,
  helper: string,
  root: string,
  manifest: Manifest,
  blueprints: readonly ServiceBlueprint[],
  databaseRun: (dump: DatabaseDump, container: ContainerBlueprint, dataPath: string) => Promise<DatabaseRun>,
): Promise<Observed> {
  const volumes = [];
  for (const volume of manifest.volumes) volumes.push(await checkVolume(docker, helper, root, volume));
  const dumps = backupPlan(blueprints).dumps;
  const databases: ObservedDatabase[] = [];
  for (const expected of manifest.dumps) {
    const dump = dumps.find((d) => d.file === expected.file);
    if (!dump) {
      databases.push({ file: expected.file, failed: "this association file's services have no such database" });
      continue;
    }
    const { container, dataPath } = databaseContainer(blueprints, dump);
    const run = await databaseRun(dump, container, dataPath);
    try {
      databases.push(await loadAndCount(docker, run, dump, `${root.replace(/\/$/, "")}${DUMP_DIR}/${dump.file}`));
      // A clean shutdown: a restored database's own container starts on a consistent folder.
      await docker.getContainer(run.name).stop({ t: 120 }).catch(() => undefined);
    } finally {
      await docker.getContainer(run.name).remove({ force: true, v: true }).catch(() => undefined);
    }
  }
  return { databases, volumes };
}

export async function runDrill(options: DrillOptions): Promise<DrillResult> {
  const { docker, config } = options;
  const now = options.now ?? (() => new Date());
  const language: Language = config.organisation.language;
  const settings = config.backups;
  if (!settings) throw new SnapshotError("the association file has no backups: section, so there is nothing to drill");
  const started = now();
  // A drill killed earlier (Ctrl-C, a lost connection) left these: they go first.
  await removeLabelled(docker, DRILL_LABEL);

  let job: Docker.ContainerInspectInfo;
  try {
    job = await docker.getContainer(BACKUP_CONTAINER).inspect();
  } catch (error) {
    throw new SnapshotError(`the backup job's container ${BACKUP_CONTAINER} cannot be read (${describeDockerError(error)}): deploy the stack with its backups: section first`);
  }
  const stateVolume = job.Mounts.find((m) => m.Destination === STATE_DIR && m.Type === "volume");
  if (!stateVolume?.Name) throw new SnapshotError(`${BACKUP_CONTAINER} has no state volume at ${STATE_DIR}`);

  const id = runId();
  const labels = { [DRILL_LABEL]: id };
  const restoreVolume = `bastide-drill-${id}-restore`;
  const helper = `bastide-drill-${id}-restic`;
  const jobEnv = Object.fromEntries(
    (job.Config.Env ?? []).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)] as const).filter(([k]) => (S3_KEY_ENV as readonly string[]).includes(k)),
  );
  // A disk destination is a folder of the host bound into the job: bound here too, as the job
  // has it (restic locks the repository while it reads it).
  const binds: Mount[] = job.Mounts.filter((m) => m.Type === "bind").map((m) => ({ type: "bind", source: m.Source, target: m.Destination, readOnly: !m.RW }));
  try {
    await createVolume(docker, restoreVolume, labels);
    await startContainer(docker, {
      name: helper,
      image: job.Config.Image,
      labels,
      env: jobEnv,
      mounts: [{ type: "volume", source: restoreVolume, target: RESTORE_ROOT }, { type: "volume", source: stateVolume.Name, target: STATE_DIR }, ...binds],
      networkMode: job.HostConfig.NetworkMode ?? "bridge",
      entrypoint: "idle",
    });
    await copyFolder(docker, BACKUP_CONTAINER, helper, SECRET_DIR);

    const snapshot = await findSnapshot(docker, helper, settings, options.snapshot);
    const manifest = await restoreSnapshot(docker, helper, settings, snapshot, RESTORE_ROOT);

    const blueprints = blueprintsOf(config);
    const observed = await checkRestored(docker, helper, RESTORE_ROOT, manifest, blueprints, async (dump, container, dataPath) => {
      const name = `bastide-drill-${id}-${dump.service}-${dump.volume}`;
      await createVolume(docker, name, labels);
      // Passwords of its own: the drill never needs the stack's.
      const secrets = new Map<string, string>();
      const secret = (key: string) => secrets.get(key) ?? secrets.set(key, randomSecret()).get(key)!;
      return {
        name,
        image: options.images?.[container.image] ?? container.image,
        labels,
        env: databaseEnv(container, dump, secret),
        container,
        data: { type: "volume", source: name, target: dataPath },
        snapshot: { type: "volume", source: restoreVolume, target: RESTORE_ROOT, readOnly: true },
      };
    });

    const comparison = compareWithManifest(manifest, observed);
    const record = drillSchema.parse(
      drillRecord({ at: started, snapshot: snapshot.id, snapshotTime: new Date(snapshot.time), seconds: (now().getTime() - started.getTime()) / 1000, comparison, language }),
    );
    await mustRun(docker, helper, ["sh", "-c", 'cat > "$0.new" && mv "$0.new" "$0"', DRILL_FILE], { input: `${JSON.stringify(record, null, 2)}\n`, what: `writing ${DRILL_FILE}`, timeoutMs: 30_000 });
    return { record, report: drillReport(record, language) };
  } finally {
    await removeLabelled(docker, DRILL_LABEL);
  }
}
