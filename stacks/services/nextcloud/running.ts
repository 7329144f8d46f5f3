// What the stack runs, read through the Docker engine before anything is registered: the
// Nextcloud version in the app container. The stack's own record of the last deployed image
// (upgrade.ts) misses a stack whose state was started anew, or a server whose Nextcloud volume
// came back from a backup of an older release; the installation itself does not.
//
// - Running container: the installation's version, read as the image's entrypoint reads it
//   before it upgrades or refuses (nextcloud/docker@4de1eed 34/apache/entrypoint.sh 176-179:
//   `php -r 'require "/var/www/html/version.php"; echo implode(".", $OC_Version);'`).
// - Stopped container: its image's version, NEXTCLOUD_VERSION in the container's environment
//   (34/apache/Dockerfile 153: `ENV NEXTCLOUD_VERSION 34.0.2` at that commit).
import type Docker from "dockerode";
import type { Association } from "../../config/schema.ts";
import { dockerTargetFor } from "../../../provisioners/connections.ts";
import { dockerFor, execInContainer } from "../../../provisioners/runtime/docker.ts";
import { containerName } from "../blueprint.ts";

export interface RunningNextcloud {
  container: string;
  /** e.g. 32.0.15.1 (installation) or 32.0.15 (image). */
  version: string;
  from: "installation" | "image";
}

export const NEXTCLOUD_APP = containerName("nextcloud", "app");
const INSTALLED_VERSION = ["php", "-r", 'require "/var/www/html/version.php"; echo implode(".", $OC_Version);'];
const VERSION = /^\d+(\.\d+)+$/;

/** The Nextcloud the engine runs, or undefined when it has no Nextcloud container (a first deploy). */
export async function runningNextcloud(docker: Docker): Promise<RunningNextcloud | undefined> {
  let container: Docker.ContainerInspectInfo;
  try {
    container = await docker.getContainer(NEXTCLOUD_APP).inspect();
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
  if (container.State.Running) {
    const installed = await execInContainer(docker, NEXTCLOUD_APP, INSTALLED_VERSION, { timeoutMs: 20_000 });
    const version = installed.stdout.trim();
    if (installed.exitCode === 0 && VERSION.test(version)) return { container: NEXTCLOUD_APP, version, from: "installation" };
  }
  const fromImage = (container.Config.Env ?? []).find((entry) => entry.startsWith("NEXTCLOUD_VERSION="))?.slice("NEXTCLOUD_VERSION=".length);
  return fromImage && VERSION.test(fromImage) ? { container: NEXTCLOUD_APP, version: fromImage, from: "image" } : undefined;
}

/**
 * The Nextcloud on the stack's host (the VM's address from the last run for a cloud target),
 * within `timeoutMs`; `unreadable` says why when the engine could not be asked, which is
 * no refusal: before a first deploy there may be no engine yet.
 */
export async function runningNextcloudOn(
  config: Association,
  publicAddress: string | undefined,
  timeoutMs = 20_000,
): Promise<{ running?: RunningNextcloud; unreadable?: string }> {
  // A new VM that no run has created yet runs nothing.
  if (config.host.target !== "local" && config.host.target !== "ssh" && !publicAddress) return {};
  let timer: NodeJS.Timeout | undefined;
  try {
    const docker = dockerFor(dockerTargetFor(config, publicAddress));
    const tooLong = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    const running = await Promise.race([runningNextcloud(docker), tooLong]);
    return running ? { running } : {};
  } catch (error) {
    return { unreadable: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
