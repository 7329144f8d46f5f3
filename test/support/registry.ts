// A real OCI registry for tests: CNCF distribution's `registry` at the release
// scripts/setup-servers.sh builds, on 127.0.0.1, with token authentication as Docker Hub, ghcr.io
// and quay.io answer it (401 + `WWW-Authenticate: Bearer realm=…,service=…,scope=…`).
//
// distribution ships no token server, so the test runs the smallest one the registry accepts
// (distribution v3.1.2, registry/auth/token/token.go, Verify and VerifySigningKey): a JWT signed
// with ES256 by a key listed in the `jwks` file, its `kid` in the header, with the configured
// issuer and the service as audience, and `access` naming what it grants. It grants anonymous
// pulls and, to the test alone, pushes.
//
// Images are pushed through the registry's own HTTP API (distribution-spec, "Push": POST then PUT
// of each blob, PUT of the manifest), and the digest kept is the one the registry answers.
import { spawn } from "node:child_process";
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { request } from "undici";
import { freePort, waitUntil } from "./docker.ts";

/** The release scripts/setup-servers.sh builds: it reads it here, the one place it is written. */
export const REGISTRY_VERSION = "v3.1.2";
const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const REGISTRY_BINARY = join(REPO_ROOT, ".cache", `registry-${REGISTRY_VERSION}`, "bin", "registry");

const SERVICE = "bastide-test-registry";
const ISSUER = "bastide-test-token-server";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

export interface TestRegistry {
  /** host:port, as an image reference names it. */
  host: string;
  /** Pushes a one-layer linux/amd64 image under an OCI index tagged `tag`; returns the digest the registry answered for the index. */
  push(repository: string, tag: string): Promise<string>;
  /** The digest the registry answers for a tag (HEAD of the manifest). */
  digestOf(repository: string, tag: string): Promise<string>;
  stop(): Promise<void>;
}

const base64url = (data: Buffer | string): string => Buffer.from(data).toString("base64url");
const sha256 = (data: Buffer): string => `sha256:${createHash("sha256").update(data).digest("hex")}`;

function signToken(key: KeyObject, kid: string, access: { type: string; name: string; actions: string[] }[]): string {
  const now = Math.floor(Date.now() / 1000);
  const header = base64url(JSON.stringify({ alg: "ES256", typ: "JWT", kid }));
  const claims = base64url(JSON.stringify({ iss: ISSUER, sub: "", aud: SERVICE, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString("hex"), access }));
  const signature = sign("sha256", Buffer.from(`${header}.${claims}`), { key, dsaEncoding: "ieee-p1363" });
  return `${header}.${claims}.${base64url(signature)}`;
}

/** `repository:library/nextcloud:pull` → the access it asks for; anonymous callers get pull only. */
function grantedAccess(scopes: string[], mayPush: boolean) {
  return scopes.map((scope) => {
    const [type, ...rest] = scope.split(":");
    const actions = rest.pop()!.split(",");
    return { type: type!, name: rest.join(":"), actions: actions.filter((action) => action === "pull" || mayPush) };
  });
}

