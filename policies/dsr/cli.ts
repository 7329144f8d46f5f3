// What export-member and erase-member share: their options, the stack's credentials, and
// the connections to every service, built the way the provisioning step builds them.
//
// Credentials come from the stack itself (`pulumi stack output --json --show-secrets`,
// run without a shell), or from standard input with `--outputs -` for an admin who runs
// Pulumi elsewhere. They stay in memory: never on a command line, in a file or a record.
import { pulumiStackOutput } from "../../provisioners/runtime/stack-outputs.ts";
import { parseArgs } from "node:util";
import { localeLanguage, requireAssociationFile, usageLine, UsageError, type Language, type Localized } from "../../cli/command.ts";
import type { Association } from "../../stacks/config/schema.ts";
import { containerName } from "../../stacks/services/blueprint.ts";
import { hostnames } from "../../stacks/services/catalog.ts";
import { MATRIX_SECRETS } from "../../stacks/services/matrix/blueprint.ts";
import { NEXTCLOUD_ADMIN_USER, NEXTCLOUD_OCC, NEXTCLOUD_SECRETS } from "../../stacks/services/nextcloud/blueprint.ts";
import { PROVISIONING_TOKEN } from "../../stacks/services/proxy/blueprint.ts";
import { SERVER_CONF_PATH } from "../../stacks/services/vpn/blueprint.ts";
import { createCalDavClient } from "../../provisioners/calendars/client.ts";
import { endpointOf, dockerTargetFor, resolveEndpoint } from "../../provisioners/connections.ts";
import { dockerProsody } from "../../provisioners/jitsi/commands.ts";
import { createMatrixClient, TOOL_DEVICES, type MatrixClientOptions } from "../../provisioners/matrix/client.ts";
import { createNextcloudClient } from "../../provisioners/nextcloud/client.ts";
import { ENDPOINT_ENV } from "../../provisioners/first-password/connect.ts";
import { dockerFor } from "../../provisioners/runtime/docker.ts";
import { containerAccess, DEFAULT_LIMITS, NEXTCLOUD_DATA_DIRECTORY, type DsrLimits, type DsrTargets, type MatrixTarget } from "./targets.ts";

export const COMMON_OPTIONS = {
  out: { type: "string", default: "out/dsr" },
  stack: { type: "string" },
  outputs: { type: "string" },
  name: { type: "string" },
  email: { type: "string" },
} as const;

export interface CommonArgs {
  member: string;
  configFile: string;
  out: string;
  stack?: string;
  /** `-`: read the stack outputs from standard input. */
  outputs?: string;
  hints: { name?: string; email?: string };
}

const MEMBER_ID = /^[a-z0-9][a-z0-9._-]*$/;

export function commonArgs(values: Record<string, unknown>, positionals: string[], usage: Localized, command: string): CommonArgs {
  const [member, file, ...rest] = positionals;
  if (!member || !MEMBER_ID.test(member) || rest.length > 0) throw new UsageError(usageLine(usage[localeLanguage()]));
  const configFile = requireAssociationFile(file, command);
  const hints = { ...(values.name ? { name: String(values.name) } : {}), ...(values.email ? { email: String(values.email) } : {}) };
  return {
    member,
    configFile,
    out: String(values.out),
    ...(values.stack ? { stack: String(values.stack) } : {}),
    ...(values.outputs ? { outputs: String(values.outputs) } : {}),
    hints,
  };
}

export function parse(
  argv: string[],
  options: Record<string, { type: "string" | "boolean"; default?: string | boolean }>,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  return parseArgs({ args: argv, allowPositionals: true, options: { ...COMMON_OPTIONS, ...options } });
}

