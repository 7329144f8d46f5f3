// Issue 11, the DPO's side of the backups: the register, the retention schedule, the security
// measures and the erase record say what `backups:` makes happen (where, encrypted how, kept
// how long, when erased data leave the backups), quote a restore drill only from its record,
// and keep saying plainly that none are made when the file asks for none.
import test from "ava";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "node-html-parser";
import { registerDocument } from "../../policies/reports/document.ts";
import { renderHtml } from "../../policies/reports/html.ts";
import { securityMeasures } from "../../policies/reports/security.ts";
import { lastBackupExpiry, readDrillRecord } from "../../policies/reports/backups.ts";
import { eraseMember } from "../../policies/dsr/request.ts";
import { drillSchema, type DrillRecord } from "../../stacks/backups/layout.ts";
import { exampleAssociation } from "../support/association.ts";

const SFTP = { type: "sftp", host: "u123456.your-storagebox.de", user: "u123456", path: "/backups/bastide", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfQchOBj6ARnpfH+llfBS54nizCaW0mnxg4JOS2emkz", country: "DE" };
const withBackups = (backups: Record<string, unknown>) => exampleAssociation((input) => (input.backups = backups));
const NOW = new Date("2026-03-15T10:00:00Z");

const DRILL: DrillRecord = drillSchema.parse({
  version: 1,
  at: "2026-03-10T03:12:00Z",
  snapshot: "4f2a9c1e",
  snapshotTime: "2026-03-10T02:30:05Z",
  outcome: "ok",
  databases: [{ file: "nextcloud-db.dump", tables: 120, rows: 5400, matches: true }],
  volumes: [{ service: "nextcloud", volume: "html", files: 812, matches: true }],
  seconds: 94,
  problems: [],
});

const measure = (config: ReturnType<typeof exampleAssociation>, drill?: DrillRecord) => securityMeasures(config, drill).find((m) => m.id === "backups")!;

test("without backups: the measure says plainly that none are made, the schedule says so, no backup holder is listed", (t) => {
  const config = exampleAssociation();
  const m = measure(config);
  t.is(m.status, "not-provided");
  t.regex(m.detail.en, /Bastide makes no backup: the association file has no backups: section/);
  const document = registerDocument(config, { language: "en", generatedAt: NOW });
  t.false(document.backups.configured);
  t.is(document.backups.longestRetentionDays, null);
  t.regex(document.backups.statement, /Bastide makes no backup/);
  t.false(document.location.recipients.some((r) => /encrypted backups/.test(r.role)));
});

test("SFTP backups: a processor in its country on every sheet, encrypted by restic before leaving, with the retention and the erased data's fate", (t) => {
  const config = withBackups({ destination: SFTP, retention: { daily: 7, weekly: 4, monthly: 2 } });
  for (const language of ["fr", "en"] as const) {
    const document = registerDocument(config, { language, generatedAt: NOW });
    const holder = document.location.recipients.find((r) => r.name === SFTP.host)!;
    t.truthy(holder, language);
    t.is(holder.kind, "processor");
    t.is(holder.country, language === "fr" ? "Allemagne" : "Germany");
    t.regex(holder.data, /AES-256/);
    t.regex(holder.data, /restic/);
    t.false(holder.outsideEu);
    // Every sheet names the holder among its processors: each processing's data is in the backups.
    for (const sheet of document.activities) t.true(sheet.recipients.processors.some((p) => p.startsWith(SFTP.host)), `${language} ${sheet.service}`);
    t.is(document.backups.longestRetentionDays, 62);
    t.regex(document.backups.statement, /62/);
    const security = document.security.find((s) => s.id === "backups")!;
    t.not(security.status, "not-provided");
  }
  const en = registerDocument(config, { language: "en", generatedAt: NOW });
  t.regex(en.backups.statement, /disappear from them when the last of those expires, at most 62 days after the erasure/);
  t.regex(en.backups.destination!, /SFTP server u123456\.your-storagebox\.de, folder \/backups\/bastide, in Germany/);
});

test("the register's HTML shows the backups under the retention schedule, and the holder among the processors", (t) => {
  const config = withBackups({ destination: { type: "s3", endpoint: "s3.fr-par.scw.cloud", bucket: "asso-exemple-backups", country: "FR" } });
  const html = parse(renderHtml(registerDocument(config, { language: "fr", generatedAt: NOW })));
  const retention = html.querySelector("section#retention")!;
  t.is(retention.querySelector("h3#backups")!.text.trim(), "Sauvegardes");
  const text = retention.text;
  t.regex(text, /93\s?jours après l’effacement|93 jours après l'effacement/);
  t.regex(text, /stockage objet compatible S3 s3\.fr-par\.scw\.cloud, compartiment asso-exemple-backups\/bastide, en France/);
  const rows = html.querySelectorAll("section#location table")[0]!.querySelectorAll("tbody tr").map((r) => r.querySelectorAll("td").map((c) => c.text.trim()));
  const holder = rows.find((r) => r[0] === "s3.fr-par.scw.cloud");
  t.truthy(holder);
  t.is(holder![2], "France");
});

test("a second disk is no recipient, and the measure says it does not survive losing the server", (t) => {
  const config = withBackups({ destination: { type: "disk", path: "/mnt/backup" } });
  t.false(registerDocument(config, { language: "en", generatedAt: NOW }).location.recipients.some((r) => /backups/.test(r.role)));
  const m = measure(config, DRILL);
  t.is(m.status, "partial");
  t.regex(m.detail.en, /not against losing the server/);
});

test("the restore drill is quoted from its record only: none given, none claimed; a failed one is said to have failed", (t) => {
  const config = withBackups({ destination: SFTP });
  const none = measure(config);
  t.is(none.status, "partial");
  t.regex(none.detail.en, /No restore drill recorded yet/);
  t.notRegex(none.detail.en, /Last successful restore drill/);
  const proven = measure(config, DRILL);
  t.is(proven.status, "in-place");
  t.regex(proven.detail.en, /Last successful restore drill on 10 March 2026/);
  t.regex(proven.detail.fr, /Dernier exercice de restauration réussi le 10 mars 2026/);
  const failed = measure(config, { ...DRILL, outcome: "failed", problems: ["nextcloud-db.dump: 3 rows missing"] });
  t.is(failed.status, "partial");
  t.regex(failed.detail.en, /The last restore drill, on 10 March 2026, failed/);
  const document = registerDocument(config, { language: "en", generatedAt: NOW, drill: DRILL });
  t.regex(document.security.find((s) => s.id === "backups")!.detail, /10 March 2026/);
});

test("a drill record file is read through the job's schema, and a wrong one is refused naming the field", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "bastide-drill-"));
  try {
    const good = join(dir, "drill.json");
    writeFileSync(good, JSON.stringify(DRILL));
    t.deepEqual(readDrillRecord(good), DRILL);
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ ...DRILL, at: "yesterday" }));
    t.throws(() => readDrillRecord(bad), { message: /bad\.json: not a restore drill record: at: .*drill\.json/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the erase record says until when the member stays in the backups, or that Bastide makes none", async (t) => {
  const config = withBackups({ destination: SFTP });
  t.deepEqual(lastBackupExpiry(config, NOW), new Date("2026-06-16T10:00:00Z"));
  const result = await eraseMember({ config, member: "lea.moreau", targets: {}, out: tmpdir(), secrets: [], confirm: false, force: true, clock: () => NOW });
  const note = result.record.notes.find((n) => n.service === "all" && /Backups/.test(n.text.en))!;
  t.truthy(note);
  t.regex(note.text.en, /by 16 June 2026 at the latest/);
  t.regex(note.text.fr, /au plus tard le 16 juin 2026/);
  t.regex(result.text, /16 juin 2026|16 June 2026/);
  const without = await eraseMember({ config: exampleAssociation(), member: "lea.moreau", targets: {}, out: tmpdir(), secrets: [], confirm: false, force: true, clock: () => NOW });
  t.regex(without.record.notes.find((n) => /Backups/.test(n.text.en))!.text.en, /Bastide makes none/);
});
