// Real Prosody servers for tests, on 127.0.0.1 only: Debian's prosody started on this machine
// (as the prosody user, DESIGN.md's recipe), or the same Prosody in a container of the test
// Docker engine (docker.ts), named like Bastide's. Plus a minimal XMPP client that signs in,
// to prove a password works and to watch the server close a session.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type Docker from "dockerode";
import { dockerProsody, JITSI_IMAGE_PROSODY_CONFIG, localProsody, type ProsodyCommands } from "../../provisioners/jitsi/commands.ts";
import { ensureImportedImage, freePort, removeContainer, waitUntil } from "./docker.ts";
import { requireProgram } from "./programs.ts";

export const ROOTFS_SCRIPT = new URL("../../scripts/test-images/prosody-rootfs.sh", import.meta.url).pathname;

/**
 * What a test adds to the base config: `global` goes in the global section (plugin_paths,
 * extra global modules), `hosts` after the main host (more hosts and components).
 */
export interface ProsodyConfigExtras {
  global?: string;
  hosts?: string;
  /** Global modules on top of the base ones. */
  modules?: string[];
}

/** A Prosody config for tests: one host, c2s on 127.0.0.1:`port`, the admin shell, nothing else. */
export function testProsodyConfig(options: { dataDir: string; certsDir: string; port: number; domain: string; logFile?: string } & ProsodyConfigExtras): string {
  const { dataDir, certsDir, port, domain, logFile, global = "", hosts = "", modules = [] } = options;
  return `-- A Prosody for Bastide's tests.
data_path = ${JSON.stringify(dataDir)}
pidfile = ${JSON.stringify(join(dataDir, "prosody.pid"))}
certificates = ${JSON.stringify(certsDir)}
interfaces = { "127.0.0.1" }
c2s_ports = { ${port} }
c2s_direct_tls_ports = { }
legacy_ssl_ports = { }
modules_enabled = { ${["saslauth", "roster", "disco", "admin_shell", ...modules].map((m) => JSON.stringify(m)).join("; ")} }
modules_disabled = { "s2s" }
log = { { levels = { min = "info" }, to = ${logFile ? `"file", filename = ${JSON.stringify(logFile)}` : `"console"`} } }
-- No TLS on the loopback: tests sign in with PLAIN over plain TCP.
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
${global}
VirtualHost ${JSON.stringify(domain)}
${hosts}`;
}

const prosodyIds = () => {
  const uid = Number(spawnSync("id", ["-u", "prosody"], { encoding: "utf8" }).stdout.trim());
  const gid = Number(spawnSync("id", ["-g", "prosody"], { encoding: "utf8" }).stdout.trim());
  if (!uid || !gid) throw new Error("no prosody user on this machine: apt-get install prosody (CI's .ci/run does)");
  return { uid, gid };
};

