import { z } from "zod";
import { ipv4Cidr, shown, subdomainLabel } from "../../config/fields.ts";
import { isPrivateIpv4Network, PRIVATE_IPV4 } from "../../config/networks.ts";
import { vpnAddressing } from "./addressing.ts";

export const vpnSettings = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** The name peers connect to. */
    subdomain: subdomainLabel.default("vpn"),
    port: z.number().int().min(1024, { error: "must be 1024-65535" }).max(65535, { error: "must be 1024-65535" }).default(51820),
    /** Addresses handed to peers; the server takes the first one. */
    subnet: ipv4Cidr
      .superRefine((cidr, ctx) => {
        if (!/^[\d.]+\/\d+$/.test(cidr)) return; // already reported by ipv4Cidr
        // Peers route the subnet into the tunnel: a public range would capture their traffic
        // to those addresses, loopback or link-local ones would break their own machine.
        if (!isPrivateIpv4Network(cidr)) {
          ctx.addIssue({
            code: "custom",
            message: `${shown(cidr)} is not a private network: choose a range inside ${PRIVATE_IPV4.join(", ")}, such as 10.13.13.0/24`,
          });
          return;
        }
        try {
          vpnAddressing(cidr);
        } catch (error) {
          ctx.addIssue({ code: "custom", message: (error as Error).message });
        }
      })
      .default("10.13.13.0/24"),
  })
  .prefault({});

export type VpnSettings = z.infer<typeof vpnSettings>;
