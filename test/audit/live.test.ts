// The live audit against running things: a real Docker engine (test/support/docker.ts)
// with one container per container Bastide declares, labelled, limited and hardened as
// stacks/platform/component.ts does and holding the files the real blueprints render
// (fake secrets); Prosody for Jitsi's accounts; the Nextcloud and Synapse fakes,
// provisioned by Bastide's own provisioners. Untouched, every rule passes and the CLI
// exits 0; one setting changed behind Bastide's back (through an API, in a file or occ,
// or in how a container was created) fails exactly the rule that reads it, and the CLI
// exits 1; a service that does not answer makes it exit 2, naming the service.
//
// What stands in for what cannot run here:
// - images: no registry can be reached, and a digest pin (caddy:…@sha256:…) can only be
//   satisfied by pulling from one. The containers run small images built from this
//   machine's busybox, php and Prosody, and the declared images are those (Hooks.declared);
//   test/audit/rules.test.ts checks the digest matching itself.
// - occ: Nextcloud cannot be installed here. The app container runs the shared fake occ
//   (test/fakes/occ/occ) with this machine's PHP; its system config is what PHP reads from
//   the real rendered bastide.config.php merged over a config.php (as Nextcloud merges
//   *.config.php), and the Nextcloud settings provisioner's occ commands set the rest.
// - the fakes lack two answers a real server gives (Synapse's /register, and Nextcloud's
//   capabilities following the sharing settings); they are served here as Synapse's and
//   Nextcloud's code gives them (see injectRealAnswers).
import test from "ava";
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type Docker from "dockerode";
import { parseDocument } from "yaml";
import { loadAssociation } from "../../stacks/config/load.ts";
import { blueprints, PUBLIC_ADDRESS } from "../../stacks/services/catalog.ts";
import { containerName, type ContainerBlueprint } from "../../stacks/services/blueprint.ts";
import { LOG_ROTATION } from "../../stacks/platform/component.ts";
import { CONFIG_HOOK, NEXTCLOUD_ADMIN_USER, NEXTCLOUD_OCC, nextcloudOccSettings } from "../../stacks/services/nextcloud/blueprint.ts";
import { SERVER_CONF_PATH, SERVER_KEY_SECRET, serverPrivateKey } from "../../stacks/services/vpn/blueprint.ts";
import { desiredState } from "../../provisioners/desired.ts";
import { converge } from "../../provisioners/model.ts";
import { createNextcloudClient, nextcloudProvisioner } from "../../provisioners/nextcloud/index.ts";
import { createMatrixClient, matrixProvisioner } from "../../provisioners/matrix/index.ts";
import { dockerProsody, JITSI_IMAGE_PROSODY_CONFIG, jitsiProvisioner } from "../../provisioners/jitsi/index.ts";
import { createAccount } from "../../provisioners/jitsi/accounts.ts";
import { execInContainer } from "../../provisioners/runtime/docker.ts";
import { serverConfWithPeers, serverPeers } from "../../provisioners/vpn/server.ts";
import { runAudit, type AuditConnections } from "../../policies/audit/audit.ts";
import { main, type Hooks } from "../../policies/audit/cli.ts";
import { declaredState, type Declared } from "../../policies/audit/declared.ts";
import { convergeNextcloudSettings, desiredNextcloudSettings, dockerOcc } from "../../provisioners/nextcloud-settings/index.ts";
import { auditReportSchema, type AuditReport } from "../../policies/audit/model.ts";
import { printPdf } from "../../policies/reports/pdf.ts";
import { createFakeNextcloud, type FakeNextcloud } from "../fakes/nextcloud.ts";
import { createFakeSynapse, type FakeSynapse } from "../fakes/synapse.ts";
import type { FakeRequest } from "../fakes/fake-server.ts";
import { busyboxImage } from "../support/busybox-image.ts";
import { freePort, removeContainer, startDockerEngine, waitUntil, type DockerEngine } from "../support/docker.ts";
import { prosodyTestImage, testProsodyConfig } from "../support/prosody.ts";
import { requireProgram, run } from "../support/programs.ts";
import { DRILL_FILE, drillSchema, STATUS_FILE, statusSchema } from "../../stacks/backups/layout.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/**
 * The example with the identity provider off: this world has no Keycloak, and the identity
 * rules are audited against the real one in identity-live.test.ts. Everything else as written.
 */
