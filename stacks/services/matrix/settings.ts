import { z } from "zod";
import { days, reason, subdomainLabel } from "../../config/fields.ts";

export const matrixSettings = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Synapse, the homeserver. */
    subdomain: subdomainLabel.default("matrix"),
    /** Element, the web client. */
    elementSubdomain: subdomainLabel.default("chat"),
    federation: z
      .strictObject({
        enabled: z.boolean().default(false),
        reason: reason.optional(),
      })
      .prefault({})
      .refine((f) => !f.enabled || f.reason !== undefined, {
        error: "federation.enabled needs federation.reason: say why messages may leave the server (the DPO's register quotes it)",
        path: ["reason"],
      }),
    retention: z
      .strictObject({
        messagesDays: days("chat messages", 7, 3650).default(365),
        mediaDays: days("files sent in chat", 7, 3650).default(90),
      })
      .prefault({}),
  })
  .prefault({});

export type MatrixSettings = z.infer<typeof matrixSettings>;
