// Every container of every blueprint, for both sizing profiles, held to the contract of
// its image (stacks/services/upstream/): the facts read in upstream's own sources at the
// pinned tag. Each check is proven able to fail by a mutated blueprint or contract below.
import test from "ava";
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import { PROFILES as PROFILE_SIZES, type Association } from "../../stacks/config/schema.ts";
import { blueprints } from "../../stacks/services/catalog.ts";
import type { ContainerBlueprint, Profile, RenderedFile, ServiceBlueprint } from "../../stacks/services/blueprint.ts";
import { containerName } from "../../stacks/services/blueprint.ts";
import type { ImageContract, PortFact, WritablePath } from "../../stacks/services/image-contract.ts";
import { BUILT_IMAGES, BACKUPS_BASE, FRAMADATE_BASE, IMAGES } from "../../stacks/services/images.ts";
import { backupJob } from "../../stacks/backups/job.ts";
import { CONTRACTS, type ContractKey } from "../../stacks/services/upstream/index.ts";
import { exampleAssociation } from "../support/association.ts";

const PROFILES: Profile[] = ["small", "standard"];
const REPOSITORY = fileURLToPath(new URL("../../", import.meta.url));

/** One container as deployed: its blueprint, the files uploaded into it, the proxy's routes to it. */
interface Deployed {
  service: ServiceBlueprint["service"];
  container: ContainerBlueprint;
  files: RenderedFile[];
  routedPorts: number[];
}

/** The value each generated secret takes in these tests. */
const placeholder = (secret: string) => `secret-${secret}`;

function deployed(config: Association): Deployed[] {
  const services = blueprints(config);
  const upstreams = services.flatMap((b) => b.routes.map((r) => r.upstream));
  return services.flatMap((b) => {
    const placeholders = Object.fromEntries(b.secrets.map((s) => [s.name, placeholder(s.name)]));
    const files = b.files(placeholders);
    return b.containers.map((container) => {
      const name = `${containerName(b.service, container.name)}:`;
      return {
        service: b.service,
        container,
        files: files.filter((f) => f.container === container.name),
        routedPorts: upstreams.filter((u) => u.startsWith(name)).map((u) => Number(u.slice(name.length))),
      };
    });
  });
}

/** The example at a profile, on a host of that profile's minimum size. */
const profileConfig = (profile: Profile) =>
  exampleAssociation((input) => {
    input.profile = profile;
    input.host.size = { ...PROFILE_SIZES[profile].minimum };
  });

// --- reading references, commands and files ----------------------------------------------

/** The repository of a reference, without tag or digest: which IMAGES entry a container runs. */
const repositoryOf = (reference: string) => reference.replace(/@sha256:[0-9a-f]{64}$/, "").replace(/:[^:/]+$/, "");

function contractKey(container: ContainerBlueprint): ContractKey {
  if (container.build) return container.build;
  const key = (Object.keys(IMAGES) as (keyof typeof IMAGES)[]).find((k) => repositoryOf(IMAGES[k]) === repositoryOf(container.image));
  if (!key) throw new Error(`${container.name}: ${container.image} is not an image of IMAGES`);
  return key;
}

const tagOf = (reference: string) => reference.replace(/@sha256:[0-9a-f]{64}$/, "").match(/:([^:/]+)$/)?.[1];
const digestOf = (reference: string) => reference.match(/@(sha256:[0-9a-f]{64})$/)?.[1];

/** The reference whose digest is pinned: the base for an image Bastide builds. */
const pulledReference = (container: ContainerBlueprint) => (container.build ? FRAMADATE_BASE : container.image);

/** The command line of a health check, as one string. */
function healthCommand(test: string[]): string {
  const [kind, ...rest] = test;
  return kind === "CMD" || kind === "CMD-SHELL" ? rest.join(" ") : test.join(" ");
}

const firstWord = (command: string) => command.trim().split(/\s+/)[0];

const URL_PATTERN = /https?:\/\/[^/\s:]+(?::([^/\s]+))?(\/\S*)?/;

