// The backup taken before an upgrade, run by `pulumi up` (stacks/backups/pre-upgrade.ts) in the
// backup job's container through the Docker engine's exec API, and its result read back from the
// job's status file. No Pulumi here: the dynamic provider imports this module at run time.
import type { DockerTarget } from "../connections.ts";
import { dockerFor, execInContainer } from "../runtime/docker.ts";
import { JOB_COMMAND, STATUS_FILE, statusSchema } from "../../stacks/backups/layout.ts";

export interface PreUpgradeBackupRequest {
  docker: DockerTarget;
  /** The job's container (layout.BACKUP_CONTAINER). */
  container: string;
  timeoutMs: number;
}

export interface PreUpgradeBackupResult {
  snapshot: string;
  finishedAt: string;
}

/** The job's own command for one backup now; it exits non-zero when the backup failed (layout.ts). */
export const PRE_UPGRADE_COMMAND = [JOB_COMMAND, "run", "--reason", "pre-upgrade"] as const;

export class PreUpgradeBackupFailed extends Error {
  constructor(message: string) {
    super(`${message}. Nothing was replaced: the containers wait for this backup. Fix the backup (npm run audit shows the job's last runs), then run pulumi up again.`);
    this.name = "PreUpgradeBackupFailed";
  }
}

/** The last lines a program printed: enough to say what failed, never a whole log. */
const lastLines = (text: string, count = 5) => text.trim().split("\n").slice(-count).join("\n");

/** Runs one backup in the job's container, waits for it, and returns the snapshot it made; throws when it failed. */
export async function backupBeforeUpgrade(request: PreUpgradeBackupRequest): Promise<PreUpgradeBackupResult> {
  const docker = dockerFor(request.docker);
  const ran = await execInContainer(docker, request.container, PRE_UPGRADE_COMMAND, { timeoutMs: request.timeoutMs }).catch((error: unknown) => {
    throw new PreUpgradeBackupFailed(`the backup before the upgrade could not run in ${request.container}: ${(error as Error).message}`);
  });
  if (ran.exitCode !== 0)
    throw new PreUpgradeBackupFailed(`the backup before the upgrade failed (${PRE_UPGRADE_COMMAND.join(" ")} exited with ${ran.exitCode}): ${lastLines(ran.stderr || ran.stdout) || "it printed nothing"}`);
  const read = await execInContainer(docker, request.container, ["cat", STATUS_FILE]);
  if (read.exitCode !== 0) throw new PreUpgradeBackupFailed(`the backup ran but its status file ${STATUS_FILE} cannot be read: ${lastLines(read.stderr)}`);
  let status;
  try {
    status = statusSchema.parse(JSON.parse(read.stdout));
  } catch (error) {
    throw new PreUpgradeBackupFailed(`the backup ran but its status file ${STATUS_FILE} is not what the job writes: ${(error as Error).message.split("\n")[0]}`);
  }
  const { lastRun } = status;
  if (lastRun.reason !== "pre-upgrade" || lastRun.outcome !== "ok" || !lastRun.snapshot)
    throw new PreUpgradeBackupFailed(
      `the job's last run is not a successful pre-upgrade backup (reason ${lastRun.reason}, outcome ${lastRun.outcome}${lastRun.error ? `: ${lastRun.error}` : ""})`,
    );
  return { snapshot: lastRun.snapshot, finishedAt: lastRun.finishedAt };
}
