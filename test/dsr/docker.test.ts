// Data-subject requests where the data sits in containers, on the real Docker engine
// (test/support/docker.ts), with images built from this machine's Debian packages:
// - polls: Debian's MariaDB, with Framadate 1.1's tables (fd_poll, fd_slot, fd_vote,
//   fd_comment) and the environment the polls blueprint gives its database container;
// - VPN: a real WireGuard interface (wireguard-go, `wg`) in the container's own network
//   namespace, brought up from the server file Bastide renders;
// - Nextcloud: the member's data folder, read through Docker's archive API, and `occ`,
//   answered by a stand-in `php` that prints what Nextcloud 32's dav commands print
//   (apps/dav/lib/Command/ListCalendars.php: a Symfony table; ExportCalendar.php: iCalendar),
//   the account itself coming from the fake Nextcloud.
import test from "ava";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import type { Association } from "../../stacks/config/schema.ts";
import { NEXTCLOUD_ADMIN_USER } from "../../stacks/services/nextcloud/blueprint.ts";
import { SERVER_CONF_PATH } from "../../stacks/services/vpn/blueprint.ts";
import { wireguardPrivateKey } from "../../stacks/services/vpn/keys.ts";
import { createCalDavClient } from "../../provisioners/calendars/client.ts";
import { createNextcloudClient } from "../../provisioners/nextcloud/client.ts";
import { peerKeyPair } from "../../provisioners/vpn/keys.ts";
import { serverConfWithPeers, type ServerPeer } from "../../provisioners/vpn/server.ts";
import { eraseMember, exportMember } from "../../policies/dsr/request.ts";
import { findInPolls, MARIADB_CLIENT } from "../../policies/dsr/polls.ts";
import type { DsrRecord } from "../../policies/dsr/model.ts";
import { containerAccess, type Commands, type DsrTargets } from "../../policies/dsr/targets.ts";
import { createFakeNextcloud, type FakeNextcloud } from "../fakes/nextcloud.ts";
import { exampleAssociation } from "../support/association.ts";
import { debianImage } from "../support/debian-image.ts";
import { removeContainer, startDockerEngine, waitUntil, type DockerEngine } from "../support/docker.ts";
import { freePort } from "../support/docker.ts";
import { requireProgram } from "../support/programs.ts";

const MEMBER = "karim.benali";
const OTHER = "claire.dubois";
const DB_PASSWORD = "fake-polls-db-password-0001";
const NC_PASSWORD = "fake-service-account-password-02";
const SUBNET = "10.13.13.0/24";
const SERVER_SEED = "fake-server-seed-for-the-dsr-tests-0000000000000000000000000000000";
const seedOf = (id: string) => `fake-peer-seed-${id}`.padEnd(64, "0");
const NAMES = { db: "bastide-test-dsr-polls-db", wireguard: "bastide-test-dsr-wireguard", nextcloud: "bastide-test-dsr-nextcloud-app" };

// Matrix and Jitsi are covered by services.test.ts.
const config: Association = exampleAssociation((input) => {
  input.services.matrix = { enabled: false };
  input.services.jitsi = { enabled: false };
});
const member = config.members.find((m) => m.id === MEMBER)!;
const withoutMember = (id: string): Association => ({ ...config, members: config.members.filter((m) => m.id !== id) });

// --- images, from this machine's packages (no registry here) --------------------------------

/** The images, from this machine's packages (test/support/debian-image.ts), with MariaDB's and www-data's users and folders. */
const SETUP = `mkdir -p "$root/run/mysqld" "$root/var/lib/mysql" "$root/dev/net"
printf 'mysql:x:100:101:MariaDB:/var/lib/mysql:/usr/sbin/nologin\\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\\n' >>"$root/etc/passwd"
printf 'mysql:x:101:\\nwww-data:x:33:\\n' >>"$root/etc/group"
chown 100:101 "$root/run/mysqld" "$root/var/lib/mysql"`;
const IMAGES = {
  mariadb: { name: "bastide-test/dsr-mariadb", packages: ["mariadb-server-core", "mariadb-client-core", "dash", "coreutils", "mawk", "sed", "grep", "hostname", "findutils"], setup: SETUP },
  tools: { name: "bastide-test/dsr-tools", packages: ["wireguard-tools", "wireguard-go", "iproute2", "mawk", "dash", "coreutils"], setup: SETUP },
};

