// Nextcloud's RGPD settings during `pulumi up`, in two provisioners run one after the other:
// 1. occ (in the app container): sharing policy, background jobs, quota, two-factor
//    enforcement with the service account exempted, the files_retention app;
// 2. the HTTP APIs, as the service account: the "temporaire" tag and its retention rule.
// occ goes first because it is what exempts the service account from two-factor login:
// on an instance where an older run enforced 2FA for `admin` without that exemption,
// the service account's API calls are refused until occ has run.
import { OIDC_SECRET_FINGERPRINT, USER_OIDC } from "../../stacks/services/nextcloud/oidc.ts";
import { converge, ProvisionError, type Change, type ConvergeOptions, type ConvergeResult, type ServiceProvisioner } from "../model.ts";
import { mapLimit } from "../runtime/concurrency.ts";
import { secretFingerprint } from "../runtime/fingerprint.ts";
import type { CallCounter } from "../runtime/http.ts";
import type { NextcloudClient } from "../nextcloud/client.ts";
import type { NextcloudSettingsDesired } from "./desired.ts";
import {
  describeResult,
  occTarget,
  parseConfigValue,
  parseEnabledAppVersions,
  parseGroups,
  parseOidcProvider,
  parseTwoFactorState,
  runOcc,
  type OccRunner,
  type OccTarget,
} from "./occ.ts";
import { appConfigKey, nothingSet, planOccSettings, planRetention, type OccChange, type OccLive, type RetentionChange, type RetentionLive } from "./plan.ts";
import { createRule, createTag, deleteRule, listRules, listTags } from "./retention.ts";

export interface NextcloudSettingsClient {
  occ: OccRunner;
  /** The service account's API client (system tags, retention rules). */
  nextcloud: NextcloudClient;
  /** Counts occ runs (reads as GET, changes as EXEC); pass the one the HTTP client counts with. */
  counter?: CallCounter;
  /** occ commands in flight at once (reads and changes): OCC_CONCURRENCY when absent. */
  occConcurrency?: number;
  /**
   * The client secret user_oidc sends to the identity provider (NEXTCLOUD_SECRETS.oidcClient);
   * needed when the desired settings hold a user_oidc provider.
   */
  oidcClientSecret?: string;
}


function oidcSecret(client: NextcloudSettingsClient): string {
  const secret = client.oidcClientSecret;
  if (!secret) throw new Error("the connection has no oidcClientSecret: the stack passes NEXTCLOUD_SECRETS.oidcClient when services.identity is enabled");
  return secret;
}

/**
 * Each occ boots the whole of Nextcloud in PHP (tens of MB, about a second on a small
 * server) inside the app container's memory limit, next to Apache: two at a time.
 */
export const OCC_CONCURRENCY = 2;

const fail = (error: unknown, what: string) =>
  error instanceof ProvisionError ? error : new ProvisionError("nextcloud", undefined, `${what}: ${(error as Error).message}`, { cause: error });

// ---------------------------------------------------------------------------------------
// occ

const read = (client: NextcloudSettingsClient, ...args: string[]) => runOcc(client.occ, ["php", "occ", ...args], "read", client.counter);

/** Reads back exactly what the desired commands set, each piece once. */
export async function readOccSettings(client: NextcloudSettingsClient, desired: NextcloudSettingsDesired): Promise<OccLive> {
  const targets: OccTarget[] = desired.occ.map((s) => occTarget(s.command));
  const live = nothingSet();
  const reads: (() => Promise<void>)[] = [];
  const keys = new Map<string, { app: string; key: string }>();
  for (const t of targets) if (t.kind === "app-config") keys.set(appConfigKey(t.app, t.key), t);
  for (const [name, { app, key }] of keys) {
    reads.push(async () => {
      live.appConfig[name] = parseConfigValue(await read(client, "config:app:get", app, key, "--output=json"), `config:app:get ${app} ${key}`);
    });
  }
  const needs = (...kinds: OccTarget["kind"][]) => targets.some((t) => kinds.includes(t.kind));
  if (needs("background")) {
    reads.push(async () => {
      live.backgroundMode = parseConfigValue(await read(client, "config:app:get", "core", "backgroundjobs_mode", "--output=json"), "background jobs mode");
    });
  }
  if (needs("app-enabled")) {
    reads.push(async () => {
      const versions = parseEnabledAppVersions(await read(client, "app:list", "--output=json"));
      checkPinnedMajor(versions[USER_OIDC.app]);
      live.enabledApps = Object.keys(versions).sort();
    });
  }
  for (const t of targets) {
    if (t.kind !== "oidc-provider") continue;
    const { identifier } = t.provider;
    reads.push(async () => void (live.oidcProviders[identifier] = parseOidcProvider(await read(client, "user_oidc:provider", identifier, "--output=json"))));
    reads.push(async () => {
      const secret = oidcSecret(client);
      const { app, key } = OIDC_SECRET_FINGERPRINT;
      live.oidcSecretCurrent = parseConfigValue(await read(client, "config:app:get", app, key, "--output=json"), `config:app:get ${app} ${key}`) === secretFingerprint(secret);
    });
  }
  if (needs("group", "group-member")) reads.push(async () => void (live.groups = parseGroups(await read(client, "group:list", "--output=json"))));
  if (needs("two-factor")) reads.push(async () => void (live.twoFactor = parseTwoFactorState(await read(client, "twofactorauth:enforce"))));
  try {
    await mapLimit(reads, client.occConcurrency ?? OCC_CONCURRENCY, (run) => run());
  } catch (error) {
    throw fail(error, `reading the settings through occ (${client.occ.where})`);
  }
  return live;
}

