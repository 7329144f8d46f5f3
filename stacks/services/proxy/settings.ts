import { z } from "zod";
import { days, email, reason, withValue } from "../../config/fields.ts";

/**
 * The CNIL recommends keeping security logs six months to a year (deliberation no. 2021-122 of
 * 14 October 2021, « recommandation relative aux mesures de journalisation »): a year is the most
 * Bastide lets the admin choose.
 */
export const ACCESS_LOG_MAX_DAYS = 365;
/** Past this, the register quotes the reason the association keeps the logs longer. */
export const ACCESS_LOG_DAYS_WITHOUT_REASON = 90;

export const proxySettings = z
  .strictObject({
    /** Let's Encrypt account; defaults to the organisation's contact address. */
    acmeEmail: email.optional(),
    /** `staging` while testing, to stay clear of Let's Encrypt's rate limits. */
    acmeCa: z.enum(["production", "staging"], { error: withValue("must be production or staging") }).default("production"),
    accessLog: z
      .strictObject({
        retentionDays: days("access-log retention", 1, ACCESS_LOG_MAX_DAYS).default(14),
        /** Why the logs are kept longer than ACCESS_LOG_DAYS_WITHOUT_REASON days: the register quotes it. */
        retentionReason: reason.optional(),
        /** Keep only the network part of client addresses (/24, /48) in access logs. */
        anonymiseAddresses: z.boolean().default(true),
      })
      .prefault({}),
  })
  .prefault({});

export type ProxySettings = z.infer<typeof proxySettings>;