const image = (docker: Docker, kind: keyof typeof IMAGES): Promise<string> => debianImage(docker, IMAGES[kind]);

// --- the containers ------------------------------------------------------------------------------

/** Undone after the tests, newest first, whether or not the set-up got through. */
const cleanups: (() => unknown)[] = [];
const scratch = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

/** Commands that also keep what ran and what came back. */
function recording(commands: Commands): Commands & { calls: { cmd: string[]; input?: string; stdout: string }[] } {
  const calls: { cmd: string[]; input?: string; stdout: string }[] = [];
  return {
    where: commands.where,
    calls,
    async run(cmd, input) {
      const result = await commands.run(cmd, input);
      calls.push({ cmd: [...cmd], ...(input === undefined ? {} : { input }), stdout: result.stdout });
      return result;
    },
  };
}

const FRAMADATE_SCHEMA = `
CREATE TABLE fd_poll (id VARCHAR(64) NOT NULL PRIMARY KEY, admin_id CHAR(24) NOT NULL, title TEXT NOT NULL, description TEXT,
  admin_name VARCHAR(64) DEFAULT NULL, admin_mail VARCHAR(128) DEFAULT NULL, creation_date TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  end_date TIMESTAMP NULL DEFAULT NULL, format VARCHAR(1) DEFAULT NULL, editable TINYINT(1) DEFAULT 0, receiveNewVotes TINYINT(1) DEFAULT 0,
  receiveNewComments TINYINT(1) DEFAULT 0, hidden TINYINT(1) NOT NULL DEFAULT 0, password_hash VARCHAR(255) NULL DEFAULT NULL,
  results_publicly_visible TINYINT(1) NULL DEFAULT NULL, active TINYINT(1) NOT NULL DEFAULT 1) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE TABLE fd_slot (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, poll_id VARCHAR(64) NOT NULL, title TEXT, moments TEXT) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE TABLE fd_vote (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, poll_id VARCHAR(64) NOT NULL, name VARCHAR(64) NOT NULL,
  choices TEXT NOT NULL, uniqId CHAR(16) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE TABLE fd_comment (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, poll_id VARCHAR(64) NOT NULL, name TEXT, comment TEXT NOT NULL,
  date DATETIME DEFAULT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8;
INSERT INTO fd_poll (id, admin_id, title, admin_name, admin_mail, password_hash) VALUES
  ('potager2027', 'adminTokenPotager2027xxx', 'Plantations 2027', 'Karim Benali', 'KARIM.BENALI@jardins-canal.localhost', 'hash-of-a-poll-password'),
  ('fete2026', 'adminTokenFete2026xxxxxx', 'Fête des jardins', 'Léa Moreau', 'lea.moreau@jardins-canal.localhost', NULL);
INSERT INTO fd_slot (poll_id, title, moments) VALUES ('potager2027', 'Tomates', NULL), ('fete2026', '1764460800', '14h,16h');
INSERT INTO fd_vote (poll_id, name, choices, uniqId) VALUES
  ('potager2027', 'Léa Moreau', '2', 'voteTokenLea0001'),
  ('fete2026', 'karim benali', '20', 'voteTokenKarim01'),
  ('fete2026', 'Kârim Benali', '02', 'voteTokenKarim02'),
  ('fete2026', 'Karim', '22', 'voteTokenKarim03');
INSERT INTO fd_comment (poll_id, name, comment, date) VALUES
  ('fete2026', 'KARIM BENALI', 'J''apporte\tles chaises\net la \\\\ table', '2026-11-20 18:00:00'),
  ('fete2026', 'Léa Moreau', 'Merci !', '2026-11-20 18:05:00');
`;

