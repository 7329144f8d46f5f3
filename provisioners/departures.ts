// Who left, and since when. Bastide only ever disables or erases accounts it created:
// the ledger, kept in the Pulumi state, lists them. A member removed from the config
// is disabled at once; their data is erased once the grace period has passed, on a
// later run, or at once by the erase command.
import type { Departures } from "./desired.ts";

export interface Ledger {
  /** Members Bastide provisioned, by id, with when it first did. */
  members: Record<string, { since: string }>;
  /** Members removed from the config, by id: when they were disabled, and first provisioned. */
  departed: Record<string, { since: string; firstSeen: string }>;
}

export const EMPTY_LEDGER: Ledger = { members: {}, departed: {} };

const DAY_MS = 86_400_000;

/** What this run must do about departures, and the ledger to keep once it succeeded. */
export function reconcileDepartures(
  previous: Ledger,
  current: readonly string[],
  graceDays: number,
  now: Date,
): { departures: Departures; ledger: Ledger } {
  const stamp = now.toISOString();
  const present = new Set(current);
  const departures: Departures = { disable: [], erase: [], enable: [] };
  const ledger: Ledger = { members: {}, departed: {} };

  for (const id of current) {
    const returning = previous.departed[id];
    ledger.members[id] = previous.members[id] ?? (returning ? { since: returning.firstSeen } : { since: stamp });
    if (previous.departed[id]) departures.enable.push(id);
  }
  for (const id of Object.keys(previous.members)) {
    if (!present.has(id)) {
      departures.disable.push(id);
      ledger.departed[id] = { since: stamp, firstSeen: previous.members[id]!.since };
    }
  }
  for (const [id, departed] of Object.entries(previous.departed)) {
    if (present.has(id)) continue;
    if (now.getTime() - Date.parse(departed.since) >= graceDays * DAY_MS) departures.erase.push(id);
    else ledger.departed[id] = departed;
  }
  for (const list of Object.values(departures)) list.sort();
  return { departures, ledger };
}
