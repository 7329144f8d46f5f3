// What the policy pack must know about a stack that no resource shows: where a server
// reached over SSH is, why Matrix federates, and the register's retention rules. The
// program declares them on its `bastide:index:Bastide` component, from the validated
// config, both as an input (resource policies see a resource's inputs) and as a
// registered output (stack policies see outputs, which replace a component's inputs);
// the pack reads them back from that resource. Only what the checks need goes there
// (no member, no secret): it lands in the state.
import { z } from "zod";
import type { Association } from "../../stacks/config/schema.ts";
import { hostCountry, type HostSettings } from "../../stacks/host/settings.ts";
import { dataCategories } from "../rgpd/register.ts";
import { twoFactorRoles } from "../../stacks/services/identity/register.ts";
import type { Retention } from "../rgpd/model.ts";

export const BASTIDE_TYPE = "bastide:index:Bastide";
/** The component input that carries the facts. */
export const FACTS_INPUT = "policyFacts";

export interface RegisteredRetention {
  /** The data category, e.g. `matrix.messages`. */
  id: string;
  service: string;
  /** As the register states it; the pack checks it again, since the state could be edited. */
  retention: unknown;
}

export interface StackFacts {
  host: {
    target: HostSettings["target"];
    /** Where the data lives; absent for a local machine. */
    country?: string;
    /** The server an `ssh` target reaches. */
    address?: string;
  };
  matrix: {
    federation: boolean;
    federationReason?: string;
  };
  /** What the register says of the proxy's access log: client addresses masked (ip_mask) or not. */
  accessLog: { anonymiseAddresses: boolean };
  /** What the register says of Nextcloud's public links and admins' login. */
  nextcloud: { requireLinkPassword: boolean; adminTwoFactor: boolean };
  register: RegisteredRetention[];
  /** What the register says of the identity provider: whether it runs, and each role's second factor with the reason when it is off. */
  identity: { enabled: boolean; twoFactor: { role: string; required: boolean; reason?: string }[] };
}

/**
 * The facts of a validated config. The component declares them twice:
 * `super("bastide:index:Bastide", name, { policyFacts }, opts)` and `this.registerOutputs({ ..., policyFacts })`.
 */
export function stackFacts(config: Association): StackFacts {
  const { host } = config;
  const { federation } = config.services.matrix;
  const country = hostCountry(host);
  return {
    host: {
      target: host.target,
      ...(country ? { country } : {}),
      ...(host.target === "ssh" ? { address: host.address } : {}),
    },
    matrix: { federation: federation.enabled, ...(federation.reason ? { federationReason: federation.reason } : {}) },
    accessLog: { anonymiseAddresses: config.services.proxy.accessLog.anonymiseAddresses },
    nextcloud: {
      requireLinkPassword: config.services.nextcloud.shareLinks.requirePassword,
      adminTwoFactor: config.services.nextcloud.adminTwoFactor,
    },
    register: dataCategories(config).map((c) => ({ id: c.id, service: c.service, retention: compact(c.retention) })),
    identity: {
      enabled: config.services.identity.enabled,
      twoFactor: twoFactorRoles(config).map(({ role, required, reason }) => ({ role, required, ...(reason !== undefined ? { reason } : {}) })),
    },
  };
}

/** The register's notes are for the DPO, not for the checks. */
function compact(retention: Retention): Omit<Retention, "note"> {
  const { note: _note, ...rest } = retention;
  return rest;
}

const factsSchema = z.object({
  host: z.object({
    target: z.enum(["local", "ssh", "hetzner", "scaleway"]),
    country: z.string().optional(),
    address: z.string().optional(),
  }),
  matrix: z.object({ federation: z.boolean(), federationReason: z.string().optional() }),
  accessLog: z.object({ anonymiseAddresses: z.boolean() }),
  nextcloud: z.object({ requireLinkPassword: z.boolean(), adminTwoFactor: z.boolean() }),
  register: z.array(z.object({ id: z.string(), service: z.string(), retention: z.unknown() })),
  identity: z.object({
    enabled: z.boolean(),
    twoFactor: z.array(z.object({ role: z.string(), required: z.boolean(), reason: z.string().optional() })),
  }),
});

/**
 * The facts the stack declares: undefined when no Bastide component carries them, or
 * when what it carries is malformed (the checks then refuse what they cannot verify).
 */
export function declaredFacts(resources: readonly { type: string; props: Record<string, unknown> }[]): StackFacts | undefined {
  const component = resources.find((r) => r.type === BASTIDE_TYPE && r.props[FACTS_INPUT] !== undefined);
  const parsed = factsSchema.safeParse(component?.props[FACTS_INPUT]);
  return parsed.success ? (parsed.data as StackFacts) : undefined;
}

/** Said by every check that needs the facts and finds none. */
export const NO_FACTS =
  `the stack declares no readable ${FACTS_INPUT} on its ${BASTIDE_TYPE} component: ` +
  `register { ${FACTS_INPUT}: stackFacts(config) } (policies/pack/facts.ts) as the component's input and output`;
