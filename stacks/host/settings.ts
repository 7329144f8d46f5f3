// Where the stack runs. Every target but `local` must be in the EU/EEA: the
// register of processing states "no transfer outside the EU", so it must be true.
import { z } from "zod";
import { domainProblem, euCountry, invisibleProblem, shown } from "../config/fields.ts";
import { isIpv4, isIpv6, nonPublicIpv4Kind, parseNetwork, sshExposureProblem } from "../config/networks.ts";

export interface HostSize {
  cpus: number;
  memoryGb: number;
}

const size = z.strictObject({
  cpus: z.number().int().min(1, { error: "must be at least 1" }).max(256),
  memoryGb: z.number().min(1, { error: "must be at least 1 (GB)" }).max(2048),
});

/** Hetzner Cloud locations in the EU; the others are named so the error can say where they are. */
export const HETZNER_LOCATIONS = { fsn1: "DE", nbg1: "DE", hel1: "FI" } as const;
const HETZNER_ELSEWHERE: Record<string, string> = { ash: "the USA", hil: "the USA", sin: "Singapore" };

export const HETZNER_SERVER_TYPES: Record<string, HostSize> = {
  cx22: { cpus: 2, memoryGb: 4 },
  cx32: { cpus: 4, memoryGb: 8 },
  cx42: { cpus: 8, memoryGb: 16 },
  cx52: { cpus: 16, memoryGb: 32 },
  cpx21: { cpus: 3, memoryGb: 4 },
  cpx31: { cpus: 4, memoryGb: 8 },
  cpx41: { cpus: 8, memoryGb: 16 },
  ccx13: { cpus: 2, memoryGb: 8 },
  ccx23: { cpus: 4, memoryGb: 16 },
};

export const SCALEWAY_ZONES = {
  "fr-par-1": "FR", "fr-par-2": "FR", "fr-par-3": "FR",
  "nl-ams-1": "NL", "nl-ams-2": "NL", "nl-ams-3": "NL",
  "pl-waw-1": "PL", "pl-waw-2": "PL", "pl-waw-3": "PL",
} as const;

export const SCALEWAY_SERVER_TYPES: Record<string, HostSize> = {
  "DEV1-M": { cpus: 3, memoryGb: 4 },
  "DEV1-L": { cpus: 4, memoryGb: 8 },
  "DEV1-XL": { cpus: 4, memoryGb: 12 },
  "PLAY2-SMALL": { cpus: 2, memoryGb: 4 },
  "PLAY2-MEDIUM": { cpus: 4, memoryGb: 8 },
  "PRO2-XXS": { cpus: 2, memoryGb: 8 },
  "PRO2-XS": { cpus: 4, memoryGb: 16 },
  "GP1-XS": { cpus: 4, memoryGb: 16 },
};

/** Own keys only: `in` would also find constructor, toString or __proto__ on any object. */
const known = (table: Record<string, unknown>, key: string) => Object.hasOwn(table, key);

const oneOf = (what: string, table: Record<string, unknown>) =>
  z.string().refine((v) => known(table, v), {
    error: (issue) => `"${String(issue.input)}" is not a known ${what}; use one of: ${Object.keys(table).join(", ")}`,
  });

const addressOrNetwork = z.string({ error: "must be an IP address or network such as 203.0.113.7/32" }).refine((v) => parseNetwork(v) !== undefined, {
  error: (issue) => `${shown(issue.input)} must be an IP address or network such as 203.0.113.7/32 or 2001:db8:1::/48`,
});

/**
 * Who may reach SSH on a cloud server: never a large part of the Internet, however it is
 * written (networks are parsed; see SSH_OPEN_BOUND for the bound).
 */
