// With backups on, a Nextcloud jump of two majors is still refused before anything is registered:
// no pre-upgrade backup, no job, nothing but the read of the stack's own last outputs. A separate
// file because ES modules evaluate stacks/index.ts once per process.
import test from "ava";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { EXAMPLE_FILE } from "./support/association.ts";
import { registerUnderMocks } from "./support/program.ts";
import { DEPLOYED_NEXTCLOUD_OUTPUT, UpgradeRefused } from "../stacks/services/nextcloud/upgrade.ts";

const BACKUPS = `
backups:
  destination:
    type: disk
    path: /mnt/backup
`;

test("a stack with backups that last ran Nextcloud 32 is refused the pinned 34 before the pre-upgrade backup or anything else", async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), "bastide-upgrade-config-")), "association.yaml");
  writeFileSync(file, `${readFileSync(EXAMPLE_FILE, "utf8")}${BACKUPS}`);
  pulumi.runtime.setConfig("bastide:config", file);
  let outcome!: Promise<unknown>;
  const registered = await registerUnderMocks(
    () => {
      outcome = import("../stacks/index.ts").then(
        () => undefined,
        (error: unknown) => error,
      );
    },
    { lastOutputs: { [DEPLOYED_NEXTCLOUD_OUTPUT]: "nextcloud:32.0.15-apache@sha256:ea7bd4d0dc80337b4298c71ae7ab8ce7d42e5237c3b9abbe60602d2451e33c44" } },
  );
  const error = await outcome;
  t.true(error instanceof UpgradeRefused, `the program stops with UpgradeRefused, got ${String(error)}`);
  for (let round = 0; round < 10; round++) {
    await pulumi.runtime.awaitStackRegistrations();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.deepEqual(registered.map((r) => r.type).filter((type) => type !== "pulumi:pulumi:StackReference"), []);
});
