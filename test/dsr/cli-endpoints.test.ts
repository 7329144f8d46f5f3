// export-member and erase-member reach Nextcloud and Synapse where BASTIDE_NEXTCLOUD_URL
// and BASTIDE_MATRIX_URL say (an SSH tunnel, a test server), as audit and first-password do.
import test from "ava";
import { productionTargets, type StackOutputs } from "../../policies/dsr/cli.ts";
import { ENDPOINT_ENV } from "../../provisioners/first-password/connect.ts";
import { exampleAssociation } from "../support/association.ts";

const example = exampleAssociation();
const outputs: StackOutputs = {
  serviceSecrets: {
    nextcloud: { "admin-password": "fake-admin-password" },
    matrix: { "registration-shared-secret": "fake-shared-secret" },
    proxy: { "provisioning-token": "fake-token" },
  },
};

test("the URL overrides are where the DSR commands go, plain HTTP, no local CA", async (t) => {
  const env = { [ENDPOINT_ENV.nextcloud]: "http://127.0.0.1:18080/", [ENDPOINT_ENV.matrix]: "http://127.0.0.1:18008/" };
  const { targets, close } = await productionTargets(example, outputs, env);
  try {
    t.is(targets.nextcloud?.client.http.options.baseUrl, "http://127.0.0.1:18080/");
    t.is(targets.nextcloud?.calendars.http.options.baseUrl, "http://127.0.0.1:18080/");
    t.is(targets.matrix?.media.baseUrl, "http://127.0.0.1:18008/");
  } finally {
    await close();
  }
});

test("without overrides, the stack's own hostnames", async (t) => {
  const { targets, close } = await productionTargets({ ...example, host: { ...example.host, target: "hetzner" } } as typeof example, { ...outputs, publicAddress: "192.0.2.10" }, {});
  try {
    t.regex(targets.nextcloud!.client.http.options.baseUrl, /^https:\/\/cloud\./);
  } finally {
    await close();
  }
});
