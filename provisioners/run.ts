// Entry point of a provisioning run, as `pulumi up` makes it through the dynamic
// provider (stacks/provisioning/provider.ts) and as the benchmark and tests make it.
// It turns the provider's inputs and the ledger of earlier runs into one converge()
// of the right service, and refuses to record a run that did not fully succeed.
import { reconcileDepartures, EMPTY_LEDGER, type Ledger } from "./departures.ts";
import type { Departures, DesiredState } from "./desired.ts";
import type { Change, ConvergeResult, ProvisionedService } from "./model.ts";
import type { CallCounter } from "./runtime/http.ts";
import type { ProvisioningInputs, ProvisioningOutputs } from "../stacks/provisioning/provider.ts";
import { SERVICE_RUNNERS } from "./services.ts";
import { unkeyedSlice } from "./slices.ts";

export interface RunRequest {
  service: ProvisionedService;
  /** The whole desired state; only this service's part and the departures are read. */
  desired: DesiredState;
  connection: Record<string, unknown>;
  concurrency: number;
  dryRun?: boolean;
  counter?: CallCounter;
  /** What this service's runner asked to keep after its last successful run. */
  previousState?: unknown;
}

export interface RunResult {
  planned: Change[];
  applied: Change[];
  failed: { subject: string; message: string }[];
  state?: unknown;
}

/** A service runner: builds its client from the connection and converges; `state` is kept for its next run. */
export type ServiceRunner = (request: RunRequest) => Promise<ConvergeResult<Change> & { state?: unknown }>;

/** What the provider keeps between runs. */
export interface Kept {
  ledger: Ledger;
  serviceState?: unknown;
}

export const nothingKept = (): Kept => ({ ledger: structuredClone(EMPTY_LEDGER) });

/** The provider's inputs, back into a desired state with this run's departures. */
export function requestFrom(inputs: ProvisioningInputs, kept: Kept, now: Date): RunRequest {
  const { departures } = reconcileDepartures(kept.ledger, inputs.members, inputs.graceDays, now);
  return {
    service: inputs.service,
    desired: desiredFromInputs(inputs, departures),
    connection: inputs.connection,
    concurrency: inputs.concurrency,
    previousState: kept.serviceState,
  };
}

export function desiredFromInputs(inputs: ProvisioningInputs, departures: Departures): DesiredState {
  return { ...unkeyedSlice(inputs.desired, inputs.service), departures };
}

export async function run(request: RunRequest): Promise<RunResult> {
  const runner = SERVICE_RUNNERS[request.service];
  if (!runner) throw new Error(`no provisioner for ${request.service}`);
  const result = await runner(request);
  return {
    planned: result.planned,
    applied: result.applied,
    failed: result.failed.map(({ change, error }) => ({ subject: change.subject, message: error.message })),
    state: result.state,
  };
}

/** What a run would change, read-only: for `pulumi preview` and drift detection. */
export async function planAgainstLive(request: RunRequest): Promise<Change[]> {
  return (await run({ ...request, dryRun: true })).planned;
}

/** Applies, then returns the outputs to keep; throws, keeping the old state, on any failure. */
export async function applyAndRecord(inputs: ProvisioningInputs, kept: Kept, now: Date): Promise<ProvisioningOutputs> {
  const result = await run(requestFrom(inputs, kept, now));
  if (result.failed.length > 0) {
    const lines = result.failed.map((f) => `  - ${f.message}`).join("\n");
    const done = result.applied.length > 0 ? ` (${result.applied.length} changes were applied and are kept; a re-run continues from there)` : "";
    throw new Error(`${inputs.service}: ${result.failed.length} change(s) failed${done}:\n${lines}`);
  }
  return {
    ...inputs,
    ledger: reconcileDepartures(kept.ledger, inputs.members, inputs.graceDays, now).ledger,
    serviceState: result.state ?? kept.serviceState ?? null,
    lastRun: { at: now.toISOString(), applied: result.applied.map((c) => `${c.kind} ${c.subject}`) },
  };
}
