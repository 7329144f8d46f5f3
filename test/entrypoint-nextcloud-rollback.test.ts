// The way back from a failed Nextcloud major upgrade (README, "Upgrading"): the stack's record
// still names the newer major, the images and data are the older ones again, and the admin says
// so (bastide:nextcloudRestored); the program then deploys. A separate file because ES modules
// evaluate stacks/index.ts once per process.
import test from "ava";
import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { IMAGES } from "../stacks/services/images.ts";
import { DEPLOYED_NEXTCLOUD_OUTPUT, NEXTCLOUD_RESTORED_CONFIG, nextcloudVersion } from "../stacks/services/nextcloud/upgrade.ts";
import { EXAMPLE_FILE } from "./support/association.ts";
import { CONTAINER, runProgramUnderMocks } from "./support/program.ts";

test("a stack whose record names Nextcloud 35, restored to the pinned 34 and said so, deploys the pinned image", async (t) => {
  const pinned = nextcloudVersion(IMAGES.nextcloud)!;
  pulumi.runtime.setConfig("bastide:config", fileURLToPath(EXAMPLE_FILE));
  pulumi.runtime.setConfig(`bastide:${NEXTCLOUD_RESTORED_CONFIG}`, String(pinned.major));
  const { error, registered } = await runProgramUnderMocks({ lastOutputs: { [DEPLOYED_NEXTCLOUD_OUTPUT]: `nextcloud:${pinned.major + 1}.0.1-apache` } });
  t.is(error, undefined, "the program runs to its end");
  const nextcloud = registered.find((r) => r.type === CONTAINER && r.name.includes("nextcloud"));
  t.truthy(nextcloud, `the Nextcloud container is registered among ${registered.length} resources`);
  t.true(registered.some((r) => r.type === "docker:index/remoteImage:RemoteImage" && r.inputs.name === IMAGES.nextcloud), "with the pinned image");
});
