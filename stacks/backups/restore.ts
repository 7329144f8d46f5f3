// The restore: a lost server brought back from a snapshot, on a fresh host, before the
// services start. It refuses, before creating anything, when Bastide's containers exist or a
// data volume already holds data (live data is never overwritten); otherwise it creates the
// stack's volumes under the names and labels the stack gives them, restores the files volumes,
// loads every dump into a fresh database volume by starting the pinned database image once with
// the stack's own credentials, and checks the result against the snapshot's manifest.
//
// Why the volumes are adopted by the next `pulumi up`: @pulumi/docker 5.2.0 is Pulumi's bridge of
// kreuzwerker/terraform-provider-docker, whose docker_volume create (internal/provider/
// resource_docker_volume.go, resourceDockerVolumeCreate, at 83c00e0b) calls the engine's
// VolumeCreate and records the name it answers, then reads the volume back (its labels
// included: `labels` is ForceNew there). Docker's VolumeCreate of an existing name answers with
// that volume, unchanged (checked against the real engine in test/backups/restore.test.ts). So
// the volumes made here carry exactly the stack's labels (bastide.holds, stacks/platform/
// component.ts): with any other label the next preview would plan to replace a data volume.
import type Docker from "dockerode";
import type { Language, Localized } from "../../cli/command.ts";
import { SERVICE_LABEL } from "../../policies/audit/docker.ts";
import type { Association } from "../config/schema.ts";
import type { ServiceBlueprint } from "../services/blueprint.ts";
import { containerName, volumeName } from "../services/blueprint.ts";
import { blueprints as blueprintsOf } from "../services/catalog.ts";
import { NEXTCLOUD_OCC } from "../services/nextcloud/blueprint.ts";
import { compareWithManifest, type Problem } from "./check.ts";
import { checkRestored, findSnapshot, restoreSnapshot } from "./drill.ts";
import type { JobFile } from "./job.ts";
import { BACKUP_CONTAINER, SNAPSHOT_ROOT, volumeMountPath } from "./layout.ts";
import { backupPlan } from "./plan.ts";
import type { BackupSettings } from "./settings.ts";
import { createVolume, databaseContainer, databaseEnv, mustRun, removeLabelled, RESTORE_LABEL, runId, startContainer, writeSecretFile, type Mount } from "./throwaway.ts";

/** The label the stack gives its data volumes (stacks/platform/component.ts). */
export const HOLDS_LABEL = "bastide.holds";

/** The restore would overwrite something, or lacks what it needs: nothing was created or changed. */
export class RestoreRefused extends Error {
  readonly reason: Localized;
  constructor(reason: Localized) {
    super(reason.en);
    this.reason = reason;
  }
}

export interface RestoreOptions {
  docker: Docker;
  config: Association;
  snapshot?: string | undefined;
  /** The stack's generated secrets by service (the `serviceSecrets` stack output): the databases' passwords. */
  serviceSecrets: Readonly<Record<string, Readonly<Record<string, string>> | undefined>>;
  /** The job's secret files (BackupJobBlueprint.files with the stack's secrets): restic's password, SSH key, known hosts. */
  jobFiles: readonly JobFile[];
  /** The job's image, built by the stack (docker/backups): restic runs from it. */
  jobImage: string;
  /** Environment restic needs beyond its files (an S3 destination's keys). */
  jobEnv?: Readonly<Record<string, string>>;
  /** The Docker network the helper uses to reach the destination. */
  networkMode?: string;
  /** Images to run instead of the pinned ones, by pinned reference (tests: no registry here). */
  images?: Readonly<Record<string, string>>;
}

export interface RestoreResult {
  snapshot: { id: string; time: string };
  volumes: string[];
  problems: Problem[];
}

interface StackVolume {
  service: string;
  volume: string;
  name: string;
  holds: string;
}

export const stackVolumes = (blueprints: readonly ServiceBlueprint[]): StackVolume[] =>
  blueprints.flatMap((b) => b.volumes.map((v) => ({ service: b.service, volume: v.name, name: volumeName(b.service, v.name), holds: v.holds })));

/** Pure: the refusal when Bastide's containers exist, or undefined. */
export function refuseContainers(names: readonly string[]): Localized | undefined {
  if (names.length === 0) return undefined;
  const list = names.join(", ");
  return {
    en: `Bastide's containers exist on this engine (${list}): a restore is for a fresh host, before the services start, and never overwrites live data. To bring back a lost server, run it on the new host before npm run deploy. To roll back this one, first take a backup if it still holds anything you need, then remove the containers (docker rm -f ${names.join(" ")}) and the data volumes the next message names, and run the restore again.`,
    fr: `Des conteneurs de Bastide existent sur ce moteur (${list}) : une restauration se fait sur un hôte neuf, avant le démarrage des services, et n'écrase jamais des données vivantes. Pour relever un serveur perdu, lancez-la sur le nouvel hôte avant npm run deploy. Pour revenir en arrière sur celui-ci, sauvegardez d'abord ce qu'il contient encore d'utile, puis supprimez les conteneurs (docker rm -f ${names.join(" ")}) et les volumes de données que le message suivant nomme, et relancez la restauration.`,
  };
}

