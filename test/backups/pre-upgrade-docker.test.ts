// The pre-upgrade backup's runner against a real Docker engine (Debian's dockerd, test/support/docker.ts):
// the provider's update, as the engine runs it, execs the job's command in the job's container,
// checks its exit code and reads the status file it wrote (layout.ts's schema).
//
// What stands in: the job itself. Its image (docker/backups) cannot be built here (no registry for
// its base), so the container runs a busybox image with a stand-in at the job's path that answers
// like the job's contract says (layout.ts: `run --reason R` exits non-zero when it failed; the
// status file records the run). The job's own script is run for real by the job's tests.
import test from "ava";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type Docker from "dockerode";
import * as pulumi from "@pulumi/pulumi";
import { JOB_COMMAND, STATE_DIR } from "../../stacks/backups/layout.ts";
import { preUpgradeProvider, PRE_UPGRADE_TIMEOUT_MS, type PreUpgradeInputs } from "../../stacks/backups/pre-upgrade.ts";
import { backupBeforeUpgrade, PRE_UPGRADE_COMMAND } from "../../provisioners/backups/pre-upgrade.ts";
import { removeContainer, startDockerEngine, type DockerEngine } from "../support/docker.ts";
import { busyboxImage } from "../support/busybox-image.ts";
import { inFreshNode } from "../support/fresh-node.ts";
import { scratch } from "../support/programs.ts";

const RUNNER = fileURLToPath(new URL("../../provisioners/backups/pre-upgrade.ts", import.meta.url));
/** Its own name: the shared engine may hold other tests' job containers. */
const CONTAINER = "bastide-pre-upgrade-test-backups";
const SNAPSHOT = "5b7e0c3d9a1f2e48";

/**
 * Answers as the job does. /stand-in/outcome says how: ok (a pre-upgrade snapshot), failed
 * (restic's error, exit 1), daily (exit 0 but the status file records another run).
 */
const STAND_IN = `#!/bin/sh
echo "$@" > /stand-in/arguments
outcome=$(cat /stand-in/outcome)
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
mkdir -p ${STATE_DIR}
case "$outcome" in
  ok) printf '{"version":1,"lastRun":{"reason":"%s","startedAt":"%s","finishedAt":"%s","outcome":"ok","snapshot":"${SNAPSHOT}"}}' "$3" "$now" "$now" > ${STATE_DIR}/status.json ;;
  daily) printf '{"version":1,"lastRun":{"reason":"daily","startedAt":"%s","finishedAt":"%s","outcome":"ok","snapshot":"${SNAPSHOT}"}}' "$now" "$now" > ${STATE_DIR}/status.json ;;
  failed)
    printf '{"version":1,"lastRun":{"reason":"%s","startedAt":"%s","finishedAt":"%s","outcome":"failed","error":"restic backup"}}' "$3" "$now" "$now" > ${STATE_DIR}/status.json
    echo "Fatal: unable to open repository at sftp://u1@backup.example:22//backups: ssh: Host key verification failed." >&2
    exit 1 ;;
esac
`;

let engine: DockerEngine | undefined;
let standIn: string;

const setOutcome = (outcome: "ok" | "failed" | "daily") => writeFileSync(join(standIn, "outcome"), outcome);

test.before(async () => {
  engine = await startDockerEngine();
  const docker: Docker = engine.docker;
  const image = await busyboxImage(docker, { php: false });
  standIn = mkdtempSync(join(tmpdir(), "bastide-pre-upgrade-"));
  chmodSync(standIn, 0o755);
  writeFileSync(join(standIn, "bastide-backup"), STAND_IN, { mode: 0o755 });
  setOutcome("ok");
  await removeContainer(docker, CONTAINER);
  const container = await docker.createContainer({
    name: CONTAINER,
    Image: image,
    Cmd: ["sleep", "86400"],
    HostConfig: {
      NetworkMode: "none",
      SecurityOpt: ["no-new-privileges:true"],
      Binds: [`${join(standIn, "bastide-backup")}:${JOB_COMMAND}:ro`, `${standIn}:/stand-in`],
    },
  });
  await container.start();
});

test.after.always(async () => {
  if (engine) {
    await removeContainer(engine.docker, CONTAINER);
    await engine.release();
  }
  if (standIn) rmSync(standIn, { recursive: true, force: true });
});

const request = () => ({ docker: { socketPath: engine!.socketPath }, container: CONTAINER, timeoutMs: 60_000 });

test.serial("the serialized provider, in a fresh Node as the engine runs it: no change for the same images; for new ones, the job's pre-upgrade backup, recorded with the images before", async (t) => {
  setOutcome("ok");
  const serialized = await pulumi.runtime.serializeFunction(() => preUpgradeProvider);
  const providerFile = join(scratch(), "provider.js");
  writeFileSync(providerFile, serialized.text);
  const inputs = (images: Record<string, string>): PreUpgradeInputs => ({ runner: RUNNER, images, docker: request().docker, container: CONTAINER, timeoutMs: PRE_UPGRADE_TIMEOUT_MS });
  const before = { "bastide-nextcloud-app": "nextcloud:34.0.4-apache", "bastide-nextcloud-db": "postgres:17.11-alpine" };
  const created = await inFreshNode(providerFile, "return provider.create(input);", inputs(before));
  t.falsy(created.error, created.error);
  t.like(created.outs, { snapshot: null, previousImages: null });
  t.throws(() => readFileSync(join(standIn, "arguments")), undefined, "create ran no backup");

  const same = await inFreshNode(providerFile, "return provider.diff('id', input.olds, input.news);", { olds: created.outs, news: inputs({ ...before }) });
  t.deepEqual(same, { changes: false, replaces: [], deleteBeforeReplace: false });
  const after = { ...before, "bastide-nextcloud-app": "nextcloud:35.0.0-apache" };
  const changed = await inFreshNode(providerFile, "return provider.diff('id', input.olds, input.news);", { olds: created.outs, news: inputs(after) });
  t.true(changed.changes);

  const updated = await inFreshNode(providerFile, "return provider.update('id', input.olds, input.news);", { olds: created.outs, news: inputs(after) });
  t.falsy(updated.error, updated.error);
  t.like(updated.outs, { snapshot: SNAPSHOT, previousImages: before, images: after });
  t.regex(updated.outs.backedUpAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  t.is(readFileSync(join(standIn, "arguments"), "utf8").trim(), PRE_UPGRADE_COMMAND.slice(1).join(" "), "run --reason pre-upgrade, nothing else");
});

test.serial("a failed backup fails, with the job's own last words and what to do", async (t) => {
  setOutcome("failed");
  const error = await t.throwsAsync(backupBeforeUpgrade(request()));
  t.regex(error!.message, /exited with 1\): Fatal: unable to open repository .* Host key verification failed\./);
  t.regex(error!.message, /Nothing was replaced/);
});

test.serial("a run that exits 0 without recording a successful pre-upgrade backup is not taken for one", async (t) => {
  setOutcome("daily");
  const error = await t.throwsAsync(backupBeforeUpgrade(request()));
  t.regex(error!.message, /not a successful pre-upgrade backup \(reason daily, outcome ok\)/);
});

test.serial("without the job's container, no upgrade goes ahead", async (t) => {
  const error = await t.throwsAsync(backupBeforeUpgrade({ ...request(), container: "bastide-pre-upgrade-test-absent" }));
  t.regex(error!.message, /could not run in bastide-pre-upgrade-test-absent: cannot exec in container .*No such container/i);
  t.regex(error!.message, /Nothing was replaced/);
});
