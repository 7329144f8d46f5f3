// Secrets Bastide cannot generate, such as the mail relay's password: the admin puts them
// in Pulumi's secret config, never in the association file. One table maps the name a
// service asks for to its config key, for the program (stacks/index.ts), the offline
// plan and `npm run deploy`'s check before `pulumi up`.
import { blueprints } from "../services/catalog.ts";
import { backupJob } from "../backups/job.ts";
import { S3_ACCESS_KEY_CONFIG } from "../backups/settings.ts";
import { SMTP_PASSWORD_CONFIG, SMTP_PASSWORD_SECRET } from "./mail.ts";
import type { Association } from "./schema.ts";

/** Pulumi's config namespace of this project (Pulumi.yaml's name). */
export const CONFIG_NAMESPACE = "bastide";

const CONFIG_KEYS: Readonly<Record<string, string>> = {
  [SMTP_PASSWORD_SECRET]: SMTP_PASSWORD_CONFIG,
  // The backup job names the S3 keys it needs by their config keys (stacks/backups/job.ts).
  [S3_ACCESS_KEY_CONFIG.id]: S3_ACCESS_KEY_CONFIG.id,
  [S3_ACCESS_KEY_CONFIG.secret]: S3_ACCESS_KEY_CONFIG.secret,
};

export interface SuppliedSecret {
  /** The name services ask for, e.g. `smtp-password`. */
  name: string;
  /** Its key in the stack's config, without the namespace, e.g. `smtpPassword`. */
  configKey: string;
  /** The command that sets it. */
  command: string;
}

/** The secrets this association needs from the admin, once each. */
export function suppliedSecrets(config: Association): SuppliedSecret[] {
  const all = blueprints(config);
  const forServices = all.flatMap((b) => b.providedSecrets ?? []);
  const forBackups = Object.values(backupJob(config, all)?.providedSecretEnv ?? {});
  const names = [...new Set([...forServices, ...forBackups])];
  return names.map((name) => {
    const configKey = CONFIG_KEYS[name];
    if (!configKey) throw new Error(`a service asks for the secret "${name}", which has no config key in stacks/config/supplied.ts`);
    return { name, configKey, command: `npm run pulumi -- config set --secret ${CONFIG_NAMESPACE}:${configKey} '<value>'` };
  });
}
