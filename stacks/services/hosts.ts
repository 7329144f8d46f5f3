// Every public name Bastide serves, and the field of `services.<service>` that holds its
// label. The blueprints' host names, the `Hostnames` type and the config's check that no two
// services share a sub-domain all read this one table.
//
// A shared label is reported at the later entry: the identity provider comes first, so that a
// file written before it, with a service already on `connexion`, is told so at that service's
// own line rather than at a default it never wrote.
import type { Association } from "../config/schema.ts";
import type { Hostnames } from "./blueprint.ts";

export const SERVICE_HOSTS = {
  identity: { service: "identity", field: "subdomain" },
  meet: { service: "jitsi", field: "subdomain" },
  cloud: { service: "nextcloud", field: "subdomain" },
  matrix: { service: "matrix", field: "subdomain" },
  element: { service: "matrix", field: "elementSubdomain" },
  polls: { service: "polls", field: "subdomain" },
  vpn: { service: "vpn", field: "subdomain" },
} as const;

export type HostKey = keyof typeof SERVICE_HOSTS;

export function hostnames(config: Association): Hostnames {
  const label = ({ service, field }: (typeof SERVICE_HOSTS)[HostKey]) => (config.services[service] as Record<typeof field, string>)[field];
  return Object.fromEntries(Object.entries(SERVICE_HOSTS).map(([key, where]) => [key, `${label(where)}.${config.domain}`])) as Hostnames;
}
