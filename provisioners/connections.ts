// How a provisioner reaches a service from the admin's machine. Plain data, so the
// dynamic provider can carry it in its (secret) inputs.
import { Agent, type Dispatcher } from "undici";
import { lookup as dnsLookup } from "node:dns";
import { rootCertificates } from "node:tls";
import type { Association } from "../stacks/config/schema.ts";

/** The Docker engine the stack runs on, as dockerode takes it. */
export interface DockerTarget {
  socketPath?: string;
  protocol?: "ssh";
  host?: string;
  port?: number;
  username?: string;
}

/**
 * The Docker engine a stack runs on: the local one (DOCKER_HOST's unix socket when set),
 * the declared SSH server, or root on the new VM's public address.
 */
export function dockerTargetFor(config: Association, publicAddress: string | undefined, dockerHost: string | undefined = process.env.DOCKER_HOST): DockerTarget {
  const host = config.host;
  if (host.target === "local") return { socketPath: dockerHost?.startsWith("unix://") ? dockerHost.slice("unix://".length) : "/var/run/docker.sock" };
  if (host.target === "ssh") return { protocol: "ssh", host: host.address, port: host.port, username: host.user };
  if (!publicAddress) throw new Error(`the ${host.target} server's address is not known yet: was \`pulumi up\` run?`);
  return { protocol: "ssh", host: publicAddress, port: 22, username: "root" };
}

export interface Endpoint {
  /** e.g. https://cloud.asso-exemple.fr */
  url: string;
  /** Connect here instead of resolving the name: the local target's *.localhost names. */
  address?: string;
  /** Extra certificate authority to trust, PEM. */
  caPem?: string;
  /** Trust the local CA of Bastide's own Caddy, read from its container (the local target). */
  caddyLocalCa?: boolean;
}

/**
 * Where a service is reached: through public DNS, or 127.0.0.1 with Caddy's own CA on
 * the local target. `override` (a URL an admin set) wins when given.
 */
export function endpointOf(config: Association, host: string, override?: string): Endpoint {
  if (override) return { url: override };
  return config.host.target === "local" ? { url: `https://${host}`, address: "127.0.0.1", caddyLocalCa: true } : { url: `https://${host}` };
}

/** Where Caddy keeps the root of its local CA, inside the proxy container. */
export const CADDY_LOCAL_ROOT = "/data/caddy/pki/authorities/local/root.crt";

/** A ready endpoint: the base URL and the dispatcher to reach it with. */
export interface ResolvedEndpoint {
  baseUrl: string;
  dispatcher: Dispatcher | undefined;
}

/** Reads Caddy's local CA when asked to, then builds the dispatcher. */
export async function resolveEndpoint(endpoint: Endpoint, docker?: DockerTarget): Promise<ResolvedEndpoint> {
  let caPem = endpoint.caPem;
  if (endpoint.caddyLocalCa && !caPem) {
    if (!docker) throw new Error(`${endpoint.url}: trusting Caddy's local CA needs the Docker engine to read it from`);
    const { dockerFor, execInContainer } = await import("./runtime/docker.ts");
    const { containerName } = await import("../stacks/services/blueprint.ts");
    const result = await execInContainer(dockerFor(docker), containerName("proxy", "caddy"), ["cat", CADDY_LOCAL_ROOT]);
    if (result.exitCode !== 0 || !result.stdout.includes("BEGIN CERTIFICATE"))
      throw new Error(`${endpoint.url}: Caddy's local CA is not there yet (${CADDY_LOCAL_ROOT}); is the proxy running?`);
    caPem = result.stdout;
  }
  return { baseUrl: endpoint.url, dispatcher: dispatcherFor({ ...endpoint, ...(caPem ? { caPem } : {}) }) };
}

/** An undici dispatcher for endpoints that need one; undefined for ordinary public HTTPS. */
export function dispatcherFor(endpoint: Endpoint): Dispatcher | undefined {
  if (!endpoint.address && !endpoint.caPem) return undefined;
  const address = endpoint.address;
  return new Agent({
    connect: {
      ...(endpoint.caPem ? { ca: [...rootCertificates, endpoint.caPem] } : {}),
      ...(address
        ? {
            lookup: (hostname: string, options: object, callback: (...args: any[]) => void) =>
              (options as { all?: boolean }).all
                ? callback(null, [{ address, family: address.includes(":") ? 6 : 4 }])
                : callback(null, address, address.includes(":") ? 6 : 4),
          }
        : { lookup: dnsLookup }),
    },
  });
}
