// The pure part: Nextcloud's live settings against the desired ones, into the few occ
// commands and API calls that make them equal. Nothing differs → nothing planned.
import type { Change } from "../model.ts";
import type { OccSetting } from "../../stacks/services/nextcloud/blueprint.ts";
import { describeRule, type NextcloudSettingsDesired, type RetentionRuleSpec } from "./desired.ts";
import { occTarget, sameTwoFactorState, type OccTarget, type OidcProviderState, type TwoFactorState } from "./occ.ts";

// ---------------------------------------------------------------------------------------
// occ settings

/** What occ reported, for the settings the desired list touches only. */
export interface OccLive {
  /** "app/key" → value; null when the key is not set. */
  appConfig: Record<string, string | null>;
  /** core/backgroundjobs_mode; null when never set (Nextcloud then uses ajax). */
  backgroundMode: string | null;
  enabledApps: string[];
  /** gid → members. */
  groups: Record<string, string[]>;
  twoFactor: TwoFactorState;
  /** user_oidc providers by identifier (null: none of that name); read only when one is desired. */
  oidcProviders: Record<string, OidcProviderState | null>;
  /** Whether the client secret user_oidc holds is the one Bastide has (by its fingerprint: it is stored encrypted). */
  oidcSecretCurrent: boolean;
}

/** What occ reports on an instance where none of these is set; a new object each time (reads fill it in). */
export const nothingSet = (): OccLive => ({
  appConfig: {},
  backgroundMode: null,
  enabledApps: [],
  groups: {},
  twoFactor: { enforced: false, groups: [], excluded: [] },
  oidcProviders: {},
  oidcSecretCurrent: false,
});

export const appConfigKey = (app: string, key: string) => `${app}/${key}`;

export interface OccPayload {
  /** The command exactly as nextcloudOccSettings() gives it. */
  command: string[];
  reason: string;
  target: OccTarget;
  /** For a user_oidc provider: whether it already holds Bastide's secret (then only its settings are set again). */
  secretCurrent?: boolean;
}

export type OccChange = Change<`occ.${OccTarget["kind"]}`, OccPayload> & { service: "nextcloud" };

/** Groups exist before members join them; the service account is exempted before 2FA is enforced. */
export const OCC_PHASES: Record<OccTarget["kind"], number> = {
  "app-config": 1,
  background: 1,
  "app-enabled": 1,
  group: 1,
  "group-member": 2,
  "two-factor": 3,
  // The app must be enabled (phase 1) for its command to exist.
  "oidc-provider": 2,
};

/**
 * App settings Nextcloud types as booleans (core/AppInfo/ConfigLexicon.php, 34.0.1, lines
 * 67-93): `config:app:set ... --value=yes` stores them as true, and `config:app:get` reads
 * them back as "1" (recorded in provisioning-first-run.json and provisioning-rerun.json).
 */
export const TYPED_BOOLEANS: Record<string, readonly string[]> = {
  core: ["shareapi_enable_link_password_by_default", "shareapi_enforce_links_password", "shareapi_default_expire_date", "shareapi_enforce_expire_date"],
};

/** What Nextcloud reads as true and as false (lib/private/Config/ConfigManager.php, 34.0.1, convertToBool, lines 270-283). */
const TRUE_WORDS = new Set(["1", "true", "yes", "on"]);
const FALSE_WORDS = new Set(["0", "false", "no", "off"]);

function booleanOf(value: string): boolean | undefined {
  const word = value.trim().toLowerCase();
  return TRUE_WORDS.has(word) ? true : FALSE_WORDS.has(word) ? false : undefined;
}

/** Does the value read back say what was set? Typed booleans by their meaning, the rest as text. */
export function sameAppValue(app: string, key: string, wanted: string, live: string | null): boolean {
  if (live === null) return false;
  if (!TYPED_BOOLEANS[app]?.includes(key)) return live === wanted;
  const a = booleanOf(wanted);
  return a !== undefined && a === booleanOf(live);
}

export function isApplied(target: OccTarget, live: OccLive): boolean {
  switch (target.kind) {
    case "app-config":
      return sameAppValue(target.app, target.key, target.value, live.appConfig[appConfigKey(target.app, target.key)] ?? null);
    case "background":
      return live.backgroundMode === target.mode;
    case "app-enabled":
      return live.enabledApps.includes(target.app);
    case "group":
      return target.group in live.groups;
    case "group-member":
      return live.groups[target.group]?.includes(target.user) ?? false;
    case "two-factor":
      return sameTwoFactorState(target.state, live.twoFactor);
    case "oidc-provider": {
      const provider = live.oidcProviders[target.provider.identifier];
      return provider != null && live.oidcSecretCurrent && sameOidcProvider(target.provider, provider);
    }
  }
}

