// Issue 11: every volume the blueprints declare is in the backup plan, saved consistently:
// databases with their own dump tool, files as files. A volume added without saying how it is
// saved stops the plan.
import test from "ava";
import { backupPlan, UncoveredVolumeError, VOLUME_METHODS } from "../../stacks/backups/plan.ts";
import { resticCommands, repositoryAddress } from "../../stacks/backups/restic.ts";
import { backupSettings } from "../../stacks/backups/settings.ts";
import type { ServiceBlueprint } from "../../stacks/services/blueprint.ts";
import { blueprints } from "../../stacks/services/catalog.ts";
import { IMAGES } from "../../stacks/services/images.ts";
import { exampleAssociation } from "../support/association.ts";

const volumesOf = (list: readonly ServiceBlueprint[]) => list.flatMap((b) => b.volumes.map((v) => `${b.service}/${v.name}`)).sort();
const covered = (list: readonly ServiceBlueprint[]) => {
  const plan = backupPlan(list);
  return [...plan.dumps, ...plan.files].map((entry) => `${entry.service}/${entry.volume}`).sort();
};

const VARIANTS: [string, (input: Record<string, any>) => void][] = [
  ["the example", () => {}],
  ["without the identity provider", (i) => (i.services.identity = { ...i.services.identity, enabled: false })],
  ["Nextcloud alone", (i) => {
    for (const name of ["jitsi", "matrix", "polls", "vpn", "identity"]) i.services[name] = { ...i.services[name], enabled: false };
    for (const member of i.members) member.devices = [];
  }],
];

for (const [what, edit] of VARIANTS) {
  test(`backup plan: every volume of ${what} is saved, once`, (t) => {
    const list = blueprints(exampleAssociation(edit));
    t.true(list.length > 0);
    t.deepEqual(covered(list), volumesOf(list));
  });
}

test("backup plan: every entry of VOLUME_METHODS is a volume some blueprint declares (none left behind)", (t) => {
  t.deepEqual(Object.keys(VOLUME_METHODS).sort(), volumesOf(blueprints(exampleAssociation())));
});

test("backup plan: a volume a blueprint adds without a backup method stops the plan, naming it and the fix", (t) => {
  const list = blueprints(exampleAssociation());
  const matrix = list.find((b) => b.service === "matrix")!;
  const grown = list.map((b) => (b === matrix ? { ...b, volumes: [...b.volumes, { name: "uploads", path: "/uploads", holds: "new files" }] } : b));
  const error = t.throws(() => backupPlan(grown), { instanceOf: UncoveredVolumeError });
  t.regex(error!.message, /matrix\/uploads is a volume no backup covers/);
  t.regex(error!.message, /VOLUME_METHODS \(stacks\/backups\/plan\.ts\)/);
});

test("backup plan: the PostgreSQL databases are dumped with pg_dump as their container's user, never copied live", (t) => {
  const plan = backupPlan(blueprints(exampleAssociation()));
  const postgres = plan.dumps.filter((d) => d.engine === "postgres").map((d) => `${d.service}/${d.volume}`).sort();
  t.deepEqual(postgres, ["identity/db", "matrix/db", "nextcloud/db"]);
  const nextcloud = plan.dumps.find((d) => d.service === "nextcloud")!;
  t.deepEqual(nextcloud.dump, { argv: ["pg_dump", "--username=nextcloud", "--dbname=nextcloud", "--format=custom", "--no-password"], passwordEnv: "PGPASSWORD" });
  // Reached over the service's network by the database container's name, with the password its container was created with.
  const db = blueprints(exampleAssociation()).find((b) => b.service === "nextcloud")!.containers.find((c) => c.name === "db")!;
  t.deepEqual(nextcloud.address, { host: "bastide-nextcloud-db", port: 5432 });
  t.is(nextcloud.passwordSecret, db.secretEnv!.POSTGRES_PASSWORD!);
  t.is(nextcloud.load.argv[0], "pg_restore");
  // No database volume is also copied as files: a live copy of a database's folder is not a backup.
  const filed = new Set(plan.files.map((f) => `${f.service}/${f.volume}`));
  for (const dump of plan.dumps) t.false(filed.has(`${dump.service}/${dump.volume}`));
});

