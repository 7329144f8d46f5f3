// The program refuses to move a stack across two Nextcloud majors before registering anything
// but the read of its own last outputs. A separate file because ES modules evaluate
// stacks/index.ts once per process.
import test from "ava";
import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { EXAMPLE_FILE } from "./support/association.ts";
import { runProgramUnderMocks } from "./support/program.ts";
import { DEPLOYED_NEXTCLOUD_OUTPUT, UpgradeRefused } from "../stacks/services/nextcloud/upgrade.ts";

test("a stack that last ran Nextcloud 32 is refused the pinned 34, and nothing is registered", async (t) => {
  pulumi.runtime.setConfig("bastide:config", fileURLToPath(EXAMPLE_FILE));
  const { error, registered } = await runProgramUnderMocks({
    lastOutputs: { [DEPLOYED_NEXTCLOUD_OUTPUT]: "nextcloud:32.0.15-apache@sha256:ea7bd4d0dc80337b4298c71ae7ab8ce7d42e5237c3b9abbe60602d2451e33c44" },
  });
  t.true(error instanceof UpgradeRefused, `the program stops with UpgradeRefused, got ${String(error)}`);
  t.regex((error as Error).message, /Nextcloud 32\.0\.15 .* pins 34\.0\.4; Nextcloud upgrades one major version at a time/);
  t.deepEqual(
    registered.map((r) => r.type).filter((type) => type !== "pulumi:pulumi:StackReference"),
    [],
    "only the read of the stack's last outputs",
  );
});
