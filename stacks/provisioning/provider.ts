// The dynamic provider that runs a provisioner during `pulumi up`.
//
// The Pulumi engine serializes this provider and runs it in a fresh Node process,
// so it captures nothing but data: each method imports the runner module by the
// absolute path found in its inputs. Node (22.18+, 24) runs that TypeScript as is.
//
// Inputs are the desired state keyed by id, so `pulumi preview` shows, as an ordinary
// property diff, which accounts, groups, rooms or peers a run will create, change or
// drop. `diff` also plans against the live service, read-only, so drift made by hand
// and erasures whose grace period has passed are applied even when the config did not
// change.
import type * as pulumi from "@pulumi/pulumi";
import type { Ledger } from "../../provisioners/departures.ts";
import type { RunRequest } from "../../provisioners/run.ts";

export interface ProvisioningInputs {
  /** Absolute path of provisioners/run.ts, imported by the provider at run time. */
  runner: string;
  service: RunRequest["service"];
  /** This service's part of the desired state, keyed by id. */
  desired: Record<string, unknown>;
  /** Member ids in the config, for the departures ledger. */
  members: string[];
  graceDays: number;
  concurrency: number;
  /** How to reach the service; holds credentials, so the component passes it as a secret. */
  connection: Record<string, unknown>;
}

export interface ProvisioningOutputs extends ProvisioningInputs {
  ledger: Ledger;
  /** Kept for the service's next run (the VPN's peer addresses); null when none. */
  serviceState: unknown;
  /** What the last run changed, for people reading the state. */
  lastRun: { at: string; applied: string[] };
}

type Runner = typeof import("../../provisioners/run.ts");

/** Stable JSON, so that key order never shows as a change. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object")
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(value);
}

export const provisioningProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: ProvisioningOutputs, news: ProvisioningInputs) {
    const changedKeys = (["desired", "members", "graceDays", "connection"] as const).filter(
      (key) => canonical(olds[key]) !== canonical(news[key]),
    );
    if (changedKeys.length > 0) return { changes: true, replaces: [], deleteBeforeReplace: false };
    const runner: Runner = await import(news.runner);
    const planned = await runner.planAgainstLive(runner.requestFrom(news, olds, new Date()));
    return { changes: planned.length > 0 };
  },

  async create(inputs: ProvisioningInputs) {
    const runner: Runner = await import(inputs.runner);
    const outs = await runner.applyAndRecord(inputs, runner.nothingKept(), new Date());
    return { id: `${inputs.service}-provisioning`, outs };
  },

  async update(_id: string, olds: ProvisioningOutputs, news: ProvisioningInputs) {
    const runner: Runner = await import(news.runner);
    return { outs: await runner.applyAndRecord(news, olds, new Date()) };
  },

  // Removing the resource (service switched off, stack destroyed) leaves every
  // account as it is: people's data is never deleted as a side effect.
  async delete() {},
};

