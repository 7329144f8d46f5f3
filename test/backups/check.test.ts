// The pure parts of the restore drill and the restore: comparing a manifest with what was
// observed, the record and the report, the sha256sum listing and output, the snapshot choice,
// and the restore's refusals.
import test from "ava";
import { chooseSnapshot, compareWithManifest, drillRecord, drillReport, failedChecks, relativeListing, type Observed } from "../../stacks/backups/check.ts";
import { drillSchema, type Manifest } from "../../stacks/backups/layout.ts";
import { refuseContainers, refuseVolumes, stackVolumes } from "../../stacks/backups/restore.ts";
import { mariadbRowCounts } from "../../stacks/backups/throwaway.ts";
import { backupPlan } from "../../stacks/backups/plan.ts";
import { blueprints } from "../../stacks/services/catalog.ts";
import { exampleAssociation } from "../support/association.ts";

const HASH = "a".repeat(64);
const manifest: Manifest = {
  version: 1,
  createdAt: "2026-12-07T02:30:00.000Z",
  reason: "daily",
  images: {},
  dumps: [
    { service: "nextcloud", volume: "db", engine: "postgres", database: "nextcloud", file: "nextcloud-db.pgdump", bytes: 100, tables: { members: 500, filecache: 5000 } },
    { service: "polls", volume: "db", engine: "mariadb", database: "framadate", file: "polls-db.sql", bytes: 50, tables: { fd_poll: 3 } },
  ],
  volumes: [{ service: "nextcloud", volume: "html", files: 81, bytes: 1000, checksums: "/backup/checksums/nextcloud-html.sha256" }],
};
const good: Observed = {
  databases: [
    { file: "nextcloud-db.pgdump", tables: { members: 500, filecache: 5000 } },
    { file: "polls-db.sql", tables: { fd_poll: 3 } },
  ],
  volumes: [{ service: "nextcloud", volume: "html", files: 81, listed: 81, failed: [] }],
};

test("what matches the manifest has no problem, and counts tables, rows and files", (t) => {
  const comparison = compareWithManifest(manifest, good);
  t.deepEqual(comparison.problems, []);
  t.deepEqual(comparison.databases, [
    { file: "nextcloud-db.pgdump", tables: 2, rows: 5500, matches: true },
    { file: "polls-db.sql", tables: 1, rows: 3, matches: true },
  ]);
  t.deepEqual(comparison.volumes, [{ service: "nextcloud", volume: "html", files: 81, matches: true }]);
});

test("a missing row, a missing table, an extra table and a failed load are each named, in both languages", (t) => {
  const comparison = compareWithManifest(manifest, {
    ...good,
    databases: [
      { file: "nextcloud-db.pgdump", tables: { members: 499, oc_extra: 1 } },
      { file: "polls-db.sql", failed: "ERROR 1064 at line 3" },
    ],
  });
  const en = comparison.problems.map((p) => p.en);
  t.deepEqual(en, [
    "nextcloud-db.pgdump: table members has 499 rows, the backup recorded 500",
    "nextcloud-db.pgdump: table filecache is missing (the backup recorded 5000 rows)",
    "nextcloud-db.pgdump: table oc_extra is not in the backup's record",
    "polls-db.sql: could not be loaded: ERROR 1064 at line 3",
  ]);
  t.regex(comparison.problems[0]!.fr, /la table members a 499 lignes, la sauvegarde en comptait 500/);
  t.deepEqual(comparison.databases.map((d) => d.matches), [false, false]);
});

test("changed or missing files, a short listing and a wrong file count are named; past ten files the rest are counted", (t) => {
  const failed = Array.from({ length: 12 }, (_, i) => `data/f${i}`);
  const comparison = compareWithManifest(manifest, { ...good, volumes: [{ service: "nextcloud", volume: "html", files: 80, listed: 79, failed }] });
  const en = comparison.problems.map((p) => p.en);
  t.is(en.length, 3);
  t.regex(en[0]!, /^nextcloud\/html: 12 file\(s\) differ .*: data\/f0, .*data\/f9 and 2 more$/);
  t.false(en[0]!.includes("data/f10"));
  t.is(en[1], "nextcloud/html: the checksum listing has 79 files, the backup recorded 81");
  t.is(en[2], "nextcloud/html: 80 files restored, the backup recorded 81");
  t.false(comparison.volumes[0]!.matches);
});

test("a dump or a volume the manifest lists but the restore lacks is a problem", (t) => {
  const comparison = compareWithManifest(manifest, { databases: [good.databases[0]!], volumes: [] });
  t.deepEqual(comparison.problems.map((p) => p.en), ["polls-db.sql: the snapshot holds no such dump", "nextcloud/html: not restored"]);
});