async function startDatabase(docker: Docker, reference: string): Promise<Commands> {
  await removeContainer(docker, NAMES.db);
  cleanups.push(() => removeContainer(docker, NAMES.db));
  const port = await freePort();
  // Like the mariadb image: the database and Framadate's user come from the environment,
  // which `docker exec` inherits; the server listens on 127.0.0.1 only (host network).
  const start = [
    "set -e",
    "mariadb-install-db --user=mysql --datadir=/var/lib/mysql --auth-root-authentication-method=socket --skip-test-db >/tmp/install.log 2>&1 || { cat /tmp/install.log; exit 1; }",
    `exec mariadbd --user=mysql --datadir=/var/lib/mysql --socket=/run/mysqld/mysqld.sock --bind-address=127.0.0.1 --port=${port} --skip-name-resolve --old-mode= --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci`,
  ].join("\n");
  const container = await docker.createContainer({
    name: NAMES.db,
    Image: reference,
    Cmd: ["sh", "-c", start],
    Env: [`MARIADB_DATABASE=framadate`, `MARIADB_USER=framadate`, `MARIADB_PASSWORD=${DB_PASSWORD}`],
    HostConfig: { NetworkMode: "host" },
  });
  await container.start();
  const root = containerAccess(docker, NAMES.db);
  await waitUntil("MariaDB in its container", async () => {
    const state = (await container.inspect()).State;
    if (!state.Running) throw new Error(`the database stopped: ${((await container.logs({ stdout: true, stderr: true })) as unknown as Buffer).toString()}`);
    return (await root.run(["mariadb", "-e", "SELECT 1"])).exitCode === 0;
  }, { timeoutMs: 60_000, intervalMs: 300 });
  // As the mariadb image's entrypoint does: the database, and its user for any host.
  const setup = await root.run(["sh", "-c", 'mariadb -e "CREATE DATABASE $MARIADB_DATABASE; CREATE USER \'$MARIADB_USER\'@\'%\' IDENTIFIED BY \'$MARIADB_PASSWORD\'; GRANT ALL ON $MARIADB_DATABASE.* TO \'$MARIADB_USER\'@\'%\';"']);
  if (setup.exitCode !== 0) throw new Error(`database setup: ${setup.stderr}`);
  // As Framadate connects: utf8mb4 (its DSN says charset=utf8mb4).
  const schema = await root.run(["mariadb", "--default-character-set=utf8mb4", "framadate"], FRAMADATE_SCHEMA);
  if (schema.exitCode !== 0) throw new Error(`schema: ${schema.stderr}`);
  return containerAccess(docker, NAMES.db);
}

interface Wireguard {
  commands: Commands;
  dir: string;
  peers: ServerPeer[];
  /** The live interface's peers' public keys. */
  livePeers(): Promise<string[]>;
}