export function megabytes(value: unknown, fallback: number, option: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${option}: a positive number of MiB`);
  return Math.floor(n * 1024 * 1024);
}

export function limitsFrom(values: Record<string, unknown>): DsrLimits {
  const messages = values["max-messages"] === undefined ? DEFAULT_LIMITS.messages : Number(values["max-messages"]);
  if (!Number.isInteger(messages) || messages <= 0) throw new UsageError("--max-messages: a positive whole number");
  return {
    ...DEFAULT_LIMITS,
    fileBytes: megabytes(values["max-file-mb"], DEFAULT_LIMITS.fileBytes, "max-file-mb"),
    mediaBytes: megabytes(values["max-media-mb"], DEFAULT_LIMITS.mediaBytes, "max-media-mb"),
    messages,
  };
}

export interface StackOutputs {
  publicAddress?: string;
  serviceSecrets: Record<string, Record<string, string>>;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function fromPulumi(stack: string | undefined, language: Language): string {
  const text = pulumiStackOutput({ language, ...(stack ? { stack } : {}) });
  if (text === undefined) throw new Error("the Pulumi CLI is not installed here: pipe `pulumi stack output --json --show-secrets` in with --outputs -");
  return text;
}

/** The stack's outputs, secrets shown: from the Pulumi CLI, or standard input. */
export async function stackOutputs(args: Pick<CommonArgs, "stack" | "outputs">, language: Language): Promise<StackOutputs> {
  const text = args.outputs === "-" ? await readStdin() : fromPulumi(args.stack, language);
  let outputs: StackOutputs;
  try {
    outputs = JSON.parse(text) as StackOutputs;
  } catch {
    throw new Error("the stack outputs are not JSON (expected `pulumi stack output --json --show-secrets`)");
  }
  if (!outputs.serviceSecrets || typeof outputs.serviceSecrets !== "object") throw new Error("the stack outputs have no serviceSecrets: was `pulumi up` run?");
  return outputs;
}

export const allSecrets = (outputs: StackOutputs): string[] =>
  Object.values(outputs.serviceSecrets).flatMap((secrets) => Object.values(secrets ?? {}).filter((v): v is string => typeof v === "string"));

/** Matrix for a request: the bot on the data-subject commands' own device, so that closing it leaves the provisioner's session alone. */
export function matrixTarget(connection: Omit<MatrixClientOptions, "deviceId">): MatrixTarget {
  const { baseUrl, dispatcher, headers } = connection;
  return { client: createMatrixClient({ ...connection, deviceId: TOOL_DEVICES.dataSubject }), media: { baseUrl, ...(dispatcher ? { dispatcher } : {}), ...(headers ? { headers } : {}) } };
}

/**
 * Connections to every enabled service; close() ends the Matrix bot's data-subject session.
 * `env` may name other addresses for the HTTP services (BASTIDE_NEXTCLOUD_URL,
 * BASTIDE_MATRIX_URL: an SSH tunnel, a test server), as for audit and first-password.
 */
export async function productionTargets(
  config: Association,
  outputs: StackOutputs,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<{ targets: DsrTargets; close(): Promise<void> }> {
  const target = dockerTargetFor(config, outputs.publicAddress);
  const docker = dockerFor(target);
  const names = hostnames(config);
  const secret = (service: string, name: string) => {
    const value = outputs.serviceSecrets[service]?.[name];
    if (!value) throw new Error(`the stack outputs have no ${service} secret "${name}"`);
    return value;
  };
  const targets: DsrTargets = {};
  const s = config.services;
  if (s.nextcloud.enabled) {
    const { baseUrl, dispatcher } = await resolveEndpoint(endpointOf(config, names.cloud, env[ENDPOINT_ENV.nextcloud] || undefined), target);
    const credentials = { baseUrl, dispatcher, user: NEXTCLOUD_ADMIN_USER, password: secret("nextcloud", NEXTCLOUD_SECRETS.admin) };
    targets.nextcloud = {
      // The provisioning API (cloud/users/<id>) is VPN-only at the proxy unless the request bears its token.
      client: createNextcloudClient({ ...credentials, headers: { [PROVISIONING_TOKEN.header]: secret("proxy", PROVISIONING_TOKEN.secret) } }),
      calendars: createCalDavClient(credentials),
      app: containerAccess(docker, containerName("nextcloud", NEXTCLOUD_OCC.container), { user: NEXTCLOUD_OCC.user, workingDir: NEXTCLOUD_OCC.workingDir, timeoutMs: 5 * 60_000 }),
      dataDirectory: NEXTCLOUD_DATA_DIRECTORY,
    };
  }
  if (s.matrix.enabled) {
    const { baseUrl, dispatcher } = await resolveEndpoint(endpointOf(config, names.matrix, env[ENDPOINT_ENV.matrix] || undefined), target);
    const headers = { [PROVISIONING_TOKEN.header]: secret("proxy", PROVISIONING_TOKEN.secret) };
    targets.matrix = matrixTarget({ baseUrl, dispatcher, headers, serverName: names.matrix, registrationSharedSecret: secret("matrix", MATRIX_SECRETS.registrationSharedSecret) });
  }
  if (s.jitsi.enabled) targets.jitsi = { commands: dockerProsody({ docker }) };
  if (s.vpn.enabled) targets.vpn = { wireguard: containerAccess(docker, containerName("vpn", "wireguard")), confPath: SERVER_CONF_PATH };
  if (s.polls.enabled) targets.polls = { db: containerAccess(docker, containerName("polls", "db")) };
  return { targets, close: async () => void (await targets.matrix?.client.close().catch(() => undefined)) };
}

/** Runs a command's main, mapping failures to exit codes: 2 for usage and refusals, 1 otherwise. */
export function runMain(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error: Error) => {
      console.error(error.message);
      process.exit(error.name === "UsageError" || error.name === "DsrRefusal" ? 2 : 1);
    },
  );
}
