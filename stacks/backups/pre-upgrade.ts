// A backup before an upgrade: when `pulumi up` is about to replace a data-holding container
// because its image changed, the backup job takes a backup first and `pulumi up` waits for it.
//
// It is a dynamic resource whose inputs are the images of the containers that hold data. Every
// service container depends on it, and the engine registers a resource only once the resources
// it depends on have finished their step: its update (the backup) completes before any container
// is replaced, and when the backup fails the update fails, so nothing is replaced.
// - create: nothing is backed up. The resource is created with the stack (no data yet) or when
//   `backups:` is first added to the file, when neither the job's container nor its repository
//   exist yet; the job's first scheduled run makes the first backup.
// - update (an image changed): `bastide-backup run --reason pre-upgrade` in the job's container;
//   its outputs record the snapshot and the images that ran before, for going back.
// - unchanged images: no change, no backup.
//
// Like the provisioning provider (stacks/provisioning/provider.ts), it captures nothing but data:
// it imports its runner by the absolute path in its inputs, as the engine runs it in a fresh Node.
import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import type { ServiceBlueprint } from "../services/blueprint.ts";
import { containerName } from "../services/blueprint.ts";
import type { DockerTarget } from "../../provisioners/connections.ts";
import { BACKUP_CONTAINER } from "./layout.ts";
import { canonical } from "../provisioning/provider.ts";

const RUNNER = fileURLToPath(new URL("../../provisioners/backups/pre-upgrade.ts", import.meta.url));

/** How long `pulumi up` waits for the backup: hours for a large instance, never for ever. */
export const PRE_UPGRADE_TIMEOUT_MS = 6 * 3600 * 1000;

export interface PreUpgradeInputs {
  /** Absolute path of provisioners/backups/pre-upgrade.ts. */
  runner: string;
  /** Image of every container that writes a data volume, by container name. */
  images: Record<string, string>;
  docker: DockerTarget;
  container: string;
  timeoutMs: number;
}

export interface PreUpgradeOutputs extends PreUpgradeInputs {
  /** The images that ran before the last backup taken for an upgrade; null until one was. */
  previousImages: Record<string, string> | null;
  /** restic's snapshot id of that backup, and when it finished. */
  snapshot: string | null;
  backedUpAt: string | null;
  /** When `pulumi up` recorded it, by this machine's clock (the server's may differ). */
  recordedAt: string | null;
}

type Runner = typeof import("../../provisioners/backups/pre-upgrade.ts");

export const preUpgradeProvider: pulumi.dynamic.ResourceProvider = {
  // Only an image change calls for a backup: a new Docker address or a moved checkout does not.
  async diff(_id: string, olds: PreUpgradeOutputs, news: PreUpgradeInputs) {
    return { changes: canonical(olds.images) !== canonical(news.images), replaces: [], deleteBeforeReplace: false };
  },

  async create(inputs: PreUpgradeInputs) {
    const outs: PreUpgradeOutputs = { ...inputs, previousImages: null, snapshot: null, backedUpAt: null, recordedAt: null };
    return { id: "pre-upgrade-backup", outs };
  },

  async update(_id: string, olds: PreUpgradeOutputs, news: PreUpgradeInputs) {
    const runner: Runner = await import(news.runner);
    const done = await runner.backupBeforeUpgrade({ docker: news.docker, container: news.container, timeoutMs: news.timeoutMs });
    const outs: PreUpgradeOutputs = { ...news, previousImages: olds.images, snapshot: done.snapshot, backedUpAt: done.finishedAt, recordedAt: new Date().toISOString() };
    return { outs };
  },

  // Removing it (backups switched off) touches nothing.
  async delete() {},
};

/** The image of every container that writes one of its service's volumes: the containers whose replacement needs a backup first. */
export function dataHoldingImages(blueprints: readonly ServiceBlueprint[]): Record<string, string> {
  return Object.fromEntries(
    blueprints
      .flatMap((b) => b.containers.filter((c) => c.volumes?.some((v) => !v.readOnly)).map((c) => [containerName(b.service, c.name), c.image] as const))
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

/**
 * What the admin runs to go back when the upgrade that followed a backup fails (README, Upgrading,
 * "If the upgrade fails, go back"): the images that ran before, the restore of that backup
 * (npm run restore, which restores before the services start), then the deploy.
 */
export function rollbackInstructions(record: Pick<PreUpgradeOutputs, "images" | "previousImages" | "snapshot">, file = "association.yaml"): string | undefined {
  if (!record.snapshot || !record.previousImages) return undefined;
  const before = record.previousImages;
  const changed = Object.keys({ ...before, ...record.images })
    .sort()
    .filter((name) => before[name] !== record.images[name]);
  return [
    `Backup ${record.snapshot} was taken before this upgrade. If the upgrade fails, go back:`,
    "1. Put back the images that ran before (stacks/services/images.ts and docker/ of the commit before the upgrade):",
    "     git checkout <the commit before the upgrade> -- stacks/services/images.ts docker/",
    ...changed.map((name) => `     ${name}: ${before[name] ?? "(not running before)"}   (this run: ${record.images[name] ?? "(removed)"})`),
    `2. npm run restore -- ${file} --snapshot ${record.snapshot}`,
    `3. npm run deploy -- ${file}`,
  ].join("\n");
}

export interface PreUpgradeBackupArgs {
  blueprints: readonly ServiceBlueprint[];
  docker: pulumi.Input<DockerTarget>;
  /** The association file the stack was deployed from (bastide:config), for the commands to go back. */
  configFile?: string;
}

/** When this program started: a backup that finished later was taken by this `pulumi up`. */
const PROGRAM_START = Date.now();

export class PreUpgradeBackup extends pulumi.dynamic.Resource {
  declare readonly images: pulumi.Output<Record<string, string>>;
  declare readonly previousImages: pulumi.Output<Record<string, string> | null>;
  declare readonly snapshot: pulumi.Output<string | null>;
  declare readonly backedUpAt: pulumi.Output<string | null>;
  declare readonly recordedAt: pulumi.Output<string | null>;

  constructor(name: string, args: PreUpgradeBackupArgs, opts?: pulumi.CustomResourceOptions) {
    const inputs: { [K in keyof PreUpgradeInputs]: pulumi.Input<PreUpgradeInputs[K]> } = {
      runner: RUNNER,
      images: dataHoldingImages(args.blueprints),
      docker: args.docker,
      container: BACKUP_CONTAINER,
      timeoutMs: PRE_UPGRADE_TIMEOUT_MS,
    };
    super(preUpgradeProvider, name, { ...inputs, previousImages: undefined, snapshot: undefined, backedUpAt: undefined, recordedAt: undefined }, opts, "bastide");
    // Said as soon as the backup is made, before any container is replaced: if the upgrade then
    // fails, the way back is already on the admin's screen (and in this resource's outputs).
    pulumi.all([this.images, this.previousImages, this.snapshot, this.recordedAt]).apply(([images, previousImages, snapshot, recordedAt]) => {
      const takenNow = typeof recordedAt === "string" && Date.parse(recordedAt) >= PROGRAM_START;
      const instructions = takenNow ? rollbackInstructions({ images, previousImages, snapshot }, args.configFile) : undefined;
      if (instructions) void pulumi.log.warn(instructions, this);
    });
  }
}