async function startWireguard(docker: Docker, reference: string): Promise<Wireguard> {
  await removeContainer(docker, NAMES.wireguard);
  cleanups.push(() => removeContainer(docker, NAMES.wireguard));
  const dir = scratch("bastide-dsr-wg-");
  const peers: ServerPeer[] = [
    { member: OTHER, device: "laptop", id: `${OTHER}-laptop`, address: "10.13.13.2" },
    { member: MEMBER, device: "laptop", id: `${MEMBER}-laptop`, address: "10.13.13.3" },
    { member: MEMBER, device: "phone", id: `${MEMBER}-phone`, address: "10.13.13.4" },
  ].map((p) => ({ ...p, publicKey: peerKeyPair(seedOf(p.id)).publicKey }));
  const conf = serverConfWithPeers({ subnet: SUBNET, port: 51820, privateKey: wireguardPrivateKey(SERVER_SEED), peers });
  mkdirSync(join(dir, "wg_confs"), { recursive: true });
  writeFileSync(join(dir, "wg_confs", "wg0.conf"), conf, { mode: 0o600 });
  // What wg-quick hands to `wg` (its own parser strips Address, PostUp...).
  const strip = spawnSync(requireProgram("wg-quick", "wireguard-tools"), ["strip", join(dir, "wg_confs", "wg0.conf")], { encoding: "utf8" });
  if (strip.status !== 0) throw new Error(`wg-quick strip: ${strip.stderr}`);
  writeFileSync(join(dir, "wg0.plain"), strip.stdout, { mode: 0o600 });
  const container = await docker.createContainer({
    name: NAMES.wireguard,
    Image: reference,
    Cmd: ["sh", "-c", "wireguard-go wg0 && wg setconf wg0 /config/wg0.plain && ip link set wg0 up && exec sleep infinity"],
    // wireguard-go refuses to run on Linux without it (the kernel module is preferred).
    Env: ["WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1"],
    HostConfig: {
      NetworkMode: "none",
      CapAdd: ["NET_ADMIN"],
      Devices: [{ PathOnHost: "/dev/net/tun", PathInContainer: "/dev/net/tun", CgroupPermissions: "rwm" }],
      Binds: [`${dir}:/config`],
    },
  });
  await container.start();
  const commands = containerAccess(docker, NAMES.wireguard);
  const livePeers = async () => (await commands.run(["wg", "show", "wg0", "peers"])).stdout.split("\n").filter(Boolean).sort();
  await waitUntil("wg0 in its container", async () => {
    const state = (await container.inspect()).State;
    if (!state.Running) throw new Error(`the WireGuard container stopped: ${((await container.logs({ stdout: true, stderr: true })) as unknown as Buffer).toString()}`);
    return (await livePeers()).length === peers.length;
  }, { timeoutMs: 30_000, intervalMs: 200 });
  // The staff member's phone connected once from this address.
  const phone = peers.find((p) => p.device === "phone")!;
  const endpoint = await commands.run(["wg", "set", "wg0", "peer", phone.publicKey, "endpoint", "127.0.0.1:51999"]);
  if (endpoint.exitCode !== 0) throw new Error(`wg set endpoint: ${endpoint.stderr}`);
  return { commands, dir, peers, livePeers };
}

/** Stand-in for `php occ`, printing what Nextcloud 32's dav commands print for this member. */
const OCC_STANDIN = `#!/bin/sh
[ "$1" = occ ] || { echo "not occ" >&2; exit 1; }
shift
case "$1 $2" in
  "dav:list-calendars ${MEMBER}")
    cat <<'TABLE'
+----------+-------------+--------------------------------+---------------------+----------+
| uri      | displayname | owner's userid                 | owner's displayname | writable |
+----------+-------------+--------------------------------+---------------------+----------+
| personal | Personal    | principals/users/${MEMBER}     | Karim Benali        |  ✓       |
| evenements_shared_by__bastide | Événements | principals/users/_bastide | Bastide |  ✓  |
| perso    | Mes | rendez-vous | principals/users/${MEMBER} | Karim Benali      |  ✓       |
+----------+-------------+--------------------------------+---------------------+----------+
TABLE
    ;;
  "calendar:export ${MEMBER}")
    printf 'BEGIN:VCALENDAR\\r\\nVERSION:2.0\\r\\nPRODID:-//Nextcloud//EN\\r\\nBEGIN:VEVENT\\r\\nUID:%s-1\\r\\nSUMMARY:Dentiste (%s)\\r\\nDTSTART:20261203T080000Z\\r\\nEND:VEVENT\\r\\nEND:VCALENDAR\\r\\n' "$3" "$3"
    ;;
  *) echo "Command \\"$1\\" is not defined." >&2; exit 1 ;;
esac
`;

interface NextcloudApp {
  nc: FakeNextcloud;
  dir: string;
  targets: DsrTargets["nextcloud"];
}

