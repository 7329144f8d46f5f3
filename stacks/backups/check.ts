// What a restore is checked against: the manifest the backup wrote into the snapshot
// (layout.ts, manifestSchema) compared with what was observed after restoring it (rows counted
// in the loaded databases, `sha256sum --check` of each files volume). Pure, shared by the
// restore drill and the restore; the report is the drill's dated text in both languages.
import type { Language, Localized } from "../../cli/command.ts";
import type { DrillRecord, Manifest } from "./layout.ts";

/** What was counted in one loaded dump, or why it could not be loaded. */
export type ObservedDatabase = { file: string; tables: Record<string, number> } | { file: string; failed: string };

/** What `sha256sum --check` and a count of the restored files said about one files volume. */
export interface ObservedVolume {
  service: string;
  volume: string;
  /** Regular files found in the restored volume. */
  files: number;
  /** Lines in the backup's listing. */
  listed: number;
  /** Paths sha256sum reported as FAILED (changed) or FAILED open or read (missing). */
  failed: string[];
}

export interface Observed {
  databases: ObservedDatabase[];
  volumes: ObservedVolume[];
}

/** A problem, said in each language; the first ones are named, the rest counted. */
export type Problem = Localized;

const MAX_NAMED_FILES = 10;

function databaseProblems(expected: Manifest["dumps"][number], seen: ObservedDatabase | undefined): Problem[] {
  const file = expected.file;
  if (!seen) return [{ en: `${file}: the snapshot holds no such dump`, fr: `${file} : l'instantané ne contient pas cette sauvegarde de base` }];
  if ("failed" in seen) return [{ en: `${file}: could not be loaded: ${seen.failed}`, fr: `${file} : impossible de la charger : ${seen.failed}` }];
  const problems: Problem[] = [];
  for (const [table, rows] of Object.entries(expected.tables)) {
    const found = seen.tables[table];
    if (found === undefined)
      problems.push({ en: `${file}: table ${table} is missing (the backup recorded ${rows} rows)`, fr: `${file} : la table ${table} manque (la sauvegarde comptait ${rows} lignes)` });
    else if (found !== rows)
      problems.push({ en: `${file}: table ${table} has ${found} rows, the backup recorded ${rows}`, fr: `${file} : la table ${table} a ${found} lignes, la sauvegarde en comptait ${rows}` });
  }
  for (const table of Object.keys(seen.tables).filter((t) => !(t in expected.tables)))
    problems.push({ en: `${file}: table ${table} is not in the backup's record`, fr: `${file} : la table ${table} n'est pas dans le relevé de la sauvegarde` });
  return problems;
}

function volumeProblems(expected: Manifest["volumes"][number], seen: ObservedVolume | undefined): Problem[] {
  const name = `${expected.service}/${expected.volume}`;
  if (!seen) return [{ en: `${name}: not restored`, fr: `${name} : non restauré` }];
  const problems: Problem[] = [];
  if (seen.failed.length > 0) {
    const named = seen.failed.slice(0, MAX_NAMED_FILES).join(", ");
    const more = seen.failed.length > MAX_NAMED_FILES ? seen.failed.length - MAX_NAMED_FILES : 0;
    problems.push({
      en: `${name}: ${seen.failed.length} file(s) differ from the backup's checksums or are missing: ${named}${more ? ` and ${more} more` : ""}`,
      fr: `${name} : ${seen.failed.length} fichier(s) diffèrent des sommes de contrôle de la sauvegarde ou manquent : ${named}${more ? ` et ${more} autres` : ""}`,
    });
  }
  if (seen.listed !== expected.files)
    problems.push({ en: `${name}: the checksum listing has ${seen.listed} files, the backup recorded ${expected.files}`, fr: `${name} : la liste des sommes de contrôle a ${seen.listed} fichiers, la sauvegarde en comptait ${expected.files}` });
  if (seen.files !== expected.files)
    problems.push({ en: `${name}: ${seen.files} files restored, the backup recorded ${expected.files}`, fr: `${name} : ${seen.files} fichiers restaurés, la sauvegarde en comptait ${expected.files}` });
  return problems;
}

export interface Comparison {
  databases: DrillRecord["databases"];
  volumes: DrillRecord["volumes"];
  problems: Problem[];
}

/** Every dump and volume the manifest lists, compared with what was observed. */
export function compareWithManifest(manifest: Manifest, observed: Observed): Comparison {
  const comparison: Comparison = { databases: [], volumes: [], problems: [] };
  for (const dump of manifest.dumps) {
    const seen = observed.databases.find((d) => d.file === dump.file);
    const problems = databaseProblems(dump, seen);
    const tables = seen && "tables" in seen ? seen.tables : {};
    comparison.databases.push({
      file: dump.file,
      tables: Object.keys(tables).length,
      rows: Object.values(tables).reduce((sum, n) => sum + n, 0),
      matches: problems.length === 0,
    });
    comparison.problems.push(...problems);
  }
  for (const volume of manifest.volumes) {
    const seen = observed.volumes.find((v) => v.service === volume.service && v.volume === volume.volume);
    const problems = volumeProblems(volume, seen);
    comparison.volumes.push({ service: volume.service, volume: volume.volume, files: seen?.files ?? 0, matches: problems.length === 0 });
    comparison.problems.push(...problems);
  }
  return comparison;
}

