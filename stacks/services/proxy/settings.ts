import { z } from "zod";
import { days, email, withValue } from "../../config/fields.ts";

export const proxySettings = z
  .strictObject({
    /** Let's Encrypt account; defaults to the organisation's contact address. */
    acmeEmail: email.optional(),
    /** `staging` while testing, to stay clear of Let's Encrypt's rate limits. */
    acmeCa: z.enum(["production", "staging"], { error: withValue("must be production or staging") }).default("production"),
    accessLog: z
      .strictObject({
        retentionDays: days("access-log retention", 1, 90).default(14),
        /** Keep only the network part of client addresses (/24, /48) in access logs. */
        anonymiseAddresses: z.boolean().default(true),
      })
      .prefault({}),
  })
  .prefault({});

export type ProxySettings = z.infer<typeof proxySettings>;
