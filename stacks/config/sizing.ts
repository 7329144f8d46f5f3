// A profile must fit the host it declares, and the containers' memory limits must
// fit the profile: an overcommitted small server swaps and drops video calls.
import { hostSize } from "../host/settings.ts";
import { blueprints } from "../services/catalog.ts";
import { backupJob } from "../backups/job.ts";
import { PROFILES, type Association } from "./schema.ts";

export interface MemoryUse {
  container: string;
  memoryMb: number;
}

export function memoryUse(config: Association): MemoryUse[] {
  const all = blueprints(config);
  const job = backupJob(config, all);
  return [
    ...all.flatMap((b) => b.containers.map((c) => ({ container: `${b.service}/${c.name}`, memoryMb: c.memoryMb[config.profile] }))),
    // The backup job runs beside the services, dumps included: its limit counts too.
    ...(job ? [{ container: "backups/job", memoryMb: job.memoryMb }] : []),
  ];
}

export function sizingProblems(config: Association): { path: string; message: string }[] {
  const profile = PROFILES[config.profile];
  const size = hostSize(config.host);
  const problems: { path: string; message: string }[] = [];
  const fits = ({ minimum }: (typeof PROFILES)[keyof typeof PROFILES]) => size.cpus >= minimum.cpus && size.memoryGb >= minimum.memoryGb;
  if (!fits(profile)) {
    // Profile small is only a way out when the host can hold it.
    const fix = config.profile !== "small" && fits(PROFILES.small) ? "choose profile small or a larger host" : `choose a host of at least ${profile.minimum.cpus} vCPU / ${profile.minimum.memoryGb} GB`;
    problems.push({
      path: "profile",
      message: `profile ${config.profile} needs ${profile.minimum.cpus} vCPU / ${profile.minimum.memoryGb} GB, but the host has ${size.cpus} vCPU / ${size.memoryGb} GB; ${fix}`,
    });
  }
  const total = memoryUse(config).reduce((sum, c) => sum + c.memoryMb, 0);
  if (total > profile.containerBudgetMb) {
    problems.push({
      path: "profile",
      message: `the enabled services need ${total} MiB but profile ${config.profile} allows ${profile.containerBudgetMb} MiB; choose a larger profile or turn a service off`,
    });
  }
  return problems;
}
