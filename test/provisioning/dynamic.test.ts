// The path the Pulumi engine takes: the dynamic provider is serialized, loaded in a
// fresh Node process (no tsx, no test runner) and run against a server.
import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { provisioningProvider } from "../../stacks/provisioning/provider.ts";
import { desiredState } from "../../provisioners/desired.ts";
import { keyedSlice } from "../../provisioners/slices.ts";
import { NEXTCLOUD_ADMIN_USER } from "../../stacks/services/nextcloud/blueprint.ts";
import { createFakeNextcloud } from "../fakes/nextcloud.ts";
import { exampleAssociation } from "../support/association.ts";
import { scratch } from "../support/programs.ts";
import { inFreshNode } from "../support/fresh-node.ts";

const RUNNER = fileURLToPath(new URL("../../provisioners/run.ts", import.meta.url));
const PASSWORD = "service-account-password-for-tests";

function inputsFor(config: ReturnType<typeof exampleAssociation>, url: string) {
  return {
    runner: RUNNER,
    service: "nextcloud",
    desired: keyedSlice(desiredState(config), "nextcloud"),
    members: config.members.map((m) => m.id),
    graceDays: config.departures.graceDays,
    concurrency: 4,
    connection: { endpoint: { url }, user: NEXTCLOUD_ADMIN_USER, password: PASSWORD },
  };
}

test("the serialized provider creates, finds nothing to do, then disables a departed member, in fresh processes", async (t) => {
  const fake = await createFakeNextcloud({ users: { [NEXTCLOUD_ADMIN_USER]: PASSWORD } });
  try {
    const serialized = await pulumi.runtime.serializeFunction(() => provisioningProvider);
    const providerFile = join(scratch(), "provider.js");
    writeFileSync(providerFile, serialized.text);
    t.notRegex(serialized.text, new RegExp(PASSWORD), "the provider text captures no credential");

    const config = exampleAssociation();
    const inputs = inputsFor(config, fake.url);
    const created = await inFreshNode(providerFile, "return provider.create(input);", inputs);
    t.falsy(created.error, created.error);
    t.is(created.id, "nextcloud-provisioning");
    t.deepEqual(Object.keys(created.outs.ledger.members).sort(), config.members.map((m) => m.id).sort());
    t.deepEqual(fake.users().map((u) => u.id).sort(), [NEXTCLOUD_ADMIN_USER, ...config.members.map((m) => m.id)].sort());

    fake.server.resetLog();
    const unchanged = await inFreshNode(providerFile, "return provider.diff('id', input.olds, input.news);", { olds: created.outs, news: inputs });
    t.deepEqual(unchanged, { changes: false });
    t.is(fake.server.writes(), 0, "diff only reads");

    const without = exampleAssociation((i) => (i.members = i.members.filter((m: any) => m.id !== "tom.martin")));
    const news = inputsFor(without, fake.url);
    const changed = await inFreshNode(providerFile, "return provider.diff('id', input.olds, input.news);", { olds: created.outs, news });
    t.true(changed.changes);
    const updated = await inFreshNode(providerFile, "return provider.update('id', input.olds, input.news);", { olds: created.outs, news });
    t.falsy(updated.error, updated.error);
    t.false(fake.user("tom.martin")!.enabled, "a departed member is disabled, not deleted");
    t.truthy(updated.outs.ledger.departed["tom.martin"]);
    t.true(updated.outs.lastRun.applied.some((a: string) => a.startsWith("user.disable")));
  } finally {
    await fake.stop();
  }
});
