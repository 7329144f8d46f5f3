// The admin's stack, in one place: where Pulumi keeps its state (the local file backend),
// which stack, and where the passphrase that encrypts the stack's secrets is kept. Every
// command that runs Pulumi or reads the stack (deploy, `npm run pulumi`, first-password,
// jitsi-password, export-member, erase-member, audit) takes it from here.
//
// - State: `~/.bastide/pulumi` (BASTIDE_STATE_DIR moves `~/.bastide`), given to Pulumi as
//   PULUMI_BACKEND_URL=file://...: no Pulumi account, nothing leaves the machine. Or, with
//   BASTIDE_BACKEND set (cli/backend.ts), the association's own S3-compatible object storage,
//   so that the state outlives the admin's laptop; the passphrase file stays local all the same.
// - Stack: `local`, unless a command is given `--stack NAME`.
// - Passphrase: 32 random bytes, base64url, generated once by `npm run deploy` into
//   `~/.bastide/passphrase` (0600, folder 0700). It is never printed and never passed on a
//   command line: Pulumi reads the file itself, through PULUMI_CONFIG_PASSPHRASE_FILE.
//   PULUMI_CONFIG_PASSPHRASE is removed from Pulumi's environment, because Pulumi reads it
//   first when both are set (pulumi/pulumi pkg/secrets/passphrase/manager.go,
//   getConfigPassphrase), which would use another passphrase than the stack's.
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { CONFIG_NAMESPACE } from "../stacks/config/supplied.ts";
import { BACKEND_ENV, parseS3Backend } from "./backend.ts";

export type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_STACK = "local";
export const STATE_DIR_ENV = "BASTIDE_STATE_DIR";

export interface AdminStack {
  /** `~/.bastide`, or BASTIDE_STATE_DIR. */
  stateDir: string;
  /** Pulumi's state: `<stateDir>/pulumi`. */
  backendDir: string;
  backendUrl: string;
  /** The state is in the association's object storage (BASTIDE_BACKEND), not in backendDir. */
  remote: boolean;
  stack: string;
  passphraseFile: string;
}

export function adminStack(options: { stack?: string | undefined; env?: Env } = {}): AdminStack {
  const env = options.env ?? process.env;
  const stateDir = env[STATE_DIR_ENV] || join(homedir(), ".bastide");
  const backendDir = join(stateDir, "pulumi");
  // Checked here, before Pulumi runs, so that a wrong URL is named with its fix.
  const remote = env[BACKEND_ENV] ? parseS3Backend(env[BACKEND_ENV]!).url : undefined;
  return {
    stateDir,
    backendDir,
    backendUrl: remote ?? `file://${backendDir}`,
    remote: remote !== undefined,
    stack: options.stack || DEFAULT_STACK,
    passphraseFile: join(stateDir, "passphrase"),
  };
}

/**
 * Creates the state folder and, the first time, the passphrase (deploy only: the other
 * commands read a stack that must already exist). The passphrase is written, never shown.
 */
export function prepareState(stack: AdminStack): "passphrase created" | "passphrase kept" {
  mkdirSync(stack.backendDir, { recursive: true });
  chmodSync(stack.stateDir, 0o700);
  if (existsSync(stack.passphraseFile) && statSync(stack.passphraseFile).size > 0) return "passphrase kept";
  writeFileSync(stack.passphraseFile, randomBytes(32).toString("base64url"), { mode: 0o600 });
  return "passphrase created";
}

/**
 * Whether the stack has state here. The file backend keeps a stack at
 * `.pulumi/stacks/<project>/<stack>.json` (the project is Pulumi.yaml's name, CONFIG_NAMESPACE) (pulumi/pulumi pkg/backend/diy/store.go,
 * projectReferenceStore.StackBasePath; `.json.gz` when compressed), and at
 * `.pulumi/stacks/<stack>.json` in its older layout.
 */
export function stackExists(stack: AdminStack): boolean {
  // In object storage only Pulumi can tell; it says so itself when the stack is not there.
  if (stack.remote) return true;
  const stacks = join(stack.backendDir, ".pulumi", "stacks");
  // `organization/bastide/local` names the same stack as `local` in this backend.
  const name = stack.stack.split("/").pop()!;
  return [join(stacks, CONFIG_NAMESPACE, name), join(stacks, name)].some((base) => existsSync(`${base}.json`) || existsSync(`${base}.json.gz`));
}

/** What is wrong before a command reads the stack: no state, no passphrase, or no such stack. */
export function missingStack(stack: AdminStack): "no-passphrase" | "no-stack" | undefined {
  if (!existsSync(stack.passphraseFile)) return "no-passphrase";
  if (!stackExists(stack)) return "no-stack";
  return undefined;
}

/** The environment Pulumi runs with: this backend and this passphrase file, nothing else. */
export function pulumiEnvironment(stack: AdminStack, env: Env = process.env): Record<string, string> {
  const kept = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[0] !== "PULUMI_CONFIG_PASSPHRASE"));
  return { ...kept, PULUMI_BACKEND_URL: stack.backendUrl, PULUMI_CONFIG_PASSPHRASE_FILE: stack.passphraseFile };
}