test("the record follows the drill schema, says failed with problems, in the association's language; the report is dated", (t) => {
  const at = new Date("2026-12-07T09:15:00.000Z");
  const ok = drillRecord({ at, snapshot: "0123456789abcdef", snapshotTime: new Date("2026-12-07T02:31:12.5+01:00"), seconds: 12.345, comparison: compareWithManifest(manifest, good), language: "fr" });
  t.notThrows(() => drillSchema.parse(ok));
  t.is(ok.outcome, "ok");
  t.is(ok.snapshotTime, "2026-12-07T01:31:12.500Z");
  t.is(ok.seconds, 12.3);
  t.regex(drillReport(ok, "fr"), /^Exercice de restauration du 2026-12-07 09:15:00 UTC\nInstantané 0123456789abcdef du 2026-12-07 01:31:12 UTC/);
  t.regex(drillReport(ok, "en"), /Outcome: the backup restores as recorded \(12\.3 s\)\.$/);

  const bad = drillRecord({ at, snapshot: "0123456789abcdef", snapshotTime: at, seconds: 1, comparison: compareWithManifest(manifest, { ...good, databases: [] }), language: "en" });
  t.is(bad.outcome, "failed");
  t.deepEqual(bad.problems, ["nextcloud-db.pgdump: the snapshot holds no such dump", "polls-db.sql: the snapshot holds no such dump"]);
  t.regex(drillReport(bad, "en"), /Outcome: FAILED, 2 mismatch\(es\):\n  - nextcloud-db\.pgdump: the snapshot holds no such dump/);
  t.regex(drillReport(bad, "en"), /  MISMATCH nextcloud-db\.pgdump: 0 tables, 0 rows/);
});

test("a sha256sum listing is made relative to its volume, whether it names the job's mount path or ./", (t) => {
  const listing = `${HASH}  /data/nextcloud/html/data/a b.txt\n${HASH} */data/nextcloud/html/config/config.php\n${HASH}  ./data/c.txt\n`;
  t.is(relativeListing(listing, "/data/nextcloud/html"), `${HASH}  data/a b.txt\n${HASH} *config/config.php\n${HASH}  ./data/c.txt\n`);
  t.throws(() => relativeListing("not a listing\n", "/data/x/y"), { message: /not a sha256sum line/ });
});

test("sha256sum --check's failures are read as paths, changed and missing alike", (t) => {
  t.deepEqual(failedChecks("./data/a b.txt: FAILED\n./data/gone.txt: FAILED open or read\nconfig.php: OK\n"), ["data/a b.txt", "data/gone.txt"]);
  t.deepEqual(failedChecks(""), []);
});

test("the snapshot asked for is found by its id's prefix; without one, the newest", (t) => {
  const snapshots = [
    { id: "bbbb0000", time: "2026-12-06T02:30:00Z" },
    { id: "aaaa1111", time: "2026-12-07T02:30:00+01:00" },
    { id: "cccc2222", time: "2026-12-05T02:30:00Z" },
  ];
  t.is(chooseSnapshot(snapshots, undefined)?.id, "aaaa1111");
  t.is(chooseSnapshot(snapshots, "latest")?.id, "aaaa1111");
  t.is(chooseSnapshot(snapshots, "cccc")?.id, "cccc2222");
  t.is(chooseSnapshot(snapshots, "dddd"), undefined);
  t.is(chooseSnapshot([], undefined), undefined);
});

test("the restore refuses existing containers and full volumes, naming them and the way on, in both languages", (t) => {
  t.is(refuseContainers([]), undefined);
  t.is(refuseVolumes([]), undefined);
  const containers = refuseContainers(["bastide-nextcloud-app", "bastide-backups"])!;
  t.regex(containers.en, /\(bastide-nextcloud-app, bastide-backups\).*docker rm -f bastide-nextcloud-app bastide-backups/);
  t.regex(containers.fr, /n'écrase jamais/);
  const volumes = refuseVolumes(["bastide-nextcloud-db"])!;
  t.regex(volumes.en, /already hold data: bastide-nextcloud-db\..*docker volume rm bastide-nextcloud-db/);
  t.regex(volumes.fr, /contiennent déjà des données : bastide-nextcloud-db/);
});

test("the restore makes every volume of the stack, with the stack's names and what they hold; every database is among them", (t) => {
  const config = exampleAssociation();
  const volumes = stackVolumes(blueprints(config));
  const names = volumes.map((v) => v.name);
  t.true(names.includes("bastide-nextcloud-html"));
  t.true(volumes.every((v) => v.holds.length > 0));
  for (const dump of backupPlan(blueprints(config)).dumps) t.true(names.includes(`bastide-${dump.service}-${dump.volume}`), dump.file);
});

test("MariaDB's exact row counts quote table names, backquotes included", (t) => {
  t.is(mariadbRowCounts(["fd_poll", "we`ird"]), "SELECT (SELECT COUNT(*) FROM `fd_poll`), (SELECT COUNT(*) FROM `we``ird`)");
});