async function startNextcloud(docker: Docker, reference: string): Promise<NextcloudApp> {
  await removeContainer(docker, NAMES.nextcloud);
  cleanups.push(() => removeContainer(docker, NAMES.nextcloud));
  const dir = scratch("bastide-dsr-nc-");
  chmodSync(dir, 0o755);
  const files = join(dir, "data", MEMBER, "files");
  mkdirSync(join(files, "Documents"), { recursive: true });
  writeFileSync(join(files, "Documents", "compte-rendu.md"), "# Réunion du bureau\n");
  writeFileSync(join(files, "photo.bin"), Buffer.from([0, 1, 2, 255, 254, 253]));
  mkdirSync(join(dir, "data", MEMBER, "files_trashbin", "files"), { recursive: true });
  writeFileSync(join(dir, "data", MEMBER, "files_trashbin", "files", "old.txt.d1763700000"), "supprimé\n");
  mkdirSync(join(dir, "bin"));
  writeFileSync(join(dir, "bin", "php"), OCC_STANDIN, { mode: 0o755 });
  spawnSync("chmod", ["-R", "a+rX", dir]);
  const container = await docker.createContainer({
    name: NAMES.nextcloud,
    Image: reference,
    Cmd: ["sleep", "infinity"],
    Env: ["PATH=/var/www/html/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    HostConfig: { NetworkMode: "none", Binds: [`${dir}:/var/www/html:ro`] },
  });
  await container.start();
  const nc = await createFakeNextcloud({ users: { [NEXTCLOUD_ADMIN_USER]: NC_PASSWORD } });
  cleanups.push(() => nc.stop());
  nc.addUser(MEMBER, { email: member.email, displayName: member.name, groups: ["association"] });
  const credentials = { baseUrl: nc.url, user: NEXTCLOUD_ADMIN_USER, password: NC_PASSWORD, sleep: async () => {} };
  return {
    nc,
    dir,
    targets: {
      client: createNextcloudClient(credentials),
      calendars: createCalDavClient(credentials),
      app: containerAccess(docker, NAMES.nextcloud, { user: "www-data", workingDir: "/var/www/html" }),
      dataDirectory: "/var/www/html/data",
    },
  };
}

// --- the shared set-up -----------------------------------------------------------------------

interface World {
  engine: DockerEngine;
  db: ReturnType<typeof recording>;
  wg: Wireguard & { recorded: ReturnType<typeof recording> };
  nextcloud: NextcloudApp;
  out: string;
  targets: () => DsrTargets;
}

let world: Promise<World> | undefined;

async function setUp(): Promise<World> {
  const engine = await startDockerEngine();
  cleanups.push(() => engine.release());
  const [mariadb, tools] = [await image(engine.docker, "mariadb"), await image(engine.docker, "tools")];
  // All settled before any failure is reported, so that the clean-up finds everything started.
  const started = await Promise.allSettled([startDatabase(engine.docker, mariadb), startWireguard(engine.docker, tools), startNextcloud(engine.docker, tools)] as const);
  for (const result of started) if (result.status === "rejected") throw result.reason;
  const [db, wg, nextcloud] = started.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [Commands, Wireguard, NextcloudApp];
  const recordedDb = recording(db);
  const recordedWg = recording(wg.commands);
  const out = scratch("bastide-dsr-out-");
  return {
    engine,
    db: recordedDb,
    wg: { ...wg, recorded: recordedWg },
    nextcloud,
    out,
    targets: () => ({ nextcloud: nextcloud.targets, vpn: { wireguard: recordedWg, confPath: SERVER_CONF_PATH }, polls: { db: recordedDb } }),
  };
}

const ready = () => (world ??= setUp());

test.after.always(async () => {
  await world?.catch(() => undefined);
  for (const undo of cleanups.reverse()) await Promise.resolve(undo()).catch(() => undefined);
});

const stepOf = (record: DsrRecord, service: string, part: string) => record.steps.find((s) => s.service === service && s.part === part);
const SERVER_PRIVATE_KEY = wireguardPrivateKey(SERVER_SEED);
const json = (folder: string, file: string) => JSON.parse(readFileSync(join(folder, file), "utf8"));

test.serial("export: Nextcloud files and own calendars, VPN devices and polls, from the containers; complete, and no secret read", async (t) => {
  const w = await ready();
  const { record, folder } = await exportMember({ config, member: MEMBER, targets: w.targets(), out: w.out, secrets: [DB_PASSWORD, NC_PASSWORD, SERVER_PRIVATE_KEY] });
  t.deepEqual(record.steps.filter((s) => s.outcome === "failed"), []);
  t.true(record.complete);

  // Nextcloud: own calendars only (not the one shared with them), each as iCalendar; the data folders as tars.
  t.deepEqual(stepOf(record, "nextcloud", "own-calendars")?.files?.map((f) => f.path), ["nextcloud/calendars/personal.ics", "nextcloud/calendars/perso.ics"]);
  t.regex(readFileSync(join(folder!, "nextcloud/calendars/perso.ics"), "utf8"), /SUMMARY:Dentiste \(perso\)/);
  const tar = requireProgram("tar", "tar");
  const listing = spawnSync(tar, ["-tf", join(folder!, "nextcloud/files.tar")], { encoding: "utf8" }).stdout.split("\n");
  t.true(listing.includes("files/Documents/compte-rendu.md") && listing.includes("files/photo.bin"), listing.join(" "));
  const photo = spawnSync(tar, ["-xOf", join(folder!, "nextcloud/files.tar"), "files/photo.bin"]).stdout;
  t.deepEqual(photo, Buffer.from([0, 1, 2, 255, 254, 253]));
  t.is(stepOf(record, "nextcloud", "files_trashbin")?.outcome, "done");
  t.is(stepOf(record, "nextcloud", "files_versions")?.outcome, "none");

  // VPN: the member's two devices, matched in the file and on the live interface.
  const devices = json(folder!, "vpn/devices.json") as { device: string; publicKey: string; tunnelAddresses: string[]; onServer: boolean; lastEndpoint: string | null }[];
  t.deepEqual(devices.map((d) => [d.device, d.tunnelAddresses, d.onServer, d.lastEndpoint]), [["laptop", ["10.13.13.3/32"], true, null], ["phone", ["10.13.13.4/32"], true, "127.0.0.1:51999"]]);
  t.deepEqual(devices.map((d) => d.publicKey), w.wg.peers.filter((p) => p.member === MEMBER).map((p) => p.publicKey));
  // The server's private key stays in the container: nothing read from it carries it.
  for (const call of w.wg.recorded.calls) t.false(call.stdout.includes(SERVER_PRIVATE_KEY), call.cmd.join(" "));
  t.false(w.wg.recorded.calls.some((c) => c.cmd.includes("cat")), "the file is never read whole");

  // Polls: by e-mail whatever its case, by name whatever case and accents; never a poll's or a vote's credentials.
  t.deepEqual(json(folder!, "polls/polls-created.json").map((p: { id: string }) => p.id), ["potager2027"]);
  t.deepEqual(json(folder!, "polls/votes.json").map((v: { name: string }) => v.name), ["karim benali", "Kârim Benali"]);
  t.deepEqual(json(folder!, "polls/comments.json").map((c: { comment: string }) => c.comment), ["J'apporte\tles chaises\net la \\ table"]);
  t.deepEqual(json(folder!, "polls/choices-of-these-polls.json").map((s: { poll_id: string }) => s.poll_id).sort(), ["fete2026", "potager2027"]);
  const everything = readdirSync(join(folder!, "polls")).map((f) => readFileSync(join(folder!, "polls", f), "utf8")).join("");
  for (const credential of ["adminTokenPotager2027", "hash-of-a-poll-password", "voteTokenKarim", "admin_id", "uniqId", "password_hash"]) t.false(everything.includes(credential), credential);
  // The database password stays in the container's environment: it is on no command Bastide sent.
  t.false(w.db.calls.some((c) => c.cmd.join(" ").includes(DB_PASSWORD) || (c.input ?? "").includes(DB_PASSWORD)));
  t.deepEqual(w.db.calls[0]!.cmd, [...MARIADB_CLIENT]);
});

test.serial("export: a data folder larger than the bound fails that step clearly and leaves no partial file", async (t) => {
  const w = await ready();
  const { record, folder } = await exportMember({ config, member: MEMBER, targets: w.targets(), out: w.out, secrets: [], limits: { fileBytes: 2048 } });
  const step = stepOf(record, "nextcloud", "files");
  t.is(step?.outcome, "failed");
  t.regex(step?.summary.en ?? "", /files folder too large \(over 2 KiB\): run again with a larger --max-file-mb, or copy \/var\/www\/html\/data\/karim\.benali\/files out of the container/);
  t.false(readdirSync(join(folder!, "nextcloud")).includes("files.tar"));
  t.false(record.complete);
});

test.serial("polls: a name that tries to break out of SQL matches nothing and changes nothing", async (t) => {
  const w = await ready();
  const hostile = { name: "x' OR '1'='1'; DELETE FROM fd_vote; -- \\", email: "\\' OR 1=1 #" };
  t.deepEqual(await findInPolls(w.db, hostile), { polls: [], votes: [], comments: [] });
  t.is((await findInPolls(w.db, { name: "Léa Moreau" })).votes.length, 1, "the votes are all still there");
});

test.serial("erasure: VPN peers leave the interface and the file, poll answers are anonymised; the other member is untouched; a second run writes nothing", async (t) => {
  const w = await ready();
  const gone = withoutMember(MEMBER);
  const identity = { name: member.name, email: member.email };
  const base = { config: gone, member: MEMBER, targets: w.targets(), out: w.out, secrets: [DB_PASSWORD, NC_PASSWORD, SERVER_PRIVATE_KEY], hints: identity };
  const other = w.wg.peers.find((p) => p.member === OTHER)!;

  const done = await eraseMember({ ...base, confirm: true });
  t.true(done.record.complete, JSON.stringify(done.record.steps.filter((s) => s.outcome === "failed")));
  t.deepEqual(done.record.steps.filter((s) => s.outcome === "done").map((s) => `${s.service} ${s.part} ${s.count}`), ["nextcloud user.delete 1", "vpn peer.remove 2", "polls polls 4"]);
  t.is(w.nextcloud.nc.user(MEMBER), undefined);

  // VPN: gone from the running interface and from the file; the other member's laptop and the server's interface stay.
  t.deepEqual(await w.wg.livePeers(), [other.publicKey]);
  const file = readFileSync(join(w.wg.dir, "wg_confs", "wg0.conf"), "utf8");
  t.false(file.includes(MEMBER));
  t.regex(file, new RegExp(`\\[Peer\\]\\n# ${OTHER} laptop\\nPublicKey = ${other.publicKey.replace(/[+/]/g, "\\$&")}`));
  t.true(file.includes(`PrivateKey = ${SERVER_PRIVATE_KEY}`));
  const strip = spawnSync(requireProgram("wg-quick", "wireguard-tools"), ["strip", join(w.wg.dir, "wg_confs", "wg0.conf")], { encoding: "utf8" });
  t.is(strip.status, 0, `wg-quick still reads the file: ${strip.stderr}`);

  // Polls: votes kept under an anonymous name, the comment deleted, the poll without its creator's name and address.
  const rows = async (sql: string) => (await w.db.run(MARIADB_CLIENT, sql)).stdout;
  t.regex(await rows("SELECT name FROM fd_vote WHERE poll_id = 'fete2026' ORDER BY id;"), /^name\nAnonyme \d+\nAnonyme \d+\nKarim\n$/);
  t.is(await rows("SELECT name FROM fd_comment ORDER BY id;"), "name\nLéa Moreau\n");
  t.is(await rows("SELECT admin_name, admin_mail FROM fd_poll WHERE id = 'potager2027';"), "admin_name\tadmin_mail\nAnonyme\t\n");
  t.is(await rows("SELECT admin_name FROM fd_poll WHERE id = 'fete2026';"), "admin_name\nLéa Moreau\n");

  const calls = { wg: w.wg.recorded.calls.length, db: w.db.calls.length };
  const again = await eraseMember({ ...base, confirm: true });
  t.true(again.record.complete);
  t.deepEqual(again.record.steps.filter((s) => s.outcome !== "none" && s.outcome !== "skipped").map((s) => `${s.service} ${s.part}`), []);
  const writes = (list: { cmd: string[]; input?: string }[]) => list.filter((c) => c.cmd.includes("set") || c.cmd[0] === "sh" && c.cmd.includes("-c") && c.cmd[2]?.includes("mv") || /UPDATE|DELETE/.test(c.input ?? ""));
  t.deepEqual(writes(w.wg.recorded.calls.slice(calls.wg)), [], "no wg set, no file rewrite");
  t.deepEqual(writes(w.db.calls.slice(calls.db)), [], "no UPDATE, no DELETE");
});
