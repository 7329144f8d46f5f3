// Where the backup job keeps things, and the two records it writes: shared by the job that
// writes them (stacks/backups/job.ts), the stack that deploys it, the restore drill and the
// restore that read them, and the audit and the DPO's documents that quote them.
// One place, so the writer and the readers cannot disagree about a path or a field.
import { z } from "zod";

/** The job's container and its image (docker/backups, built like Framadate's). */
export const BACKUP_CONTAINER = "bastide-backups";

/** The job's own small volume: its status and the restore drills' records. Not backed up (it describes the backups). */
export const STATE_VOLUME = "bastide-backups-state";
export const STATE_DIR = "/var/lib/bastide-backups";
export const STATUS_FILE = `${STATE_DIR}/status.json`;
export const DRILL_FILE = `${STATE_DIR}/drill.json`;

/** Secret files the stack uploads into the job's container (root only, mode 0400). */
export const SECRET_DIR = "/run/bastide-backups";
export const SECRET_FILES = {
  repositoryPassword: `${SECRET_DIR}/repository-password`,
  sshKey: `${SECRET_DIR}/ssh-key`,
  knownHosts: `${SECRET_DIR}/known-hosts`,
} as const;

/** Inside the job's container, every backed-up volume is mounted read-only at /data/<service>/<volume>. */
export const DATA_ROOT = "/data";
export const volumeMountPath = (service: string, volume: string) => `${DATA_ROOT}/${service}/${volume}`;

/** What one snapshot holds besides the volumes: the dumps and the manifest, written fresh before each backup. */
export const SNAPSHOT_ROOT = "/backup";
export const DUMP_DIR = `${SNAPSHOT_ROOT}/dumps`;
export const MANIFEST_FILE = `${SNAPSHOT_ROOT}/manifest.json`;
/** One `sha256sum` listing per files volume, checked by `sha256sum --check` after a restore. */
export const CHECKSUM_DIR = `${SNAPSHOT_ROOT}/checksums`;
export const checksumFile = (service: string, volume: string) => `${CHECKSUM_DIR}/${service}-${volume}.sha256`;

/** Why a backup ran. */
export const BACKUP_REASONS = ["daily", "pre-upgrade", "manual"] as const;

const isoDate = z.iso.datetime({ offset: true });

/** What the backup recorded at backup time, inside the snapshot: what the drill compares a restore with. */
export const manifestSchema = z.strictObject({
  version: z.literal(1),
  createdAt: isoDate,
  reason: z.enum(BACKUP_REASONS),
  /** The images that were running, by container: the restore and a rollback name them. */
  images: z.record(z.string(), z.string()),
  dumps: z.array(
    z.strictObject({
      service: z.string(),
      volume: z.string(),
      engine: z.enum(["postgres", "mariadb"]),
      database: z.string(),
      /** File name in DUMP_DIR. */
      file: z.string(),
      bytes: z.number().int().nonnegative(),
      /** Rows per table, counted in the dump itself. */
      tables: z.record(z.string(), z.number().int().nonnegative()),
    }),
  ),
  volumes: z.array(
    z.strictObject({
      service: z.string(),
      volume: z.string(),
      files: z.number().int().nonnegative(),
      bytes: z.number().int().nonnegative(),
      /** Path of its sha256sum listing, under CHECKSUM_DIR. */
      checksums: z.string(),
    }),
  ),
});
export type Manifest = z.infer<typeof manifestSchema>;

const run = z.strictObject({
  reason: z.enum(BACKUP_REASONS),
  startedAt: isoDate,
  finishedAt: isoDate,
  outcome: z.enum(["ok", "failed"]),
  /** restic's snapshot id, when one was made. */
  snapshot: z.string().optional(),
  /** Bytes the snapshot holds, and bytes it added to the repository (restic's summary). */
  totalBytes: z.number().int().nonnegative().optional(),
  addedBytes: z.number().int().nonnegative().optional(),
  /** The step that failed and what it printed last; never a secret. */
  error: z.string().optional(),
});

/** The job's status file: the last run and the last good one, which the audit reads. */
export const statusSchema = z.strictObject({
  version: z.literal(1),
  lastRun: run,
  lastSuccess: run.optional(),
});
export type BackupStatus = z.infer<typeof statusSchema>;
export type BackupRun = z.infer<typeof run>;

/** The last restore drill: the audit reports its date, the security measures quote it. */
export const drillSchema = z.strictObject({
  version: z.literal(1),
  at: isoDate,
  snapshot: z.string(),
  snapshotTime: isoDate,
  outcome: z.enum(["ok", "failed"]),
  databases: z.array(z.strictObject({ file: z.string(), tables: z.number().int(), rows: z.number().int(), matches: z.boolean() })),
  volumes: z.array(z.strictObject({ service: z.string(), volume: z.string(), files: z.number().int(), matches: z.boolean() })),
  seconds: z.number().nonnegative(),
  problems: z.array(z.string()),
});
export type DrillRecord = z.infer<typeof drillSchema>;

/** The program in the job's image: `bastide-backup schedule` (the container's command: runs daily), `bastide-backup run --reason R` (one backup now; exits non-zero when it failed). */
export const JOB_COMMAND = "/usr/local/bin/bastide-backup";

/** Stack output (a Pulumi secret where it holds one) with what the emergency sheet and the handover page need. */
export const BACKUP_STACK_OUTPUT = "backups";
