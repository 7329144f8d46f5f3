// The backup job's container, as a pure description the stack deploys (stacks/backups/component.ts):
// its image, the volumes it reads, the networks it joins to reach each database, and the secrets
// and files it needs. Derived from the backup plan, so a volume the plan covers is mounted here.
//
// The job is one POSIX sh program, templates/backups/bastide-backup.sh.hbs, whose data is all
// computed here and shell-quoted by the one helper (shellQuote): the dumps over each service's
// network, the sha256sum listings and the manifest, restic backup and forget, and the status file.
// It has no Docker socket and no extra privilege.
import { SMTP_PASSWORD_CONFIG } from "../config/mail.ts";
import type { Association } from "../config/schema.ts";
import type { ServiceBlueprint, ServiceName } from "../services/blueprint.ts";
import { containerName } from "../services/blueprint.ts";
import { BUILT_IMAGES } from "../services/images.ts";
import { render, shellQuote } from "../platform/templates.ts";
import { backupPlan, type BackupPlan, type DatabaseDump } from "./plan.ts";
import { resticCommands, S3_KEY_ENV } from "./restic.ts";
import { knownHostsLine, S3_ACCESS_KEY_CONFIG, type BackupSettings } from "./settings.ts";
import {
  CHECKSUM_DIR,
  checksumFile,
  DATA_ROOT,
  DUMP_DIR,
  JOB_COMMAND,
  MANIFEST_FILE,
  SECRET_DIR,
  SECRET_FILES,
  SNAPSHOT_ROOT,
  STATE_DIR,
  STATUS_FILE,
  volumeMountPath,
} from "./layout.ts";

/** A file the stack uploads into the job's container; `holdsSecrets` files are Pulumi secrets. */
export interface JobFile {
  path: string;
  content: string;
  holdsSecrets: boolean;
  /** Octal permission bits, as Docker's upload expects. */
  mode: string;
}

/** The secrets the stack generates for the job (never in the association file). */
export interface JobSecrets {
  repositoryPassword: string;
  /** SFTP only: the server's private key (OpenSSH format). */
  sshPrivateKey?: string;
}

export interface BackupJobBlueprint {
  image: string;
  command: string[];
  memoryMb: number;
  env: Record<string, string>;
  /** Environment variable → a generated secret of another service (a database password). */
  serviceSecretEnv: Record<string, { service: ServiceName; secret: string }>;
  /** Environment variable → a secret the admin supplies (an S3 access key). */
  providedSecretEnv: Record<string, string>;
  /** Volumes of the services, mounted read-only. */
  mounts: { service: ServiceName; volume: string; path: string }[];
  /** Services whose private network the job joins, to reach their database. */
  networks: ServiceName[];
  files(secrets: JobSecrets): JobFile[];
}

/** The job's image, built from docker/backups: tagged with its base's PostgreSQL and its restic version. */
export const BACKUP_IMAGE = `${BUILT_IMAGES.backups.name}:17.11-restic0.14.0`;

/**
 * Where the job runs. In its container every path is the layout's (root ""), and each database
 * is reached by its container's name. A test runs the very same script on this machine with
 * `root` a scratch folder and the databases on loopback.
 */
export interface JobPlaces {
  /** Prefix of every path of the layout (the script's, the volumes', the secret files'). */
  root: string;
  databaseAddress(dump: DatabaseDump): { host: string; port: number };
}

export const IN_CONTAINER: JobPlaces = { root: "", databaseAddress: (dump) => dump.address };

/** How long a run waits for another one to finish (flock) before it gives up: a backup of a large instance takes hours, not days. */
const LOCK_WAIT_SECONDS = 6 * 3600;

/** The environment variable holding a database's password in the job, one per dump. */
export const passwordVariable = (dump: Pick<DatabaseDump, "service" | "volume">) =>
  `BASTIDE_DB_PASSWORD_${dump.service}_${dump.volume}`.toUpperCase().replace(/[^A-Z0-9_]/g, "_");