const CONFIG_FILE = join(mkdtempSync(join(tmpdir(), "bastide-audit-config-")), "association.yaml");
const exampleDocument = parseDocument(readFileSync(join(ROOT, "examples/association.yaml"), "utf8"));
exampleDocument.setIn(["services", "identity", "enabled"], false);
// Backed up, as the audit asks (backups.configured); the job is a container of the test's own below.
exampleDocument.setIn(["backups"], { destination: { type: "disk", path: "/mnt/backup" } });
writeFileSync(CONFIG_FILE, String(exampleDocument));
const config = loadAssociation(CONFIG_FILE);
const TEST_LABEL = "bastide.audit-test";
/** Names of their own: other tests' containers (e.g. the Jitsi provisioner's) never collide. */
const testName = (service: string, name: string) => `bastide-audit-${service}-${name}`;
/** The backup job's stand-in: a busybox container holding a fresh status and drill record. */
const BACKUP_JOB = testName("backups", "job");
const NC_PASSWORD = "fakeNextcloudAdminPassword0001";
const MATRIX_SECRET = "fakeRegistrationSharedSecret0001";
const MIB = 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Files into containers: a tar the engine unpacks, as `docker cp` (and Pulumi's uploads) do

interface TarEntry {
  path: string;
  content?: string;
  mode: number;
  uid?: number;
  gid?: number;
  dir?: boolean;
}

function tar(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(entry.content ?? "", "utf8");
    const header = Buffer.alloc(512);
    const name = entry.path.replace(/^\//, "") + (entry.dir ? "/" : "");
    if (name.length > 99) throw new Error(`tar: ${name} is too long for this writer`);
    const octal = (n: number, width: number) => `${n.toString(8).padStart(width - 1, "0")}\0`;
    header.write(name, 0, "utf8");
    header.write(octal(entry.mode, 8), 100);
    header.write(octal(entry.uid ?? 0, 8), 108);
    header.write(octal(entry.gid ?? 0, 8), 116);
    header.write(octal(entry.dir ? 0 : body.length, 12), 124);
    header.write(octal(Math.floor(Date.now() / 1000), 12), 136);
    header.write("        ", 148);
    header.write(entry.dir ? "5" : "0", 156);
    header.write("ustar\0", 257);
    header.write("00", 263);
    const sum = [...header].reduce((a, b) => a + b, 0);
    header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
    blocks.push(header);
    if (!entry.dir) {
      blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

async function putFiles(container: Docker.Container, entries: TarEntry[]): Promise<void> {
  if (entries.length > 0) await container.putArchive(tar(entries), { path: "/" });
}

// ---------------------------------------------------------------------------------------
// occ: the shared fake (test/fakes/occ/occ), its system config seeded by PHP from the files
// Bastide renders, merged the way Nextcloud merges config.php with every *.config.php

const FAKE_OCC = readFileSync(new URL("../fakes/occ/occ", import.meta.url), "utf8");

/** Run as www-data in /var/www/html: writes the fake's state; the rest of it comes on stdin. */
const SEED_OCC_STATE = String.raw`$config = [];
foreach (array_merge(['config/config.php'], glob('config/*.config.php')) as $file) { $CONFIG = []; include $file; $config = array_merge($config, $CONFIG); }
$state = json_decode(stream_get_contents(STDIN), true);
$state['system'] = $config;
file_put_contents('config/fake-occ.json', json_encode($state));`;

/** What the image ships, as the Nextcloud settings provisioner's tests describe a fresh 32. */
const OCC_INSTANCE = {
  app: {},
  apps: {
    files: { version: "2.4.0", shipped: true, enabled: true },
    systemtags: { version: "1.22.0", shipped: true, enabled: true },
    twofactor_totp: { version: "14.0.0", shipped: true, enabled: false },
  },
  appstore: { files_retention: "3.0.0", user_oidc: "8.10.1" },
  users: [NEXTCLOUD_ADMIN_USER],
  groups: { admin: [NEXTCLOUD_ADMIN_USER] },
};

// ---------------------------------------------------------------------------------------
// The world the audit reads

interface World {
  engine: DockerEngine;
  nextcloud: FakeNextcloud;
  synapse: FakeSynapse;
  /** What the test containers run, by Bastide's container name. */
  images: Record<string, string>;
  declared: Declared;
  prosodyDir: string;
  /** Serves the capabilities as a Nextcloud with Bastide's sharing settings does, or with one changed. */
  capabilities: { passwordEnforced: boolean };
}

let world: World | undefined;
/** Output folders of the CLI runs, removed at the end. */
const outputs: string[] = [];
const outDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "bastide-audit-out-"));
  outputs.push(dir);
  return dir;
};
const fakeSecret = (name: string) => `fake${name.replace(/[^a-z0-9]/gi, "")}0123456789abcdefABCDEF`;
const fakeSecrets = () => new Proxy({}, { get: (_t, name) => fakeSecret(String(name)) }) as Record<string, string>;

const specs = () =>
  blueprints(config).flatMap((b) => b.containers.map((c) => ({ service: b.service, spec: c, files: b.files(fakeSecrets()).filter((f) => f.container === c.name) })));

/** The files of a container as Bastide uploads them, plus what the provisioning writes (the VPN's peers). */
function uploads(service: string, spec: ContainerBlueprint, files: ReturnType<typeof specs>[number]["files"]): TarEntry[] {
  const entries: TarEntry[] = files.map((f) => ({ path: f.path, content: f.content.split(PUBLIC_ADDRESS).join("127.0.0.1"), mode: parseInt(f.mode ?? "0644", 8) }));
  if (service === "vpn") {
    const seeds = Object.fromEntries(desiredState(config).vpn!.peers.map((p) => [p.id, fakeSecret(`peer-${p.id}`)]));
    const peers = serverPeers({ ...desiredState(config) }, { subnet: config.services.vpn.subnet, seeds, previous: {} });
    const conf = serverConfWithPeers({ subnet: config.services.vpn.subnet, port: config.services.vpn.port, privateKey: serverPrivateKey(fakeSecret(SERVER_KEY_SECRET)), peers });
    return entries.map((e) => (e.path === SERVER_CONF_PATH ? { ...e, content: conf } : e));
  }
  if (service === "nextcloud" && spec.name === NEXTCLOUD_OCC.container) {
    const html = NEXTCLOUD_OCC.workingDir;
    return [
      ...entries,
      { path: `${html}/occ`, content: FAKE_OCC, mode: 0o644 },
      { path: `${html}/config`, mode: 0o770, uid: 33, gid: 33, dir: true },
      { path: `${html}/config/config.php`, content: "<?php\n$CONFIG = array (\n  'instanceid' => 'ocaudittest',\n  'installed' => true,\n);\n", mode: 0o640, uid: 33, gid: 33 },
    ];
  }
  return entries;
}

/** Creates and starts one container as component.ts would; `options` changes one thing. */
async function startContainer(
  w: Pick<World, "engine" | "images" | "prosodyDir">,
  service: string,
  spec: ContainerBlueprint,
  files: ReturnType<typeof specs>[number]["files"],
  options: { logRotation?: boolean } = {},
): Promise<Docker.Container> {
  const name = testName(service, spec.name);
  await removeContainer(w.engine.docker, name);
  const memory = spec.memoryMb[config.profile] * MIB;
  const env = [
    ...Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v.split(PUBLIC_ADDRESS).join("127.0.0.1")}`),
    ...Object.entries(spec.secretEnv ?? {}).map(([k, secret]) => `${k}=${fakeSecret(secret)}`),
  ];
  const isProsody = service === "jitsi" && spec.name === "prosody";
  const container = await w.engine.docker.createContainer({
    name,
    Image: w.images[containerName(service as never, spec.name)]!,
    Cmd: isProsody ? ["prosody", "--config", JITSI_IMAGE_PROSODY_CONFIG] : ["sleep", "86400"],
    Env: env,
    Labels: { "bastide.service": service, "bastide.container": spec.name, [TEST_LABEL]: "1" },
    HostConfig: {
      NetworkMode: "host",
      Memory: memory,
      MemorySwap: memory,
      Privileged: false,
      SecurityOpt: ["no-new-privileges:true"],
      CapAdd: spec.addCapabilities,
      LogConfig: options.logRotation === false ? { Type: "json-file", Config: {} } : { Type: "json-file", Config: { ...LOG_ROTATION } },
      Mounts: (spec.volumes ?? []).map((v) => ({ Type: "volume" as const, Source: `bastide-${service}-${v.volume}`, Target: v.path })),
      ...(isProsody ? { Binds: [`${w.prosodyDir}:${dirname(JITSI_IMAGE_PROSODY_CONFIG)}:ro`] } : {}),
    },
  });
  await putFiles(container, uploads(service, spec, files));
  await container.start();
  return container;
}

/** The backup job's records as a good night leaves them: a backup an hour old, a drill a week old. */
async function startBackupJob(docker: Docker, image: string): Promise<void> {
  await removeContainer(docker, BACKUP_JOB);
  const container = await docker.createContainer({ name: BACKUP_JOB, Image: image, Cmd: ["sleep", "86400"], Labels: { [TEST_LABEL]: "1" }, HostConfig: { NetworkMode: "host" } });
  const at = (hoursAgo: number) => new Date(Date.now() - hoursAgo * 3_600_000).toISOString();
  const run = { reason: "daily", startedAt: at(1.5), finishedAt: at(1), outcome: "ok", snapshot: "4f2a9c1e" };
  const drill = { version: 1, at: at(24 * 7), snapshot: "1b2c3d4e", snapshotTime: at(24 * 7 + 1), outcome: "ok", databases: [], volumes: [], seconds: 60, problems: [] };
  await putFiles(container, [
    { path: STATUS_FILE, content: JSON.stringify(statusSchema.parse({ version: 1, lastRun: run, lastSuccess: run })), mode: 0o600 },
    { path: DRILL_FILE, content: JSON.stringify(drillSchema.parse(drill)), mode: 0o600 },
  ]);
  await container.start();
}

/** The answers the fakes lack, as the real servers' code gives them. */
function injectRealAnswers(w: World, baseCapabilities: Record<string, any>): void {
  const isCapabilities = (r: FakeRequest) => r.method === "GET" && /^\/ocs\/v[12]\.php\/cloud\/capabilities$/.test(r.url.pathname);
  // Capabilities.php reports the sharing settings the provisioning sets with occ; the fake's
  // recording is of a default instance (no password, no expiry enforced).
  const answer = (passwordEnforced: boolean) => {
    const body = structuredClone(baseCapabilities);
    body.ocs.data.capabilities.files_sharing.public.password = { enforced: passwordEnforced, askForOptionalPassword: false };
    body.ocs.data.capabilities.files_sharing.public.expire_date = { enabled: true, days: config.services.nextcloud.shareLinks.expireAfterDays, enforced: true };
    return { status: 200, headers: { "Content-Type": "application/json; charset=utf-8" }, body: JSON.stringify(body) };
  };
  for (const enforced of [true, false])
    w.nextcloud.server.inject({ match: (r) => isCapabilities(r) && w.capabilities.passwordEnforced === enforced, times: Infinity, response: answer(enforced) });
  // synapse/rest/client/register.py with enable_registration and allow_guest_access false;
  // the fake answers /register with M_UNRECOGNIZED.
  const register = (r: FakeRequest, kind: string) => r.method === "POST" && r.url.pathname === "/_matrix/client/v3/register" && (r.url.searchParams.get("kind") ?? "user") === kind;
  const json = { "Content-Type": "application/json" };
  w.synapse.server.inject({ match: (r) => register(r, "user"), times: Infinity, response: { status: 403, headers: json, body: JSON.stringify({ errcode: "M_FORBIDDEN", error: "Registration has been disabled" }) } });
  w.synapse.server.inject({ match: (r) => register(r, "guest"), times: Infinity, response: { status: 403, headers: json, body: JSON.stringify({ errcode: "M_UNKNOWN", error: "Guest access is disabled" }) } });
}

function connections(w: World): AuditConnections {
  return {
    docker: { docker: w.engine.docker, labels: [`${TEST_LABEL}=1`] },
    nextcloud: { baseUrl: w.nextcloud.url, user: NEXTCLOUD_ADMIN_USER, password: NC_PASSWORD },
    matrix: { baseUrl: w.synapse.url, serverName: declaredState(config).matrix!.serverName, registrationSharedSecret: MATRIX_SECRET },
    http: { retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 } },
  };
}

/** The CLI's environment: every connection from variables, as an admin would give them. */
function cliEnv(w: World, overrides: Record<string, string> = {}): Record<string, string | undefined> {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DOCKER_HOST: `unix://${w.engine.socketPath}`,
    BASTIDE_AUDIT_LABELS: `${TEST_LABEL}=1`,
    BASTIDE_NEXTCLOUD_URL: w.nextcloud.url,
    BASTIDE_NEXTCLOUD_PASSWORD: NC_PASSWORD,
    BASTIDE_MATRIX_URL: w.synapse.url,
    BASTIDE_MATRIX_SHARED_SECRET: MATRIX_SECRET,
    ...overrides,
  };
}

