// Nextcloud accounts, groups and memberships. Calendars are in ../calendars.
export { nextcloudProvisioner, readNextcloud, applyNextcloud } from "./provisioner.ts";
export { createNextcloudClient, type NextcloudClient, type NextcloudClientOptions } from "./client.ts";
export {
  planNextcloud,
  managedUserIds,
  quotaBytes,
  quotaMatches,
  userEdits,
  NEXTCLOUD_PHASES,
  type NextcloudChange,
  type NextcloudDesired,
  type NextcloudLive,
  type LiveNextcloudUser,
  type UserKey,
} from "./plan.ts";
