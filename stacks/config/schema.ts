// The association, as the admin describes it. This schema is the source of the
// TypeScript types: everything Bastide deploys, provisions or documents derives from it.
import { z } from "zod";
import { days, displayName, domainName, email, euCountry, identifier, language, reason, text, withValue } from "./fields.ts";
import { hostSettings } from "../host/settings.ts";
import { proxySettings } from "../services/proxy/settings.ts";
import { jitsiSettings } from "../services/jitsi/settings.ts";
import { nextcloudSettings, quota } from "../services/nextcloud/settings.ts";
import { matrixSettings } from "../services/matrix/settings.ts";
import { pollsSettings } from "../services/polls/settings.ts";
import { vpnSettings } from "../services/vpn/settings.ts";
import { identitySettings } from "../services/identity/settings.ts";
import { mailSettings } from "./mail.ts";
import { backupSettings } from "../backups/settings.ts";
import { crossFieldProblems } from "./cross-field.ts";

export const ROLES = ["admin", "staff", "volunteer"] as const;

const organisation = z.strictObject({
  name: displayName,
  /** Where the association is established. */
  country: euCountry,
  /** The working language of the welcome sheets and the DPO's documents. */
  language: language.default("fr"),
  contact: email,
  /** Postal address, printed in the register: a few lines at most. */
  address: text({ max: 300, example: "12 quai de Jemmapes, 75010 Paris", multiline: true }).optional(),
  /** The association's legal representative, named in the register as the controller's (GDPR art. 30(1)(a)). */
  president: displayName,
  dpo: z.strictObject({
    name: displayName,
    email,
    /**
     * A DPO who is also an admin of the stack decides the means of the processing they
     * audit: a conflict of interest (GDPR art. 38(6)). Allowed only when the association
     * says, in a sentence the register quotes, why it accepts it.
     */
    alsoAdminAcknowledged: reason.optional(),
  }),
});

const device = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/, {
    error: "must be a short device name such as laptop or phone-2 (lower-case letters, digits, hyphens)",
  }),
});

const member = z.strictObject({
  id: identifier,
  name: displayName,
  email,
  /** admin: runs the services; staff: hosts meetings and gets VPN access; volunteer: uses the tools. */
  role: z.enum(ROLES, { error: withValue("must be admin, staff or volunteer") }).default("volunteer"),
  teams: z.array(identifier).default([]),
  language: language.optional(),
  quota: quota.optional(),
  devices: z.array(device).default([]),
});

const team = z.strictObject({
  id: identifier,
  name: displayName,
  calendar: z.boolean().default(true),
  room: z.boolean().default(true),
});

export const PROFILES = {
  // Each profile holds every service at the memory its upstream documents (Nextcloud's 512M per
  // PHP process above all: stacks/services/nextcloud/blueprint.ts), with 1 GB left to the host
  // on small and 2 GB on standard. 4 GB, the former small, cannot: it would hold Nextcloud at
  // half its recommended memory_limit. 8 GB, the next former small, cannot either once the
  // identity provider is on: Keycloak's sizing guide asks 1360 MB (stacks/services/upstream/
  // keycloak.ts), which with its database brings the example to 7736 MiB, past 8 GB less the
  // host's 1 GB. 12 GB is the next size the providers sell (Scaleway DEV1-XL; Hetzner's next
  // is 16 GB).
  /** 2 vCPU / 12 GB: small meetings, a few dozen members. */
  small: { minimum: { cpus: 2, memoryGb: 12 }, containerBudgetMb: 11264 },
  /** 4 vCPU / 16 GB: meetings of 20-30 people, a few hundred members. */
  standard: { minimum: { cpus: 4, memoryGb: 16 }, containerBudgetMb: 14336 },
} as const;

const describeProfile = (name: keyof typeof PROFILES) => `${name} (${PROFILES[name].minimum.cpus} vCPU / ${PROFILES[name].minimum.memoryGb} GB)`;

export const associationSchema = z
  .strictObject({
    organisation,
    /** Every service gets a name under it, e.g. visio.asso-exemple.fr. */
    domain: domainName,
    host: hostSettings,
    profile: z.enum(["small", "standard"], { error: withValue(`must be ${describeProfile("small")} or ${describeProfile("standard")}`) }).default("small"),
    services: z
      .strictObject({
        proxy: proxySettings,
        jitsi: jitsiSettings,
        nextcloud: nextcloudSettings,
        matrix: matrixSettings,
        polls: pollsSettings,
        vpn: vpnSettings,
        identity: identitySettings,
      })
      .prefault({}),
    /** Outgoing mail relay; without it no service sends mail. */
    mail: mailSettings.optional(),
    /** Daily encrypted backups to a place the association chooses; without it none are made. */
    backups: backupSettings.optional(),
    members: z.array(member).min(1, { error: "list at least one member, with role: admin" }),
    /** A member removed from the list is disabled at once and erased after this delay. */
    departures: z
      .strictObject({ graceDays: days("a departed member's accounts are kept, disabled, before erasure", 0, 3650).default(30) })
      .prefault({}),
    teams: z.array(team).default([]),
  })
  // Run even when some fields failed, so that one run reports every problem of the file;
  // crossFieldProblems reads what it gets as unknown and skips what is already reported.
  .superRefine(
    (config, ctx) => {
      for (const { path, message } of crossFieldProblems(config)) ctx.addIssue({ code: "custom", path, message });
    },
    { when: () => true },
  );

export type Association = z.infer<typeof associationSchema>;
export type AssociationInput = z.input<typeof associationSchema>;
export type Member = Association["members"][number];
export type Team = Association["teams"][number];