export async function startRegistry(): Promise<TestRegistry> {
  if (!existsSync(REGISTRY_BINARY))
    throw new Error(`${REGISTRY_BINARY} is missing: run \`bash scripts/setup-servers.sh\` (npm test's pretest and CI's .ci/run do)`);
  const dir = mkdtempSync(join(tmpdir(), "bastide-registry-"));
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const kid = "bastide-test-key";
  writeFileSync(join(dir, "jwks.json"), JSON.stringify({ keys: [{ ...publicKey.export({ format: "jwk" }), kid, use: "sig", alg: "ES256" }] }));
  const pushSecret = randomBytes(16).toString("hex");

  const tokenServer: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const mayPush = req.headers.authorization === `Basic ${Buffer.from(`test:${pushSecret}`).toString("base64")}`;
    const token = signToken(privateKey, kid, grantedAccess(url.searchParams.getAll("scope"), mayPush));
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
  });
  const tokenPort = await freePort();
  await new Promise<void>((resolve) => tokenServer.listen(tokenPort, "127.0.0.1", resolve));

  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  writeFileSync(
    join(dir, "config.yml"),
    [
      "version: 0.1",
      "log:",
      "  level: warn",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${join(dir, "data")}`,
      "http:",
      `  addr: ${host}`,
      `  secret: ${randomBytes(16).toString("hex")}`,
      "auth:",
      "  token:",
      `    realm: http://127.0.0.1:${tokenPort}/token`,
      `    service: ${SERVICE}`,
      `    issuer: ${ISSUER}`,
      `    jwks: ${join(dir, "jwks.json")}`,
      "",
    ].join("\n"),
  );
  const child = spawn(REGISTRY_BINARY, ["serve", join(dir, "config.yml")], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr.on("data", (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
  await waitUntil(`the registry on ${host} (log: ${log})`, async () => (await request(`http://${host}/v2/`)).statusCode === 401);

  const pushToken = async (repository: string): Promise<string> => {
    const answer = await request(`http://127.0.0.1:${tokenPort}/token?service=${SERVICE}&scope=repository:${repository}:pull,push`, {
      headers: { authorization: `Basic ${Buffer.from(`test:${pushSecret}`).toString("base64")}` },
    });
    return ((await answer.body.json()) as { token: string }).token;
  };

  async function upload(repository: string, token: string, blob: Buffer): Promise<string> {
    const digest = sha256(blob);
    const started = await request(`http://${host}/v2/${repository}/blobs/uploads/`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    await started.body.dump();
    if (started.statusCode !== 202) throw new Error(`registry: starting an upload answered ${started.statusCode}`);
    const location = new URL(String(started.headers.location), `http://${host}`);
    location.searchParams.set("digest", digest);
    const put = await request(location, { method: "PUT", body: blob, headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" } });
    await put.body.dump();
    if (put.statusCode !== 201) throw new Error(`registry: uploading ${digest} answered ${put.statusCode}`);
    return digest;
  }

  async function putManifest(repository: string, token: string, reference: string, mediaType: string, manifest: object): Promise<string> {
    const body = Buffer.from(JSON.stringify(manifest));
    const answer = await request(`http://${host}/v2/${repository}/manifests/${reference}`, {
      method: "PUT",
      body,
      headers: { authorization: `Bearer ${token}`, "content-type": mediaType },
    });
    const text = await answer.body.text();
    if (answer.statusCode !== 201) throw new Error(`registry: PUT manifest ${repository}:${reference} answered ${answer.statusCode}: ${text}`);
    return String(answer.headers["docker-content-digest"]);
  }

  return {
    host,
    async push(repository, tag) {
      const token = await pushToken(repository);
      // A layer unique to this tag, so every tag has its own digest.
      const layer = Buffer.from(`${repository}:${tag} ${randomBytes(8).toString("hex")}`);
      const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [sha256(layer)] }, config: {} }));
      const layerDigest = await upload(repository, token, layer);
      const configDigest = await upload(repository, token, config);
      const manifest = {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layerDigest, size: layer.length }],
      };
      const manifestDigest = await putManifest(repository, token, sha256(Buffer.from(JSON.stringify(manifest))), OCI_MANIFEST, manifest);
      const index = {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ mediaType: OCI_MANIFEST, digest: manifestDigest, size: Buffer.byteLength(JSON.stringify(manifest)), platform: { architecture: "amd64", os: "linux" } }],
      };
      return putManifest(repository, token, tag, OCI_INDEX, index);
    },
    async digestOf(repository, tag) {
      const token = await pushToken(repository);
      const answer = await request(`http://${host}/v2/${repository}/manifests/${tag}`, {
        method: "HEAD",
        headers: { authorization: `Bearer ${token}`, accept: `${OCI_INDEX}, ${OCI_MANIFEST}` },
      });
      await answer.body.dump();
      return String(answer.headers["docker-content-digest"]);
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      await new Promise((resolve) => tokenServer.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
