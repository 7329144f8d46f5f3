// The restic commands the backup job runs, as argv and environment: never a shell string.
// restic 0.14.0, Debian 12's package (restic 0.14.0-1+b5, bookworm/main), which the job
// installs on the host and the tests run. Repository addresses and options: restic's manual at
// v0.14.0, doc/030_preparing_a_new_repo.rst (sftp://user@host:port//absolute/path, s3:https://
// endpoint/bucket/prefix, a local path; sftp.command), doc/040_backup.rst, doc/050_restore.rst,
// doc/060_forget.rst (--keep-daily/--keep-weekly/--keep-monthly, --prune) and doc/045_working_with_repos.rst (check).
import type { BackupDestination, BackupSettings } from "./settings.ts";

/** Every snapshot carries this host name, so that "latest" is found from a new server too. */
export const SNAPSHOT_HOST = "bastide";
export const SNAPSHOT_TAG = "bastide";

export interface ResticCommand {
  argv: string[];
}

/** Files on the server the commands read; the job writes them (root only) from the Pulumi secrets. */
export interface ResticFiles {
  passwordFile: string;
  /** SFTP only: the private key the server logs in with, and the known host key of the destination. */
  sshKey?: string;
  knownHosts?: string;
}

/** Characters restic's option splitter and ssh read literally: no quote, space or shell syntax. */
const LITERAL = /^[A-Za-z0-9@%+=:,./_-]+$/;

function literal(value: string, what: string): string {
  if (!LITERAL.test(value)) throw new Error(`${what} ${JSON.stringify(value)} holds characters that would need quoting; refused`);
  return value;
}

export function repositoryAddress(destination: BackupDestination): string {
  switch (destination.type) {
    case "sftp":
      // The double slash makes the path absolute on the server.
      return `sftp://${destination.user}@${destination.host}:${destination.port}/${destination.path}`;
    case "s3":
      return `s3:https://${destination.endpoint}/${destination.bucket}/${destination.prefix}`;
    case "disk":
      return destination.path;
  }
}

/** ssh as restic runs it for SFTP: this key only, this host key only, never a password prompt. */
export function sftpCommand(destination: Extract<BackupDestination, { type: "sftp" }>, files: ResticFiles): string {
  if (!files.sshKey || !files.knownHosts) throw new Error("an SFTP destination needs the server's SSH key and the destination's known host key");
  const parts = [
    "ssh",
    "-i", literal(files.sshKey, "SSH key path"),
    "-p", String(destination.port),
    "-o", `UserKnownHostsFile=${literal(files.knownHosts, "known hosts path")}`,
    "-o", "StrictHostKeyChecking=yes",
    "-o", "BatchMode=yes",
    "-o", "IdentitiesOnly=yes",
    literal(`${destination.user}@${destination.host}`, "SFTP login"),
    "-s", "sftp",
  ];
  return parts.join(" ");
}

/** Options every command takes: the repository, its password file, and how to reach it. */
function common(destination: BackupDestination, files: ResticFiles): string[] {
  return [
    `--repo=${repositoryAddress(destination)}`,
    `--password-file=${files.passwordFile}`,
    ...(destination.type === "sftp" ? ["--option", `sftp.command=${sftpCommand(destination, files)}`] : []),
    // Not a terminal: no progress bars in the job's log.
    "--quiet",
  ];
}

/**
 * Environment the commands need beyond their arguments: S3's keys (restic reads AWS_ACCESS_KEY_ID
 * and AWS_SECRET_ACCESS_KEY, doc/030), filled by the job from the Pulumi secrets.
 */
export const S3_KEY_ENV = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] as const;

export function resticCommands(settings: Pick<BackupSettings, "destination" | "retention">, files: ResticFiles) {
  const base = common(settings.destination, files);
  const { daily, weekly, monthly } = settings.retention;
  return {
    /** Once, when the repository does not exist yet. */
    init: { argv: ["restic", ...base, "init"] },
    /** `json`: one JSON message per line; the summary one carries snapshot_id, total_bytes_processed and data_added (restic v0.14.0 internal/ui/backup/json.go, summaryOutput; the job test reads it from the real program). */
    backup: (paths: string[], { json = false } = {}): ResticCommand => {
      if (paths.length === 0) throw new Error("a backup needs at least one path");
      // "--" so that no path can be read as an option.
      return { argv: ["restic", ...base, ...(json ? ["--json"] : []), "backup", `--host=${SNAPSHOT_HOST}`, `--tag=${SNAPSHOT_TAG}`, "--", ...paths] };
    },
    forget: {
      argv: ["restic", ...base, "forget", `--host=${SNAPSHOT_HOST}`, `--tag=${SNAPSHOT_TAG}`, `--keep-daily=${daily}`, `--keep-weekly=${weekly}`, `--keep-monthly=${monthly}`, "--prune"],
    },
    check: { argv: ["restic", ...base, "check"] },
    snapshots: { argv: ["restic", ...base, "snapshots", `--host=${SNAPSHOT_HOST}`, `--tag=${SNAPSHOT_TAG}`, "--json"] },
    /** `snapshot` is an id from `snapshots`, or "latest". */
    restore: (snapshot: string, target: string): ResticCommand => {
      if (!/^(latest|[0-9a-f]{8,64})$/.test(snapshot)) throw new Error(`${JSON.stringify(snapshot)} is not a snapshot id (8-64 hex digits) or "latest"`);
      return { argv: ["restic", ...base, "restore", snapshot, `--host=${SNAPSHOT_HOST}`, `--tag=${SNAPSHOT_TAG}`, `--target=${target}`] };
    },
  };
}
