import { z } from "zod";
import { days, reason, shown, subdomainLabel } from "../../config/fields.ts";

export const quota = z
  .string()
  .regex(/^(\d{1,6} ?(MB|GB|TB)|none)$/i, { error: (issue) => `${shown(issue.input)} must be a size such as "5 GB" or "500 MB", or "none"` });

export const nextcloudSettings = z
  .strictObject({
    enabled: z.boolean().default(true),
    subdomain: subdomainLabel.default("cloud"),
    defaultQuota: quota.default("5 GB"),
    shareLinks: z
      .strictObject({
        requirePassword: z.boolean().default(true),
        expireAfterDays: days("public share links", 1, 365).default(30),
        /** Needed to let share links without a password or expiry through. */
        relaxedBecause: reason.optional(),
      })
      .prefault({})
      .refine((s) => s.requirePassword || s.relaxedBecause !== undefined, {
        error: "shareLinks.requirePassword: false needs shareLinks.relaxedBecause, a sentence the DPO's register quotes",
        path: ["relaxedBecause"],
      }),
    trashbinDays: days("deleted files are kept in the trash", 1, 365).default(30),
    versionsDays: days("old file versions are kept", 1, 730).default(90),
    activityExpireDays: days("activity records are kept", 1, 730).default(90),
    /** Files tagged "temporaire" are deleted this long after their last change. */
    temporaryTagDays: days("files tagged temporary", 1, 365).default(30),
    adminTwoFactor: z.boolean().default(true),
  })
  .prefault({});

export type NextcloudSettings = z.infer<typeof nextcloudSettings>;