const testImages = (w: World): Hooks => ({ declared: (d) => ({ ...d, backups: { ...d.backups!, container: BACKUP_JOB }, containers: d.containers.map((c) => ({ ...c, image: w.images[c.container] ?? c.image })) }) });

async function audit(w: World): Promise<AuditReport> {
  return runAudit({ config, connections: connections(w), declared: w.declared, language: "en", source: CONFIG_FILE });
}

const failing = (report: AuditReport) => report.checks.filter((c) => c.status !== "pass").map((c) => `${c.rule}${c.subject ? ` [${c.subject}]` : ""}: ${c.observed}`);

/** Runs the CLI in this process with the test images declared; its console output is returned. */
async function cli(w: World, args: string[], env = cliEnv(w)): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, env, { log: (t) => out.push(t), error: (t) => err.push(t) }, testImages(w));
  return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}

async function exec(w: World, service: string, name: string, cmd: string[], options: { user?: string; workingDir?: string; input?: string } = {}) {
  const result = await execInContainer(w.engine.docker, testName(service, name), cmd, { ...options, timeoutMs: 30_000 });
  if (result.exitCode !== 0) throw new Error(`${cmd.join(" ")} in ${testName(service, name)}: exit ${result.exitCode}: ${result.stderr}`);
  return result;
}