/** The live provider has every value Bastide sets (settings it does not set are not compared). */
export function sameOidcProvider(wanted: OidcProviderState, live: OidcProviderState): boolean {
  return (
    wanted.clientId === live.clientId &&
    wanted.discoveryEndpoint === live.discoveryEndpoint &&
    wanted.scope === live.scope &&
    Object.entries(wanted.settings).every(([key, value]) => live.settings[key] === value)
  );
}

/** Pure: the occ commands whose setting Nextcloud does not have yet, in phase order. */
export function planOccSettings(settings: readonly OccSetting[], live: OccLive): OccChange[] {
  return settings
    .map((setting) => ({ setting, target: occTarget(setting.command) }))
    .filter(({ target }) => !isApplied(target, live))
    .map(({ setting, target }) => ({
      service: "nextcloud" as const,
      kind: `occ.${target.kind}` as const,
      subject: setting.command.slice(2).join(" "),
      phase: OCC_PHASES[target.kind],
      payload: { command: [...setting.command], reason: setting.reason, target, ...(target.kind === "oidc-provider" ? { secretCurrent: live.oidcSecretCurrent } : {}) },
    }));
}

// ---------------------------------------------------------------------------------------
// The retention rule on the temporary tag

export interface LiveRule extends RetentionRuleSpec {
  id: number;
  tagid: number;
}

export interface RetentionLive {
  /** The tag with the desired name, when it exists. */
  tag: { id: number; name: string } | undefined;
  /** Every rule of files_retention (empty while the app is not enabled yet). */
  rules: LiveRule[];
}

export type RetentionChange =
  | (Change<"retention.tag-create", { name: string }> & { service: "nextcloud" })
  | (Change<"retention.rule-delete", { id: number; tag: string; rule: RetentionRuleSpec }> & { service: "nextcloud" })
  | (Change<"retention.rule-create", { tag: string; tagId: number | undefined; rule: RetentionRuleSpec; reason: string }> & { service: "nextcloud" });

/** The tag first; a rule that is replaced goes before its replacement is made. */
export const RETENTION_PHASES = { tag: 1, deleteRule: 2, createRule: 3 } as const;

const sameRule = (a: RetentionRuleSpec, b: RetentionRuleSpec) => a.timeunit === b.timeunit && a.timeamount === b.timeamount && a.timeafter === b.timeafter;

/**
 * Pure. The tag is Bastide's, so are its rules: exactly one, with the desired values, is
 * kept; other rules on it (older values, a duplicate of a retried creation) are deleted.
 * Rules on other tags are someone else's and stay.
 */
export function planRetention(desired: NextcloudSettingsDesired["retention"], live: RetentionLive): RetentionChange[] {
  const { tag, rule, reason } = desired;
  const changes: RetentionChange[] = [];
  if (!live.tag) {
    changes.push({ service: "nextcloud", kind: "retention.tag-create", subject: `system tag ${tag}`, phase: RETENTION_PHASES.tag, payload: { name: tag } });
  }
  const onTag = live.tag ? live.rules.filter((r) => r.tagid === live.tag!.id).sort((a, b) => a.id - b.id) : [];
  const kept = onTag.find((r) => sameRule(r, rule));
  for (const old of onTag.filter((r) => r !== kept)) {
    changes.push({
      service: "nextcloud",
      kind: "retention.rule-delete",
      subject: `retention rule ${old.id} on tag ${tag} (${describeRule(old)})`,
      phase: RETENTION_PHASES.deleteRule,
      payload: { id: old.id, tag, rule: { timeunit: old.timeunit, timeamount: old.timeamount, timeafter: old.timeafter } },
    });
  }
  if (!kept) {
    changes.push({
      service: "nextcloud",
      kind: "retention.rule-create",
      subject: `retention rule on tag ${tag}: ${describeRule(rule)}`,
      phase: RETENTION_PHASES.createRule,
      payload: { tag, tagId: live.tag?.id, rule: { ...rule }, reason },
    });
  }
  return changes;
}
