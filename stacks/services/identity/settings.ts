// The identity provider: one account per member, one login for Nextcloud, Matrix and
// Jitsi, a second factor for everyone unless the file says, with a reason, why not.
import { z } from "zod";
import { reason, subdomainLabel, withValue } from "../../config/fields.ts";

/**
 * Whether a role must enrol a second factor. Required by default; relaxing it for a role
 * needs a sentence the DPO's register quotes. Administrators can never relax it (refused
 * in the schema): an administrator's password alone opens every member's data.
 */
const roleTwoFactor = z
  .strictObject({
    required: z.boolean().default(true),
    /** Why this role may log in with a password alone: quoted in the register. */
    relaxedBecause: reason.optional(),
  })
  .prefault({})
  .refine((r) => r.required || r.relaxedBecause !== undefined, {
    error: "required: false needs relaxedBecause, a sentence the DPO's register quotes (why this role may log in with a password alone)",
    path: ["relaxedBecause"],
  });

/** Upstream's own minimum is 8 (Keycloak's "length" policy default); NIST SP 800-63B §3.1.1.2 asks 15 without a second factor, 8 with one. */
export const MIN_PASSWORD_LENGTH = 12;

export const identitySettings = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Where members log in: e.g. connexion.asso-exemple.fr. */
    subdomain: subdomainLabel.default("connexion"),
    twoFactor: z
      .strictObject({
        admin: roleTwoFactor.refine((r) => r.required, {
          error: "administrators always need a second factor: their password alone would open every member's data; remove required: false",
          path: ["required"],
        }),
        staff: roleTwoFactor,
        volunteer: roleTwoFactor,
      })
      .prefault({}),
    passwords: z
      .strictObject({
        minimumLength: z
          .number({ error: withValue("must be a number of characters") })
          .int({ error: withValue("must be a whole number of characters") })
          .min(MIN_PASSWORD_LENGTH, { error: withValue(`must be at least ${MIN_PASSWORD_LENGTH} characters (with a second factor; 15 without, as NIST SP 800-63B advises)`) })
          .max(64, { error: withValue("must be at most 64 characters: longer minimums push members to write passwords down") })
          .default(MIN_PASSWORD_LENGTH),
      })
      .prefault({}),
    /** Failed logins before a temporary lock-out (Keycloak's brute-force detection). */
    lockoutAfterFailures: z
      .number({ error: withValue("must be a number of failed logins") })
      .int({ error: withValue("must be a whole number of failed logins") })
      .min(3, { error: withValue("must be at least 3: fewer locks members out on typos") })
      .max(30, { error: withValue("must be at most 30: more lets a password be guessed") })
      .default(10),
  })
  .prefault({});

export type IdentitySettings = z.infer<typeof identitySettings>;
