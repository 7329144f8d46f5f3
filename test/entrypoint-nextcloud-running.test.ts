// Nextcloud's one-major rule, checked against what the host runs, through a real Docker engine:
// a stack with no record of its last Nextcloud (a new state, a server restored from an older
// backup) is still refused a jump of two majors before anything is registered. A separate file
// because ES modules evaluate stacks/index.ts once per process.
import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { IMAGES } from "../stacks/services/images.ts";
import { NEXTCLOUD_APP, runningNextcloud } from "../stacks/services/nextcloud/running.ts";
import { runningNextcloudProblem, UpgradeRefused } from "../stacks/services/nextcloud/upgrade.ts";
import { EXAMPLE_FILE } from "./support/association.ts";
import { busyboxImage } from "./support/busybox-image.ts";
import { removeContainer, startDockerEngine, type DockerEngine } from "./support/docker.ts";
import { runProgramUnderMocks } from "./support/program.ts";

// Nextcloud's version.php as a release ships it (nareshbaburoddam/nextcloud-latest@dbd5075,
// nextcloud/version.php: `$OC_Version = array(34,0,1,2);`), here for an installation of 32.0.15.
const VERSION_PHP = "<?php \n$OC_Version = array(32,0,15,1);\n$OC_VersionString = '32.0.15';\n$OC_Edition = '';\n$OC_Channel = 'stable';\n";

let engine: DockerEngine;

/** A container named as Bastide's Nextcloud app, with PHP, an installation of 32.0.15 and its image's NEXTCLOUD_VERSION. */
async function nextcloud32(): Promise<void> {
  const docker = engine.docker;
  await removeContainer(docker, NEXTCLOUD_APP);
  const container = await docker.createContainer({
    name: NEXTCLOUD_APP,
    Image: await busyboxImage(docker, { php: true }),
    Cmd: ["sleep", "600"],
    // The official image's `ENV NEXTCLOUD_VERSION` (nextcloud/docker 34/apache/Dockerfile 153), for 32.0.15.
    Env: ["NEXTCLOUD_VERSION=32.0.15"],
    Labels: { "bastide.service": "nextcloud", "bastide.container": "app" },
    HostConfig: { NetworkMode: "host" },
  });
  const stage = mkdtempSync(join(tmpdir(), "bastide-nextcloud-running-"));
  try {
    mkdirSync(join(stage, "var/www/html"), { recursive: true });
    writeFileSync(join(stage, "var/www/html/version.php"), VERSION_PHP);
    const tar = spawnSync("tar", ["--numeric-owner", "-C", stage, "-cf", join(stage, "files.tar"), "var"], { encoding: "utf8" });
    if (tar.status !== 0) throw new Error(`tar: ${tar.stderr}`);
    await container.putArchive(readFileSync(join(stage, "files.tar")), { path: "/" });
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  await container.start();
}

test.before(async () => {
  engine = await startDockerEngine();
});

test.after.always(async () => {
  if (!engine) return;
  await removeContainer(engine.docker, NEXTCLOUD_APP);
  await engine.release();
});

test.serial("a stack with no record of its Nextcloud, on a host that runs Nextcloud 32, is refused the pinned 34 before anything is registered", async (t) => {
  await nextcloud32();
  process.env.DOCKER_HOST = `unix://${engine.socketPath}`;
  pulumi.runtime.setConfig("bastide:config", fileURLToPath(EXAMPLE_FILE));
  const { error, registered } = await runProgramUnderMocks({ readsHost: true });
  t.true(error instanceof UpgradeRefused, `the program stops with UpgradeRefused, got ${String(error)}`);
  t.regex(
    (error as Error).message,
    /the container bastide-nextcloud-app runs \(its installation, \/var\/www\/html\/version\.php\) Nextcloud 32\.0\.15\.1 and this Bastide pins 34\.0\.4; Nextcloud upgrades one major version at a time \(32 → 33 → … → 34\)/,
  );
  t.deepEqual(
    registered.map((r) => r.type).filter((type) => type !== "pulumi:pulumi:StackReference"),
    [],
    "only the read of the stack's last outputs",
  );
});

test.serial("the running Nextcloud is its installation's version while it runs, its image's once stopped, none without a container", async (t) => {
  await nextcloud32();
  t.deepEqual(await runningNextcloud(engine.docker), { container: NEXTCLOUD_APP, version: "32.0.15.1", from: "installation" });
  await engine.docker.getContainer(NEXTCLOUD_APP).stop({ t: 1 });
  const stopped = await runningNextcloud(engine.docker);
  t.deepEqual(stopped, { container: NEXTCLOUD_APP, version: "32.0.15", from: "image" });
  t.regex(runningNextcloudProblem(stopped, IMAGES.nextcloud) ?? "", /the container bastide-nextcloud-app runs \(its image, NEXTCLOUD_VERSION\) Nextcloud 32\.0\.15 /);
  await removeContainer(engine.docker, NEXTCLOUD_APP);
  t.is(await runningNextcloud(engine.docker), undefined);
});

test("one major up is allowed from what runs; an older major and two majors up are refused", (t) => {
  const running = (version: string) => ({ container: NEXTCLOUD_APP, version, from: "installation" as const });
  t.is(runningNextcloudProblem(running("33.0.9.1"), "nextcloud:34.0.4-apache"), undefined);
  t.is(runningNextcloudProblem(running("34.0.1.2"), "nextcloud:34.0.4-apache"), undefined);
  t.regex(runningNextcloudProblem(running("35.0.0.3"), "nextcloud:34.0.4-apache") ?? "", /cannot go back to an older major version/);
  t.regex(runningNextcloudProblem(running("32.0.15.1"), "nextcloud:34.0.4-apache") ?? "", /one major version at a time/);
  t.is(runningNextcloudProblem(undefined, "nextcloud:34.0.4-apache"), undefined, "nothing runs yet: a first deploy");
});