test("backup plan: Framadate's MariaDB is dumped in one transaction, its password passed in the environment only", (t) => {
  const list = blueprints(exampleAssociation());
  const polls = backupPlan(list).dumps.find((d) => d.service === "polls")!;
  t.is(polls.engine, "mariadb");
  t.true(polls.dump.argv.includes("--single-transaction"));
  const db = list.find((b) => b.service === "polls")!.containers.find((c) => c.name === "db")!;
  t.is(polls.dump.passwordEnv, "MYSQL_PWD");
  t.is(polls.passwordSecret, db.secretEnv!.MARIADB_PASSWORD!);
  t.deepEqual(polls.address, { host: "bastide-polls-db", port: 3306 });
  t.false(polls.dump.argv.some((arg) => /^(-p|--password)/.test(arg)));
  t.is(polls.dump.argv.at(-1), db.env!.MARIADB_DATABASE);
});

test("backup plan: Nextcloud's files are read after its database is dumped, the other file volumes as they are", (t) => {
  const plan = backupPlan(blueprints(exampleAssociation()));
  t.deepEqual(plan.files.filter((f) => f.quiesce).map((f) => `${f.service}/${f.volume}:${f.quiesce}`), ["nextcloud/html:files-after-database"]);
  t.is(plan.files.find((f) => f.service === "vpn")!.dockerVolume, "bastide-vpn-config");
});

test("backup plan: a database volume whose container stops running the database image is refused", (t) => {
  const list = blueprints(exampleAssociation());
  const swapped = list.map((b) =>
    b.service === "nextcloud" ? { ...b, containers: b.containers.map((c) => (c.name === "db" ? { ...c, image: IMAGES.mariadb } : c)) } : b,
  );
  t.throws(() => backupPlan(swapped), { instanceOf: UncoveredVolumeError, message: /nextcloud\/db is saved with pg_dump, but its container runs mariadb/ });
});

const files = { passwordFile: "/root/.bastide/restic-password", sshKey: "/root/.ssh/bastide-backup", knownHosts: "/root/.ssh/bastide-backup-known-hosts" };

test("restic: repository addresses for each destination, as restic 0.14's manual writes them", (t) => {
  const parse = (destination: Record<string, unknown>) => backupSettings.parse({ destination }).destination;
  t.is(repositoryAddress(parse({ type: "sftp", host: "u1.your-storagebox.de", port: 23, user: "u1", path: "/backups/bastide", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfQchOBj6ARnpfH+llfBS54nizCaW0mnxg4JOS2emkz", country: "DE" })), "sftp://u1@u1.your-storagebox.de:23//backups/bastide");
  t.is(repositoryAddress(parse({ type: "s3", endpoint: "s3.fr-par.scw.cloud", bucket: "asso-backups", country: "FR" })), "s3:https://s3.fr-par.scw.cloud/asso-backups/bastide");
  t.is(repositoryAddress(parse({ type: "disk", path: "/mnt/backup" })), "/mnt/backup");
});

test("restic: retention becomes forget's --keep options, and every command reads the password from a file", (t) => {
  const settings = backupSettings.parse({ destination: { type: "disk", path: "/mnt/backup" }, retention: { daily: 10, weekly: 2, monthly: 6 } });
  const restic = resticCommands(settings, files);
  t.true(restic.forget.argv.includes("--keep-daily=10") && restic.forget.argv.includes("--keep-weekly=2") && restic.forget.argv.includes("--keep-monthly=6") && restic.forget.argv.includes("--prune"));
  for (const command of [restic.init, restic.forget, restic.check, restic.snapshots, restic.backup(["/a"]), restic.restore("latest", "/restore")])
    t.true(command.argv.includes(`--password-file=${files.passwordFile}`));
  // Paths come after "--": none can be read as an option.
  t.deepEqual(restic.backup(["-x", "/b"]).argv.slice(-3), ["--", "-x", "/b"]);
  t.throws(() => restic.restore("latest; rm -rf /", "/restore"), { message: /not a snapshot id/ });
});

test("restic: SFTP goes through ssh with the server's own key and the destination's pinned host key", (t) => {
  const settings = backupSettings.parse({ destination: { type: "sftp", host: "u1.your-storagebox.de", port: 23, user: "u1", path: "/backups", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfQchOBj6ARnpfH+llfBS54nizCaW0mnxg4JOS2emkz", country: "DE" } });
  const argv = resticCommands(settings, files).check.argv;
  t.true(argv.includes(`sftp.command=ssh -i ${files.sshKey} -p 23 -o UserKnownHostsFile=${files.knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes u1@u1.your-storagebox.de -s sftp`));
  t.throws(() => resticCommands(settings, { ...files, sshKey: "/root/my key" }), { message: /would need quoting/ });
});