/** Pure: the refusal when data volumes already hold files, or undefined. */
export function refuseVolumes(names: readonly string[]): Localized | undefined {
  if (names.length === 0) return undefined;
  return {
    en: `These volumes already hold data: ${names.join(", ")}. A restore never overwrites data. If they are what you want to replace (a failed upgrade, a half-finished restore), check that a backup holds what you need, remove them (docker volume rm ${names.join(" ")}) and run the restore again.`,
    fr: `Ces volumes contiennent déjà des données : ${names.join(", ")}. Une restauration n'écrase jamais de données. Si ce sont bien eux à remplacer (une mise à jour ratée, une restauration interrompue), vérifiez qu'une sauvegarde contient ce qu'il vous faut, supprimez-les (docker volume rm ${names.join(" ")}) et relancez la restauration.`,
  };
}

async function imageExists(docker: Docker, image: string): Promise<boolean> {
  try {
    await docker.getImage(image).inspect();
    return true;
  } catch {
    return false;
  }
}

/** The stack's volumes that exist and hold at least one entry, looked at through a read-only helper. */
async function volumesWithData(docker: Docker, image: string, volumes: readonly StackVolume[], labels: Record<string, string>, networkMode: string): Promise<string[]> {
  const { Volumes } = await docker.listVolumes();
  const existing = volumes.filter((v) => (Volumes ?? []).some((found) => found.Name === v.name));
  if (existing.length === 0) return [];
  const name = `bastide-restore-${labels[RESTORE_LABEL]}-look`;
  await startContainer(docker, { name, image, labels, mounts: existing.map((v) => ({ type: "volume", source: v.name, target: `/look/${v.name}`, readOnly: true })), networkMode, entrypoint: "idle" });
  try {
    const full: string[] = [];
    for (const v of existing) {
      const found = await mustRun(docker, name, ["find", `/look/${v.name}`, "-mindepth", "1", "-print", "-quit"], { what: `looking into ${v.name}`, timeoutMs: 60_000 });
      if (found.stdout.trim()) full.push(v.name);
    }
    return full;
  } finally {
    await docker.getContainer(name).remove({ force: true });
  }
}

/** A disk destination is the host's second disk, bound at its own path as restic's repository address names it. */
const diskDestination = (settings: BackupSettings): Mount[] =>
  settings.destination.type === "disk" ? [{ type: "bind", source: settings.destination.path, target: settings.destination.path }] : [];

