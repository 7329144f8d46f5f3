// A real Keycloak for tests: the server distribution of the release the image pins
// (org.keycloak:keycloak-quarkus-dist from Maven Central, which `npm run setup:servers` and
// .ci/run unpack into .cache/), on a Java 21+ (.cache/keycloak-java), in dev mode with an
// in-memory database, on 127.0.0.1 only. Dev mode differs from the image's `start` in what
// production needs (TLS, hostname, a real database) and not in the admin API or the
// login pages the tests drive.
//
// Starting Keycloak takes 30 to 60 s: start one per test file and share it between its tests.
// Every wait is bounded; stop() ends the server (and it is killed when the process exits).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IMAGES } from "../../stacks/services/images.ts";
import { freePort, waitUntil } from "./docker.ts";

/** The release matching the image pin, e.g. "26.7.3" for quay.io/keycloak/keycloak:26.7.3. */
export const KEYCLOAK_VERSION = /:(\d+\.\d+\.\d+)$/.exec(IMAGES.keycloak)?.[1] ?? "";
const REPOSITORY = new URL("../..", import.meta.url).pathname;
const START_TIMEOUT_MS = 180_000;

/**
 * The secrets the stack would pass the identity provisioner (connection.clientSecrets), fixed
 * for tests: each relying party's client secret, and Jitsi's meeting-token key (64 characters,
 * as the Jitsi blueprint generates it: jitsi/login.ts JWT_SECRET).
 */
export const CLIENT_SECRETS_FOR_TESTS = {
  nextcloud: "nextcloud-client-secret-for-tests",
  matrix: "matrix-client-secret-for-tests",
  jitsi: "jitsiMeetingKeyForTests0123456789abcdefghijklmnopqrstuvwxyzABCDE",
} as const;

export interface RealKeycloak {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  /** The management interface's port (health endpoints), Keycloak's `http-management-port`. */
  managementPort: number;
  /** The bootstrap administrator of the master realm (a test-only password, never a real one). */
  admin: { username: string; password: string };
  /** The server's log so far, for a failing test's message. */
  log(): string;
  stop(): Promise<void>;
}

function installed(): { home: string; javaHome: string } {
  const home = process.env.BASTIDE_KEYCLOAK_HOME ?? join(REPOSITORY, `.cache/keycloak-${KEYCLOAK_VERSION}`);
  const javaHome = process.env.BASTIDE_KEYCLOAK_JAVA ?? join(REPOSITORY, ".cache/keycloak-java");
  const install = "install it with `npm run setup:servers` (Maven Central's org.keycloak:keycloak-quarkus-dist and a Java 21+), or set BASTIDE_KEYCLOAK_HOME and BASTIDE_KEYCLOAK_JAVA";
  if (!existsSync(join(home, "bin/kc.sh"))) throw new Error(`no Keycloak ${KEYCLOAK_VERSION} for the tests at ${home}: ${install}`);
  if (!existsSync(join(javaHome, "bin/java"))) throw new Error(`no Java for Keycloak at ${javaHome}: ${install}`);
  const version = readFileSync(join(home, "version.txt"), "utf8");
  if (!version.includes(KEYCLOAK_VERSION)) throw new Error(`${home} holds ${version.trim()}, not Keycloak ${KEYCLOAK_VERSION}: ${install}`);
  return { home, javaHome };
}

/** `env`: more KC_ settings for the server, e.g. a blueprint's KC_HOSTNAME and KC_PROXY_HEADERS. */
export async function startKeycloak(options: { env?: Record<string, string> } = {}): Promise<RealKeycloak> {
  const { home, javaHome } = installed();
  const [port, managementPort] = [await freePort(), await freePort()];
  const admin = { username: "admin", password: randomBytes(18).toString("base64url") };
  // Keycloak writes its dev-mode files under data/; a copy per server would cost 200 MB, so
  // only the data directory is private (KC_DIR is not settable; dev-mem keeps the database in memory).
  const scratch = mkdtempSync(join(tmpdir(), "bastide-keycloak-"));
  const child: ChildProcess = spawn(
    join(home, "bin/kc.sh"),
    ["start-dev", "--db", "dev-mem", "--http-host", "127.0.0.1", "--http-port", String(port), "--http-management-port", String(managementPort), "--health-enabled", "true", "--cache", "local"],
    {
      env: {
        ...process.env,
        JAVA_HOME: javaHome,
        KC_BOOTSTRAP_ADMIN_USERNAME: admin.username,
        KC_BOOTSTRAP_ADMIN_PASSWORD: admin.password,
        // Two cores shared with the other tests: keep the heap modest, as the image's defaults do (70% of the container).
        JAVA_OPTS_KC_HEAP: "-Xms64m -Xmx768m",
        TMPDIR: scratch,
        ...options.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    },
  );
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let exited = false;
  child.once("exit", () => (exited = true));
  const kill = () => {
    try {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  process.once("exit", kill);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntil(
      `Keycloak ${KEYCLOAK_VERSION} to answer on ${url}`,
      async () => {
        if (exited) throw new Error(`Keycloak exited while starting:\n${output}`);
        const ready = await fetch(`http://127.0.0.1:${managementPort}/health/ready`).catch(() => undefined);
        return ready?.ok === true;
      },
      { timeoutMs: START_TIMEOUT_MS, intervalMs: 500 },
    );
  } catch (error) {
    kill();
    rmSync(scratch, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}\n--- Keycloak's log ---\n${output.slice(-4000)}`);
  }
  return {
    url,
    managementPort,
    admin,
    log: () => output,
    async stop() {
      process.removeListener("exit", kill);
      if (!exited && child.pid) {
        try {
          process.kill(-child.pid, "SIGTERM");
        } catch {
          // already gone
        }
        await waitUntil("Keycloak to stop", () => exited, { timeoutMs: 30_000, intervalMs: 200 }).catch(kill);
      }
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}
