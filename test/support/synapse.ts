// A real Synapse for tests: matrix-synapse from PyPI at the version the image pins, in a
// virtualenv (`npm run setup:servers`, or .ci/run, makes it), on Debian's PostgreSQL, both
// on 127.0.0.1 only. The homeserver.yaml is the one Bastide renders for production
// (stacks/services/matrix/blueprint.ts); only what the loopback needs is changed:
// listeners, database connection, file paths, signing key and log config. If Synapse
// refuses the rendered file the start fails with Synapse's own words: that is a finding.
//
// One PostgreSQL cluster per test process (one AVA test file), one fresh database per
// Synapse; every wait is bounded and stop() ends both servers.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { registrationMac } from "../../provisioners/matrix/client.ts";
import type { Association } from "../../stacks/config/schema.ts";
import { hostnames } from "../../stacks/services/catalog.ts";
import { homeserverYaml, MATRIX_SECRETS } from "../../stacks/services/matrix/blueprint.ts";
import { IMAGES } from "../../stacks/services/images.ts";
import { exampleAssociation } from "./association.ts";
import { freePort, waitUntil } from "./docker.ts";

/** The PyPI release matching the image pin, e.g. "1.163.2" for ghcr.io/element-hq/synapse:v1.163.2. */
export const SYNAPSE_VERSION = /:v(\d+\.\d+\.\d+)/.exec(IMAGES.synapse)?.[1] ?? "";
export const REPOSITORY = new URL("../..", import.meta.url).pathname;
/** Where `npm run setup:servers` and .ci/run put the virtualenv; BASTIDE_SYNAPSE_PYTHON overrides it. */
export const DEFAULT_VENV = join(REPOSITORY, ".cache/synapse-venv");
const POSTGRES_BIN = "/usr/lib/postgresql/15/bin";
const START_TIMEOUT_MS = 120_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The virtualenv's python, checked to import Synapse at the pinned version; else a loud error saying how to install it. */
export function synapsePython(): string {
  const python = process.env.BASTIDE_SYNAPSE_PYTHON ?? join(DEFAULT_VENV, "bin/python");
  const install = `install it with \`npm run setup:servers\` (python3 -m venv .cache/synapse-venv && .cache/synapse-venv/bin/pip install 'matrix-synapse[postgres,oidc]==${SYNAPSE_VERSION}'), or set BASTIDE_SYNAPSE_PYTHON`;
  if (!existsSync(python)) throw new Error(`no Synapse for the tests at ${python}: ${install}`);
  // The distribution's version: synapse.__version__ adds the git branch of the current folder.
  // psycopg2 for PostgreSQL; authlib for single sign-on (synapse/handlers/oidc.py imports it), which the image has (it installs synapse[all]).
  const probe = spawnSync(python, ["-c", "import importlib.metadata as m, psycopg2, authlib; print(m.version('matrix-synapse'))"], { encoding: "utf8", timeout: 60_000, cwd: tmpdir() });
  const version = probe.stdout?.trim();
  if (probe.status !== 0 || version !== SYNAPSE_VERSION) throw new Error(`${python} has Synapse ${version || "(none, or without psycopg2 or authlib)"}, not ${SYNAPSE_VERSION} with its postgres and oidc extras: ${install}`);
  return python;
}

function postgresProgram(name: string): string {
  const path = join(POSTGRES_BIN, name);
  if (!existsSync(path)) throw new Error(`${path} is missing: apt-get install postgresql (CI's .ci/run does)`);
  return path;
}

const asPostgres = (program: string, args: string[]) => spawnSync("runuser", ["-u", "postgres", "--", program, ...args], { encoding: "utf8", timeout: 60_000 });

interface Cluster {
  port: number;
  createDatabase(): string;
  /** One value from a query, as text. */
  query(database: string, sql: string): string;
  stop(): void;
}

let cluster: Promise<Cluster> | undefined;

