// Provisioning inside `pulumi up`: after the containers are healthy, one dynamic
// resource per service converges accounts, groups, calendars, rooms and peers.
import { JWT_SECRET } from "../services/jitsi/login.ts";
import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { Association } from "../config/schema.ts";
import type { ServiceName } from "../services/blueprint.ts";
import type { ServiceComponent } from "../platform/component.ts";
import { desiredState } from "../../provisioners/desired.ts";
import { keyedSlice } from "../../provisioners/slices.ts";
import type { ProvisionedService } from "../../provisioners/model.ts";
import { dockerTargetFor, endpointOf, type DockerTarget } from "../../provisioners/connections.ts";
import { NEXTCLOUD_ADMIN_USER, NEXTCLOUD_SECRETS } from "../services/nextcloud/blueprint.ts";
import { MATRIX_SECRETS } from "../services/matrix/blueprint.ts";
import { IDENTITY_ADMIN_USER, IDENTITY_SECRETS } from "../services/identity/blueprint.ts";
import { SMTP_PASSWORD_SECRET } from "../config/mail.ts";
import { SERVER_KEY_SECRET } from "../services/vpn/blueprint.ts";
import { PROVISIONING_TOKEN } from "../services/proxy/blueprint.ts";
import { containerName } from "../services/blueprint.ts";
import { hostnames } from "../services/catalog.ts";
import { provisioningProvider, type ProvisioningInputs } from "./provider.ts";
import { PEER_SEED_LENGTH, peerSeedSecretName } from "../../provisioners/vpn/keys.ts";
import { defaultHandoverDirectory } from "../../provisioners/handover/runner.ts";
import { MAX_IN_FLIGHT } from "../../provisioners/runtime/concurrency.ts";

const RUNNER = fileURLToPath(new URL("../../provisioners/run.ts", import.meta.url));

/**
 * Changes worked on at once, per service: the most requests that may be in flight. How
 * many are, per server, is the adaptive limiter's call (provisioners/runtime/concurrency.ts):
 * it starts at one and goes up only while the server answers more for it.
 */
export const PROVISIONING_CONCURRENCY = MAX_IN_FLIGHT;

export interface ProvisioningArgs {
  config: Association;
  services: Partial<Record<ServiceName, ServiceComponent>>;
  /** The Docker engine of the host, for exec-based provisioning (Jitsi, VPN). */
  docker: pulumi.Input<DockerTarget>;
}

/**
 * Runs that must succeed first: the identity provider's clients before the services that log
 * in through them, the service account's 2FA exemption, then groups before shared calendars.
 */
export const RUNS_AFTER: Partial<Record<ProvisionedService, ProvisionedService[]>> = {
  "nextcloud-settings": ["identity"],
  nextcloud: ["nextcloud-settings"],
  calendars: ["nextcloud"],
  matrix: ["identity"],
};

/**
 * The client secret of each relying party at the identity provider, by client id: each service's
 * blueprint generates its own (`oidc-client`), Keycloak's client gets the same value.
 */
export const OIDC_CLIENT_SECRETS: Partial<Record<ServiceName, string>> = {
  nextcloud: NEXTCLOUD_SECRETS.oidcClient,
  matrix: MATRIX_SECRETS.oidcClient,
  // Jitsi's client is the meeting page, with no secret: this one is the realm key that signs its tokens (jitsi/login.ts).
  jitsi: JWT_SECRET.name,
};

class ProvisioningResource extends pulumi.dynamic.Resource {
  declare readonly ledger: pulumi.Output<unknown>;
  declare readonly lastRun: pulumi.Output<{ at: string; applied: string[] }>;
  declare readonly serviceState: pulumi.Output<unknown>;

  constructor(name: string, inputs: pulumi.Inputs, opts: pulumi.CustomResourceOptions) {
    // serviceState may hold a session token (Matrix): secret, like the connection.
    super(provisioningProvider, name, { ...inputs, ledger: undefined, serviceState: undefined, lastRun: undefined }, { ...opts, additionalSecretOutputs: ["serviceState"] }, "bastide");
  }
}

export const dockerTargetOf = (config: Association, publicAddress: pulumi.Input<string>): pulumi.Output<DockerTarget> =>
  pulumi.output(publicAddress).apply((address) => dockerTargetFor(config, address));

export class Provisioning extends pulumi.ComponentResource {
  readonly resources: Partial<Record<ProvisionedService, ProvisioningResource>> = {};
  /** Where the admin finds the welcome sheets and VPN profiles to hand over. */
  readonly handoverDirectory: string;

