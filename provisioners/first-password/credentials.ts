// The credentials `npm run first-password` acts with: the Nextcloud service account's
// password, Synapse's registration shared secret (the bot's password derives from it) and
// the proxy's provisioning token (Synapse's admin API is otherwise reachable from the VPN
// only). The stack generated them; they come from, in this order:
// 1. environment variables, when set: for a machine without the Pulumi CLI or the stack's
//    state (a second admin's laptop), and for tests;
// 2. `pulumi stack output --show-secrets --json serviceSecrets`, run in the project folder on
//    the admin's stack (cli/stack.ts): the stack exports every service's generated secrets by
//    name (stacks/index.ts).
// They are held in memory only: never printed, logged or written.
import { pulumiStackOutput as readStackOutput, type StackOutputOptions } from "../runtime/stack-outputs.ts";
import { NEXTCLOUD_ADMIN_USER, NEXTCLOUD_SECRETS } from "../../stacks/services/nextcloud/blueprint.ts";
import { MATRIX_SECRETS } from "../../stacks/services/matrix/blueprint.ts";
import { PROVISIONING_TOKEN } from "../../stacks/services/proxy/blueprint.ts";
import { IDENTITY_ADMIN_USER, IDENTITY_SECRETS } from "../../stacks/services/identity/blueprint.ts";

/** Keycloak's bootstrap administrator: its user name and the name of its generated password in `serviceSecrets`. */
export const IDENTITY_ADMIN = { username: IDENTITY_ADMIN_USER, secret: IDENTITY_SECRETS.admin } as const;

type Key = keyof typeof CREDENTIAL_ENV;

export const CREDENTIAL_ENV = {
  identityPassword: "BASTIDE_IDENTITY_ADMIN_PASSWORD",
  /** The name the audit and the README have always used (with BASTIDE_NEXTCLOUD_URL and _USER). */
  nextcloudPassword: "BASTIDE_NEXTCLOUD_PASSWORD",
  matrixSharedSecret: "BASTIDE_MATRIX_SHARED_SECRET",
  /** The same name the proxy reads it from. */
  provisioningToken: PROVISIONING_TOKEN.env,
} as const;

/**
 * Former names, still read for one release with a line saying the new one: first-password
 * read the Nextcloud password from BASTIDE_NEXTCLOUD_ADMIN_PASSWORD until 0.1.0, while the
 * audit read BASTIDE_NEXTCLOUD_PASSWORD. Remove after the next release.
 */
export const FORMER_CREDENTIAL_ENV: Partial<Record<Key, string>> = { nextcloudPassword: "BASTIDE_NEXTCLOUD_ADMIN_PASSWORD" };

/** A credential from the environment, under its name or, with a deprecation line, its former one. */
export function credentialFromEnv(env: CredentialSources["env"], key: Key, warn: (line: string) => void = console.error): string | undefined {
  const value = env[CREDENTIAL_ENV[key]];
  if (value) return value;
  const former = FORMER_CREDENTIAL_ENV[key];
  if (!former || !env[former]) return undefined;
  warn(`${former} is now called ${CREDENTIAL_ENV[key]}; the old name is read until the next release.`);
  return env[former];
}

/** Where each credential sits in the stack output `serviceSecrets`: service, then secret name. */
export const STACK_OUTPUT_PATHS = {
  identityPassword: ["identity", IDENTITY_ADMIN.secret],
  nextcloudPassword: ["nextcloud", NEXTCLOUD_SECRETS.admin],
  matrixSharedSecret: ["matrix", MATRIX_SECRETS.registrationSharedSecret],
  provisioningToken: ["proxy", PROVISIONING_TOKEN.secret],
} as const;

export interface Credentials {
  identity?: { username: string; password: string };
  nextcloud?: { user: string; password: string };
  matrix?: { registrationSharedSecret: string };
  /** Absent: the admin's machine must be on the VPN to reach Synapse's admin API. */
  provisioningToken?: string;
}

export interface CredentialNeeds {
  nextcloud: boolean;
  matrix: boolean;
  /** Keycloak's administrator, for the enrollment when services.identity is on. */
  identity?: boolean;
}

