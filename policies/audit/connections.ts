// How the CLI reaches the running stack. Endpoints and the Docker engine follow from the
// config as provisioning reaches them; the credentials (the Nextcloud service account's
// password, Synapse's registration shared secret, the proxy's provisioning token) come
// from environment variables or, for any that is missing, from the stack's outputs
// (`pulumi stack output --show-secrets --json`, read in memory, never printed). Every
// value can be overridden, e.g. to go through an SSH tunnel:
//
//   DOCKER_HOST                   unix:///path/docker.sock or ssh://user@host[:port]
//   BASTIDE_NEXTCLOUD_URL         BASTIDE_NEXTCLOUD_USER      BASTIDE_NEXTCLOUD_PASSWORD
//   BASTIDE_MATRIX_URL            BASTIDE_MATRIX_SHARED_SECRET
//   BASTIDE_PROVISIONING_TOKEN    BASTIDE_PUBLIC_ADDRESS (cloud targets: the server's address)
//   BASTIDE_AUDIT_LABELS          label=value,...: only containers that also carry these labels
import { pulumiStackOutput, type StackOutputOptions } from "../../provisioners/runtime/stack-outputs.ts";
import { CREDENTIAL_ENV } from "../../provisioners/first-password/credentials.ts";
import type { Association } from "../../stacks/config/schema.ts";
import { hostnames } from "../../stacks/services/catalog.ts";
import { NEXTCLOUD_ADMIN_USER, NEXTCLOUD_SECRETS } from "../../stacks/services/nextcloud/blueprint.ts";
import { MATRIX_SECRETS } from "../../stacks/services/matrix/blueprint.ts";
import { PROVISIONING_TOKEN } from "../../stacks/services/proxy/blueprint.ts";
import { endpointOf, dockerTargetFor, resolveEndpoint, type DockerTarget, type Endpoint } from "../../provisioners/connections.ts";
import { dockerFor } from "../../provisioners/runtime/docker.ts";
import { isUnavailable, type AuditConnections, type Unavailable } from "./audit.ts";

export const ENV = {
  dockerHost: "DOCKER_HOST",
  nextcloudUrl: "BASTIDE_NEXTCLOUD_URL",
  nextcloudUser: "BASTIDE_NEXTCLOUD_USER",
  nextcloudPassword: CREDENTIAL_ENV.nextcloudPassword,
  matrixUrl: "BASTIDE_MATRIX_URL",
  matrixSecret: CREDENTIAL_ENV.matrixSharedSecret,
  provisioningToken: CREDENTIAL_ENV.provisioningToken,
  publicAddress: "BASTIDE_PUBLIC_ADDRESS",
  labels: "BASTIDE_AUDIT_LABELS",
} as const;

export type Env = Readonly<Record<string, string | undefined>>;

/** What `pulumi stack output --json` gives (stacks/index.ts exports these). */
export interface StackOutputs {
  serviceSecrets?: Partial<Record<string, Record<string, string>>>;
  publicAddress?: string;
}

/** Where and with what to connect, before anything is opened. Holds secrets: never print it. */
export interface ConnectionPlan {
  docker: DockerTarget | Unavailable;
  labels: string[];
  nextcloud?: { endpoint: Endpoint; user: string; password: string; headers?: Record<string, string> } | Unavailable;
  matrix?: { endpoint: Endpoint; serverName: string; registrationSharedSecret: string; headers?: Record<string, string> } | Unavailable;
}

/** The credentials the enabled services need, and whether the environment has them all. */
export function missingCredentials(config: Association, given: Env): string[] {
  const env = nonEmpty(given);
  const s = config.services;
  const missing: string[] = [];
  if (s.nextcloud.enabled && !env[ENV.nextcloudPassword]) missing.push(ENV.nextcloudPassword);
  if (s.matrix.enabled && !env[ENV.matrixSecret]) missing.push(ENV.matrixSecret);
  if (s.matrix.enabled && !env[ENV.provisioningToken] && !env[ENV.matrixUrl]) missing.push(ENV.provisioningToken);
  if ((config.host.target === "hetzner" || config.host.target === "scaleway") && !env[ENV.publicAddress] && !env[ENV.dockerHost]) missing.push(ENV.publicAddress);
  return missing;
}

/** A variable set to "" counts as not set. */
const nonEmpty = (env: Env): Env => Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));

export function dockerTargetFrom(value: string): DockerTarget | Unavailable {
  if (value.startsWith("unix://")) return { socketPath: value.slice("unix://".length) };
  const ssh = /^ssh:\/\/(?:([^@]+)@)?([^:/]+)(?::(\d+))?\/?$/.exec(value);
  if (ssh) return { protocol: "ssh", host: ssh[2]!, port: Number(ssh[3] ?? 22), username: ssh[1] ?? "root" };
  return { unavailable: `${ENV.dockerHost}=${value}: only unix:// and ssh:// engines are supported` };
}

