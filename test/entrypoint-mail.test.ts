// A mail relay that needs a login needs its password in Pulumi's secret config: without it
// the real entry point stops before registering anything, and says how to set it.
// A separate file because ES modules evaluate stacks/index.ts once per process.
import test from "ava";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { exampleInput } from "./support/association.ts";
import { registerUnderMocks } from "./support/program.ts";
import { scratch } from "./support/programs.ts";

test("a relay login without bastide:smtpPassword stops the program before any resource", async (t) => {
  const input = exampleInput();
  input.mail = { host: "smtp.asso-exemple.fr", from: "ne-pas-repondre@asso-exemple.fr", username: "ne-pas-repondre@asso-exemple.fr" };
  const file = join(scratch(), "association.yaml");
  writeFileSync(file, stringify(input));
  pulumi.runtime.setConfig("bastide:config", file);
  let outcome!: Promise<unknown>;
  const registered = await registerUnderMocks(() => {
    outcome = import("../stacks/index.ts").then(
      () => undefined,
      (error: unknown) => error,
    );
  });
  const error = (await outcome) as Error;
  t.truthy(error, "the program refuses to run");
  t.regex(error.message, /bastide:smtpPassword/);
  t.regex(error.message, /pulumi config set --secret/);
  t.is(registered.length, 0, "nothing registered");
});
