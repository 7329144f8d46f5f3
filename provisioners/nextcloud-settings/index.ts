// Nextcloud's RGPD settings: occ commands (sharing, background jobs, quota, two-factor, the
// Retention app) and the retention rule on the "temporaire" tag.
export { desiredNextcloudSettings, describeRule, RETENTION_APP, TEMPORARY_TAG, TIME_AFTER, TIME_UNIT, type NextcloudSettingsDesired, type RetentionRuleSpec } from "./desired.ts";
export { dockerOcc, occTarget, parseConfigValue, parseEnabledApps, parseGroups, parseTwoFactorState, runOcc, OCC_TIMEOUT_MS, type OccRunner, type OccTarget, type TwoFactorState } from "./occ.ts";
export { planOccSettings, planRetention, isApplied, OCC_PHASES, RETENTION_PHASES, type OccChange, type OccLive, type RetentionChange, type RetentionLive, type LiveRule } from "./plan.ts";
export { convergeNextcloudSettings, applyOccSetting, OCC_CONCURRENCY, occSettingsProvisioner, retentionProvisioner, readOccSettings, readRetention, type NextcloudSettingsClient } from "./provisioner.ts";
export { listTags, listRules, createTag, createRule, deleteRule, SYSTEMTAGS_PATH, RULES_PATH } from "./retention.ts";
export { runNextcloudSettings, type NextcloudSettingsConnection } from "./runner.ts";
