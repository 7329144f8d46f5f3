// Reads Nextcloud back: the sharing capabilities, the system tags and Retention rules
// and the accounts through its APIs, and the config.php values and the two-factor state
// through `occ` in the app container. The provisioners' clients and readers do the
// talking (same requests, retries and timeouts as provisioning); only judging is new.
import type Docker from "dockerode";
import type { Dispatcher } from "undici";
import { createNextcloudClient, type NextcloudClient } from "../../provisioners/nextcloud/index.ts";
import { isOcsOk, ocs } from "../../provisioners/nextcloud/client.ts";
import { listRules, listTags } from "../../provisioners/nextcloud-settings/retention.ts";
import { commandErrors, describeResult, dockerOcc, parseTwoFactorState } from "../../provisioners/nextcloud-settings/occ.ts";
import type { RetryPolicy } from "../../provisioners/runtime/http.ts";
import { containerName } from "../../stacks/services/blueprint.ts";
import { NEXTCLOUD_OCC } from "../../stacks/services/nextcloud/blueprint.ts";
import { containerFor } from "./docker.ts";
import type { ContainerFacts, NextcloudApiFacts, NextcloudOccFacts } from "./observed.ts";
import { shareLinkCapabilities, type RetentionRule } from "./parse.ts";

export interface NextcloudAuditConnection {
  baseUrl: string;
  dispatcher?: Dispatcher;
  /** Bastide's service account (NEXTCLOUD_ADMIN_USER) and its password. */
  user: string;
  password: string;
  /** The proxy's provisioning token: the accounts list is VPN-only otherwise. */
  headers?: Record<string, string>;
}

export interface HttpTuning {
  retry?: RetryPolicy;
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

async function capabilities(client: NextcloudClient): Promise<unknown> {
  const answer = await ocs(client, "GET", "capabilities");
  if (!isOcsOk(answer.statuscode)) throw new Error(`capabilities: OCS ${answer.statuscode} ${answer.message}`.trim());
  return answer.data;
}

/** The Retention app's rules; the provisioners' reader gives none while the app is off. */
async function retentionRules(client: NextcloudClient): Promise<RetentionRule[]> {
  return (await listRules(client)).map(({ tagid, timeunit, timeamount, timeafter }) => ({ tagid, timeunit, timeamount, timeafter }));
}

/** PHP encodes an empty map as [], a list of ids as an array, and users by id as an object. */
const idsOf = (users: unknown): string[] => (Array.isArray(users) ? users.map(String) : users && typeof users === "object" ? Object.keys(users) : []);

async function accounts(client: NextcloudClient): Promise<{ id: string; enabled: boolean }[]> {
  const [all, disabled] = await Promise.all([ocs(client, "GET", "users"), ocs(client, "GET", "users/disabled")]);
  for (const [what, answer] of [["users", all], ["users/disabled", disabled]] as const) {
    if (!isOcsOk(answer.statuscode)) throw new Error(`${what}: OCS ${answer.statuscode} ${answer.message}`.trim());
  }
  const off = new Set(idsOf(disabled.data?.users));
  return idsOf(all.data?.users).map((id) => ({ id, enabled: !off.has(id) }));
}

export async function readNextcloudApi(connection: NextcloudAuditConnection, tuning: HttpTuning = {}): Promise<NextcloudApiFacts> {
  const client = createNextcloudClient({ ...connection, ...tuning });
  const [caps, tags, rules, users] = await Promise.all([capabilities(client), listTags(client), retentionRules(client), accounts(client)]);
  return { shareLinks: shareLinkCapabilities(caps), tags: tags.map(({ id, name }) => ({ id, name })), retentionRules: rules, accounts: users };
}

/**
 * `occ` as the provisioning step runs it (dockerOcc: the app container, as Apache's user,
 * in Nextcloud's folder). One command at a time: each is a PHP process the size of
 * Nextcloud, in a container with a small memory limit.
 */
export async function readNextcloudOcc(docker: Docker, containers: readonly ContainerFacts[], keys: readonly string[]): Promise<NextcloudOccFacts> {
  const app = containerFor(containers, { service: "nextcloud", name: NEXTCLOUD_OCC.container, container: containerName("nextcloud", NEXTCLOUD_OCC.container) });
  const occ = dockerOcc({ docker, container: app.id });
  const values: [string, string | null][] = [];
  for (const key of keys) {
    const result = await occ.run(["php", "occ", "config:system:get", key]);
    // occ answers a key that is not set with exit 1 and no output but its global warnings (recorded).
    if (result.exitCode === 1 && result.stdout.trim() === "" && commandErrors(result.stderr) === "") values.push([key, null]);
    else if (result.exitCode !== 0) throw new Error(`occ config:system:get ${key} in ${app.name}: ${describeResult(result)}`);
    // A scalar is one line; anything printed before it (a PHP notice) is not the value.
    else values.push([key, result.stdout.trim().split("\n").pop()!.trim()]);
  }
  const enforce = await occ.run(["php", "occ", "twofactorauth:enforce"]);
  let twoFactor: NextcloudOccFacts["twoFactor"];
  try {
    twoFactor = parseTwoFactorState(enforce);
  } catch (error) {
    // An answer occ should not give is a finding about the server, not an outage.
    if (enforce.exitCode !== 0) throw error;
    twoFactor = { invalid: (error as Error).message };
  }
  return { system: Object.fromEntries(values), twoFactor };
}
