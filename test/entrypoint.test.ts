// The counterpart of config.test.ts's "registers nothing" test: the same path, with a
// valid config, does register the stack, so a count of zero there means something.
// A separate file because ES modules evaluate stacks/index.ts once per process.
import test from "ava";
import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { EXAMPLE_FILE } from "./support/association.ts";
import { CONTAINER, registerUnderMocks } from "./support/program.ts";

test("the Pulumi program registers the stack when the config is valid", async (t) => {
  pulumi.runtime.setConfig("bastide:config", fileURLToPath(EXAMPLE_FILE));
  let outcome!: Promise<unknown>;
  let program: Record<string, any> | undefined;
  const registered = await registerUnderMocks(() => {
    outcome = import("../stacks/index.ts").then(
      (exports) => void (program = exports),
      (error: unknown) => error,
    );
  });
  t.is(await outcome, undefined, "the program loads the example without error");
  // The import resolves after registerUnderMocks returns: wait for its registrations, a bounded number of times.
  for (let round = 0, seen = -1; round < 50 && seen !== registered.length; round++) {
    seen = registered.length;
    await pulumi.runtime.awaitStackRegistrations();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.true(registered.some((r) => r.type === "bastide:index:Bastide"));
  t.true(registered.some((r) => r.type === CONTAINER), "at least the proxy container");
  // The identity provider's output: its public names, and the admin's password only as a secret.
  const identity = program!.identity;
  t.like(identity, { url: "https://connexion.jardins-canal.localhost", issuer: "https://connexion.jardins-canal.localhost/realms/bastide", admin: { username: "_bastide" } });
  t.true(await identity.admin.password.isSecret, "the admin password is a Pulumi secret");
});