/** This process's PostgreSQL cluster: initdb as the postgres user, trust on 127.0.0.1 only, a private socket folder. */
export function postgresCluster(): Promise<Cluster> {
  cluster ??= (async () => {
    const [initdb, pgCtl] = [postgresProgram("initdb"), postgresProgram("pg_ctl")];
    const dir = mkdtempSync(join(tmpdir(), "bastide-postgres-"));
    chmodSync(dir, 0o755);
    const uid = Number(spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout.trim());
    const gid = Number(spawnSync("id", ["-g", "postgres"], { encoding: "utf8" }).stdout.trim());
    if (!uid) throw new Error("no postgres user on this machine: apt-get install postgresql (CI's .ci/run does)");
    chownSync(dir, uid, gid);
    const data = join(dir, "data");
    // As the production container: Synapse refuses a database whose collation could reorder its keys.
    const init = asPostgres(initdb, ["-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF-8", "--lc-collate=C", "--lc-ctype=C"]);
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
    const port = await freePort();
    const start = asPostgres(pgCtl, ["-D", data, "-l", join(dir, "postgres.log"), "-w", "-t", "60", "-o", `-h 127.0.0.1 -p ${port} -k ${dir} -c fsync=off`, "start"]);
    if (start.status !== 0) throw new Error(`PostgreSQL did not start: ${start.stderr}\n${readFileSync(join(dir, "postgres.log"), "utf8").slice(-2000)}`);
    let databases = 0;
    const stop = () => {
      asPostgres(pgCtl, ["-D", data, "-m", "immediate", "-w", "-t", "30", "stop"]);
      rmSync(dir, { recursive: true, force: true });
    };
    process.once("exit", stop);
    return {
      port,
      query(database, sql) {
        const answer = spawnSync(join(POSTGRES_BIN, "psql"), ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", database, "-tAc", sql], { encoding: "utf8", timeout: 30_000 });
        if (answer.status !== 0) throw new Error(`${sql}: ${answer.stderr}`);
        return answer.stdout.trim();
      },
      createDatabase() {
        const name = `synapse_${process.pid}_${++databases}`;
        const made = spawnSync(join(POSTGRES_BIN, "psql"), ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-c", `CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`], { encoding: "utf8", timeout: 60_000 });
        if (made.status !== 0) throw new Error(`creating ${name}: ${made.stderr}`);
        return name;
      },
      stop() {
        process.removeListener("exit", stop);
        stop();
      },
    };
  })();
  return cluster;
}

/** Stops this process's PostgreSQL; the next Synapse starts a new one. */
export async function stopPostgres(): Promise<void> {
  const current = cluster;
  cluster = undefined;
  if (current) (await current.catch(() => undefined))?.stop();
}

export interface SynapseOptions {
  /** The association whose homeserver.yaml is rendered; the example by default. */
  config?: Association;
  /**
   * Settings changed for the test only, each with its reason at the call site (e.g. login
   * rate limits that a test logging in many times from one address would hit). A function
   * gets the rendered document and the server's loopback URL (e.g. for public_baseurl).
   */
  overrides?: Record<string, unknown> | ((rendered: Record<string, any>, url: string) => Record<string, unknown>);
  /**
   * Wait for the new database's background updates to finish. Until they have, some admin
   * calls fail: re-activating an account answers 500 (Synapse 1.163.2 upserts into
   * `profiles` before the background update has made the unique index ON CONFLICT needs).
   */
  settled?: boolean;
}

export interface RealSynapse {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  serverName: string;
  registrationSharedSecret: string;
  /** The homeserver.yaml Synapse runs, as an object (secrets included: test values). */
  homeserver: Record<string, any>;
  mediaStore: string;
  /** Synapse's log, for failure messages. */
  log(): string;
  /** Registers a user with shared-secret registration; returns its access token. */
  register(localpart: string, password: string, options?: { admin?: boolean; deviceId?: string }): Promise<{ userId: string; accessToken: string }>;
  /** Logs in with a password; returns the access token. */
  login(localpart: string, password: string, deviceId?: string): Promise<string>;
  /** A client-API call as `token`; answers are JSON. */
  call(token: string | undefined, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  stop(): Promise<void>;
}

/** Test-only values for the secrets the stack would generate (never real ones). */
function testSecrets(): Record<keyof typeof MATRIX_SECRETS, string> {
  const value = () => randomBytes(24).toString("base64url");
  return { registrationSharedSecret: value(), macaroonSecretKey: value(), formSecret: value(), databasePassword: value(), oidcClient: value() };
}

/** Bastide's rendered homeserver.yaml with only the loopback's listeners, database, paths and logging changed. */
export function loopbackHomeserver(rendered: string, place: { port: number; database: string; postgresPort: number; dir: string }): Record<string, any> {
  const homeserver = parse(rendered, { version: "1.1" }) as Record<string, any>;
  const [listener] = homeserver.listeners;
  return {
    ...homeserver,
    listeners: [{ ...listener, port: place.port, bind_addresses: ["127.0.0.1"], x_forwarded: false }],
    database: { ...homeserver.database, args: { ...homeserver.database.args, user: "postgres", password: "", host: "127.0.0.1", port: place.postgresPort, dbname: place.database, cp_min: 1, cp_max: 5 } },
    log_config: join(place.dir, "log.config"),
    media_store_path: join(place.dir, "media_store"),
    signing_key_path: join(place.dir, "signing.key"),
    pid_file: join(place.dir, "homeserver.pid"),
  };
}

const LOG_CONFIG = (file: string) => `version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s'
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: ${JSON.stringify(file)}
root:
  level: WARNING
  handlers: [file]
loggers:
  synapse.access.http:
    level: WARNING
disable_existing_loggers: false
`;

/** Starts a real Synapse on 127.0.0.1 with Bastide's homeserver.yaml; resolves once /health answers. */
export async function startSynapse(options: SynapseOptions = {}): Promise<RealSynapse> {
  const python = synapsePython();
  const config = options.config ?? exampleAssociation();
  const pg = await postgresCluster();
  const dir = mkdtempSync(join(tmpdir(), "bastide-synapse-"));
  const logFile = join(dir, "homeserver.log");
  const secrets = testSecrets();
  const port = await freePort();
  const database = pg.createDatabase();
  const url = `http://127.0.0.1:${port}`;
  const loopback = loopbackHomeserver(homeserverYaml(config, hostnames(config), secrets), { port, database, postgresPort: pg.port, dir });
  const homeserver = { ...loopback, ...(typeof options.overrides === "function" ? options.overrides(loopback, url) : options.overrides) };
  const configFile = join(dir, "homeserver.yaml");
  writeFileSync(configFile, stringify(homeserver, { version: "1.1" }), { mode: 0o600 });
  writeFileSync(homeserver.log_config, LOG_CONFIG(logFile));
  mkdirSync(homeserver.media_store_path);
  // Synapse's own tool for the key (synapse/_scripts/generate_signing_key.py).
  const key = spawnSync(python, ["-m", "synapse._scripts.generate_signing_key", "-o", homeserver.signing_key_path], { encoding: "utf8", timeout: 60_000 });
  if (key.status !== 0) throw new Error(`generate_signing_key failed: ${key.stderr}`);

  // Synapse adds `git describe` of the folder it is installed in to its version; the
  // virtualenv sits inside this repository, whose branch is no business of the server's.
  const env = { ...process.env, GIT_DIR: join(dir, "no-git") };
  const child: ChildProcess = spawn(python, ["-m", "synapse.app.homeserver", "-c", configFile], { stdio: ["ignore", "pipe", "pipe"], cwd: dir, env });
  let printed = "";
  child.stdout?.on("data", (d) => (printed += d));
  child.stderr?.on("data", (d) => (printed += d));
  let exited: number | null | undefined;
  // A test process that dies without stop() must not leave Synapse running.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  child.once("exit", (code) => {
    exited = code;
    process.removeListener("exit", killOnExit);
  });
  const log = () => `${printed}\n${existsSync(logFile) ? readFileSync(logFile, "utf8") : ""}`.slice(-6000);
  const stop = async () => {
    if (exited === undefined) {
      child.kill("SIGTERM");
      for (let i = 0; i < 100 && exited === undefined; i++) await sleep(100);
      if (exited === undefined) child.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(`Synapse on ${url}`, async () => {
      if (exited !== undefined) throw new Error(`Synapse exited (${exited}) before answering:\n${log()}`);
      const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
      return health.ok;
    }, { timeoutMs: START_TIMEOUT_MS, intervalMs: 250 });
  } catch (error) {
    await stop();
    throw new Error(`Synapse ${SYNAPSE_VERSION} did not start with Bastide's homeserver.yaml: ${(error as Error).message}\n${log()}`);
  }

  if (options.settled)
    await waitUntil("Synapse's background updates", () => pg.query(database, "SELECT count(*) FROM background_updates") === "0", { timeoutMs: 180_000, intervalMs: 1_000 }).catch(async (error) => {
      await stop();
      throw error;
    });

  const call = async (token: string | undefined, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "Content-Type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, json };
  };
  const serverName = String(homeserver.server_name);
  return {
    url,
    serverName,
    registrationSharedSecret: secrets.registrationSharedSecret,
    homeserver,
    mediaStore: homeserver.media_store_path,
    log,
    call,
    async register(localpart, password, { admin = false, deviceId } = {}) {
      const { json: nonce } = await call(undefined, "GET", "/_synapse/admin/v1/register");
      const mac = registrationMac(secrets.registrationSharedSecret, nonce.nonce, localpart, password, admin);
      const answer = await call(undefined, "POST", "/_synapse/admin/v1/register", { nonce: nonce.nonce, username: localpart, password, admin, mac, ...(deviceId ? { device_id: deviceId } : {}) });
      if (answer.status !== 200) throw new Error(`registering ${localpart}: HTTP ${answer.status} ${JSON.stringify(answer.json)}`);
      return { userId: answer.json.user_id, accessToken: answer.json.access_token };
    },
    async login(localpart, password, deviceId) {
      const answer = await call(undefined, "POST", "/_matrix/client/v3/login", { type: "m.login.password", identifier: { type: "m.id.user", user: localpart }, password, ...(deviceId ? { device_id: deviceId } : {}) });
      if (answer.status !== 200) throw new Error(`logging in ${localpart}: HTTP ${answer.status} ${JSON.stringify(answer.json)}`);
      return answer.json.access_token as string;
    },
    stop,
  };
}
