// How a provisioner reaches a service from the admin's machine. Plain data, so the
// dynamic provider can carry it in its (secret) inputs.
import { Agent, type Dispatcher } from "undici";
import { lookup as dnsLookup } from "node:dns";
import { rootCertificates } from "node:tls";

/** The Docker engine the stack runs on, as dockerode takes it. */
export interface DockerTarget {
  socketPath?: string;
  protocol?: "ssh";
  host?: string;
  port?: number;
  username?: string;
}

export interface Endpoint {
  /** e.g. https://cloud.asso-exemple.fr */
  url: string;
  /** Connect here instead of resolving the name: the local target's *.localhost names. */
  address?: string;
  /** Extra certificate authority to trust, PEM: Caddy's own CA on the local target. */
  caPem?: string;
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