/** bash's own HTTP probe, for images without an HTTP client: `HEAD /path HTTP/1.0` written to /dev/tcp/host/port. */
const DEV_TCP_PATTERN = /\b(?:GET|HEAD) (\/\S*) HTTP\/1\.[01]\b[\s\S]*\/dev\/tcp\/[^/\s]+\/(\d+)/;

function urlIn(command: string): { port: string; path: string } | undefined {
  const m = URL_PATTERN.exec(command);
  if (m) return { port: m[1] ?? "80", path: m[2] ?? "/" };
  const tcp = DEV_TCP_PATTERN.exec(command);
  return tcp ? { port: tcp[2]!, path: tcp[1]! } : undefined;
}

/** A `key = value` line of a rendered file (wg-quick and Redis style). */
function settingIn(file: RenderedFile | undefined, key: string): string | undefined {
  return file?.content.match(new RegExp(`^\\s*${key}\\s*=?\\s*(\\S+)\\s*$`, "m"))?.[1];
}

/** The ports the container listens on: upstream's, moved where upstream lets Bastide move them. */
function listeningPorts(contract: ImageContract, d: Deployed): PortFact[] {
  return contract.ports.value.map((fact) => {
    const by = fact.configuredBy;
    if (!by) return fact;
    const chosen =
      "env" in by ? d.container.env?.[by.env] : settingIn(d.files.find((f) => f.path === by.file), by.key);
    return chosen === undefined ? fact : { ...fact, port: Number(chosen) };
  });
}

const isUnder = (path: string, folder: string) => path === folder || path.startsWith(folder.endsWith("/") ? folder : `${folder}/`);

/** Where the image reads configuration, `$VAR` entries resolved from the container's env. */
function configPlaces(contract: ImageContract, container: ContainerBlueprint): string[] {
  return contract.configPaths.value.flatMap((place) => {
    if (!place.startsWith("$")) return [place];
    const named = container.env?.[place.slice(1)];
    return named ? [`${posix.dirname(named)}/`] : [];
  });
}

/**
 * Containers where Bastide keeps nothing in the image's data path, and the proof in their
 * uploaded files: Nextcloud's Redis is a cache whose redis.conf turns both kinds of
 * persistence off, so /data is never written.
 */
const DATA_NOT_KEPT: Partial<Record<ContractKey, (files: RenderedFile[]) => boolean>> = {
  redis: (files) => files.some((f) => /^save ""$/m.test(f.content) && /^appendonly no$/m.test(f.content)),
};

// --- the checks ----------------------------------------------------------------------------

type Check = (contract: ImageContract, d: Deployed, key: ContractKey) => string[];

const tagMatches: Check = (contract, { container }) => {
  const tag = tagOf(container.image);
  return tag === contract.tag ? [] : [`runs tag ${tag}, but the contract was read at ${contract.tag}`];
};

const digestIsVerified: Check = (contract, { container }) => {
  const reference = pulledReference(container);
  const pinned = digestOf(reference);
  if (pinned) {
    if (!contract.digest) return [`${reference} pins a digest that the contract cites no public record for`];
    return pinned === contract.digest.value ? [] : [`${reference} pins ${pinned}, the record cited says ${contract.digest.value}`];
  }
  if (contract.digest) return [`${reference} pins no digest, though the contract cites ${contract.digest.value}`];
  return contract.unverifiedDigest?.trim() ? [] : [`${reference} pins no digest and the contract does not say why`];
};

/** Upstream's tmpfs options, owned by the image's user where no-new-privileges keeps the image from handing it over. */
const expectedTmpfsOptions = (w: WritablePath) => {
  const owner = w.ownerUnderNoNewPrivileges;
  return [w.tmpfsOptions, owner && `uid=${owner.uid},gid=${owner.gid}`].filter(Boolean).join(",");
};

const tmpfsAsUpstream: Check = (contract, { container }) => {
  const wanted = contract.writablePaths.value.filter((w) => w.provide === "tmpfs");
  const mounted = container.tmpfs ?? [];
  return [
    ...wanted
      .filter((w) => !mounted.some((t) => t.path === w.path && t.options === expectedTmpfsOptions(w)))
      .map((w) => `needs a tmpfs at ${w.path} with "${expectedTmpfsOptions(w)}"`),
    ...mounted.filter((t) => !wanted.some((w) => w.path === t.path)).map((t) => `mounts a tmpfs at ${t.path}, which the image does not expect`),
  ];
};