function dockerTarget(config: Association, env: Env, outputs: StackOutputs): DockerTarget | Unavailable {
  const host = config.host;
  if (env[ENV.dockerHost]) return dockerTargetFrom(env[ENV.dockerHost]!);
  const address = env[ENV.publicAddress] ?? outputs.publicAddress;
  if ((host.target === "hetzner" || host.target === "scaleway") && !address)
    return { unavailable: `the server's address is unknown: set ${ENV.publicAddress} (or ${ENV.dockerHost}), or run where \`pulumi stack output\` works` };
  return dockerTargetFor(config, address, undefined);
}

/** Pure: the connections the config and the credentials allow. */
export function connectionPlan(config: Association, given: Env, outputs: StackOutputs = {}, pulumiProblem?: string): ConnectionPlan {
  const env = nonEmpty(given);
  const names = hostnames(config);
  const secrets = outputs.serviceSecrets ?? {};
  const lacking = (variable: string) => ({
    unavailable: `no credentials: set ${variable}${pulumiProblem ? ` (the stack's outputs could not be read: ${pulumiProblem})` : ""}`,
  });
  const plan: ConnectionPlan = {
    docker: dockerTarget(config, env, outputs),
    labels: (env[ENV.labels] ?? "").split(",").map((l) => l.trim()).filter(Boolean),
  };
  const token = env[ENV.provisioningToken] ?? secrets.proxy?.[PROVISIONING_TOKEN.secret];
  if (config.services.nextcloud.enabled) {
    const password = env[ENV.nextcloudPassword] ?? secrets.nextcloud?.[NEXTCLOUD_SECRETS.admin];
    plan.nextcloud = password
      ? {
          endpoint: endpointOf(config, names.cloud, env[ENV.nextcloudUrl]),
          user: env[ENV.nextcloudUser] ?? NEXTCLOUD_ADMIN_USER,
          password,
          // The proxy keeps Nextcloud's provisioning API (the accounts list) to the VPN and to this token.
          ...(token ? { headers: { [PROVISIONING_TOKEN.header]: token } } : {}),
        }
      : lacking(ENV.nextcloudPassword);
  }
  if (config.services.matrix.enabled) {
    const secret = env[ENV.matrixSecret] ?? secrets.matrix?.[MATRIX_SECRETS.registrationSharedSecret];
    plan.matrix = secret
      ? {
          endpoint: endpointOf(config, names.matrix, env[ENV.matrixUrl]),
          serverName: names.matrix,
          registrationSharedSecret: secret,
          // The proxy keeps /_synapse/admin to the VPN and to this token.
          ...(token ? { headers: { [PROVISIONING_TOKEN.header]: token } } : {}),
        }
      : lacking(ENV.matrixSecret);
  }
  return plan;
}

/** Opens what the plan describes: the Docker client, and each endpoint's dispatcher (Caddy's local CA when local). */
export async function openConnections(plan: ConnectionPlan): Promise<AuditConnections> {
  const docker = isUnavailable(plan.docker) ? plan.docker : { docker: dockerFor(plan.docker), labels: plan.labels };
  const dockerTarget = isUnavailable(plan.docker) ? undefined : plan.docker;
  const open = async <T extends { endpoint: Endpoint }>(spec: T | Unavailable | undefined) => {
    if (spec === undefined || isUnavailable(spec)) return spec;
    try {
      const { baseUrl, dispatcher } = await resolveEndpoint(spec.endpoint, dockerTarget);
      const { endpoint: _endpoint, ...rest } = spec;
      return { ...rest, baseUrl, ...(dispatcher ? { dispatcher } : {}) };
    } catch (error) {
      return { unavailable: (error as Error).message };
    }
  };
  const [nextcloud, matrix] = await Promise.all([open(plan.nextcloud), open(plan.matrix)]);
  return {
    docker,
    ...(nextcloud ? { nextcloud } : {}),
    ...(matrix ? { matrix } : {}),
  };
}

/** The stack's outputs through the Pulumi CLI, in memory; the reason when that is not possible. */
export function pulumiStackOutputs(options: Omit<StackOutputOptions, "output" | "timeoutMs"> = {}): StackOutputs | { problem: string } {
  let text: string | undefined;
  try {
    text = pulumiStackOutput({ ...options, timeoutMs: 60_000 });
  } catch (error) {
    return { problem: (error as Error).message };
  }
  if (text === undefined) return { problem: "pulumi could not run (ENOENT)" };
  try {
    return JSON.parse(text) as StackOutputs;
  } catch {
    return { problem: "pulumi stack output did not print JSON" };
  }
}
