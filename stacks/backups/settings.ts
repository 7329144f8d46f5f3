// `backups:` in the association file: where the encrypted backups go, how long they are kept,
// and when the daily job runs. Optional: without it the register keeps saying that backups are
// not provided. The repository password is never in the file: the stack generates it as a
// Pulumi secret. S3 keys are supplied by the admin as Pulumi secrets (below), never in the file.
import { z } from "zod";
import { euCountry, shown, withValue } from "../config/fields.ts";

/** Pulumi secret config keys of an S3-compatible destination's access key. */
export const S3_ACCESS_KEY_CONFIG = { id: "backupS3AccessKeyId", secret: "backupS3SecretAccessKey" } as const;

const HOSTNAME = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/i;
/**
 * Paths are written into restic's repository address and ssh's command line: letters, digits and
 * . _ - / only, so no quoting, globbing or option parsing can ever change their meaning.
 */
const SAFE_PATH = /^\/(?:[A-Za-z0-9._-]+\/?)*$/;

const host = z.string({ error: "must be the server's host name, such as u123456.your-storagebox.de" }).trim().regex(HOSTNAME, {
  error: withValue("must be a host name such as u123456.your-storagebox.de (letters, digits, hyphens and dots)"),
});

const absolutePath = (example: string) =>
  z
    .string({ error: `must be an absolute folder path such as ${example}` })
    .trim()
    .superRefine((value, ctx) => {
      if (!SAFE_PATH.test(value) || value.split("/").some((part) => part === ".."))
        ctx.addIssue({ code: "custom", message: `${shown(value)} must be an absolute folder path such as ${example}, made of letters, digits, dots, hyphens and underscores` });
    });

/** Whoever holds the backups holds the data: the country is written in the register, and must be in the EU/EEA. */
const country = euCountry;

/**
 * Host key types OpenSSH 9.2 (Debian 12's ssh, which the job runs) accepts from a server, as
 * ssh-keyscan and ~/.ssh/known_hosts write them (ssh(1), HostKeyAlgorithms; sshd(8), "SSH_KNOWN_HOSTS
 * FILE FORMAT": "keytype base64-key").
 */
export const HOST_KEY_TYPES = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"] as const;

/**
 * Why a host key line is not one, or undefined. The base64 part is the key in SSH's wire format,
 * which starts with its own type as a length-prefixed string (RFC 4253 section 6.6; RFC 8709
 * section 4 for ssh-ed25519): checking that catches a key pasted from another line or cut short.
 */
export function hostKeyProblem(value: string): string | undefined {
  const fix = 'give the server\'s key as "ssh-ed25519 AAAA…": the key type and the key that `ssh-keyscan -p PORT HOST` prints after the host name, or that your provider publishes';
  const words = value.trim().split(/\s+/);
  if (words.length === 3 && (HOST_KEY_TYPES as readonly string[]).includes(words[1]!)) return `${shown(value)} starts with a host name: ${fix}`;
  if (words.length !== 2) return `${shown(value)} must be the key type and the key, nothing else: ${fix}`;
  const [type, key] = words as [string, string];
  if (!(HOST_KEY_TYPES as readonly string[]).includes(type)) return `${shown(type)} is not a host key type ssh accepts (${HOST_KEY_TYPES.join(", ")}): ${fix}`;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || key.length % 4 !== 0) return `the key after ${type} is not base64 text: ${fix}`;
  const blob = Buffer.from(key, "base64");
  const length = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  if (length !== type.length || blob.subarray(4, 4 + length).toString("latin1") !== type || blob.length <= 4 + length)
    return `the key after ${type} is not an ${type} key (its content names another type, or it is cut short): ${fix}`;
  return undefined;
}

