// The backup job as its container runs it, on this machine: the script backupJob() renders, with
// every path of the layout under a scratch folder (JobPlaces.root) and the databases on
// loopback, run for real with Debian's pg_dump, mariadb-dump, restic and ssh. Also the example's
// databases, made in the test servers with the owners, names and passwords the plan says.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { backupJob, type BackupJobBlueprint, type JobSecrets } from "../../stacks/backups/job.ts";
import { backupPlan, type BackupPlan } from "../../stacks/backups/plan.ts";
import { backupSettings, type BackupSettings } from "../../stacks/backups/settings.ts";
import type { Association } from "../../stacks/config/schema.ts";
import type { ServiceBlueprint } from "../../stacks/services/blueprint.ts";
import type { MariadbServer } from "./mariadb.ts";
import { requireProgram } from "./programs.ts";
import type { SftpServer } from "./sftp.ts";

/** Debian's PostgreSQL 15 client programs (pg_dump, pg_restore), which the test cluster runs too. */
export const POSTGRES_BIN = "/usr/lib/postgresql/15/bin";

/** The backups section for the test SFTP server: its address, and its host key as ssh-keyscan prints it. */
export function sftpBackups(sftp: Pick<SftpServer, "host" | "port" | "user" | "writable" | "knownHosts">, folder = "repository", extra: Record<string, unknown> = {}): BackupSettings {
  const hostKey = readFileSync(sftp.knownHosts, "utf8").trim().split(" ").slice(1).join(" ");
  return backupSettings.parse({ destination: { type: "sftp", host: sftp.host, port: sftp.port, user: sftp.user, path: join(sftp.writable, folder), hostKey, country: "FR" }, ...extra });
}

export interface DatabaseServers {
  postgres: { port: number; query(database: string, sql: string): string };
  mariadb: MariadbServer;
}

/** A password for every secret a dump logs in with: the values the stack would generate. */
export function databasePasswords(plan: BackupPlan): Map<string, string> {
  return new Map(plan.dumps.map((dump) => [`${dump.service}/${dump.passwordSecret}`, randomBytes(24).toString("base64url")]));
}

/** Each database of the plan, empty, owned by its user as the image's entrypoint makes it. */
export function createDatabases(plan: BackupPlan, servers: DatabaseServers, passwords: Map<string, string>) {
  for (const dump of plan.dumps) {
    const password = passwords.get(`${dump.service}/${dump.passwordSecret}`)!;
    if (dump.engine === "postgres") {
      servers.postgres.query("postgres", `CREATE ROLE ${dump.user} LOGIN PASSWORD '${password}'`);
      servers.postgres.query("postgres", `CREATE DATABASE ${dump.database} OWNER ${dump.user} TEMPLATE template0 ENCODING 'UTF8'`);
    } else {
      servers.mariadb.sql(`CREATE DATABASE ${dump.database} CHARACTER SET utf8mb4; CREATE USER '${dump.user}'@'%' IDENTIFIED BY '${password}'; GRANT ALL ON ${dump.database}.* TO '${dump.user}'@'%';`);
    }
  }
}

export interface InstalledJob {
  job: BackupJobBlueprint;
  plan: BackupPlan;
  /** The scratch folder standing for the container's file system. */
  root: string;
  /** The job's environment: the database passwords and provided secrets its blueprint asks for, and PATH. */
  env: Record<string, string>;
  /** The rendered program, where the container has it (JOB_COMMAND) under `root`. */
  script: string;
  /**
   * `bastide-backup <args>`, to completion. Asynchronous, so that servers of the test process
   * itself (the mail relay) can answer it meanwhile.
   */
  run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string; ms: number }>;
}

/**
 * Renders the job for `config` with its paths under `root` and its databases on loopback, writes
 * its files (the script, the repository password, the SSH key and known host) where it reads
 * them, makes every files volume's folder, and returns a way to run it.
 */
export function installJob(config: Association, blueprints: readonly ServiceBlueprint[], options: { root: string; servers?: DatabaseServers; passwords: Map<string, string>; secrets: JobSecrets; provided?: Record<string, string>; trustedCertificates?: string; extraEnv?: Record<string, string> }): InstalledJob {
  for (const [program, pkg] of [["restic", "restic"], ["jq", "jq"], ["flock", "util-linux"], ["mariadb-dump", "mariadb-client"], ["ssh", "openssh-client"]] as const) requireProgram(program, pkg);
  const { root, servers } = options;
  const job = backupJob(config, blueprints, {
    root,
    // Without servers (a test of the schedule alone) the addresses stay the containers' names, never reached.
    databaseAddress: (dump) => (servers ? { host: "127.0.0.1", port: dump.engine === "postgres" ? servers.postgres.port : servers.mariadb.port } : dump.address),
  });
  if (!job) throw new Error("the test config has no backups section");
  for (const file of job.files(options.secrets)) {
    mkdirSync(dirname(file.path), { recursive: true, mode: 0o700 });
    writeFileSync(file.path, file.content);
    chmodSync(file.path, Number.parseInt(file.mode, 8));
  }
  for (const mount of job.mounts) mkdirSync(mount.path, { recursive: true });
  // Debian's certificate bundle in the image; here, the test relay's own certificate.
  if (options.trustedCertificates) {
    mkdirSync(join(root, "etc/ssl/certs"), { recursive: true });
    writeFileSync(join(root, "etc/ssl/certs/ca-certificates.crt"), options.trustedCertificates);
  }
  const env: Record<string, string> = { PATH: `${POSTGRES_BIN}:${process.env.PATH}`, HOME: root, ...options.extraEnv };
  for (const [variable, { service, secret }] of Object.entries(job.serviceSecretEnv)) {
    const password = options.passwords.get(`${service}/${secret}`);
    if (password === undefined) throw new Error(`no password for ${service}/${secret}`);
    env[variable] = password;
  }
  for (const [variable, key] of Object.entries(job.providedSecretEnv)) {
    const value = options.provided?.[key];
    if (value === undefined) throw new Error(`no value for the provided secret ${key}`);
    env[variable] = value;
  }
  const [script] = job.command;
  return {
    script: script!,
    job,
    plan: backupPlan(blueprints),
    root,
    env,
    run(args) {
      const start = performance.now();
      const child = spawn(script!, args, { env, stdio: ["ignore", "pipe", "pipe"], timeout: 20 * 60_000 });
      let [stdout, stderr] = ["", ""];
      child.stdout.on("data", (chunk) => (stdout += String(chunk)));
      child.stderr.on("data", (chunk) => (stderr += String(chunk)));
      return new Promise((resolve, reject) => {
        child.once("error", reject);
        child.once("close", (status) => resolve({ status, stdout, stderr, ms: performance.now() - start }));
      });
    },
  };
}
