// What each service's part of a request is given, and the few helpers they share.
import type { Association } from "../../stacks/config/schema.ts";
import type { DesiredState } from "../../provisioners/desired.ts";
import type { Change, ConvergeResult, ServiceProvisioner } from "../../provisioners/model.ts";
import type { RequestFolder } from "./archive.ts";
import { describe, t, type DsrService, type Recorder } from "./model.ts";
import type { DsrLimits } from "./targets.ts";

/** Who the member is, as far as the config and the services say. */
export interface MemberIdentity {
  id: string;
  name?: string;
  email?: string;
  sources: string[];
}

interface Common<Target> {
  member: string;
  identity: MemberIdentity;
  config: Association;
  rec: Recorder;
  target: Target;
}

export interface ExportContext<Target> extends Common<Target> {
  /** From the config as it is (the member may still be in it). */
  desired: DesiredState;
  folder: RequestFolder;
  limits: DsrLimits;
}

export interface EraseContext<Target> extends Common<Target> {
  /** From the config without the member, with departures.erase = [member]: the provisioners' erase path. */
  desired: DesiredState;
  /** false: only plan, change nothing. */
  confirm: boolean;
  concurrency: number;
}

/** A provisioner that plans only what `keep` lets through; read and apply are its own. */
export function only<D, L, C extends Change, K>(provisioner: ServiceProvisioner<D, L, C, K>, keep: (change: C) => boolean): ServiceProvisioner<D, L, C, K> {
  return { ...provisioner, plan: (desired, live) => provisioner.plan(desired, live).filter(keep) };
}

/** One step per change of a provisioner run: planned, done or failed; none when nothing was needed. */
export function recordConverge(
  rec: Recorder,
  service: DsrService,
  part: string,
  result: ConvergeResult<Change>,
  confirm: boolean,
  nothing: { fr: string; en: string },
): void {
  if (result.planned.length === 0) {
    rec.add({ service, part, outcome: "none", summary: nothing, count: 0 });
    return;
  }
  for (const change of result.planned) {
    const failure = result.failed.find((f) => f.change === change);
    const applied = result.applied.includes(change);
    if (failure) rec.add({ service, part: change.kind, outcome: "failed", summary: t(`échec : ${change.subject}`, `failed: ${change.subject}`), error: failure.error.message });
    else if (applied) rec.add({ service, part: change.kind, outcome: "done", summary: t(`fait : ${change.subject}`, `done: ${change.subject}`), count: 1 });
    else if (!confirm) rec.add({ service, part: change.kind, outcome: "planned", summary: t(`à faire : ${change.subject}`, `to do: ${change.subject}`) });
    // Not attempted because an earlier phase failed: the erasure is not complete.
    else rec.add({ service, part: change.kind, outcome: "failed", summary: t(`non fait : ${change.subject}`, `not done: ${change.subject}`), error: "not attempted: an earlier step of this service failed" });
  }
}

/** Runs one part, turning an unexpected error into a failed step so the others still run. */
export async function part(rec: Recorder, service: DsrService, name: string, what: { fr: string; en: string }, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    rec.failed(service, name, t(`échec : ${what.fr}`, `failed: ${what.en}`), describe(error));
  }
}