export async function runRestore(options: RestoreOptions): Promise<RestoreResult> {
  const { docker, config } = options;
  const settings = config.backups;
  if (!settings)
    throw new RestoreRefused({ en: "The association file has no backups: section: there is no repository to restore from.", fr: "Le fichier d'association n'a pas de section backups: : aucun dépôt d'où restaurer." });
  const networkMode = options.networkMode ?? "bridge";
  await removeLabelled(docker, RESTORE_LABEL);

  // ---- Everything that could refuse, before anything is created.
  const blueprints = blueprintsOf(config);
  const plan = backupPlan(blueprints);
  const volumes = stackVolumes(blueprints);
  const containers = await docker.listContainers({ all: true, filters: { label: [SERVICE_LABEL] } });
  const job = await docker.listContainers({ all: true, filters: { name: [`^/${BACKUP_CONTAINER}$`] } });
  const refusedContainers = refuseContainers([...containers, ...job].map((c) => (c.Names[0] ?? c.Id).replace(/^\//, "")));
  if (refusedContainers) throw new RestoreRefused(refusedContainers);
  if (!(await imageExists(docker, options.jobImage)))
    throw new RestoreRefused({
      en: `The backup job's image ${options.jobImage} is not on this engine yet: restic runs from it. Build it from this repository (docker build -t ${options.jobImage} docker/backups) on the host, then run the restore again.`,
      fr: `L'image de la tâche de sauvegarde ${options.jobImage} n'est pas encore sur ce moteur : restic s'exécute depuis elle. Construisez-la depuis ce dépôt (docker build -t ${options.jobImage} docker/backups) sur l'hôte, puis relancez la restauration.`,
    });
  for (const dump of plan.dumps) {
    const { container } = databaseContainer(blueprints, dump);
    for (const secret of Object.values({ ...(container.secretEnv ?? {}), ...(dump.load.secretEnv ?? {}) }))
      if (!options.serviceSecrets[dump.service]?.[secret])
        throw new RestoreRefused({
          en: `The stack's secret ${dump.service}/${secret} (the database's password) is not in the serviceSecrets output: run the restore with the same Pulumi stack as the lost server (its state and passphrase).`,
          fr: `Le secret ${dump.service}/${secret} de la pile (le mot de passe de la base) n'est pas dans la sortie serviceSecrets : lancez la restauration avec la même pile Pulumi que le serveur perdu (son état et sa phrase secrète).`,
        });
  }

  const id = runId();
  const labels = { [RESTORE_LABEL]: id };
  const full = await volumesWithData(docker, options.jobImage, volumes, labels, networkMode);
  const refusedVolumes = refuseVolumes(full);
  if (refusedVolumes) throw new RestoreRefused(refusedVolumes);

  // ---- The stack's volumes, as the stack would create them; then the snapshot into them.
  for (const v of volumes) await createVolume(docker, v.name, { [HOLDS_LABEL]: v.holds });
  const snapshotVolume = `bastide-restore-${id}-snapshot`;
  const helper = `bastide-restore-${id}-restic`;
  try {
    await createVolume(docker, snapshotVolume, labels);
    const fileMounts: Mount[] = plan.files.map((f) => ({ type: "volume", source: f.dockerVolume, target: volumeMountPath(f.service, f.volume) }));
    await startContainer(docker, {
      name: helper,
      image: options.jobImage,
      labels,
      env: { ...(options.jobEnv ?? {}) },
      mounts: [{ type: "volume", source: snapshotVolume, target: SNAPSHOT_ROOT }, ...fileMounts, ...diskDestination(settings)],
      networkMode,
      entrypoint: "idle",
    });
    for (const file of options.jobFiles) await writeSecretFile(docker, helper, file.path, file.content);

    const snapshot = await findSnapshot(docker, helper, settings, options.snapshot);
    // Restored at /: the snapshot's /data/<service>/<volume> land in the mounted volumes, /backup in the throwaway one.
    const manifest = await restoreSnapshot(docker, helper, settings, snapshot, "/");
    const observed = await checkRestored(docker, helper, "/", manifest, blueprints, async (dump, container, dataPath) => ({
      name: `bastide-restore-${id}-${dump.service}-${dump.volume}`,
      image: options.images?.[container.image] ?? container.image,
      labels,
      env: databaseEnv(container, dump, (secret) => options.serviceSecrets[dump.service]![secret]!),
      container,
      data: { type: "volume", source: volumeName(dump.service, dump.volume), target: dataPath },
      snapshot: { type: "volume", source: snapshotVolume, target: SNAPSHOT_ROOT, readOnly: true },
    }));
    const comparison = compareWithManifest(manifest, observed);
    return { snapshot: { id: snapshot.id, time: snapshot.time }, volumes: volumes.map((v) => v.name), problems: comparison.problems };
  } finally {
    await removeLabelled(docker, RESTORE_LABEL);
  }
}

/** What the admin does next, in the association's language. */
export function restoreNextSteps(result: RestoreResult, file: string, language: Language): string {
  const occ = `docker exec -u ${NEXTCLOUD_OCC.user} -w ${NEXTCLOUD_OCC.workingDir} ${containerName("nextcloud", NEXTCLOUD_OCC.container)} php occ maintenance:data-fingerprint`;
  const steps: Localized = {
    en: `Restored snapshot ${result.snapshot.id.slice(0, 8)} of ${result.snapshot.time} into ${result.volumes.length} volumes; every database's rows and every file's checksum match the backup.
Next:
  1. npm run deploy -- ${file}   (the services start on the restored volumes; provisioning finds everything in place)
  2. ${occ}   (tells Nextcloud's desktop and mobile apps that the server's files were restored, so they keep their newer copies instead of deleting them)
  3. npm run restore-drill -- ${file}   (once the first backup of the restored server has run)`,
    fr: `Instantané ${result.snapshot.id.slice(0, 8)} du ${result.snapshot.time} restauré dans ${result.volumes.length} volumes ; les lignes de chaque base et la somme de contrôle de chaque fichier correspondent à la sauvegarde.
Ensuite :
  1. npm run deploy -- ${file}   (les services démarrent sur les volumes restaurés ; l'approvisionnement trouve tout en place)
  2. ${occ}   (signale aux applications de bureau et mobiles de Nextcloud que les fichiers du serveur ont été restaurés : elles gardent leurs copies plus récentes au lieu de les effacer)
  3. npm run restore-drill -- ${file}   (une fois la première sauvegarde du serveur restauré faite)`,
  };
  return steps[language];
}