const volumesCoverData: Check = (contract, { container, files }, key) => {
  const needed = [...contract.writablePaths.value.filter((w) => w.provide === "volume").map((w) => w.path), ...contract.dataPaths.value];
  const notKept = DATA_NOT_KEPT[key]?.(files) ?? false;
  return [...new Set(needed)]
    .filter((path) => !(container.volumes ?? []).some((v) => isUnder(path, v.path)))
    .filter(() => !notKept)
    .map((path) => `keeps data in ${path}, which no declared volume covers`);
};

const capabilitiesAllowed: Check = (contract, { container }) =>
  (container.addCapabilities ?? []).filter((c) => !contract.capabilities.value.includes(c)).map((c) => `adds capability ${c}, which the image does not need`);

const sysctlsSet: Check = (contract, { container }) =>
  Object.entries(contract.requiredSysctls?.value ?? {})
    .filter(([name, value]) => container.sysctls?.[name] !== value)
    .map(([name, value]) => `needs sysctl ${name}=${value}`);

const envRead: Check = (contract, { container }) => {
  const read = new Set([...contract.env.value, ...(contract.envReadByCommands?.value ?? [])]);
  return [...Object.keys(container.env ?? {}), ...Object.keys(container.secretEnv ?? {})]
    .filter((k) => !read.has(k))
    .map((k) => `sets ${k}, which the image does not read`);
};

/** The service component always starts containers with no-new-privileges. */
const noNewPrivileges: Check = (contract) =>
  contract.worksWithNoNewPrivileges.value ? [] : [`image ${contract.image} does not start under no-new-privileges, which every container gets`];

const uploadsInConfigPaths: Check = (contract, { container }) => {
  const places = configPlaces(contract, container);
  return (container.files ?? []).filter((path) => !places.some((place) => isUnder(path, place))).map((path) => `uploads ${path}, where the image reads no configuration`);
};

const healthDocumented: Check = (contract, d) => {
  const check = d.container.healthcheck;
  if (!check) return [];
  const expected = contract.healthByCommand?.value[d.container.command?.[0] ?? ""] ?? contract.health?.value;
  const actual = healthCommand(check.test);
  if (!expected) return [`checks health with "${actual}", but upstream documents no health check`];
  const expectedUrl = urlIn(expected);
  if (!expectedUrl) {
    return firstWord(actual) === firstWord(expected) ? [] : [`checks health with ${firstWord(actual)}, upstream's check is ${firstWord(expected)}`];
  }
  const url = urlIn(actual);
  if (!url) return [`checks health without a URL, upstream probes ${expectedUrl.path}`];
  const tcpPorts = listeningPorts(contract, d).filter((p) => p.protocol === "tcp").map((p) => String(p.port));
  return [
    ...(url.path === expectedUrl.path ? [] : [`probes ${url.path}, upstream's health endpoint is ${expectedUrl.path}`]),
    ...(tcpPorts.includes(url.port) ? [] : [`probes port ${url.port}, where the image does not listen (${tcpPorts.join(", ")})`]),
  ];
};

const userOverrideAllowed: Check = (contract, { container }) =>
  container.user === undefined || contract.allowsUserOverride?.value ? [] : [`runs as ${container.user}, which the image does not support`];

const portsListened: Check = (contract, d) => {
  const ports = listeningPorts(contract, d);
  const listens = (port: number, protocol: string) => ports.some((p) => p.port === port && p.protocol === protocol);
  return [
    ...(d.container.ports ?? []).filter((p) => !listens(p.port, p.protocol)).map((p) => `publishes ${p.port}/${p.protocol}, where the image does not listen`),
    ...d.routedPorts.filter((port) => !listens(port, "tcp")).map((port) => `the proxy sends traffic to port ${port}, where the image does not listen`),
  ];
};

const CHECKS = {
  tagMatches,
  digestIsVerified,
  tmpfsAsUpstream,
  volumesCoverData,
  capabilitiesAllowed,
  sysctlsSet,
  envRead,
  noNewPrivileges,
  uploadsInConfigPaths,
  healthDocumented,
  userOverrideAllowed,
  portsListened,
} satisfies Record<string, Check>;