const words = (argv: readonly string[]) => argv.map(shellQuote).join(" ");

/** msmtp's configuration, beside the other files the stack uploads (not a secret: the password stays in the environment). */
const MAIL_CONFIG = `${SECRET_DIR}/msmtprc`;
/** Debian's bundle of the public certificate authorities (ca-certificates), which msmtp checks the relay against. */
const TRUSTED_CERTIFICATES = "/etc/ssl/certs/ca-certificates.crt";
/** The relay's password, in the job's environment (msmtp's passwordeval reads it). */
export const SMTP_PASSWORD_ENV = "BASTIDE_SMTP_PASSWORD";

/**
 * A value of msmtp's configuration: the rest of the line, one pair of surrounding double quotes
 * removed and nothing unescaped (msmtp 1.8.23's --pretend prints `relais "bastide"` for
 * `user "relais "bastide""`), so quoting keeps spaces and quotes; only a line break cannot be said.
 */
function msmtpValue(value: string, field: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`${field} holds a line break, which msmtp's configuration cannot hold: write it on one line`);
  return `"${value}"`;
}

/** What the failure mail needs: the relay and who gets it (every admin of the association file). */
function failureMail(config: Association, root: string) {
  const mail = config.mail;
  const admins = config.members.filter((m) => m.role === "admin").map((m) => m.email);
  if (!mail || admins.length === 0) return undefined;
  return {
    configFile: `${root}${MAIL_CONFIG}`,
    msmtprc: render("backups/msmtprc", {
      // The relay's words (stacks/config/mail.ts): starttls on port 587, tls for implicit TLS on 465.
      starttls: mail.security === "starttls" ? "on" : "off",
      trustFile: `${root}${TRUSTED_CERTIFICATES}`,
      host: mail.host,
      port: mail.port,
      from: mail.from,
      auth: mail.username ? "on" : "off",
      user: mail.username ? msmtpValue(mail.username, "mail.username") : "",
      passwordVariable: SMTP_PASSWORD_ENV,
    }),
    script: {
      command: words(["msmtp", `--file=${root}${MAIL_CONFIG}`, "--", ...admins]),
      from: shellQuote(mail.from),
      to: shellQuote(admins.join(", ")),
      subject: shellQuote(`[Bastide] the backup of ${config.domain} failed`),
    },
    needsPassword: Boolean(mail.username),
  };
}

function secretFiles(root: string) {
  return {
    passwordFile: `${root}${SECRET_FILES.repositoryPassword}`,
    sshKey: `${root}${SECRET_FILES.sshKey}`,
    knownHosts: `${root}${SECRET_FILES.knownHosts}`,
  };
}

/** The job's program, rendered: every value it uses is computed here. */
export function jobScript(settings: BackupSettings, plan: BackupPlan, images: Record<string, string>, places: JobPlaces, mail?: ReturnType<typeof failureMail>): string {
  const { root } = places;
  const files = secretFiles(root);
  const restic = resticCommands(settings, settings.destination.type === "sftp" ? files : { passwordFile: files.passwordFile });
  const dumpDir = `${root}${DUMP_DIR}`;
  return render("backups/bastide-backup.sh", {
    stateDir: shellQuote(`${root}${STATE_DIR}`),
    statusFile: shellQuote(`${root}${STATUS_FILE}`),
    snapshotRoot: shellQuote(`${root}${SNAPSHOT_ROOT}`),
    dumpDir: shellQuote(dumpDir),
    checksumDir: shellQuote(`${root}${CHECKSUM_DIR}`),
    manifestFile: shellQuote(`${root}${MANIFEST_FILE}`),
    lockWaitSeconds: LOCK_WAIT_SECONDS,
    time: shellQuote(settings.time),
    images: shellQuote(JSON.stringify(images)),
    dumps: plan.dumps.map((dump) => {
      const { host, port } = places.databaseAddress(dump);
      const [program, ...options] = dump.dump.argv;
      return {
        label: shellQuote(`${dump.service}/${dump.volume}`),
        service: shellQuote(dump.service),
        volume: shellQuote(dump.volume),
        engine: shellQuote(dump.engine),
        database: shellQuote(dump.database),
        fileName: shellQuote(dump.file),
        path: shellQuote(`${dumpDir}/${dump.file}`),
        rowCounter: `count_${dump.engine}_rows`,
        passwordEnv: dump.dump.passwordEnv,
        passwordVariable: passwordVariable(dump),
        command: words([program!, `--host=${host}`, `--port=${port}`, ...options]),
      };
    }),
    volumes: plan.files.map(({ service, volume }) => ({
      label: shellQuote(`${service}/${volume}`),
      service: shellQuote(service),
      volume: shellQuote(volume),
      path: shellQuote(`${root}${volumeMountPath(service, volume)}`),
      checksums: shellQuote(`${root}${checksumFile(service, volume)}`),
    })),
    mail: mail?.script ?? false,
    restic: {
      snapshots: words(restic.snapshots.argv),
      init: words(restic.init.argv),
      backup: words(restic.backup([`${root}${SNAPSHOT_ROOT}`, `${root}${DATA_ROOT}`], { json: true }).argv),
      forget: words(restic.forget.argv),
    },
  });
}

