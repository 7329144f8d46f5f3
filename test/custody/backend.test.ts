// BASTIDE_BACKEND (issue 11, part 4): the stack's state in the association's own S3-compatible
// object storage. The URL Pulumi is given is checked part by part first, each mistake named
// with its fix; a good one reaches Pulumi as PULUMI_BACKEND_URL, and the local stack check
// steps aside (only Pulumi can see into the bucket), while the passphrase stays a local file.
import test from "ava";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BACKEND_EXAMPLE, BackendError, missingBackendKeys, parseS3Backend } from "../../cli/backend.ts";
import { adminStack, missingStack, pulumiEnvironment, stackExists } from "../../cli/stack.ts";
import { deployedStackState } from "../support/cli.ts";

test("a Hetzner or Scaleway bucket URL is accepted and written the one way Pulumi gets it", (t) => {
  const hetzner = parseS3Backend("s3://asso-exemple-pulumi/etat?endpoint=https://fsn1.your-objectstorage.com&region=fsn1&s3ForcePathStyle=true");
  t.deepEqual(hetzner, {
    bucket: "asso-exemple-pulumi",
    folder: "etat",
    endpoint: "https://fsn1.your-objectstorage.com",
    region: "fsn1",
    url: "s3://asso-exemple-pulumi/etat?endpoint=https://fsn1.your-objectstorage.com&region=fsn1&s3ForcePathStyle=true",
  });
  // gocloud's newer name for path style is accepted, and written as the documented one.
  const scaleway = parseS3Backend("s3://asso-pulumi?region=fr-par&use_path_style=true&endpoint=https://s3.fr-par.scw.cloud/");
  t.is(scaleway.url, "s3://asso-pulumi?endpoint=https://s3.fr-par.scw.cloud&region=fr-par&s3ForcePathStyle=true");
  t.is(parseS3Backend(BACKEND_EXAMPLE).url, BACKEND_EXAMPLE);
});

test("each wrong part is named, with the form expected", (t) => {
  const refused = (url: string, problem: RegExp) => {
    const error = t.throws(() => parseS3Backend(url), { instanceOf: BackendError })!;
    t.regex(error.message, problem, url);
    t.true(error.message.startsWith("BASTIDE_BACKEND: "), url);
    t.true(error.message.includes(`Expected the form ${BACKEND_EXAMPLE}`), url);
  };
  refused("file:///home/admin/.bastide/pulumi", /the scheme is file, not s3/);
  refused("not a url", /is not a URL/);
  refused("s3://Asso_Pulumi?endpoint=https://fsn1.your-objectstorage.com&region=fsn1&s3ForcePathStyle=true", /"asso_pulumi" is not a bucket name|is not a bucket name/);
  refused("s3://asso-pulumi?region=fsn1&s3ForcePathStyle=true", /the endpoint is missing/);
  refused("s3://asso-pulumi?endpoint=fsn1.your-objectstorage.com&region=fsn1&s3ForcePathStyle=true", /must be a whole https URL/);
  refused("s3://asso-pulumi?endpoint=http://fsn1.your-objectstorage.com&region=fsn1&s3ForcePathStyle=true", /must use https: the state holds the member list/);
  refused("s3://asso-pulumi?endpoint=https://fsn1.your-objectstorage.com/bucket&region=fsn1&s3ForcePathStyle=true", /must be https:\/\/<host>, without a path/);
  refused("s3://asso-pulumi?endpoint=https://fsn1.your-objectstorage.com&s3ForcePathStyle=true", /the region is missing/);
  refused("s3://asso-pulumi?endpoint=https://fsn1.your-objectstorage.com&region=fsn1", /path-style addressing is needed: add s3ForcePathStyle=true/);
  refused("s3://asso-pulumi?endpoint=https://fsn1.your-objectstorage.com&region=fsn1&s3ForcePathStyle=true&disableSSL=true", /disableSSL is not a setting Bastide passes on/);
  refused("s3://KEY:SECRET@asso-pulumi?endpoint=https://fsn1.your-objectstorage.com&region=fsn1&s3ForcePathStyle=true", /keys never go in the URL/);
  refused("s3://asso-pulumi/a b?endpoint=https://fsn1.your-objectstorage.com&region=fsn1&s3ForcePathStyle=true", /the folder "a b"/);
});

test("with BASTIDE_BACKEND, Pulumi gets the bucket, the passphrase stays local, and no local stack file is asked for", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "bastide-backend-"));
  try {
    const { BASTIDE_STATE_DIR } = deployedStackState(dir, "other");
    const env = { BASTIDE_STATE_DIR, BASTIDE_BACKEND: BACKEND_EXAMPLE, AWS_ACCESS_KEY_ID: "id", AWS_SECRET_ACCESS_KEY: "secret" };
    const stack = adminStack({ env });
    t.true(stack.remote);
    t.is(stack.backendUrl, BACKEND_EXAMPLE);
    t.is(stack.passphraseFile, join(BASTIDE_STATE_DIR, "passphrase"));
    t.is(pulumiEnvironment(stack, env).PULUMI_BACKEND_URL, BACKEND_EXAMPLE);
    t.is(pulumiEnvironment(stack, env).AWS_ACCESS_KEY_ID, "id");
    // "local" has no file here: in the bucket, only Pulumi can tell.
    t.true(stackExists(stack));
    t.is(missingStack(stack), undefined);
    t.deepEqual(missingBackendKeys({ AWS_ACCESS_KEY_ID: "id" }), ["AWS_SECRET_ACCESS_KEY"]);
    // Without it, the local folder as before, and a stack never deployed is still named.
    const local = adminStack({ env: { BASTIDE_STATE_DIR } });
    t.false(local.remote);
    t.is(local.backendUrl, `file://${join(BASTIDE_STATE_DIR, "pulumi")}`);
    t.is(missingStack(local), "no-stack");
    t.throws(() => adminStack({ env: { BASTIDE_STATE_DIR, BASTIDE_BACKEND: "s3://asso-pulumi" } }), { message: /BASTIDE_BACKEND: the endpoint is missing/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
