// The backup job's container, as a pure description the stack deploys (stacks/backups/component.ts):
// its image, the volumes it reads, the networks it joins to reach each database, and the secrets
// and files it needs. Derived from the backup plan, so a volume the plan covers is mounted here.
import type { Association } from "../config/schema.ts";
import type { ServiceBlueprint, ServiceName } from "../services/blueprint.ts";
import { backupPlan } from "./plan.ts";
import { JOB_COMMAND, volumeMountPath } from "./layout.ts";
import { S3_KEY_ENV } from "./restic.ts";
import { S3_ACCESS_KEY_CONFIG } from "./settings.ts";

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

/** The job for these blueprints; undefined when the file asks for no backups. */
export function backupJob(config: Association, blueprints: readonly ServiceBlueprint[]): BackupJobBlueprint | undefined {
  if (!config.backups) return undefined;
  const plan = backupPlan(blueprints);
  return {
    image: "bastide/backups:0.14.0",
    command: [JOB_COMMAND, "schedule"],
    memoryMb: 512,
    env: {},
    serviceSecretEnv: {},
    providedSecretEnv: config.backups.destination.type === "s3" ? { [S3_KEY_ENV[0]]: S3_ACCESS_KEY_CONFIG.id, [S3_KEY_ENV[1]]: S3_ACCESS_KEY_CONFIG.secret } : {},
    mounts: plan.files.map(({ service, volume }) => ({ service, volume, path: volumeMountPath(service, volume) })),
    networks: [...new Set(plan.dumps.map((d) => d.service))],
    files: () => [],
  };
}
