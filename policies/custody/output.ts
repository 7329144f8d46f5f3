// What the stack gives the emergency sheet and the handover page: its BACKUP_STACK_OUTPUT
// output (stacks/backups/layout.ts), read with `pulumi stack output --show-secrets --json`
// through the one reader Bastide's commands share (provisioners/runtime/stack-outputs.ts), and
// checked here against what the association file says of the destination. The stack registers
// it (the backups' wiring); this schema is the shape it must have.
import { z } from "zod";
import type { Association } from "../../stacks/config/schema.ts";
import { BACKUP_STACK_OUTPUT } from "../../stacks/backups/layout.ts";
import { repositoryAddress } from "../../stacks/backups/restic.ts";
import { pulumiStackOutput, type StackOutputOptions } from "../../provisioners/runtime/stack-outputs.ts";

export const backupOutputSchema = z.strictObject({
  /** restic's repository address, as the job uses it (stacks/backups/restic.ts repositoryAddress). */
  repository: z.string().min(1),
  /** The generated repository password: a Pulumi secret, shown in clear by --show-secrets only. */
  repositoryPassword: z.string().min(16),
  /** SFTP: the public half of the job's generated key, one authorized_keys line, to install on the SFTP server. */
  sshPublicKey: z.string().regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+( .*)?$/).optional(),
  /** S3: the access key id the job uses (its secret half stays a Pulumi secret). */
  s3AccessKeyId: z.string().min(1).optional(),
  /** SFTP: the private half, a Pulumi secret, for `npm run restore` on a new server; the sheet does not print it. */
  sshPrivateKey: z.string().min(1).optional(),
  /** Where the backups are kept (the destination's, or the server's for a second disk). */
  country: z.string().length(2).optional(),
});
export type BackupOutput = z.infer<typeof backupOutputSchema>;

/**
 * The output checked against the association file: the repository the file describes, and the
 * key its destination needs. Throws naming the field and what to do; never quotes the password.
 */
export function checkBackupOutput(config: Association, raw: unknown): BackupOutput {
  if (!config.backups) throw new Error("the association file has no backups: section: there is no backup to recover, so no emergency sheet to make. Add backups: and run npm run deploy first.");
  const parsed = backupOutputSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = [BACKUP_STACK_OUTPUT, ...issue.path.map(String)].join(".");
    throw new Error(`the stack output ${field} is not what Bastide expects (${issue.code === "invalid_type" && issue.input === undefined ? "missing" : issue.message}): run npm run deploy -- <file> again so the stack writes it`);
  }
  const output = parsed.data;
  const expected = repositoryAddress(config.backups.destination);
  if (output.repository !== expected)
    throw new Error(`the stack output ${BACKUP_STACK_OUTPUT}.repository is ${output.repository}, but the association file says ${expected}: deploy the file first (npm run deploy), so the sheet describes the backups that run`);
  const type = config.backups.destination.type;
  if (type === "sftp" && !output.sshPublicKey) throw new Error(`the stack output ${BACKUP_STACK_OUTPUT}.sshPublicKey is missing: an SFTP destination needs the job's public key; run npm run deploy again`);
  if (type === "s3" && !output.s3AccessKeyId) throw new Error(`the stack output ${BACKUP_STACK_OUTPUT}.s3AccessKeyId is missing: an S3 destination needs its access key id; run npm run deploy again`);
  return output;
}

/** The output from the admin's stack; `options.program` lets tests stand in for Pulumi. */
export function readBackupOutput(config: Association, options: StackOutputOptions = {}): BackupOutput {
  const text = pulumiStackOutput({ ...options, output: BACKUP_STACK_OUTPUT });
  if (text === undefined) throw new Error("the Pulumi CLI could not be run: see npm run pulumi -- version");
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // The text may hold the password: it is never quoted.
    throw new Error(`the stack output ${BACKUP_STACK_OUTPUT} is not JSON`);
  }
  return checkBackupOutput(config, raw);
}
