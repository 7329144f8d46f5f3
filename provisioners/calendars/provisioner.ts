// Shared calendars: owned by the service account, created with MKCALENDAR, shared with
// their group. Read what runs, plan (pure, plan.ts), apply each change.
import { ProvisionError, type ServiceProvisioner } from "../model.ts";
import { mapLimit } from "../runtime/concurrency.ts";
import { createCalendar, listCalendars, readShares, shareCalendar, type CalDavClient } from "./client.ts";
import { groupPrincipal, planCalendars, type CalendarChange, type CalendarsDesired, type CalendarsLive } from "./plan.ts";

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

export async function readCalendars(client: CalDavClient, desired: CalendarsDesired): Promise<CalendarsLive> {
  const live: CalendarsLive = { calendars: new Map(), sharing: client.sharing };
  const wanted = desired.nextcloud?.calendars ?? [];
  if (wanted.length === 0) return live;
  let found: Map<string, { displayName: string }>;
  try {
    found = await listCalendars(client);
  } catch (error) {
    throw new ProvisionError("calendars", undefined, `listing the calendars: ${describe(error)}`, { cause: error });
  }
  for (const [uri, { displayName }] of found) live.calendars.set(uri, { uri, displayName, shares: undefined });
  if (!client.sharing) return live;
  const present = wanted.filter((c) => found.has(c.uri));
  await mapLimit(present, client.concurrency, async ({ uri }) => {
    try {
      live.calendars.get(uri)!.shares = await readShares(client, uri);
    } catch (error) {
      throw new ProvisionError("calendars", undefined, `reading the shares of calendar ${uri}: ${describe(error)}`, { cause: error });
    }
  });
  return live;
}

export async function applyCalendars(change: CalendarChange, client: CalDavClient): Promise<void> {
  try {
    if (change.kind === "calendar.create") return await createCalendar(client, change.payload.uri, change.payload.displayName);
    const { uri, group, access } = change.payload;
    await shareCalendar(client, uri, group, access);
    // Nextcloud answers 200 even for a group that does not exist; only oc:invite tells.
    const shares = await readShares(client, uri);
    if (!shares.some((s) => s.principal === groupPrincipal(group) && s.access === access)) {
      throw new Error(`Nextcloud accepted the share but does not list it: does group ${group} exist? (the nextcloud provisioner creates it and must run first)`);
    }
  } catch (error) {
    throw new ProvisionError("calendars", change.member, `${change.subject}: ${describe(error)}`, { cause: error });
  }
}

export const calendarsProvisioner: ServiceProvisioner<CalendarsDesired, CalendarsLive, CalendarChange, CalDavClient> = {
  service: "calendars",
  read: readCalendars,
  plan: planCalendars,
  apply: applyCalendars,
};