/** "Already exists" for a group is the setting being there (a retried or concurrent run). */
const alreadyThere = (change: OccChange, output: string) => change.payload.target.kind === "group" && /already exists/i.test(output);

/**
 * user_oidc's occ options may change with a major (lib/Command/UpsertProvider.php): another major
 * than the pinned one is refused before Bastide writes with it.
 */
function checkPinnedMajor(version: string | undefined): void {
  const major = (v: string) => v.split(".")[0];
  if (version !== undefined && major(version) !== major(USER_OIDC.version))
    throw new Error(`${USER_OIDC.app} ${version} is enabled, Bastide is made for ${USER_OIDC.version} (stacks/services/nextcloud/oidc.ts): update the pin after reading that release's occ commands`);
}

export async function applyOccSetting(change: OccChange, client: NextcloudSettingsClient): Promise<void> {
  const run = async (argv: readonly string[], input?: string) => {
    let result;
    try {
      result = await runOcc(client.occ, argv, "write", client.counter, input);
    } catch (error) {
      throw fail(error, `occ ${change.subject} (${client.occ.where})`);
    }
    if (result.exitCode === 0 || (result.exitCode === 1 && alreadyThere(change, result.stdout))) return;
    throw new ProvisionError("nextcloud", undefined, `occ ${argv.slice(2).join(" ")} (${client.occ.where}): ${describeResult(result)}`);
  };
  if (change.payload.target.kind !== "oidc-provider") return run(change.payload.command);
  // The secret on standard input (the same one again when only a setting differs: user_oidc keeps
  // the stored secret only when no secret option is given, and Bastide names one always); then its
  // fingerprint, unless Nextcloud has it already, so that the next run can tell the secret is set.
  let secret: string;
  try {
    secret = oidcSecret(client);
  } catch (error) {
    throw fail(error, `occ ${change.subject}`);
  }
  await run(change.payload.command, secret);
  if (change.payload.secretCurrent) return;
  const { app, key } = OIDC_SECRET_FINGERPRINT;
  await run(["php", "occ", "config:app:set", app, key, `--value=${secretFingerprint(secret)}`, "--type=string", "--lazy"]);
}

export const occSettingsProvisioner: ServiceProvisioner<NextcloudSettingsDesired, OccLive, OccChange, NextcloudSettingsClient> = {
  service: "nextcloud",
  read: readOccSettings,
  plan: (desired, live) => planOccSettings(desired.occ, live),
  apply: applyOccSetting,
};

// ---------------------------------------------------------------------------------------
// The retention rule

export async function readRetention(client: NextcloudSettingsClient, desired: NextcloudSettingsDesired): Promise<RetentionLive> {
  try {
    const [tags, rules] = await Promise.all([listTags(client.nextcloud), listRules(client.nextcloud)]);
    const tag = tags.find((t) => t.name === desired.retention.tag);
    return { tag: tag && { id: tag.id, name: tag.name }, rules };
  } catch (error) {
    throw fail(error, "reading the system tags and retention rules");
  }
}

export async function applyRetention(change: RetentionChange, client: NextcloudSettingsClient): Promise<void> {
  try {
    switch (change.kind) {
      case "retention.tag-create":
        return await createTag(client.nextcloud, change.payload.name);
      case "retention.rule-delete":
        return await deleteRule(client.nextcloud, change.payload.id);
      case "retention.rule-create": {
        // A tag made in this run got its id when it was created: look it up by name.
        const tagId = change.payload.tagId ?? (await listTags(client.nextcloud)).find((t) => t.name === change.payload.tag)?.id;
        if (tagId === undefined) throw new Error(`the system tag ${change.payload.tag} is not there`);
        await createRule(client.nextcloud, tagId, change.payload.rule);
        return;
      }
    }
  } catch (error) {
    throw fail(error, change.subject);
  }
}

export const retentionProvisioner: ServiceProvisioner<NextcloudSettingsDesired, RetentionLive, RetentionChange, NextcloudSettingsClient> = {
  service: "nextcloud",
  read: readRetention,
  plan: (desired, live) => planRetention(desired.retention, live),
  apply: applyRetention,
};

/**
 * occ first, then the retention rule (see the top of this file). The rule waits for occ to
 * have fully succeeded: it needs the files_retention app, and the API needs the exemption.
 */
export async function convergeNextcloudSettings(
  desired: NextcloudSettingsDesired,
  client: NextcloudSettingsClient,
  options: ConvergeOptions,
): Promise<ConvergeResult<Change>> {
  const occ = await converge(occSettingsProvisioner, desired, client, { ...options, concurrency: Math.min(options.concurrency, client.occConcurrency ?? OCC_CONCURRENCY) });
  if (occ.failed.length > 0) return occ;
  const retention = await converge(retentionProvisioner, desired, client, options);
  return {
    planned: [...occ.planned, ...retention.planned],
    applied: [...occ.applied, ...retention.applied],
    failed: [...occ.failed, ...retention.failed],
  };
}
