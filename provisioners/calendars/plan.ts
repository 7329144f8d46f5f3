// Which shared calendars to create and share. Pure. Calendars belong to the service
// account and are shared with a group; Bastide never deletes one (they hold the
// association's events) nor removes a share it did not make.
import type { Change } from "../model.ts";
import type { DesiredCalendar, DesiredState } from "../desired.ts";

export type CalendarsDesired = Pick<DesiredState, "nextcloud">;

export type ShareAccess = DesiredCalendar["access"];

export interface LiveShare {
  /** As oc:invite lists it, e.g. `principal:principals/groups/bureau`. */
  principal: string;
  access: ShareAccess;
}

export interface LiveCalendar {
  uri: string;
  displayName: string;
  /** Who it is shared with; undefined when not read (a server without sharing). */
  shares: LiveShare[] | undefined;
}

export interface CalendarsLive {
  /** The service account's calendars, by URI. */
  calendars: Map<string, LiveCalendar>;
  /** Whether the server shares calendars the Nextcloud way (plain CalDAV servers do not). */
  sharing: boolean;
}

export type CalendarChange =
  | Change<"calendar.create", { uri: string; displayName: string }>
  | Change<"calendar.share", { uri: string; group: string; access: ShareAccess }>;

export const CALENDAR_PHASES = { create: 0, share: 1 } as const;

export const groupPrincipal = (group: string) => `principal:principals/groups/${group}`;

export function planCalendars(desired: CalendarsDesired, live: CalendarsLive): CalendarChange[] {
  const changes: CalendarChange[] = [];
  for (const calendar of desired.nextcloud?.calendars ?? []) {
    const found = live.calendars.get(calendar.uri);
    if (!found) {
      changes.push({
        service: "calendars",
        kind: "calendar.create",
        subject: `calendar ${calendar.uri}`,
        phase: CALENDAR_PHASES.create,
        payload: { uri: calendar.uri, displayName: calendar.displayName },
      });
    }
    if (!live.sharing) continue;
    const share = found?.shares?.find((s) => s.principal === groupPrincipal(calendar.group));
    if (share?.access !== calendar.access) {
      changes.push({
        service: "calendars",
        kind: "calendar.share",
        subject: `calendar ${calendar.uri} → ${calendar.group} (${calendar.access})`,
        phase: CALENDAR_PHASES.share,
        payload: { uri: calendar.uri, group: calendar.group, access: calendar.access },
      });
    }
  }
  return changes;
}
