// How `npm run first-password` reaches each service from the admin's machine: the same
// endpoints `pulumi up` uses (public HTTPS; 127.0.0.1 and Caddy's own CA on the local
// target), and Prosody through the Docker engine DOCKER_HOST names, as jitsi-password does.
import type { Association } from "../../stacks/config/schema.ts";
import { hostnames } from "../../stacks/services/catalog.ts";
import { PROVISIONING_TOKEN } from "../../stacks/services/proxy/blueprint.ts";
import { endpointOf, resolveEndpoint, type DockerTarget } from "../connections.ts";
import { dockerProsody } from "../jitsi/commands.ts";
import { createMatrixClient, TOOL_DEVICES } from "../matrix/index.ts";
import { createIdentityClient, type IdentityClient } from "../identity/client.ts";
import { createNextcloudClient } from "../nextcloud/index.ts";
import { dockerFor } from "../runtime/docker.ts";
import type { CallCounter } from "../runtime/http.ts";
import type { Credentials } from "./credentials.ts";
import type { MemberAccounts, PasswordClients } from "./passwords.ts";

/** Optional: reach a service at another address (an SSH tunnel, a test server), plain URL. */
export const ENDPOINT_ENV = { nextcloud: "BASTIDE_NEXTCLOUD_URL", matrix: "BASTIDE_MATRIX_URL", identity: "BASTIDE_IDENTITY_URL" } as const;

/** Empty: dockerode takes DOCKER_HOST, else the local engine's socket. */
const DOCKER_FROM_ENVIRONMENT: DockerTarget = {};

export interface OpenOptions {
  env: Readonly<Record<string, string | undefined>>;
  counter?: CallCounter;
}

export async function openClients(config: Association, accounts: MemberAccounts, credentials: Credentials, options: OpenOptions): Promise<PasswordClients> {
  const names = hostnames(config);
  const clients: PasswordClients = {};
  if (accounts.nextcloud && credentials.nextcloud) {
    const { baseUrl, dispatcher } = await resolveEndpoint(endpointOf(config, names.cloud, options.env[ENDPOINT_ENV.nextcloud]), DOCKER_FROM_ENVIRONMENT);
    clients.nextcloud = createNextcloudClient({
      baseUrl,
      dispatcher,
      ...credentials.nextcloud,
      ...(credentials.provisioningToken ? { headers: { [PROVISIONING_TOKEN.header]: credentials.provisioningToken } } : {}),
      ...(options.counter ? { counter: options.counter } : {}),
    });
  }
  if (accounts.matrix && credentials.matrix) {
    const { baseUrl, dispatcher } = await resolveEndpoint(endpointOf(config, names.matrix, options.env[ENDPOINT_ENV.matrix]), DOCKER_FROM_ENVIRONMENT);
    clients.matrix = createMatrixClient({
      baseUrl,
      dispatcher,
      registrationSharedSecret: credentials.matrix.registrationSharedSecret,
      serverName: names.matrix,
      deviceId: TOOL_DEVICES.firstPassword,
      ...(credentials.provisioningToken ? { headers: { [PROVISIONING_TOKEN.header]: credentials.provisioningToken } } : {}),
      ...(options.counter ? { counter: options.counter } : {}),
    });
  }
  if (accounts.jitsi) clients.jitsi = { commands: dockerProsody({ docker: dockerFor(DOCKER_FROM_ENVIRONMENT) }), ...(options.counter ? { counter: options.counter } : {}) };
  return clients;
}

/** Keycloak's admin API as its bootstrap administrator, for the enrollment. */
export async function openIdentityClient(config: Association, credentials: Credentials, options: OpenOptions): Promise<IdentityClient> {
  if (!credentials.identity) throw new Error("the identity provider's administrator credentials are missing");
  const { baseUrl, dispatcher } = await resolveEndpoint(endpointOf(config, hostnames(config).identity, options.env[ENDPOINT_ENV.identity]), DOCKER_FROM_ENVIRONMENT);
  return createIdentityClient({
    baseUrl,
    dispatcher,
    admin: credentials.identity,
    ...(credentials.provisioningToken ? { headers: { [PROVISIONING_TOKEN.header]: credentials.provisioningToken } } : {}),
    ...(options.counter ? { counter: options.counter } : {}),
  });
}
