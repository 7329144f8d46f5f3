// The pure description of a service: what runs, with what limits, reachable how.
// Every service module returns one; the Pulumi component, the sizing check, the
// proxy, the firewall and the policy pack all read the same blueprint, so they
// cannot disagree about what is deployed.
import type { Association } from "../config/schema.ts";
import type { HostKey } from "./hosts.ts";
import type { NoticePage } from "./proxy/notices.ts";

/** A service is a key of the file's `services`: the schema names them once. */
export type ServiceName = keyof Association["services"];

export type Profile = "small" | "standard";

/** Memory a container may use, per sizing profile, in MiB. */
export type MemoryMb = Record<Profile, number>;

export interface PublishedPort {
  port: number;
  protocol: "tcp" | "udp";
  /** Why the Internet needs it: shown in the firewall and in the security measures. */
  purpose: string;
}

export interface VolumeBlueprint {
  /** Short name; the Docker volume is `bastide-<service>-<name>`. */
  name: string;
  path: string;
  /** What lives there, for the DPO's data-location page. */
  holds: string;
}

/** A generated secret: alphanumeric, so it is safe in env vars, YAML, PHP and URLs. */
export interface SecretBlueprint {
  name: string;
  length: number;
}

export interface HealthcheckBlueprint {
  test: string[];
  intervalSeconds?: number;
  retries?: number;
  startPeriodSeconds?: number;
}

export interface ContainerBlueprint {
  /** Short name; the container is `bastide-<service>-<name>`. */
  name: string;
  image: string;
  /** Built from a Dockerfile in this repository (see images.ts) instead of pulled. */
  build?: "framadate";
  memoryMb: MemoryMb;
  env?: Record<string, string>;
  /** Environment variables filled from generated secrets: variable → secret name. */
  secretEnv?: Record<string, string>;
  /** Replaces the image's entrypoint, e.g. to fix volume ownership before dropping privileges. */
  entrypoint?: string[];
  command?: string[];
  ports?: PublishedPort[];
  volumes?: { volume: string; path: string; readOnly?: boolean }[];
  /** Scratch file systems the image recreates at every start (its contract's tmpfs paths). */
  tmpfs?: { path: string; options: string }[];
  /** Overrides the image's user ("uid:gid"), only where its contract says the image supports it. */
  user?: string;
  /** Rendered files (by their path in the container) uploaded before start. */
  files?: string[];
  healthcheck?: HealthcheckBlueprint;
  /** `edge` is shared with the proxy; `internal` is the service's private network. */
  networks: ("edge" | "internal")[];
  /** Fixed address on the edge network, for the proxy and the VPN only. */
  edgeAddress?: string;
  /** Other network names that resolve to this container. */
  aliases?: string[];
  /** Linux capabilities beyond Docker's default set; only the VPN needs one. */
  addCapabilities?: string[];
  /** Kernel settings inside the container's namespace (the VPN routes packets). */
  sysctls?: Record<string, string>;
  /** Start after these containers of the same service. */
  dependsOn?: string[];
}

/** A public name the proxy serves, and where it sends the traffic. */
export interface ProxyRoute {
  host: string;
  /** `container:port` on the edge network. */
  upstream: string;
  /** Paths only reachable from the VPN (admin pages). */
  vpnOnlyPaths?: string[];
  /** Paths inside `vpnOnlyPaths` that stay reachable from anywhere (a closed-by-default prefix's user calls). */
  vpnOnlyExceptions?: string[];
  /** Paths the proxy answers itself with a permanent redirect, e.g. CalDAV/CardDAV discovery. */
  redirects?: { path: string; to: string }[];
  /** Extra response headers beyond the common security headers. */
  headers?: Record<string, string>;
  /** Paths served directly by the proxy as JSON, e.g. Matrix's .well-known files. */
  staticJson?: { path: string; body: unknown }[];
}

/** A file rendered from a template, uploaded into a container. */
export interface RenderedFile {
  /** Container (short name) that reads it. */
  container: string;
  path: string;
  content: string;
  /** Set when the content embeds a secret: never written to disk in clear. */
  holdsSecrets: boolean;
  /** Octal permission bits inside the container, as Docker's upload expects. */
  mode?: string;
}

export interface ServiceBlueprint {
  service: ServiceName;
  /** What staff see, e.g. "Visio (Jitsi Meet)". */
  title: string;
  containers: ContainerBlueprint[];
  volumes: VolumeBlueprint[];
  secrets: SecretBlueprint[];
  /** Secrets the admin supplies (Pulumi secret config), by name, e.g. the mail relay's password. */
  providedSecrets?: string[];
  routes: ProxyRoute[];
  /** Rendered files; `secrets` maps each secret name to its value (or a placeholder in plans). */
  files(secrets: Record<string, string>): RenderedFile[];
}

/** What every service module exports: pure functions of the validated config. */
export interface ServiceModule {
  name: ServiceName;
  enabled(config: Association): boolean;
  blueprint(config: Association, context: BlueprintContext): ServiceBlueprint;
}

export interface BlueprintContext {
  profile: Profile;
  hostnames: Hostnames;
  /** The address video and VPN clients reach the server on. */
  publicAddress: string;
  /** Every other enabled service's routes; only the proxy reads them. */
  routes: ProxyRoute[];
  /**
   * The information notices the proxy serves (stacks/services/proxy/notices.ts), rendered on
   * call: they are made from every blueprint, so only a blueprint's files may ask for them.
   */
  noticePages: () => NoticePage[];
}

/** Every public name, by its key in hosts.ts (a disabled service's name is computed all the same). */
export type Hostnames = Record<HostKey, string>;

export const containerName = (service: ServiceName, name: string) => `bastide-${service}-${name}`;
export const volumeName = (service: ServiceName, name: string) => `bastide-${service}-${name}`;
