// The association, as the admin describes it. This schema is the source of the
// TypeScript types: everything Bastide deploys, provisions or documents derives from it.
import { z } from "zod";
import { days, displayName, domainName, email, euCountry, identifier, language } from "./fields.ts";
import { hostSettings } from "../host/settings.ts";
import { proxySettings } from "../services/proxy/settings.ts";
import { jitsiSettings } from "../services/jitsi/settings.ts";
import { nextcloudSettings, quota } from "../services/nextcloud/settings.ts";
import { matrixSettings } from "../services/matrix/settings.ts";
import { pollsSettings } from "../services/polls/settings.ts";
import { vpnSettings } from "../services/vpn/settings.ts";
import { mailSettings } from "./mail.ts";

export const ROLES = ["admin", "staff", "volunteer"] as const;

const organisation = z.strictObject({
  name: displayName,
  /** Where the association is established. */
  country: euCountry,
  /** The working language of the welcome sheets and the DPO's documents. */
  language: language.default("fr"),
  contact: email,
  address: z.string().trim().min(1).optional(),
  dpo: z.strictObject({ name: displayName, email }),
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
  role: z.enum(ROLES, { error: "must be admin, staff or volunteer" }).default("volunteer"),
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
  // half its recommended memory_limit.
  /** 2 vCPU / 8 GB: small meetings, a few dozen members. */
  small: { minimum: { cpus: 2, memoryGb: 8 }, containerBudgetMb: 7168 },
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
    profile: z.enum(["small", "standard"], { error: `must be ${describeProfile("small")} or ${describeProfile("standard")}` }).default("small"),
    services: z
      .strictObject({
        proxy: proxySettings,
        jitsi: jitsiSettings,
        nextcloud: nextcloudSettings,
        matrix: matrixSettings,
        polls: pollsSettings,
        vpn: vpnSettings,
      })
      .prefault({}),
    /** Outgoing mail relay; without it no service sends mail. */
    mail: mailSettings.optional(),
    members: z.array(member).min(1, { error: "list at least one member, with role: admin" }),
    /** A member removed from the list is disabled at once and erased after this delay. */
    departures: z
      .strictObject({ graceDays: days("a departed member's accounts are kept, disabled, before erasure", 0, 3650).default(30) })
      .prefault({}),
    teams: z.array(team).default([]),
  })
  .superRefine(crossFieldChecks);

export type Association = z.infer<typeof associationSchema>;
export type AssociationInput = z.input<typeof associationSchema>;
export type Member = Association["members"][number];
export type Team = Association["teams"][number];

type Ctx = z.RefinementCtx;

function duplicates<T>(items: T[], key: (item: T) => string): number[] {
  const seen = new Set<string>();
  return items.flatMap((item, index) => {
    const k = key(item);
    if (seen.has(k)) return [index];
    seen.add(k);
    return [];
  });
}

function crossFieldChecks(config: Association, ctx: Ctx): void {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });

  for (const i of duplicates(config.members, (m) => m.id))
    issue(["members", i, "id"], `"${config.members[i]!.id}" is already used by another member; ids must be unique`);
  for (const i of duplicates(config.members, (m) => m.email.toLowerCase()))
    issue(["members", i, "email"], `"${config.members[i]!.email}" is already used by another member; e-mails must be unique`);
  for (const i of duplicates(config.teams, (t) => t.id))
    issue(["teams", i, "id"], `"${config.teams[i]!.id}" is already used by another team; team ids must be unique`);

  const teamIds = new Set(config.teams.map((t) => t.id));
  config.members.forEach((m, i) => {
    m.teams.forEach((t, j) => {
      if (!teamIds.has(t))
        issue(["members", i, "teams", j], `team "${t}" is not declared; add it under teams: or fix the spelling`);
    });
    for (const j of duplicates(m.devices, (d) => d.name))
      issue(["members", i, "devices", j, "name"], `device "${m.devices[j]!.name}" is listed twice for ${m.id}; give each device its own name`);
    if (m.devices.length > 0 && m.role === "volunteer")
      issue(["members", i, "devices"], `only admin and staff members get VPN access; set role: staff for ${m.id} or remove the devices`);
  });

  if (config.members.length > 0 && !config.members.some((m) => m.role === "admin"))
    issue(["members"], "at least one member needs role: admin, to own the services' admin accounts");

  if (config.members.some((m) => m.devices.length > 0) && !config.services.vpn.enabled)
    issue(["services", "vpn", "enabled"], "members have devices listed but the VPN is off; turn services.vpn.enabled on or remove the devices");

  const labels: [string, string][] = [
    ["jitsi.subdomain", config.services.jitsi.subdomain],
    ["nextcloud.subdomain", config.services.nextcloud.subdomain],
    ["matrix.subdomain", config.services.matrix.subdomain],
    ["matrix.elementSubdomain", config.services.matrix.elementSubdomain],
    ["polls.subdomain", config.services.polls.subdomain],
    ["vpn.subdomain", config.services.vpn.subdomain],
  ];
  for (const i of duplicates(labels, ([, label]) => label)) {
    const [field, label] = labels[i]!;
    const first = labels.find(([, l]) => l === label)![0];
    issue(["services", ...field.split(".")], `"${label}" is already the sub-domain of services.${first}; give each service its own`);
  }
}