const adminAddresses = z
  .array(addressOrNetwork)
  .min(1, { error: "list at least one address or network the admin connects from, e.g. 203.0.113.7/32" })
  .max(64, { error: "list at most 64 addresses or networks: the admin's own" })
  .superRefine((list, ctx) => {
    const problem = sshExposureProblem(list);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

const sshPublicKey = z
  .string()
  .max(16_384, { error: "must be one OpenSSH public key line (at most 16384 characters)" })
  .regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( [^\x00-\x1f\x7f]*)?$/, {
    error: "must be an OpenSSH public key line such as 'ssh-ed25519 AAAA... admin@laptop'",
  });

const local = z.strictObject({
  target: z.literal("local"),
  /** What this machine can give the stack; checked against the sizing profile. */
  size: size.default({ cpus: 4, memoryGb: 12 }),
});

/**
 * The server's name or IP address. It goes into the Docker host string
 * `ssh://user@address:port`, which ssh reads as arguments: a value starting with `-`
 * (`-oProxyCommand=...`) would be an option, and `@`, `;` or spaces would change its meaning.
 */
function serverAddressProblem(value: string): string | undefined {
  if (isIpv4(value) || isIpv6(value)) return undefined;
  const invisible = invisibleProblem(value, false);
  if (invisible) return invisible;
  if (domainProblem(value.toLowerCase(), 253) === undefined) return undefined;
  return `${shown(value)} is not a server name or IP address: use a name such as serveur.asso-exemple.fr or an address such as 203.0.113.7 (no @, spaces, options or commands)`;
}

/** A login name as Debian's adduser accepts it (NAME_REGEX, ^[a-z][-a-z0-9_]*$), at most 32 characters. */
const LOGIN = /^[a-z_][a-z0-9_-]{0,31}$/;

/** JVB_ADVERTISE_IPS: the address browsers send meeting media to (docker-jitsi-meet stable-11146-1, jvb.conf public-address). */
function publicIpv4Problem(value: string, field: string): string | undefined {
  if (!isIpv4(value)) return `${shown(value)} must be the server's public IPv4 address, such as 203.0.113.7`;
  const kind = nonPublicIpv4Kind(value);
  if (kind) return `${shown(value)} is ${kind}: video clients on the Internet cannot reach it; set ${field} to the server's public IPv4 address`;
  return undefined;
}

const ssh = z
  .strictObject({
    target: z.literal("ssh"),
    address: z
      .string({ error: "must be the server's name or IP address" })
      .trim()
      .min(1, { error: "must be the server's name or IP address" })
      .superRefine((value, ctx) => {
        const problem = serverAddressProblem(value);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      }),
    user: z
      .string()
      .regex(LOGIN, { error: (issue) => `${shown(issue.input)} must be a login name on the server, such as root or admin (lower-case letters, digits, - and _; no @)` })
      .default("root"),
    port: z.number().int().min(1).max(65535).default(22),
    /** Where the server physically is: must be in the EU/EEA. */
    country: euCountry,
    /** Public IPv4 address announced to video clients; defaults to `address`. */
    publicAddress: z
      .string({ error: "must be the server's public IPv4 address" })
      .superRefine((value, ctx) => {
        const problem = publicIpv4Problem(value, "host.publicAddress");
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      })
      .optional(),
    size,
  })
  .superRefine((host, ctx) => {
    // Without publicAddress, address is announced to video clients: an address they cannot reach breaks every meeting.
    if (host.publicAddress !== undefined || !isIpv4(host.address)) return;
    const kind = nonPublicIpv4Kind(host.address);
    if (kind)
      ctx.addIssue({
        code: "custom",
        path: ["publicAddress"],
        message: `is required here: host.address ${shown(host.address)} is ${kind}, which video clients cannot reach; set host.publicAddress to the server's public IPv4 address`,
      });
  });

const hetzner = z.strictObject({
  target: z.literal("hetzner"),
  location: z.string({ error: "must be fsn1, nbg1 or hel1 (Hetzner's EU locations)" }).refine((v) => known(HETZNER_LOCATIONS, v), {
    error: (issue) => {
      const where = known(HETZNER_ELSEWHERE, String(issue.input)) ? HETZNER_ELSEWHERE[String(issue.input)] : undefined;
      const why = where ? ` is in ${where}, outside the EU/EEA` : " is not a known Hetzner location";
      return `"${String(issue.input)}"${why}; use fsn1 (Falkenstein, DE), nbg1 (Nuremberg, DE) or hel1 (Helsinki, FI)`;
    },
  }),
  serverType: oneOf("Hetzner server type", HETZNER_SERVER_TYPES).default("cx42"),
  sshPublicKey,
  adminAddresses,
});

const scaleway = z.strictObject({
  target: z.literal("scaleway"),
  zone: z.string({ error: `must be one of ${Object.keys(SCALEWAY_ZONES).join(", ")} (Scaleway's EU zones)` }).refine((v) => known(SCALEWAY_ZONES, v), {
    error: (issue) =>
      `"${String(issue.input)}" is not an EU Scaleway zone; use one of ${Object.keys(SCALEWAY_ZONES).join(", ")}`,
  }),
  serverType: oneOf("Scaleway instance type", SCALEWAY_SERVER_TYPES).default("DEV1-XL"),
  sshPublicKey,
  adminAddresses,
});

export const hostSettings = z.discriminatedUnion("target", [local, ssh, hetzner, scaleway], {
  error: "host.target must be one of local, ssh, hetzner, scaleway",
});

export type HostSettings = z.infer<typeof hostSettings>;

/** The size a target declares: read from the server type for clouds. */
export function hostSize(host: HostSettings): HostSize {
  switch (host.target) {
    case "local":
    case "ssh":
      return host.size;
    case "hetzner":
      return HETZNER_SERVER_TYPES[host.serverType]!;
    case "scaleway":
      return SCALEWAY_SERVER_TYPES[host.serverType]!;
  }
}

/** Country where the data lives, for the register; `undefined` for a laptop. */
export function hostCountry(host: HostSettings): string | undefined {
  switch (host.target) {
    case "local":
      return undefined;
    case "ssh":
      return host.country;
    case "hetzner":
      return HETZNER_LOCATIONS[host.location as keyof typeof HETZNER_LOCATIONS];
    case "scaleway":
      return SCALEWAY_ZONES[host.zone as keyof typeof SCALEWAY_ZONES];
  }
}
