import { z } from "zod";
import { days, subdomainLabel } from "../../config/fields.ts";

export const pollsSettings = z
  .strictObject({
    enabled: z.boolean().default(true),
    subdomain: subdomainLabel.default("sondage"),
    /** End date proposed to a new poll. */
    defaultDurationDays: days("a poll stays open by default", 1, 365).default(30),
    /** A poll and its answers are purged this long after its end date. */
    purgeDelayDays: days("answers are kept after a poll ends", 1, 365).default(60),
  })
  .prefault({});

export type PollsSettings = z.infer<typeof pollsSettings>;