/** The drill's record (layout.ts drillSchema), its problems in the association's language. */
export function drillRecord(input: { at: Date; snapshot: string; snapshotTime: Date; seconds: number; comparison: Comparison; language: Language }): DrillRecord {
  const { comparison } = input;
  return {
    version: 1,
    at: input.at.toISOString(),
    snapshot: input.snapshot,
    snapshotTime: input.snapshotTime.toISOString(),
    outcome: comparison.problems.length === 0 ? "ok" : "failed",
    databases: comparison.databases,
    volumes: comparison.volumes,
    seconds: Math.round(input.seconds * 10) / 10,
    problems: comparison.problems.map((p) => p[input.language]),
  };
}

const dateOf = (iso: string) => iso.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC");

/** The dated report the drill prints: the snapshot, each database and volume, and the verdict. */
export function drillReport(record: DrillRecord, language: Language): string {
  const fr = language === "fr";
  const mark = (ok: boolean) => (ok ? "OK" : fr ? "ÉCART" : "MISMATCH").padEnd(9);
  const lines = [
    fr ? `Exercice de restauration du ${dateOf(record.at)}` : `Restore drill of ${dateOf(record.at)}`,
    fr ? `Instantané ${record.snapshot} du ${dateOf(record.snapshotTime)}` : `Snapshot ${record.snapshot} of ${dateOf(record.snapshotTime)}`,
    "",
    fr ? "Bases de données (chargées dans des conteneurs jetables, lignes comptées) :" : "Databases (loaded into throwaway containers, rows counted):",
    ...record.databases.map((d) => `  ${mark(d.matches)}${d.file}: ${d.tables} tables, ${d.rows} ${fr ? "lignes" : "rows"}`),
    fr ? "Volumes de fichiers (sha256sum --check de chaque fichier) :" : "Files volumes (sha256sum --check of every file):",
    ...record.volumes.map((v) => `  ${mark(v.matches)}${v.service}/${v.volume}: ${v.files} ${fr ? "fichiers" : "files"}`),
    "",
  ];
  if (record.outcome === "ok") lines.push(fr ? `Résultat : la sauvegarde se restaure à l'identique (${record.seconds} s).` : `Outcome: the backup restores as recorded (${record.seconds} s).`);
  else lines.push(fr ? `Résultat : ÉCHEC, ${record.problems.length} écart(s) :` : `Outcome: FAILED, ${record.problems.length} mismatch(es):`, ...record.problems.map((p) => `  - ${p}`));
  return lines.join("\n");
}

/**
 * A `sha256sum` listing made relative to the volume's folder, so that it checks the restored
 * copy wherever it lies: lines naming `/data/<service>/<volume>/…` (the job's mount path) lose
 * that prefix, `./…` and relative lines are kept.
 */
export function relativeListing(listing: string, mountPath: string): string {
  const prefix = `${mountPath.replace(/\/$/, "")}/`;
  return listing
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const match = /^(\\?[0-9a-f]{64}) ([ *])(.*)$/.exec(line);
      if (!match) throw new Error(`not a sha256sum line: ${JSON.stringify(line.slice(0, 120))}`);
      const [, hash, mode, path] = match;
      return `${hash} ${mode}${path!.startsWith(prefix) ? path!.slice(prefix.length) : path}`;
    })
    .join("\n")
    .concat("\n");
}

/** The paths `sha256sum --check --quiet` reported as failed (changed, or missing: "FAILED open or read"). */
export function failedChecks(output: string): string[] {
  return output
    .split("\n")
    .map((line) => /^(.*): FAILED(?: open or read)?$/.exec(line)?.[1])
    .filter((path): path is string => path !== undefined)
    .map((path) => path.replace(/^\.\//, ""));
}

/** restic's `snapshots --json` entries (restic 0.14 cmd/restic/cmd_snapshots.go, Snapshot JSON). */
export interface SnapshotEntry {
  id: string;
  short_id?: string;
  time: string;
}

/** The snapshot asked for (an id or its prefix), or the newest; undefined when there is none. */
export function chooseSnapshot(snapshots: readonly SnapshotEntry[], wanted: string | undefined): SnapshotEntry | undefined {
  if (wanted && wanted !== "latest") return snapshots.find((s) => s.id.startsWith(wanted));
  return [...snapshots].sort((a, b) => Date.parse(a.time) - Date.parse(b.time)).at(-1);
}