  constructor(name: string, args: ProvisioningArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bastide:index:Provisioning", name, {}, opts);
    const { config, services } = args;
    const state = desiredState(config);
    const names = hostnames(config);
    const proxy = services.proxy;
    const secret = (service: ServiceName, name: string) => services[service]!.secrets[name]!;
    // One seed per device: removing a device deletes its seed, so a device added back gets a new key.
    const seeds = Object.fromEntries(
      (state.vpn?.peers ?? []).map((peer) => [
        peer.id,
        new random.RandomPassword(peerSeedSecretName(peer.id), { length: PEER_SEED_LENGTH, special: false }, { parent: this }).result,
      ]),
    );

    const connections: Partial<Record<ProvisionedService, pulumi.Input<Record<string, unknown>>>> = {
      nextcloud: services.nextcloud && {
        endpoint: endpointOf(config, names.cloud),
        docker: args.docker,
        user: NEXTCLOUD_ADMIN_USER,
        password: secret("nextcloud", NEXTCLOUD_SECRETS.admin),
        // The provisioning API is VPN-only at the proxy; the token opens it to `pulumi up`.
        provisioningHeader: { [PROVISIONING_TOKEN.header]: secret("proxy", PROVISIONING_TOKEN.secret) },
      },
      matrix: services.matrix && {
        endpoint: endpointOf(config, names.matrix),
        docker: args.docker,
        serverName: names.matrix,
        registrationSharedSecret: secret("matrix", MATRIX_SECRETS.registrationSharedSecret),
        provisioningHeader: { [PROVISIONING_TOKEN.header]: secret("proxy", PROVISIONING_TOKEN.secret) },
      },
      identity: services.identity && {
        endpoint: endpointOf(config, names.identity),
        docker: args.docker,
        admin: { username: IDENTITY_ADMIN_USER, password: secret("identity", IDENTITY_SECRETS.admin) },
        clientSecrets: Object.fromEntries(
          Object.entries(OIDC_CLIENT_SECRETS).flatMap(([client, name]) => (services[client as ServiceName] ? [[client, secret(client as ServiceName, name)]] : [])),
        ),
        ...(config.mail?.username ? { smtpPassword: secret("identity", SMTP_PASSWORD_SECRET) } : {}),
        // The admin console and the master realm are VPN-only at the proxy; the token opens them to `pulumi up`.
        provisioningHeader: { [PROVISIONING_TOKEN.header]: secret("proxy", PROVISIONING_TOKEN.secret) },
      },
      jitsi: services.jitsi && { docker: args.docker, container: containerName("jitsi", "prosody") },
      vpn: services.vpn && {
        docker: args.docker,
        container: containerName("vpn", "wireguard"),
        subnet: config.services.vpn.subnet,
        port: config.services.vpn.port,
        serverKeySeed: secret("vpn", SERVER_KEY_SECRET),
        seeds,
      },
    };
    connections.calendars = connections.nextcloud;
    // user_oidc's client secret: Nextcloud's, given to the identity provider's client too.
    connections["nextcloud-settings"] =
      services.nextcloud && config.services.identity.enabled
        ? { ...(connections.nextcloud as Record<string, unknown>), oidcClientSecret: secret("nextcloud", NEXTCLOUD_SECRETS.oidcClient) }
        : connections.nextcloud;

    const order: [ProvisionedService, ServiceName][] = [
      // First: the realm and the clients Nextcloud's and Synapse's logins go through.
      ["identity", "identity"],
      // Then: it exempts the service account from the admins' enforced two-factor login.
      ["nextcloud-settings", "nextcloud"],
      ["nextcloud", "nextcloud"],
      ["calendars", "nextcloud"],
      ["matrix", "matrix"],
      ["jitsi", "jitsi"],
      ["vpn", "vpn"],
    ];
    for (const [service, deployed] of order) {
      const desired = keyedSlice(state, service);
      const connection = connections[service];
      if (!desired || !connection || !services[deployed]) continue;
      const inputs: { [K in keyof ProvisioningInputs]: pulumi.Input<ProvisioningInputs[K]> } = {
        runner: RUNNER,
        service,
        desired,
        members: config.members.map((m) => m.id),
        graceDays: config.departures.graceDays,
        concurrency: PROVISIONING_CONCURRENCY,
        connection: pulumi.secret(connection),
      };
      const earlier = RUNS_AFTER[service]?.map((s) => this.resources[s]).filter((r) => r !== undefined) ?? [];
      const after = [services[deployed]!, ...(proxy ? [proxy] : []), ...earlier];
      this.resources[service] = new ProvisioningResource(`${service}-provisioning`, inputs, { parent: this, dependsOn: after });
    }
    // Welcome sheets and device profiles for the admin to hand over, after the VPN's peers exist.
    const vpnRun = this.resources.vpn;
    this.handoverDirectory = defaultHandoverDirectory(pulumi.getStack());
    this.resources.handover = new ProvisioningResource(
      "handover-provisioning",
      {
        runner: RUNNER,
        service: "handover",
        desired: keyedSlice(state, "handover") ?? { organisation: state.organisation, hostnames: state.hostnames, graceDays: state.graceDays, vpn: { peers: {} } },
        members: config.members.map((m) => m.id),
        graceDays: config.departures.graceDays,
        concurrency: PROVISIONING_CONCURRENCY,
        connection: pulumi.secret({
          directory: this.handoverDirectory,
          config,
          ...(vpnRun && services.vpn ? { vpn: { peers: vpnRun.serviceState, seeds, serverKeySeed: secret("vpn", SERVER_KEY_SECRET) } } : {}),
        }),
      },
      { parent: this, dependsOn: vpnRun ? [vpnRun] : [] },
    );
    this.registerOutputs({ handoverDirectory: this.handoverDirectory });
  }
}