function violations(d: Deployed, contracts: Partial<Record<ContractKey, ImageContract>> = CONTRACTS): string[] {
  const key = contractKey(d.container);
  const contract = contracts[key];
  if (!contract) return [];
  const where = `${d.service}/${d.container.name} (${key})`;
  return Object.values(CHECKS).flatMap((check) => check(contract, d, key).map((message) => `${where}: ${message}`));
}

// --- the contracts themselves --------------------------------------------------------------

test("every pinned image and every image Bastide builds has a contract", (t) => {
  const keys = [...Object.keys(IMAGES), ...Object.keys(BUILT_IMAGES)] as ContractKey[];
  const missing = keys.filter((k) => !CONTRACTS[k]);
  t.deepEqual(missing, [], `no contract in stacks/services/upstream/ for: ${missing.join(", ")}`);
});

test("each contract names its own image, and cites a digest record or says why there is none", (t) => {
  for (const [key, contract] of Object.entries(CONTRACTS)) {
    t.is(contract.image, key);
    t.true((contract.digest === undefined) !== (contract.unverifiedDigest === undefined), `${key}: exactly one of digest and unverifiedDigest`);
    if (contract.digest) t.regex(contract.digest.value, /^sha256:[0-9a-f]{64}$/, key);
  }
});

test("every fact of every contract cites a repository, a ref and a file", (t) => {
  for (const contract of Object.values(CONTRACTS)) {
    const facts = Object.entries(contract).filter(([, v]) => typeof v === "object" && v !== null && "source" in v);
    t.true(facts.length >= 9, `${contract.image}: ${facts.length} facts`);
    for (const [name, fact] of facts) {
      const { repo, ref, file } = fact.source;
      t.true(Boolean(repo && ref && file), `${contract.image}.${name}: ${JSON.stringify(fact.source)}`);
    }
  }
});

// --- every blueprint against its contracts ---------------------------------------------------

for (const profile of PROFILES) {
  test(`${profile} profile: every container keeps to its image's contract`, (t) => {
    const all = deployed(profileConfig(profile));
    const checked = all.filter((d) => CONTRACTS[contractKey(d.container)]);
    t.true(checked.length >= 9, `${checked.length} containers checked`);
    t.deepEqual(all.flatMap((d) => violations(d)), []);
  });
}

/** The example with backups to an S3 bucket and a mail relay with a login: the backup job's container runs the backups image, with every variable it can get. */
const withBackups = () =>
  exampleAssociation((input) => {
    input.backups = { destination: { type: "s3", endpoint: "s3.fr-par.scw.cloud", bucket: "asso-exemple-backups", country: "FR" } };
    input.mail = { host: "smtp.example.org", from: "ne-pas-repondre@example.org", username: "ne-pas-repondre@example.org" };
  });

test("the example runs each contracted image at least once, so no contract goes unchecked", (t) => {
  const used = new Set(deployed(profileConfig("small")).map((d) => contractKey(d.container)));
  if (backupJob(withBackups(), blueprints(withBackups()))) used.add("backups");
  t.deepEqual(Object.keys(CONTRACTS).filter((k) => !used.has(k as ContractKey)), []);
});

test("the backup job keeps to its image's contract: tag, base digest, the variables it sets and where it uploads", (t) => {
  const config = withBackups();
  const job = backupJob(config, blueprints(config))!;
  const contract = CONTRACTS.backups!;
  t.is(tagOf(job.image), contract.tag);
  t.is(repositoryOf(job.image), BUILT_IMAGES.backups.name);
  t.is(digestOf(BACKUPS_BASE), contract.digest!.value);
  const from = readFileSync(join(REPOSITORY, BUILT_IMAGES.backups.context, "Dockerfile"), "utf8").match(/^FROM (\S+)$/m)?.[1];
  t.is(from, BACKUPS_BASE, "docker/backups/Dockerfile builds FROM BACKUPS_BASE");
  const read = new Set(contract.env.value);
  t.deepEqual([...Object.keys(job.env), ...Object.keys(job.serviceSecretEnv), ...Object.keys(job.providedSecretEnv)].filter((k) => !read.has(k)), []);
  const uploads = job.files({ repositoryPassword: "secret", sshPrivateKey: "secret" }).map((f) => f.path);
  t.deepEqual(uploads.filter((path) => !contract.configPaths.value.some((place) => isUnder(path, place))), []);
  // The check can fail: a variable the image does not read is caught.
  t.false(read.has("BASTIDE_DB_PASSWORD_GHOST_DB"));
});

