// A real S3-compatible server for tests: Versity Gateway (github.com/versity/versitygw, Apache-2.0)
// with its posix backend, over HTTPS on 127.0.0.1 with a certificate made for this run. Installed by
// scripts/setup-servers.sh from the Go module proxy into .cache/. Buckets are folders under its root,
// objects are files: the test can look at what restic stored.
//
//   const s3 = await startS3Server();   // s3.endpoint "127.0.0.1:PORT", s3.env (keys, SSL_CERT_FILE)
//   try { ... restic with { ...process.env, ...s3.env } ... } finally { await s3.stop(); }
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, waitUntil } from "./docker.ts";
import { requireProgram, run } from "./programs.ts";

/** The version scripts/setup-servers.sh installs. */
export const VERSITYGW_VERSION = "1.8.0";
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BINARY = join(ROOT, `.cache/versitygw-${VERSITYGW_VERSION}/bin/versitygw`);

export interface S3Server {
  /** host:port, as the association file's `endpoint` says it. */
  endpoint: string;
  /** Folder holding the buckets. */
  root: string;
  /** What a client needs: the access key pair, and the run's certificate as the trusted CA (Go reads SSL_CERT_FILE). */
  env: Record<string, string>;
  /** Makes a bucket (a folder of the posix backend). */
  createBucket(name: string): void;
  stop(): Promise<void>;
}

export async function startS3Server(): Promise<S3Server> {
  if (!existsSync(BINARY)) throw new Error(`versitygw ${VERSITYGW_VERSION} is not installed in ${BINARY}: run bash scripts/setup-servers.sh (CI's .ci/run does)`);
  const openssl = requireProgram("openssl", "openssl");
  const dir = mkdtempSync(join(tmpdir(), "bastide-s3-"));
  const root = join(dir, "buckets");
  mkdirSync(root);
  const [cert, key] = [join(dir, "cert.pem"), join(dir, "key.pem")];
  const made = run(openssl, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]);
  if (made.status !== 0) throw new Error(`openssl: ${made.stderr}`);
  const port = await freePort();
  const access = `bastide${randomBytes(6).toString("hex")}`;
  const secret = randomBytes(24).toString("base64url");
  // Its output goes to a file, not a pipe: the tests run restic synchronously, and a pipe nobody
  // reads while restic waits would fill and stop the server.
  const logFile = join(dir, "versitygw.log");
  const logFd = openSync(logFile, "w");
  const child: ChildProcess = spawn(BINARY, ["--port", `127.0.0.1:${port}`, "--cert", cert, "--key", key, "posix", root], {
    // Keys through the environment (versitygw reads ROOT_ACCESS_KEY_ID/ROOT_SECRET_ACCESS_KEY), never on a command line.
    env: { ...process.env, ROOT_ACCESS_KEY_ID: access, ROOT_SECRET_ACCESS_KEY: secret },
    stdio: ["ignore", logFd, logFd],
  });
  closeSync(logFd);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const log = () => readFileSync(logFile, "utf8");
  await waitUntil(`versitygw on 127.0.0.1:${port}`, () => {
    if (child.exitCode !== null) throw new Error(`versitygw exited: ${log()}`);
    return log().includes(`https://127.0.0.1:${port}`);
  });
  return {
    endpoint: `127.0.0.1:${port}`,
    root,
    env: { AWS_ACCESS_KEY_ID: access, AWS_SECRET_ACCESS_KEY: secret, SSL_CERT_FILE: cert },
    createBucket: (name) => mkdirSync(join(root, name)),
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