const occ = (w: World, args: string[]) => exec(w, "nextcloud", NEXTCLOUD_OCC.container, ["php", "occ", ...args], { user: NEXTCLOUD_OCC.user, workingDir: NEXTCLOUD_OCC.workingDir });

test.before(async () => {
  const started = Date.now();
  const engine = await startDockerEngine();
  const partial: Partial<World> = { engine };
  try {
    const docker = engine.docker;
    const base = await busyboxImage(docker, { php: false });
    const php = await busyboxImage(docker, { php: true });
    const prosody = (await prosodyTestImage(docker)).reference;
    const images: Record<string, string> = {};
    for (const { service, spec } of specs()) {
      const name = containerName(service, spec.name);
      images[name] = name === containerName("nextcloud", NEXTCLOUD_OCC.container) ? php : name === containerName("jitsi", "prosody") ? prosody : base;
    }
    partial.images = images;
    const declared = declaredState(config);
    partial.declared = { ...declared, backups: { ...declared.backups!, container: BACKUP_JOB }, containers: declared.containers.map((c) => ({ ...c, image: images[c.container]! })) };

    // Leftovers of a killed run go first: containers, then their volumes.
    for (const info of await docker.listContainers({ all: true, filters: { label: [TEST_LABEL] } })) await removeContainer(docker, info.Names[0]!.slice(1));
    for (const volume of new Set(declared.containers.flatMap((c) => c.volumes.map((v) => v.volume)))) await docker.getVolume(volume).remove().catch(() => undefined);

    // Prosody for Jitsi's accounts: the Jitsi image's config path, the secure domain, 127.0.0.1 only.
    const prosodyDir = mkdtempSync(join(tmpdir(), "bastide-audit-prosody-"));
    chmodSync(prosodyDir, 0o755);
    const port = await freePort();
    writeFileSync(join(prosodyDir, "prosody.cfg.lua"), testProsodyConfig({ dataDir: "/var/lib/prosody", certsDir: dirname(JITSI_IMAGE_PROSODY_CONFIG), port, domain: "meet.jitsi" }), { mode: 0o644 });
    partial.prosodyDir = prosodyDir;

    await Promise.all(specs().map(({ service, spec, files }) => startContainer(partial as World, service, spec, files)));
    await startBackupJob(docker, base);

    // What `pulumi up` and provisioning do next: the app container's hook, the occ settings, Jitsi's accounts.
    const w = partial as World;
    await exec(w, "nextcloud", NEXTCLOUD_OCC.container, ["sh", CONFIG_HOOK], { user: NEXTCLOUD_OCC.user });
    await exec(w, "nextcloud", NEXTCLOUD_OCC.container, ["php", "-r", SEED_OCC_STATE], { user: NEXTCLOUD_OCC.user, workingDir: NEXTCLOUD_OCC.workingDir, input: JSON.stringify(OCC_INSTANCE) });
    const prosodyCommands = dockerProsody({ docker, container: testName("jitsi", "prosody") });
    await waitUntil("Prosody in the test container", async () => (await prosodyCommands.prosodyctl(["shell", "server", "version"])).exitCode === 0, { timeoutMs: 30_000, intervalMs: 200 });
    const desired = desiredState(config);
    const jitsi = await converge(jitsiProvisioner, desired, { commands: prosodyCommands }, { concurrency: 2 });
    if (jitsi.failed.length > 0) throw new Error(`Jitsi provisioning failed: ${jitsi.failed.map((f) => f.error.message).join("; ")}`);

    // The fakes, provisioned by Bastide's provisioners: accounts, then the RGPD settings
    // (occ in the app container, the "temporaire" tag and its Retention rule).
    const nextcloud = await createFakeNextcloud({ users: { [NEXTCLOUD_ADMIN_USER]: NC_PASSWORD }, admins: [NEXTCLOUD_ADMIN_USER] });
    partial.nextcloud = nextcloud;
    const ncClient = createNextcloudClient({ baseUrl: nextcloud.url, user: NEXTCLOUD_ADMIN_USER, password: NC_PASSWORD });
    const ncRun = await converge(nextcloudProvisioner, desired, ncClient, { concurrency: 4 });
    if (ncRun.failed.length > 0) throw new Error(`Nextcloud provisioning failed: ${ncRun.failed.map((f) => f.error.message).join("; ")}`);
    const settings = await convergeNextcloudSettings(
      desiredNextcloudSettings(config)!,
      // user_oidc's client secret (NEXTCLOUD_SECRETS.oidcClient in the stack), a test value here.
      { occ: dockerOcc({ docker, container: testName("nextcloud", NEXTCLOUD_OCC.container) }), nextcloud: ncClient, oidcClientSecret: "audit-test-oidc-client-secret" },
      { concurrency: 2 },
    );
    if (settings.failed.length > 0) throw new Error(`Nextcloud settings failed: ${settings.failed.map((f) => f.error.message).join("; ")}`);

    const serverName = desired.matrix!.serverName;
    // Each audit logs in: more than rc_login.address's 5 a minute over this file.
    const synapse = await createFakeSynapse({ serverName, registrationSharedSecret: MATRIX_SECRET, loginsPerAddress: { perSecond: 1, burst: 100 } });
    partial.synapse = synapse;
    const matrixClient = createMatrixClient({ baseUrl: synapse.url, registrationSharedSecret: MATRIX_SECRET, serverName });
    try {
      const matrixRun = await converge(matrixProvisioner, desired, matrixClient, { concurrency: 4 });
      if (matrixRun.failed.length > 0) throw new Error(`Matrix provisioning failed: ${matrixRun.failed.map((f) => f.error.message).join("; ")}`);
    } finally {
      await matrixClient.close();
    }

    const capabilities = await fetch(`${nextcloud.url}/ocs/v1.php/cloud/capabilities?format=json`, { headers: { "OCS-APIRequest": "true" } });
    partial.capabilities = { passwordEnforced: true };
    injectRealAnswers(partial as World, (await capabilities.json()) as Record<string, any>);
    world = partial as World;
    console.log(`audit test world ready in ${Date.now() - started} ms`);
  } catch (error) {
    await teardown(partial);
    throw error;
  }
});

