// Nextcloud upgrades one major version at a time and never downgrades. The image's entrypoint
// refuses anything else and exits (nextcloud/docker, 34/apache/entrypoint.sh 184-195 at
// 4de1eed), and Nextcloud itself lists the versions it upgrades from (version.php,
// $OC_VersionCanBeUpgradedFrom: 33.0 and 34.0 for 34.0.1). Replacing the container first and
// letting it fail would leave the cloud down, so the program checks before registering anything.
//
// The stack remembers the image it deployed last in its own outputs (DEPLOYED_NEXTCLOUD_OUTPUT),
// read back through a StackReference to itself (the pattern a Pulumi maintainer gives in
// pulumi/pulumi#3722); and the program also asks the host what it runs (running.ts), for a
// stack whose record is missing or behind (a new state, a volume restored from an older release).

import type { RunningNextcloud } from "./running.ts";

/** Stack output holding the Nextcloud image the last `pulumi up` deployed. */
export const DEPLOYED_NEXTCLOUD_OUTPUT = "nextcloudImage";

export class UpgradeRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UpgradeRefused";
  }
}

/** Nextcloud's version from an image reference, e.g. "34.0.4" from nextcloud:34.0.4-apache@sha256:… */
export function nextcloudVersion(image: string): { major: number; version: string } | undefined {
  const match = /^(?:[\w.-]+\/)*nextcloud:((\d+)\.\d+\.\d+)/.exec(image);
  return match ? { major: Number(match[2]), version: match[1]! } : undefined;
}

/**
 * Pulumi config key by which the admin says the Nextcloud data was restored from a backup of an
 * older major (the way back after a failed major upgrade, README "Upgrading"): its value is that major.
 */
export const NEXTCLOUD_RESTORED_CONFIG = "nextcloudRestored";

/**
 * Why `next` cannot replace the Nextcloud the stack ran last (`previous`), or undefined when it can.
 * `restoredMajor`: the stack's record is newer, but the data was put back to this major by a restore.
 */
export function nextcloudUpgradeProblem(previous: string | undefined, next: string, restoredMajor?: number): string | undefined {
  if (previous === undefined) return undefined;
  const before = nextcloudVersion(previous);
  const after = nextcloudVersion(next);
  if (!after) return `Nextcloud: cannot read a version in the pinned image ${next}`;
  if (!before) return `Nextcloud: the stack's output ${DEPLOYED_NEXTCLOUD_OUTPUT} holds ${previous}, which names no Nextcloud version; nothing was changed`;
  // The record says what was deployed, not what the data now is: after a restore of the backup
  // taken before the upgrade, the data is the older major again. The host check still applies.
  if (after.major < before.major && restoredMajor === after.major) return undefined;
  const problem = stepProblem("this stack runs", before, after);
  return after.major < before.major
    ? `${problem} If this is the way back from a failed upgrade and the backup taken before it was restored (npm run restore), ` +
        `say so and run again: npm run pulumi -- config set bastide:${NEXTCLOUD_RESTORED_CONFIG} ${after.major}`
    : problem;
}

/**
 * Why `next` cannot replace the Nextcloud the host runs (running.ts: the installation's own
 * version, or the stopped container's image), or undefined when it can or none runs.
 */
export function runningNextcloudProblem(running: RunningNextcloud | undefined, next: string): string | undefined {
  if (running === undefined) return undefined;
  const after = nextcloudVersion(next);
  if (!after) return `Nextcloud: cannot read a version in the pinned image ${next}`;
  const where = running.from === "installation" ? "its installation, /var/www/html/version.php" : "its image, NEXTCLOUD_VERSION";
  return stepProblem(`the container ${running.container} runs (${where})`, { major: Number(running.version.split(".")[0]), version: running.version }, after);
}

type Version = { major: number; version: string };

function stepProblem(subject: string, before: Version, after: Version): string | undefined {
  if (after.major < before.major)
    return (
      `Nextcloud: ${subject} Nextcloud ${before.version} and this Bastide pins ${after.version}; ` +
      `Nextcloud cannot go back to an older major version. Nothing was changed: use the Bastide release that pins Nextcloud ${before.major} or later.`
    );
  if (after.major > before.major + 1)
    return (
      `Nextcloud: ${subject} Nextcloud ${before.version} and this Bastide pins ${after.version}; ` +
      `Nextcloud upgrades one major version at a time (${before.major} → ${before.major + 1} → … → ${after.major}). ` +
      `Nothing was changed: first run \`pulumi up\` with the Bastide release that pins Nextcloud ${before.major + 1} ` +
      `(README, "Upgrading"), then with this one.`
    );
  return undefined;
}
