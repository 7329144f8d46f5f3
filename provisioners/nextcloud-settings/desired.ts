// What Nextcloud's RGPD settings should be, as plain data (the dynamic provider carries it
// in its inputs): the occ commands of nextcloudOccSettings(), which the audit and the
// register read too, and the files_retention rule on the "temporaire" tag.
import type { Association } from "../../stacks/config/schema.ts";
import { nextcloudOccSettings, type OccSetting } from "../../stacks/services/nextcloud/blueprint.ts";

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
