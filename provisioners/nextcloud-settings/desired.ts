// What Nextcloud's RGPD settings should be, as plain data (the dynamic provider carries it
// in its inputs): the occ commands of nextcloudOccSettings(), which the audit and the
// register read too, and the files_retention rule on the "temporaire" tag.
import type { Association } from "../../stacks/config/schema.ts";
import { hostnames } from "../../stacks/services/hosts.ts";
import { nextcloudOccSettings, type OccSetting } from "../../stacks/services/nextcloud/blueprint.ts";
import { OIDC_PROVIDER, oidcProviderCommand, USER_OIDC } from "../../stacks/services/nextcloud/oidc.ts";

/** The collaborative tag members put on working documents that may go. */
export const TEMPORARY_TAG = "temporaire";
export const RETENTION_APP = "files_retention";

/** files_retention's codes (lib/Constants.php; recorded in systemtags-retention.json). */
export const TIME_UNIT = { days: 0, weeks: 1, months: 2, years: 3 } as const;
export const TIME_AFTER = { creation: 0, modification: 1 } as const;

export interface RetentionRuleSpec {
  timeunit: number;
  timeamount: number;
  timeafter: number;
}

export interface NextcloudSettingsDesired {
  /** Run in order; each is read back first and run only when Nextcloud differs. */
  occ: OccSetting[];
  retention: {
    tag: string;
    rule: RetentionRuleSpec;
    reason: string;
  };
}

export function desiredNextcloudSettings(config: Association): NextcloudSettingsDesired | undefined {
  const s = config.services.nextcloud;
  if (!s.enabled) return undefined;
  return {
    occ: [
      ...nextcloudOccSettings(config),
      {
        command: ["php", "occ", "app:enable", RETENTION_APP],
        reason: `The Retention app deletes files tagged "${TEMPORARY_TAG}" ${s.temporaryTagDays} days after their last change`,
      },
      ...(config.services.identity.enabled ? oidcOccSettings(config) : []),
    ],
    retention: {
      tag: TEMPORARY_TAG,
      rule: { timeunit: TIME_UNIT.days, timeamount: s.temporaryTagDays, timeafter: TIME_AFTER.modification },
      reason: `Files tagged "${TEMPORARY_TAG}" are deleted ${s.temporaryTagDays} days after their last change (services.nextcloud.temporaryTagDays)`,
    },
  };
}

export function describeRule(rule: RetentionRuleSpec): string {
  const unit = Object.entries(TIME_UNIT).find(([, code]) => code === rule.timeunit)?.[0] ?? `unit ${rule.timeunit}`;
  const after = rule.timeafter === TIME_AFTER.modification ? "last modification" : rule.timeafter === TIME_AFTER.creation ? "creation" : `time ${rule.timeafter}`;
  return `${rule.timeamount} ${unit} after ${after}`;
}

/**
 * Members log into Nextcloud through the identity provider (issue 10): the user_oidc app, the
 * login page sent straight to the provider, no set-password mail, and the provider itself.
 */
export function oidcOccSettings(config: Association): OccSetting[] {
  const { app } = USER_OIDC;
  return [
    { command: ["php", "occ", "app:enable", app], reason: `Members log in through ${hostnames(config).identity} (the ${app} app, made for ${USER_OIDC.version})` },
    {
      // Read lazily as a string by user_oidc (lib/Service/SettingsService.php 28, v8.10.1): "0" makes
      // /login redirect to the provider when it is the only one (lib/AppInfo/Application.php 107-131).
      // The password form stays at /login?direct=1, for the admin's own account.
      command: ["php", "occ", "config:app:set", app, "allow_multiple_user_backends", "--value=0", "--type=string", "--lazy"],
      reason: "Nextcloud's login page goes straight to the identity provider: members have no Nextcloud password",
    },
    {
      // Accounts are created with an e-mail and no password, and Nextcloud would mail a link to set
      // one (apps/provisioning_api/lib/Controller/UsersController.php 595-597, 34.0.1).
      command: ["php", "occ", "config:app:set", "core", "newUser.sendEmail", "--value=no"],
      reason: "No mail invites members to set a Nextcloud password: they log in through the identity provider",
    },
    {
      command: oidcProviderCommand(config),
      reason: `The provider "${OIDC_PROVIDER}" maps a member's login (preferred_username = member id) onto the account Bastide made for them`,
    },
  ];
}
