// The shape every service provisioner has: read what runs, compare it with what the
// config wants (pure), then apply only the differences, phase by phase, concurrently
// within a bound. A second run with nothing new plans nothing, so it writes nothing.
import { settleLanes } from "./runtime/concurrency.ts";

export type ProvisionedService = "nextcloud-settings" | "nextcloud" | "calendars" | "matrix" | "jitsi" | "vpn" | "handover" | "identity";

/** One write the provisioner will make, as data: `pulumi preview` and tests read it. */
export interface Change<Kind extends string = string, Payload = unknown> {
  service: ProvisionedService;
  /** e.g. `user.create`, `membership.add`, `room.invite`. */
  kind: Kind;
  /** What it is about, for people: `user alice`, `alice → bureau`. */
  subject: string;
  /** The member concerned, so an error can name them. */
  member?: string;
  /** Lower phases run first: users and groups before memberships, rooms before invites. */
  phase: number;
  /**
   * Changes with the same lane are applied one after another, in plan order; lanes run
   * concurrently within the bound. No lane: a lane of its own.
   */
  lane?: string;
  payload: Payload;
}

export interface ServiceProvisioner<Desired, Live, C extends Change, Client> {
  service: ProvisionedService;
  read(client: Client, desired: Desired): Promise<Live>;
  plan(desired: Desired, live: Live): C[];
  apply(change: C, client: Client): Promise<void>;
}

/** A failure that says which service and which member, and why. */
export class ProvisionError extends Error {
  readonly service: ProvisionedService;
  readonly member: string | undefined;
  constructor(service: ProvisionedService, member: string | undefined, message: string, options?: { cause?: unknown }) {
    super(`${service}${member ? ` (member ${member})` : ""}: ${message}`, options);
    this.name = "ProvisionError";
    this.service = service;
    this.member = member;
  }
}

export interface ConvergeOptions {
  /** Calls in flight at once, per service. */
  concurrency: number;
  /** Only plan: nothing is applied. */
  dryRun?: boolean;
}

export interface ConvergeResult<C extends Change, L = unknown> {
  /** What was read before planning. */
  live?: L;
  planned: C[];
  applied: C[];
  failed: { change: C; error: ProvisionError }[];
}

export function byPhase<C extends Change>(changes: readonly C[]): C[][] {
  const phases = [...new Set(changes.map((c) => c.phase))].sort((a, b) => a - b);
  return phases.map((p) => changes.filter((c) => c.phase === p));
}

/**
 * Reads, plans and applies. A phase runs only when the one before it fully
 * succeeded, so a membership is never attempted for a user that failed to appear.
 */
export async function converge<D, L, C extends Change, K>(
  provisioner: ServiceProvisioner<D, L, C, K>,
  desired: D,
  client: K,
  options: ConvergeOptions,
): Promise<ConvergeResult<C, L>> {
  const live = await provisioner.read(client, desired);
  const planned = provisioner.plan(desired, live);
  const result: ConvergeResult<C, L> = { live, planned, applied: [], failed: [] };
  if (options.dryRun) return result;
  for (const phase of byPhase(planned)) {
    const failures = await settleLanes(phase, options.concurrency, (change) => change.lane, async (change) => {
      await provisioner.apply(change, client);
      result.applied.push(change);
    });
    for (const { item, error } of failures) {
      result.failed.push({
        change: item,
        error: error instanceof ProvisionError ? error : new ProvisionError(item.service, item.member, `${item.subject}: ${(error as Error).message}`, { cause: error }),
      });
    }
    if (failures.length > 0) break;
  }
  return result;
}
