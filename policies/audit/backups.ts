// The backups, as the audit sees them: what should hold (a recent good backup, a recent
// successful restore drill) and the reader that fetches the job's two records from its
// container, through the Docker engine as the other files are read (`cat` through exec),
// parsed with the very schemas the job writes them with (stacks/backups/layout.ts).
import type Docker from "dockerode";
import type { Association } from "../../stacks/config/schema.ts";
import { BACKUP_CONTAINER, DRILL_FILE, drillSchema, statusSchema, STATUS_FILE, type BackupStatus, type DrillRecord } from "../../stacks/backups/layout.ts";
import { execInContainer } from "../../provisioners/runtime/docker.ts";
import type { Invalid } from "./parse.ts";

/**
 * How old the last good backup may be. The job runs once a day at backups.time: 24 hours
 * between two runs, plus 2 for a run to finish (dumps, maintenance mode, the upload) and for
 * the audit not to fail in the minutes before the next run. One missed day fails the rule the
 * next day, not a week later.
 */
export const BACKUP_MAX_AGE_HOURS = 26;

/**
 * How old the last successful restore drill may be: a month. A backup is only as good as its
 * last restore, and a drill restores everything into throwaway containers, which on a small
 * server costs the time and disk of a full restore: monthly, like the shortest monthly retention,
 * keeps a proven restore within reach of every kept monthly backup. An audit constant, not a
 * setting: it is what "proven" means here, not an association's choice.
 */
export const DRILL_MAX_AGE_DAYS = 30;

export interface DeclaredBackups {
  /** The job's container, by name (it carries no bastide.service label: it is no service). */
  container: string;
  statusFile: string;
  drillFile: string;
  maxAgeHours: number;
  drillMaxAgeDays: number;
}

/** null: the association file asks for no backups, a finding of its own. */
export function declaredBackups(config: Association): DeclaredBackups | null {
  if (!config.backups) return null;
  return {
    container: BACKUP_CONTAINER,
    statusFile: STATUS_FILE,
    drillFile: DRILL_FILE,
    maxAgeHours: BACKUP_MAX_AGE_HOURS,
    drillMaxAgeDays: DRILL_MAX_AGE_DAYS,
  };
}

/** A record the job writes, or null when it has not written it yet, or why it cannot be understood. */
export type JobRecord<T> = T | Invalid | null;

export type BackupJobFacts =
  | { container: "missing" }
  | { container: "stopped" }
  | { container: "running"; status: JobRecord<BackupStatus>; drill: JobRecord<DrillRecord> };

const EXEC_TIMEOUT_MS = 20_000;

async function readRecord<T>(docker: Docker, container: string, path: string, parse: (data: unknown) => { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } }): Promise<JobRecord<T>> {
  const result = await execInContainer(docker, container, ["cat", path], { timeoutMs: EXEC_TIMEOUT_MS });
  if (result.exitCode !== 0) {
    // The job writes its records after its first run: before that, there is none.
    if (/no such file/i.test(result.stderr)) return null;
    const why = result.stderr.trim().split("\n")[0]?.slice(0, 200) || `exit ${result.exitCode}`;
    throw new Error(`cannot read ${path} in ${container}: ${why}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(result.stdout);
  } catch (error) {
    return { invalid: `${path}: not JSON (${(error as Error).message.split("\n")[0]})` };
  }
  const parsed = parse(data);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  return { invalid: `${path}: ${issue.path.map(String).join(".") || "(top)"}: ${issue.message}` };
}

/** The job's container and its two records. */
export async function readBackupJob(docker: Docker, spec: DeclaredBackups): Promise<BackupJobFacts> {
  let running: boolean;
  try {
    running = (await docker.getContainer(spec.container).inspect()).State.Running === true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return { container: "missing" };
    throw error;
  }
  if (!running) return { container: "stopped" };
  const [status, drill] = await Promise.all([
    readRecord(docker, spec.container, spec.statusFile, (d) => statusSchema.safeParse(d)),
    readRecord(docker, spec.container, spec.drillFile, (d) => drillSchema.safeParse(d)),
  ]);
  return { container: "running", status, drill };
}