// --- facts checked by the program itself --------------------------------------------------------

test("WireGuard's wg-quick reads the listen port where the contract says, and it is the published port", (t) => {
  const vpn = deployed(profileConfig("small")).find((d) => d.container.name === "wireguard")!;
  const fact = CONTRACTS.wireguard!.ports.value[0]!;
  t.true(fact.configuredBy !== undefined && "file" in fact.configuredBy);
  const by = fact.configuredBy as { file: string; key: string };
  const conf = vpn.files.find((f) => f.path === by.file);
  t.truthy(conf, `${by.file} is uploaded`);
  const dir = mkdtempSync(join(tmpdir(), "bastide-wg-"));
  try {
    const path = join(dir, posix.basename(by.file));
    writeFileSync(path, conf!.content);
    chmodSync(path, 0o600);
    // `strip` keeps only what `wg` itself reads, as `wg-quick up` hands it over.
    const stripped = execFileSync("wg-quick", ["strip", path], { encoding: "utf8", timeout: 10_000 });
    const read = settingIn({ ...conf!, content: stripped }, by.key);
    t.truthy(read, `wg reads ${by.key}`);
    t.deepEqual(listeningPorts(CONTRACTS.wireguard!, vpn), [{ ...fact, port: Number(read) }]);
    t.deepEqual(vpn.container.ports?.map((p) => p.port), [Number(read)]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test("Redis itself, on the redis.conf Bastide uploads, saves nothing in its data folder", async (t) => {
  const redis = deployed(profileConfig("small")).find((d) => d.service === "nextcloud" && d.container.name === "redis")!;
  const conf = redis.files.find((f) => f.path === redis.container.command?.[1]);
  t.truthy(conf, "redis-server is started on an uploaded file");
  t.true(DATA_NOT_KEPT.redis!(redis.files), "the exemption holds for the rendered file");
  const dir = mkdtempSync(join(tmpdir(), "bastide-redis-"));
  const port = await freePort();
  // Only the listener and the working folder are adapted to this machine.
  const local = conf!.content.replace(/^bind .*$/m, "bind 127.0.0.1").replace(/^port .*$/m, `port ${port}`) + `\ndir ${dir}\n`;
  writeFileSync(join(dir, "redis.conf"), local);
  const server = spawn("redis-server", [join(dir, "redis.conf")], { stdio: "ignore" });
  // The health check's redis-cli authenticates as Bastide configures it: REDISCLI_AUTH from the secret.
  const password = placeholder(redis.container.secretEnv!.REDISCLI_AUTH!);
  const cli = (...args: string[]) =>
    execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { encoding: "utf8", timeout: 5000, stdio: ["ignore", "pipe", "ignore"], env: { ...process.env, REDISCLI_AUTH: password } }).trim();
  try {
    let ready = false;
    for (let attempt = 0; attempt < 50 && !ready; attempt++) {
      try {
        ready = cli("ping") === "PONG";
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    t.true(ready, "redis-server answers");
    t.is(cli("config", "get", "save"), "save");
    t.is(cli("config", "get", "appendonly"), "appendonly\nno");
    t.is(cli("set", "bastide:probe", "1"), "OK");
    cli("shutdown");
  } catch (error) {
    // SHUTDOWN closes the connection it came on: redis-cli may report that as an error.
    if (!String(error).includes("shutdown")) throw error;
  } finally {
    server.kill();
    await new Promise((resolve) => (server.exitCode === null ? server.once("exit", resolve) : resolve(undefined)));
    t.deepEqual(readdirSync(dir).filter((f) => f !== "redis.conf"), [], "nothing written in the data folder");
    rmSync(dir, { recursive: true, force: true });
  }
});

// --- each check can fail -----------------------------------------------------------------------

/** The example's containers, one of them changed by `mutate` (which may also change its files). */
function mutated(service: string, name: string, mutate: (d: Deployed) => void): Deployed[] {
  const all = deployed(profileConfig("small"));
  const target = all.find((d) => d.service === service && d.container.name === name);
  if (!target) throw new Error(`no container ${service}/${name}`);
  target.container = structuredClone(target.container);
  target.files = structuredClone(target.files);
  mutate(target);
  return all;
}

function failsWith(t: import("ava").ExecutionContext, all: Deployed[], pattern: RegExp, contracts = CONTRACTS) {
  const found = all.flatMap((d) => violations(d, contracts));
  t.true(found.some((v) => pattern.test(v)), `expected a violation matching ${pattern}, got ${JSON.stringify(found)}`);
}

test("fails: a tag other than the one the contract was read at", (t) => {
  failsWith(t, mutated("matrix", "db", (d) => (d.container.image = d.container.image.replace(":17.11-alpine", ":17.10-alpine"))), /matrix\/db \(postgres\): runs tag 17\.10-alpine/);
});

test("fails: a digest that differs from the cited record, or one the contract has no record for", (t) => {
  const other = `sha256:${"0".repeat(64)}`;
  failsWith(t, mutated("polls", "db", (d) => (d.container.image = d.container.image.replace(/sha256:[0-9a-f]{64}/, other))), /polls\/db \(mariadb\): .* the record cited says/);
  failsWith(t, mutated("matrix", "synapse", (d) => (d.container.image = `${d.container.image}@${other}`)), /matrix\/synapse \(synapse\): .*pins a digest that the contract cites no public record for/);
  failsWith(t, mutated("polls", "db", (d) => (d.container.image = d.container.image.replace(/@sha256:[0-9a-f]{64}$/, ""))), /polls\/db \(mariadb\): .*pins no digest, though the contract cites/);
});

test("fails: a tmpfs the image does not expect", (t) => {
  failsWith(t, mutated("matrix", "element", (d) => (d.container.tmpfs = [{ path: "/tmp", options: "size=8M" }])), /matrix\/element \(element\): mounts a tmpfs at \/tmp/);
});

test("fails: a data path no volume covers, including Redis once it saves to disk", (t) => {
  failsWith(t, mutated("matrix", "db", (d) => (d.container.volumes = [])), /matrix\/db \(postgres\): keeps data in \/var\/lib\/postgresql\/data/);
  failsWith(t, mutated("vpn", "wireguard", (d) => (d.container.volumes = [{ volume: "config", path: "/config/wg_confs" }])), /vpn\/wireguard \(wireguard\): keeps data in \/config,/);
  const saving = mutated("nextcloud", "redis", (d) => d.files.forEach((f) => (f.content = f.content.replace('save ""', "save 60 1"))));
  failsWith(t, saving, /nextcloud\/redis \(redis\): keeps data in \/data/);
});

test("fails: a capability beyond the contract's", (t) => {
  failsWith(t, mutated("vpn", "wireguard", (d) => d.container.addCapabilities!.push("SYS_MODULE")), /vpn\/wireguard \(wireguard\): adds capability SYS_MODULE/);
  failsWith(t, mutated("matrix", "synapse", (d) => (d.container.addCapabilities = ["NET_ADMIN"])), /matrix\/synapse \(synapse\): adds capability NET_ADMIN/);
});

test("fails: a kernel setting the image needs, missing", (t) => {
  failsWith(t, mutated("vpn", "wireguard", (d) => (d.container.sysctls = { "net.ipv4.ip_forward": "1" })), /vpn\/wireguard \(wireguard\): needs sysctl net\.ipv4\.conf\.all\.src_valid_mark=1/);
});

test("fails: an environment variable the image does not read, plain or secret", (t) => {
  failsWith(t, mutated("matrix", "synapse", (d) => (d.container.env = { ...d.container.env, SYNAPSE_SERVER_NAME_TYPO: "x" })), /sets SYNAPSE_SERVER_NAME_TYPO/);
  failsWith(t, mutated("polls", "db", (d) => (d.container.secretEnv = { ...d.container.secretEnv, MYSQL_PWD: "db-password" })), /polls\/db \(mariadb\): sets MYSQL_PWD/);
});

test("fails naming the image when its contract says it cannot start under no-new-privileges", (t) => {
  const contracts = { ...CONTRACTS, wireguard: { ...CONTRACTS.wireguard!, worksWithNoNewPrivileges: { ...CONTRACTS.wireguard!.worksWithNoNewPrivileges, value: false } } };
  failsWith(t, deployed(profileConfig("small")), /image wireguard does not start under no-new-privileges/, contracts);
});

test("fails: an uploaded file where the image reads no configuration", (t) => {
  failsWith(t, mutated("matrix", "element", (d) => d.container.files!.push("/etc/nginx/conf.d/extra.conf")), /matrix\/element \(element\): uploads \/etc\/nginx\/conf\.d\/extra\.conf/);
  // Synapse's config folder follows SYNAPSE_CONFIG_PATH: moving it leaves the uploads behind.
  failsWith(t, mutated("matrix", "synapse", (d) => (d.container.env = { ...d.container.env, SYNAPSE_CONFIG_PATH: "/data/homeserver.yaml" })), /matrix\/synapse \(synapse\): uploads \/etc\/synapse\/homeserver\.yaml/);
});

test("fails: a health check on an undocumented endpoint, port or program", (t) => {
  const probe = (path: string, port: number) => (d: Deployed) => (d.container.healthcheck!.test = ["CMD", "curl", "-fSs", `http://localhost:${port}${path}`]);
  failsWith(t, mutated("matrix", "synapse", probe("/_matrix/client/versions", 8008)), /probes \/_matrix\/client\/versions, upstream's health endpoint is \/health/);
  failsWith(t, mutated("matrix", "synapse", probe("/health", 9000)), /matrix\/synapse \(synapse\): probes port 9000/);
  failsWith(t, mutated("matrix", "db", (d) => (d.container.healthcheck!.test = ["CMD", "psql", "-c", "select 1"])), /matrix\/db \(postgres\): checks health with psql, upstream's check is pg_isready/);
  failsWith(t, mutated("polls", "purge", (d) => (d.container.healthcheck!.test = ["CMD", "true"])), /polls\/purge \(framadate\): checks health with true, upstream's check is bastide-purge-loop/);
  // Keycloak's image has no HTTP client: bash's /dev/tcp probe is read for its path and port all the same.
  const tcpProbe = (path: string, port: number) => (d: Deployed) =>
    (d.container.healthcheck!.test = ["CMD", "bash", "-c", `{ printf 'HEAD ${path} HTTP/1.0\\r\\n\\r\\n' >&0; grep 'HTTP/1.0 200'; } 0<>/dev/tcp/localhost/${port}`]);
  failsWith(t, mutated("identity", "keycloak", tcpProbe("/realms/master", 9000)), /identity\/keycloak \(keycloak\): probes \/realms\/master, upstream's health endpoint is \/health\/ready/);
  failsWith(t, mutated("identity", "keycloak", tcpProbe("/health/ready", 9990)), /identity\/keycloak \(keycloak\): probes port 9990, where the image does not listen/);
});

test("fails: a user override the image does not support", (t) => {
  failsWith(t, mutated("vpn", "wireguard", (d) => (d.container.user = "1000:1000")), /vpn\/wireguard \(wireguard\): runs as 1000:1000/);
});

test("fails: a published or proxied port the image does not listen on", (t) => {
  failsWith(t, mutated("vpn", "wireguard", (d) => (d.container.ports = [{ port: 51821, protocol: "udp", purpose: "test" }])), /vpn\/wireguard \(wireguard\): publishes 51821\/udp/);
  // Element listens where ELEMENT_WEB_PORT says: moving it strands the proxy's route to port 80.
  failsWith(t, mutated("matrix", "element", (d) => (d.container.env = { ...d.container.env, ELEMENT_WEB_PORT: "8080" })), /matrix\/element \(element\): the proxy sends traffic to port 80/);
});