async function teardown(w: Partial<World>): Promise<void> {
  if (!w.engine) return;
  const docker = w.engine.docker;
  for (const info of await docker.listContainers({ all: true, filters: { label: [TEST_LABEL] } }).catch(() => [])) await removeContainer(docker, info.Names[0]!.slice(1));
  for (const volume of new Set(declaredState(config).containers.flatMap((c) => c.volumes.map((v) => v.volume)))) await docker.getVolume(volume).remove().catch(() => undefined);
  if (w.prosodyDir) rmSync(w.prosodyDir, { recursive: true, force: true });
  await w.nextcloud?.stop();
  await w.synapse?.server.stop();
  await w.engine.release();
}

test.after.always(async () => {
  for (const dir of outputs) rmSync(dir, { recursive: true, force: true });
  if (world) await teardown(world);
});

const ready = (): World => {
  if (!world) throw new Error("the test world did not start");
  return world;
};

// ---------------------------------------------------------------------------------------

test.serial("untouched, every rule passes, and the report holds no secret", async (t) => {
  const w = ready();
  const started = Date.now();
  const report = await audit(w);
  t.log(`audit read everything in ${Date.now() - started} ms`);
  t.deepEqual(failing(report), []);
  t.is(report.result, "pass");
  t.is(report.exitCode, 0);
  t.true(report.checks.length > 100, `${report.checks.length} checks`);
  t.deepEqual(report.unreachable, []);
  t.true(report.categories.every((c) => c.status === "pass"));
  // Real observations, not echoes of the declared values.
  const check = (rule: string, subject?: string) => report.checks.find((c) => c.rule === rule && (subject === undefined || c.subject === subject))!;
  t.is(check("container.memory", "bastide-polls-purge").observed, "32 MiB, no swap");
  t.is(check("container.privileges", "bastide-vpn-wireguard").observed, "not privileged, no-new-privileges, added capabilities: NET_ADMIN");
  t.is(check("jitsi.accounts").observed, "claire.dubois, karim.benali");
  t.is(check("nextcloud.trash-retention").observed, "trashbin_retention_obligation = auto, 30");
  t.is(check("nextcloud.admin-two-factor").observed, "enforced for group(s) _admins-2fa");
  // Synapse 1.163 answers an unknown path 404 (test/contracts/recordings/synapse-1.163/errors.json).
  t.is(check("matrix.federation").observed, "not served (HTTP 404 M_UNRECOGNIZED: Unrecognized request)");
  t.is(check("vpn.peers").observed, "claire.dubois laptop, karim.benali laptop, karim.benali phone");
  t.is(check("polls.purge-delay", "bastide-polls-purge:/var/www/html/app/inc/config.php").observed, "PURGE_DELAY = 60, default_poll_duration = 30");
  // The containers hold fake passwords in their environment and files: none reaches the report.
  const text = JSON.stringify(report);
  t.false(/fake[a-z0-9]*0123456789abcdef/i.test(text), "no secret in the report");
  t.false(text.includes(NC_PASSWORD) || text.includes(MATRIX_SECRET));
});