/** Which image each container of the stack runs, by container name: the manifest records it for a rollback. */
const runningImages = (blueprints: readonly ServiceBlueprint[]) =>
  Object.fromEntries(blueprints.flatMap((b) => b.containers.map((c) => [containerName(b.service, c.name), c.image])).sort(([a], [b]) => a!.localeCompare(b!)));

/** The job for these blueprints; undefined when the file asks for no backups. */
export function backupJob(config: Association, blueprints: readonly ServiceBlueprint[], places: JobPlaces = IN_CONTAINER): BackupJobBlueprint | undefined {
  const settings = config.backups;
  if (!settings) return undefined;
  const plan = backupPlan(blueprints);
  const { root } = places;
  const mail = failureMail(config, root);
  const script = jobScript(settings, plan, runningImages(blueprints), places, mail);
  const secretFilePaths = secretFiles(root);
  const destination = settings.destination;
  return {
    image: BACKUP_IMAGE,
    command: [`${root}${JOB_COMMAND}`, "schedule"],
    memoryMb: 512,
    env: {},
    serviceSecretEnv: Object.fromEntries(plan.dumps.map((dump) => [passwordVariable(dump), { service: dump.service, secret: dump.passwordSecret }])),
    providedSecretEnv: {
      ...(destination.type === "s3" ? { [S3_KEY_ENV[0]]: S3_ACCESS_KEY_CONFIG.id, [S3_KEY_ENV[1]]: S3_ACCESS_KEY_CONFIG.secret } : {}),
      ...(mail?.needsPassword ? { [SMTP_PASSWORD_ENV]: SMTP_PASSWORD_CONFIG } : {}),
    },
    mounts: plan.files.map(({ service, volume }) => ({ service, volume, path: `${root}${volumeMountPath(service, volume)}` })),
    networks: [...new Set(plan.dumps.map((d) => d.service))],
    files: (secrets) => {
      const files: JobFile[] = [
        { path: `${root}${JOB_COMMAND}`, content: script, holdsSecrets: false, mode: "0500" },
        { path: secretFilePaths.passwordFile, content: secrets.repositoryPassword, holdsSecrets: true, mode: "0400" },
      ];
      if (mail) files.push({ path: mail.configFile, content: mail.msmtprc, holdsSecrets: false, mode: "0400" });
      if (destination.type === "sftp") {
        if (!secrets.sshPrivateKey) throw new Error("backups.destination is an SFTP server: the job needs the server's SSH private key (JobSecrets.sshPrivateKey)");
        files.push(
          { path: secretFilePaths.sshKey, content: secrets.sshPrivateKey, holdsSecrets: true, mode: "0400" },
          { path: secretFilePaths.knownHosts, content: knownHostsLine(destination), holdsSecrets: false, mode: "0400" },
        );
      }
      return files;
    },
  };
}