/** "type base64": what known_hosts holds after the host name. */
const hostKey = z
  .string({ error: 'must be the SFTP server\'s host key, such as "ssh-ed25519 AAAAC3Nza…" (the key type and the key `ssh-keyscan -p PORT HOST` prints), so that the backups go to that server only' })
  .superRefine((value, ctx) => {
    const problem = hostKeyProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .transform((value) => value.trim().split(/\s+/).join(" "));

const sftp = z.strictObject({
  type: z.literal("sftp"),
  host,
  port: z.number({ error: withValue("must be a port number, 1-65535") }).int({ error: withValue("must be a port number, 1-65535") }).min(1, { error: withValue("must be a port number, 1-65535") }).max(65535, { error: withValue("must be a port number, 1-65535") }).default(22),
  user: z.string({ error: "must be the SFTP login, such as u123456" }).regex(/^[a-z_][a-z0-9_.-]{0,31}$/i, {
    error: withValue("must be the SFTP login, such as u123456 (letters, digits, . _ -, at most 32 characters)"),
  }),
  path: absolutePath("/backups/bastide"),
  /** The server's host key: ssh refuses any other server (StrictHostKeyChecking=yes, restic.ts). */
  hostKey,
  country,
});

const s3 = z.strictObject({
  type: z.literal("s3"),
  /**
   * The provider's S3 endpoint, e.g. fsn1.your-objectstorage.com (Hetzner) or s3.fr-par.scw.cloud (Scaleway),
   * with a port only when it is not 443 (a self-hosted server). Always reached over HTTPS.
   */
  endpoint: z.string({ error: "must be the provider's S3 endpoint, such as fsn1.your-objectstorage.com" }).trim().superRefine((value, ctx) => {
    const [name, port, ...rest] = value.split(":");
    const portOk = port === undefined || (/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535);
    if (rest.length > 0 || !HOSTNAME.test(name ?? "") || !portOk)
      ctx.addIssue({
        code: "custom",
        message: `${shown(value)} must be the provider's S3 endpoint, a host name such as fsn1.your-objectstorage.com, optionally followed by :port; no https:// and no path`,
      });
  }),
  bucket: z.string({ error: "must be the bucket's name, such as asso-exemple-backups" }).regex(/^(?!xn--)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, {
    error: withValue("must be a bucket name such as asso-exemple-backups: 3-63 lower-case letters, digits, dots and hyphens"),
  }),
  /** Folder inside the bucket, so one bucket can hold other things too. */
  prefix: z.string().regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, { error: withValue("must be a folder name inside the bucket, such as bastide") }).default("bastide"),
  country,
});

const disk = z.strictObject({
  type: z.literal("disk"),
  /** The mount point of a second disk: a copy on the same disk as the data dies with it. */
  path: absolutePath("/mnt/backup").refine((value) => !/^\/(var\/lib\/docker)?\/?$/.test(value) && !value.startsWith("/var/lib/docker/"), {
    error: withValue("must be the mount point of a second disk, such as /mnt/backup: not the root folder and not Docker's own folder"),
  }),
});

export const DESTINATION_TYPES = ["sftp", "s3", "disk"] as const;

const destination = z.discriminatedUnion("type", [sftp, s3, disk], {
  error: (issue) =>
    issue.code === "invalid_union"
      ? `${issue.input && typeof issue.input === "object" && "type" in issue.input ? `${shown((issue.input as { type: unknown }).type)}: ` : ""}type must be sftp (an SFTP server), s3 (S3-compatible object storage in the EU) or disk (a second disk)`
      : "must say where the backups go: type sftp, s3 or disk, and its address",
});

/**
 * How many snapshots are kept, as restic's --keep-daily/--keep-weekly/--keep-monthly count them.
 * Bounded above: an erased member's data disappears from the backups only when the last snapshot
 * holding it expires, so the longest retention is a promise written in the register.
 */
export const RETENTION_BOUNDS = { daily: [1, 31], weekly: [0, 8], monthly: [0, 12] } as const;

const keep = (what: keyof typeof RETENTION_BOUNDS, unit: string) => {
  const [min, max] = RETENTION_BOUNDS[what];
  const message = `must be a whole number of ${unit} backups to keep, ${min}-${max}`;
  return z.number({ error: withValue(message) }).int({ error: withValue(message) }).min(min, { error: withValue(message) }).max(max, { error: withValue(`${message}: erased data stays in the backups until the last one holding it expires`) });
};

const retention = z
  .strictObject({
    daily: keep("daily", "daily").default(7),
    weekly: keep("weekly", "weekly").default(4),
    monthly: keep("monthly", "monthly").default(3),
  })
  .prefault({});

export const backupSettings = z.strictObject({
  destination,
  retention,
  /** When the daily backup starts, UTC, "HH:MM"; Nextcloud's heavy jobs run from 01:00 UTC. */
  time: z
    .string({ error: 'must be a time of day such as "02:30" (UTC)' })
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: withValue('must be a time of day, HH:MM in UTC, such as "02:30"; quote it in the file') })
    .default("02:30"),
});

export type BackupSettings = z.infer<typeof backupSettings>;
export type BackupDestination = BackupSettings["destination"];

/** The longest time, in days, a snapshot is kept: what the register will promise about erased data. */
export function longestRetentionDays(retention: BackupSettings["retention"]): number {
  const { daily, weekly, monthly } = retention;
  // restic keeps the last snapshot of each of the N most recent days, weeks and months that have one.
  return Math.max(daily, weekly * 7, monthly * 31);
}

/**
 * The destination's line in known_hosts, for ssh's UserKnownHostsFile: a non-standard port is
 * written "[host]:port" (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT").
 */
export function knownHostsLine(destination: Extract<BackupDestination, { type: "sftp" }>): string {
  const host = destination.port === 22 ? destination.host : `[${destination.host}]:${destination.port}`;
  return `${host} ${destination.hostKey}\n`;
}