test.serial("npm run audit: the CLI prints the table, writes audit.json and audit.html, and exits 0", async (t) => {
  const w = ready();
  const out = outDir();
  // The real process, its exit code included: a small launcher calls main() with the test images.
  const launcher = join(out, "launch.mts");
  writeFileSync(
    launcher,
    `import { main } from ${JSON.stringify(join(ROOT, "policies/audit/cli.ts"))};
const images = JSON.parse(process.env.AUDIT_TEST_IMAGES);
main(process.argv.slice(2), process.env, console, { declared: (d) => ({ ...d, backups: { ...d.backups, container: ${JSON.stringify(BACKUP_JOB)} }, containers: d.containers.map((c) => ({ ...c, image: images[c.container] ?? c.image })) }) }).then((code) => process.exit(code));
`,
  );
  // Not spawnSync: the fakes answer from this process, which must keep running meanwhile.
  const result = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    execFile(
      process.execPath,
      ["--import", "tsx", launcher, CONFIG_FILE, "--out", out, "--no-pulumi"],
      { cwd: ROOT, encoding: "utf8", timeout: 90_000, env: { ...cliEnv(w), AUDIT_TEST_IMAGES: JSON.stringify(w.images) } as NodeJS.ProcessEnv },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") reject(error);
        else resolve({ status: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
  });
  t.is(result.status, 0, `${result.stdout.slice(-2000)}\n${result.stderr}`);
  t.regex(result.stdout, /^rule\s+service\s+declared\s+observed\s+result\s+read at$/m);
  t.regex(result.stdout, /^container\.log-rotation \[bastide-proxy-caddy\]\s+proxy\s+json-file, max-size=10m, max-file=3\s+json-file, max-size=10m, max-file=3\s+PASS\s+\d\d:\d\d:\d\d$/m);
  t.regex(result.stdout, /\d+ checks: \d+ passed, 0 failed, 0 unread/);
  const report = auditReportSchema.parse(JSON.parse(readFileSync(join(out, "audit.json"), "utf8")));
  t.is(report.language, "fr", "French by default: the organisation's language");
  t.is(report.result, "pass");
  const html = readFileSync(join(out, "audit.html"), "utf8");
  t.true(html.includes("Audit des réglages en vigueur") && html.includes("CONFORME"));
  // The DPO opens it in a browser: Chromium renders it, and the verdicts are in its text.
  requireProgram("chromium", "chromium");
  printPdf(join(out, "audit.html"), join(out, "audit.pdf"));
  const text = run(requireProgram("pdftotext", "poppler-utils"), ["-enc", "UTF-8", join(out, "audit.pdf"), "-"]).stdout.replace(/\s+/g, " ");
  t.true(text.includes("Audit des réglages en vigueur") && text.includes("Les Jardins Partagés du Canal") && text.includes("CONFORME"));
});

test.serial("HTTP reader: share links without a password, changed behind Bastide's back, fail that rule only", async (t) => {
  const w = ready();
  w.capabilities.passwordEnforced = false;
  try {
    const report = await audit(w);
    t.deepEqual(failing(report), ["nextcloud.share-link-password: password optional"]);
    const run = await cli(w, [CONFIG_FILE, "--out", outDir(), "--lang", "en"]);
    t.is(run.code, 1);
    t.regex(run.stdout, /^nextcloud\.share-link-password\s+nextcloud\s+password enforced\s+password optional\s+FAIL\s+\d\d:\d\d:\d\d$/m);
  } finally {
    w.capabilities.passwordEnforced = true;
  }
});

test.serial("HTTP reader: a room's retention changed in Synapse fails that room's rule only", async (t) => {
  const w = ready();
  const serverName = w.declared.matrix!.serverName;
  const roomId = w.synapse.roomIdFor(`#evenements:${serverName}`)!;
  const bot = `@bastide:${serverName}`;
  const before = w.synapse.stateContent(roomId, "m.room.retention")!;
  w.synapse.setState(roomId, bot, "m.room.retention", "", { max_lifetime: 10 * 365 * 86_400_000 });
  try {
    const report = await audit(w);
    t.deepEqual(failing(report), [`matrix.room-retention [#evenements:${serverName}]: {"max_lifetime":315360000000}`]);
    t.is((await cli(w, [CONFIG_FILE, "--out", outDir()])).code, 1);
  } finally {
    w.synapse.setState(roomId, bot, "m.room.retention", "", before);
  }
});

test.serial("exec reader: two-factor login switched off with occ fails that rule only", async (t) => {
  const w = ready();
  await occ(w, ["twofactorauth:enforce", "--off"]);
  try {
    const report = await audit(w);
    t.deepEqual(failing(report), ["nextcloud.admin-two-factor: not enforced"]);
    t.is((await cli(w, [CONFIG_FILE, "--out", outDir()])).code, 1);
  } finally {
    const enforce = nextcloudOccSettings(config).find((s) => s.command.includes("twofactorauth:enforce"))!;
    await occ(w, enforce.command.slice(2));
  }
});

test.serial("exec reader: access logs kept longer in the running Caddyfile fail that rule only", async (t) => {
  const w = ready();
  const path = w.declared.proxy.caddyfile.path;
  const hours = config.services.proxy.accessLog.retentionDays * 24;
  await exec(w, "proxy", "caddy", ["sed", "-i", `s/roll_keep_for ${hours}h/roll_keep_for 8760h/`, path]);
  try {
    const report = await audit(w);
    t.deepEqual(failing(report), [`proxy.access-log-retention [bastide-proxy-caddy:${path}]: file /data/access-logs/access.log: roll_size 10MiB, roll_keep_for 8760h`]);
    t.is((await cli(w, [CONFIG_FILE, "--out", outDir()])).code, 1);
  } finally {
    await exec(w, "proxy", "caddy", ["sed", "-i", `s/roll_keep_for 8760h/roll_keep_for ${hours}h/`, path]);
  }
});

test.serial("exec reader: a Prosody account for a volunteer fails the Jitsi accounts rule only", async (t) => {
  const w = ready();
  const commands = dockerProsody({ docker: w.engine.docker, container: testName("jitsi", "prosody") });
  await createAccount({ commands }, "lea.moreau", "meet.jitsi", "not-a-real-password-0001");
  try {
    const report = await audit(w);
    t.deepEqual(failing(report), ["jitsi.accounts [meet.jitsi]: claire.dubois, karim.benali, lea.moreau (not admin or staff: lea.moreau)"]);
  } finally {
    await commands.prosodyctl(["shell", "user", "delete", "lea.moreau@meet.jitsi"]);
  }
});

test.serial("Docker reader: a container recreated without log rotation fails that rule only, and the CLI exits 1", async (t) => {
  const w = ready();
  const purge = specs().find((s) => s.service === "polls" && s.spec.name === "purge")!;
  await startContainer(w, purge.service, purge.spec, purge.files, { logRotation: false });
  try {
    const report = await audit(w);
    t.deepEqual(failing(report), ["container.log-rotation [bastide-polls-purge]: json-file, max-size=not set, max-file=not set"]);
    const out = outDir();
    const run = await cli(w, [CONFIG_FILE, "--out", out]);
    t.is(run.code, 1);
    const json = auditReportSchema.parse(JSON.parse(readFileSync(join(out, "audit.json"), "utf8")));
    t.is(json.result, "fail");
    t.is(json.categories.find((c) => c.id === "polls.container-logs")!.status, "fail");
    t.true(readFileSync(join(out, "audit.html"), "utf8").includes("ÉCART"));
  } finally {
    await startContainer(w, purge.service, purge.spec, purge.files);
  }
});

test.serial("Docker reader: a container given more memory fails the memory rule only", async (t) => {
  const w = ready();
  const element = specs().find((s) => s.service === "matrix" && s.spec.name === "element")!;
  await w.engine.docker.getContainer(testName("matrix", "element")).update({ Memory: 256 * MIB, MemorySwap: 256 * MIB });
  try {
    const report = await audit(w);
    t.deepEqual(failing(report), ["container.memory [bastide-matrix-element]: 256 MiB, no swap"]);
  } finally {
    await startContainer(w, element.service, element.spec, element.files);
  }
});

test.serial("a service that does not answer makes the audit incomplete: exit 2, naming it", async (t) => {
  const w = ready();
  const closed = `http://127.0.0.1:${await freePort()}`;
  const run = await cli(w, [CONFIG_FILE, "--out", outDir(), "--lang", "en"], cliEnv(w, { BASTIDE_MATRIX_URL: closed }));
  t.is(run.code, 2);
  t.regex(run.stdout, /Could not be read:\n/);
  const escaped = closed.replace(/\./g, "\\.");
  t.regex(run.stdout, new RegExp(`^  matrix: Synapse API at ${escaped} \\(public endpoints\\): .*ECONNREFUSED`, "m"));
  t.regex(run.stdout, new RegExp(`^  matrix: Synapse admin and client API at ${escaped}, as Bastide's bot: .*ECONNREFUSED`, "m"));
  t.regex(run.stdout, /The audit is incomplete/);
  t.regex(run.stdout, /^matrix\.registration .* UNREAD/m);
  // Nothing else is affected: the other services were read and passed.
  t.regex(run.stdout, /0 failed/);

  const noPassword = await cli(w, [CONFIG_FILE, "--out", outDir(), "--no-pulumi"], cliEnv(w, { BASTIDE_NEXTCLOUD_PASSWORD: "" }));
  t.is(noPassword.code, 2);
  t.regex(noPassword.stdout, /nextcloud: Nextcloud API at \(no connection\): no credentials: set BASTIDE_NEXTCLOUD_PASSWORD/);
});
