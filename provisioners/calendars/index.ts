// Shared calendars of the service account, shared with Nextcloud groups.
export { calendarsProvisioner, readCalendars, applyCalendars } from "./provisioner.ts";
export { createCalDavClient, listCalendars, readShares, parseInvite, shareBody, type CalDavClient, type CalDavClientOptions } from "./client.ts";
export {
  planCalendars,
  groupPrincipal,
  CALENDAR_PHASES,
  type CalendarChange,
  type CalendarsDesired,
  type CalendarsLive,
  type LiveCalendar,
  type LiveShare,
  type ShareAccess,
} from "./plan.ts";
