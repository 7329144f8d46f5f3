// The options of `npm run bench:provision`, parsed apart from the run so that tests can
// check them. The Nextcloud password comes from the environment by preference: an
// option's value is visible to every user of the machine in the process list.
import { parseArgs } from "node:util";
import { NEXTCLOUD_ADMIN_USER } from "../stacks/services/nextcloud/blueprint.ts";

export type BenchTarget = "fake" | "synapse" | "nextcloud";

export interface BenchOptions {
  targets: BenchTarget[];
  /** Rounds of one-at-a-time and Bastide runs on the real servers, in alternating order. */
  rounds: number;
  fake: { members: number; teams: number; latencyMs: number };
  synapse: { members: number; teams: number };
  nextcloud?: { url: string; user: string; password: string; members: number; teams: number };
}

export const NEXTCLOUD_PASSWORD_VARIABLE = "BENCH_NEXTCLOUD_PASSWORD";

const USAGE = `npm run bench:provision -- [options]
  --targets fake,synapse[,nextcloud]   what to run (default: fake,synapse, and nextcloud when --nextcloud is given)
  --rounds N                           on real servers, N runs of each, in alternating order (default 2)
  --members N --teams N --latency MS   the fake servers' run (default 500 members, 25 teams, 30 ms per request)
  --synapse-members N --synapse-teams N   the real Synapse's run (default 200 members, 10 teams)
  --nextcloud URL                      a real Nextcloud, e.g. http://127.0.0.1:8080/ (its accounts, groups and
                                       calendars made by the bench are deleted after each run)
  --nextcloud-user NAME                its admin account (default ${NEXTCLOUD_ADMIN_USER})
  --nextcloud-password PASSWORD        or, better, the ${NEXTCLOUD_PASSWORD_VARIABLE} environment variable
  --nextcloud-members N --nextcloud-teams N   (default 40 members, 5 teams)`;

export class BenchOptionError extends Error {
  constructor(message: string) {
    super(`bench:provision: ${message}\n\n${USAGE}`);
    this.name = "BenchOptionError";
  }
}

function count(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new BenchOptionError(`--${name} must be a whole number of at least ${min}, got "${value}"`);
  return n;
}

export function parseBenchOptions(args: string[], env: Record<string, string | undefined> = process.env): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        targets: { type: "string" },
        rounds: { type: "string", default: "2" },
        members: { type: "string", default: "500" },
        teams: { type: "string", default: "25" },
        latency: { type: "string", default: "30" },
        "synapse-members": { type: "string", default: "200" },
        "synapse-teams": { type: "string", default: "10" },
        nextcloud: { type: "string" },
        "nextcloud-user": { type: "string", default: NEXTCLOUD_ADMIN_USER },
        "nextcloud-password": { type: "string" },
        "nextcloud-members": { type: "string", default: "40" },
        "nextcloud-teams": { type: "string", default: "5" },
      },
    }));
  } catch (error) {
    throw new BenchOptionError((error as Error).message);
  }
  const targets = (values.targets ?? `fake,synapse${values.nextcloud ? ",nextcloud" : ""}`).split(",").map((t) => t.trim()).filter(Boolean);
  for (const target of targets) {
    if (!["fake", "synapse", "nextcloud"].includes(target)) throw new BenchOptionError(`--targets: unknown target "${target}" (fake, synapse or nextcloud)`);
  }
  const options: BenchOptions = {
    targets: [...new Set(targets)] as BenchTarget[],
    rounds: count("rounds", values.rounds, 1),
    fake: { members: count("members", values.members, 1), teams: count("teams", values.teams, 1), latencyMs: count("latency", values.latency, 0) },
    synapse: { members: count("synapse-members", values["synapse-members"], 1), teams: count("synapse-teams", values["synapse-teams"], 1) },
  };
  if (options.targets.includes("nextcloud")) {
    if (!values.nextcloud) throw new BenchOptionError("the nextcloud target needs --nextcloud URL");
    let url: URL;
    try {
      url = new URL(values.nextcloud);
    } catch {
      throw new BenchOptionError(`--nextcloud must be a URL such as http://127.0.0.1:8080/, got "${values.nextcloud}"`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new BenchOptionError(`--nextcloud must be an http(s) URL, got "${values.nextcloud}"`);
    const password = values["nextcloud-password"] ?? env[NEXTCLOUD_PASSWORD_VARIABLE];
    if (!password) throw new BenchOptionError(`the Nextcloud admin's password is missing: set ${NEXTCLOUD_PASSWORD_VARIABLE} (or --nextcloud-password)`);
    options.nextcloud = {
      url: url.href,
      user: values["nextcloud-user"],
      password,
      members: count("nextcloud-members", values["nextcloud-members"], 1),
      teams: count("nextcloud-teams", values["nextcloud-teams"], 1),
    };
  }
  return options;
}
