import { z } from "zod";
import { httpsUrl, reason, subdomainLabel } from "../../config/fields.ts";

export const jitsiSettings = z
  .strictObject({
    enabled: z.boolean().default(true),
    subdomain: subdomainLabel.default("visio"),
    /** Guests join without an account and wait in the lobby until a staff member admits them. */
    guests: z.strictObject({ allowed: z.boolean().default(true) }).prefault({}),
    recording: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** Shown to participants before a recording starts; required to turn recording on. */
        consentText: reason.optional(),
      })
      .prefault({})
      .refine((r) => !r.enabled || r.consentText !== undefined, {
        error: "recording.enabled needs recording.consentText: the text participants see before a recording starts",
        path: ["consentText"],
      }),
    lowBandwidth: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** Highest video height sent, in pixels. */
        maxResolution: z.union([z.literal(180), z.literal(360), z.literal(720)], { error: "must be 180, 360 or 720" }).default(360),
        /** How many participants' video is forwarded at once. */
        lastN: z.number().int().min(1, { error: "must be at least 1" }).max(25, { error: "must be at most 25" }).default(5),
        /** Participants who join past this number start muted. */
        startMutedAfter: z.number().int().min(1).max(100, { error: "must be at most 100" }).default(6),
      })
      .prefault({}),
    dialIn: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** Page listing the phone numbers, from the SIP/telephony provider. */
        numbersUrl: httpsUrl.optional(),
      })
      .prefault({})
      .refine((d) => !d.enabled || d.numbersUrl !== undefined, {
        error: "dialIn.enabled needs dialIn.numbersUrl: the page of your telephony provider listing the numbers",
        path: ["numbersUrl"],
      }),
  })
  .prefault({});

export type JitsiSettings = z.infer<typeof jitsiSettings>;