export interface LocalProsody {
  configFile: string;
  dataDir: string;
  port: number;
  domain: string;
  /** prosodyctl for this server, as the prosody user. */
  commands: ProsodyCommands;
  /** Prosody's own log, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** Starts Debian's Prosody on this machine with a fresh data folder. */
export async function startLocalProsody(domain: string, extras: ProsodyConfigExtras = {}): Promise<LocalProsody> {
  requireProgram("prosody", "prosody");
  requireProgram("prosodyctl", "prosody");
  requireProgram("runuser", "util-linux");
  const { uid, gid } = prosodyIds();
  const dir = mkdtempSync(join(tmpdir(), "bastide-prosody-"));
  chmodSync(dir, 0o755);
  const dataDir = join(dir, "data");
  const certsDir = join(dir, "certs");
  mkdirSync(dataDir, { mode: 0o750 });
  mkdirSync(certsDir);
  chownSync(dataDir, uid, gid);
  const logFile = join(dataDir, "prosody.log");
  const port = await freePort();
  const configFile = join(dir, "prosody.cfg.lua");
  writeFileSync(configFile, testProsodyConfig({ dataDir, certsDir, port, domain, logFile, ...extras }), { mode: 0o644 });

  const output = openSync(join(dir, "prosody.out"), "a");
  const child: ChildProcess = spawn("runuser", ["-u", "prosody", "--", "prosody", "--config", configFile], { stdio: ["ignore", output, output] });
  closeSync(output);
  let exited: string | undefined;
  child.on("exit", (code, signal) => (exited = `exited (${signal ?? code})`));
  const log = () => [readSafe(join(dir, "prosody.out")), readSafe(logFile)].join("\n").trim();

  const stop = async () => {
    const pid = Number(readSafe(join(dataDir, "prosody.pid")));
    // The server itself (runuser's child), then runuser; both started here.
    for (const target of [pid, child.pid]) {
      if (!target || exited) continue;
      try {
        process.kill(target, "SIGTERM");
      } catch {
        // gone already
      }
    }
    await waitUntil("prosody to stop", () => exited !== undefined, { timeoutMs: 15_000 }).catch(() => child.kill("SIGKILL"));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitUntil(
      `prosody on 127.0.0.1:${port}`,
      async () => {
        if (exited) throw new Error(`prosody ${exited}:\n${log()}`);
        return existsSync(join(dataDir, "prosody.sock")) && (await tcpAnswers(port));
      },
      { timeoutMs: 30_000 },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { configFile, dataDir, port, domain, commands: localProsody({ configFile, user: "prosody" }), log, stop };
}

function readSafe(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

function tcpAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.setTimeout(1_000);
    socket.on("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
    socket.on("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

// --- Prosody in a container ---------------------------------------------------------------

/** What the test image is built from: the host's Prosody and the build script. */
export function prosodyImageReference(): string {
  const version = spawnSync("dpkg-query", ["-W", "-f=${Version}", "prosody"], { encoding: "utf8" });
  if (version.status !== 0) throw new Error("prosody is not installed: apt-get install prosody (CI's .ci/run does)");
  const script = createHash("sha256").update(readFileSync(ROOTFS_SCRIPT)).digest("hex").slice(0, 12);
  return `bastide-test/prosody:${version.stdout.trim().replace(/[^A-Za-z0-9_.-]/g, "_")}-${script}`;
}

/** The test image with Debian's Prosody, built from this machine's packages once and cached in the engine. */
export async function prosodyTestImage(docker: Docker): Promise<{ reference: string; outcome: "cached" | "built" }> {
  requireProgram("prosody", "prosody");
  const reference = prosodyImageReference();
  const outcome = await ensureImportedImage(
    docker,
    reference,
    (tarFile) => {
      const built = spawnSync("bash", [ROOTFS_SCRIPT, tarFile], { encoding: "utf8", timeout: 10 * 60_000 });
      if (built.status !== 0) throw new Error(`${ROOTFS_SCRIPT} failed (${built.status ?? built.signal}):\n${built.stderr}`);
    },
    // Like docker-jitsi-meet's image, Prosody and exec'd commands run as an unprivileged user.
    ["USER prosody", "WORKDIR /var/lib/prosody"],
  );
  return { reference, outcome };
}

export interface ProsodyContainer {
  name: string;
  port: number;
  domain: string;
  /** The config file's path inside the container. */
  configFile: string;
  commands: ProsodyCommands;
  logs(): Promise<string>;
  stop(): Promise<void>;
}

/** Where docker-jitsi-meet's image keeps its config, so dockerProsody's default finds this one too. */
const CONTAINER_CONFIG_DIR = dirname(JITSI_IMAGE_PROSODY_CONFIG);

/** Runs the test image as `name`, on the host network, Prosody listening on 127.0.0.1 only. */
export async function startProsodyContainer(docker: Docker, options: { name: string; image: string; domain: string }): Promise<ProsodyContainer> {
  const { name, image, domain } = options;
  await removeContainer(docker, name);
  const dir = mkdtempSync(join(tmpdir(), "bastide-prosody-container-"));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const configFile = JITSI_IMAGE_PROSODY_CONFIG;
  writeFileSync(join(dir, "prosody.cfg.lua"), testProsodyConfig({ dataDir: "/var/lib/prosody", certsDir: CONTAINER_CONFIG_DIR, port, domain }), { mode: 0o644 });

  const container = await docker.createContainer({
    name,
    Image: image,
    Cmd: ["prosody", "--config", configFile],
    HostConfig: { NetworkMode: "host", Binds: [`${dir}:${CONTAINER_CONFIG_DIR}:ro`] },
  });
  const logs = async () => {
    const buffer = (await container.logs({ stdout: true, stderr: true, tail: 40 })) as unknown as Buffer;
    return buffer.toString("utf8");
  };
  const stop = async () => {
    await removeContainer(docker, name);
    rmSync(dir, { recursive: true, force: true });
  };
  const commands = dockerProsody({ docker, container: name, configFile, timeoutMs: 30_000 });
  try {
    await container.start();
    await waitUntil(
      `prosody in container ${name} on 127.0.0.1:${port}`,
      async () => {
        const state = (await container.inspect()).State;
        if (!state.Running) throw new Error(`container ${name} stopped (exit ${state.ExitCode}):\n${await logs()}`);
        return (await tcpAnswers(port)) && (await commands.prosodyctl(["shell", "server", "version"])).exitCode === 0;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { name, port, domain, configFile, commands, logs, stop };
}

// --- A minimal XMPP client ----------------------------------------------------------------

export interface XmppSession {
  /** Resolves with what the server sent last once it closes the connection. */
  closed: Promise<string>;
  close(): void;
  /** The full JID the server bound to this session. */
  jid: string;
  send(xml: string): void;
  /** Waits (bounded) until what the server sent matches `pattern`; returns all it sent since the last wait. */
  receive(what: string, pattern: RegExp): Promise<string>;
}

const STREAM_OPEN = (domain: string) =>
  `<?xml version='1.0'?><stream:stream to='${domain}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`;

/**
 * Signs in with SASL PLAIN (or ANONYMOUS, without a user name) and, on success, binds a
 * resource, which makes a session the server lists for that user. Every step is bounded
 * by `timeoutMs`.
 */
export async function signIn(options: { port: number; domain: string; username?: string; password?: string; timeoutMs?: number }): Promise<
  { ok: true; session: XmppSession } | { ok: false; reply: string }
> {
  const { port, domain, username, password, timeoutMs = 10_000 } = options;
  const socket: Socket = connect(port, "127.0.0.1");
  let buffer = "";
  let ended = false;
  const closedWaiters: ((text: string) => void)[] = [];
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => (buffer += chunk));
  socket.on("error", () => {});
  socket.on("close", () => {
    ended = true;
    for (const waiter of closedWaiters) waiter(buffer);
  });
  const closed = new Promise<string>((resolve) => (ended ? resolve(buffer) : closedWaiters.push(resolve)));
  const until = async (what: string, pattern: RegExp) => {
    await waitUntil(`the XMPP server to send ${what}`, () => {
      if (pattern.test(buffer)) return true;
      if (ended) throw new Error(`connection closed before ${what}: ${buffer}`);
      return false;
    }, { timeoutMs, intervalMs: 20 });
    const text = buffer;
    buffer = "";
    return text;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    socket.write(STREAM_OPEN(domain));
    await until("its stream features", /<\/stream:features>/);
    socket.write(
      username === undefined
        ? `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/>`
        : `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${username}\0${password}`).toString("base64")}</auth>`,
    );
    const reply = await until("the outcome of signing in", /<success|<failure[\s\S]*<\/failure>/);
    if (!reply.includes("<success")) {
      socket.destroy();
      return { ok: false, reply };
    }
    socket.write(STREAM_OPEN(domain));
    await until("the features after signing in", /<\/stream:features>/);
    socket.write(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>test</resource></bind></iq>`);
    const bound = await until("the bound resource", /id=['"]bind1['"][\s\S]*<\/iq>/);
    const jid = bound.match(/<jid>([^<]+)<\/jid>/)?.[1] ?? "";
    const session: XmppSession = { closed, close: () => socket.destroy(), jid, send: (xml) => socket.write(xml), receive: until };
    return { ok: true, session };
  } catch (error) {
    socket.destroy();
    throw error;
  }
}