export interface CredentialSources {
  env: Readonly<Record<string, string | undefined>>;
  /**
   * The JSON `pulumi stack output --show-secrets --json serviceSecrets` prints; undefined
   * when the Pulumi CLI is not installed. Called at most once, only when the environment
   * does not already hold everything needed.
   */
  stackOutput: () => string | undefined;
}

/** Reads `serviceSecrets` as the stack exports it: `{ "<service>": { "<secret name>": "value" } }`. */
export function credentialsFromStackOutput(json: string): Partial<Record<Key, string>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    // Never quote the text: it is full of secrets.
    throw new Error("`pulumi stack output serviceSecrets` did not print JSON");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("`pulumi stack output serviceSecrets` is not an object of services");
  const found: Partial<Record<Key, string>> = {};
  for (const [key, [service, name]] of Object.entries(STACK_OUTPUT_PATHS) as [Key, readonly [string, string]][]) {
    const value = (parsed as Record<string, Record<string, unknown> | undefined>)[service]?.[name];
    if (typeof value === "string" && value !== "") found[key] = value;
  }
  return found;
}

export function loadCredentials(needs: CredentialNeeds, sources: CredentialSources): Credentials {
  const wanted: Key[] = [
    ...(needs.identity ? (["identityPassword"] as const) : []),
    ...(needs.nextcloud ? (["nextcloudPassword"] as const) : []),
    ...(needs.matrix ? (["matrixSharedSecret"] as const) : []),
    // The admin APIs are VPN-only at the proxy unless the request bears the token.
    ...(needs.nextcloud || needs.matrix || needs.identity ? (["provisioningToken"] as const) : []),
  ];
  const values: Partial<Record<Key, string>> = {};
  for (const key of wanted) {
    const value = credentialFromEnv(sources.env, key);
    if (value) values[key] = value;
  }
  // The token is optional (the VPN opens the admin API too): on its own it never calls Pulumi.
  const required = wanted.filter((key) => key !== "provisioningToken");
  let pulumiProblem: string | undefined;
  if (required.some((key) => !values[key])) {
    let output: string | undefined;
    try {
      output = sources.stackOutput();
      if (output === undefined) pulumiProblem = "the Pulumi CLI is not installed";
    } catch (error) {
      pulumiProblem = (error as Error).message;
    }
    if (output !== undefined) {
      const fromStack = credentialsFromStackOutput(output);
      for (const key of wanted) values[key] ??= fromStack[key];
    }
  }
  const missing = required.filter((key) => !values[key]);
  if (missing.length > 0) {
    const names = missing.map((key) => `${CREDENTIAL_ENV[key]} (serviceSecrets.${STACK_OUTPUT_PATHS[key].join(".")})`);
    throw new Error(
      `missing credentials: ${names.join(", ")}. Run this where the stack's outputs can be read (the project folder, after npm run deploy; --stack NAME for another stack than local)` +
        `${pulumiProblem ? `; here ${pulumiProblem}` : ""}, or set the environment variable(s).`,
    );
  }
  return {
    ...(values.identityPassword ? { identity: { username: IDENTITY_ADMIN.username, password: values.identityPassword } } : {}),
    ...(values.nextcloudPassword ? { nextcloud: { user: NEXTCLOUD_ADMIN_USER, password: values.nextcloudPassword } } : {}),
    ...(values.matrixSharedSecret ? { matrix: { registrationSharedSecret: values.matrixSharedSecret } } : {}),
    ...(values.provisioningToken ? { provisioningToken: values.provisioningToken } : {}),
  };
}

/** `serviceSecrets` through the Pulumi CLI, on the admin's stack (cli/stack.ts; `local` unless `stack` is given). */
export const pulumiStackOutput = (options: Omit<StackOutputOptions, "output" | "program"> & { cwd: string; pulumi?: string }): string | undefined => {
  const { pulumi, ...rest } = options;
  return readStackOutput({ ...rest, output: "serviceSecrets", ...(pulumi ? { program: pulumi } : {}) });
};
