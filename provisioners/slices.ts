// A service's part of the desired state, with its lists keyed by id. Pulumi diffs
// inputs property by property: keyed, a removed member shows as one removed key
// (`- users.bob`) instead of every later list item shifting.
import type { DesiredState } from "./desired.ts";
import type { ProvisionedService } from "./model.ts";

/** Which desired-state part each service reads, and the id field of each of its lists. */
export const SLICES: Record<ProvisionedService, { part: "nextcloudSettings" | "nextcloud" | "matrix" | "jitsi" | "vpn" | "identity"; keys: Record<string, string> }> = {
  "nextcloud-settings": { part: "nextcloudSettings", keys: {} },
  nextcloud: { part: "nextcloud", keys: { users: "id", groups: "id", calendars: "uri" } },
  calendars: { part: "nextcloud", keys: { users: "id", groups: "id", calendars: "uri" } },
  matrix: { part: "matrix", keys: { users: "localpart", rooms: "alias" } },
  jitsi: { part: "jitsi", keys: { accounts: "username" } },
  vpn: { part: "vpn", keys: { peers: "id" } },
  // The hand-over writes files from the config it is given; its diff shows the devices.
  handover: { part: "vpn", keys: { peers: "id" } },
  identity: { part: "identity", keys: { users: "username", groups: "name", clients: "clientId" } },
};

type Keyed = Record<string, unknown>;

/** The inputs Pulumi stores and diffs for one service; undefined when the service is off. */
export function keyedSlice(state: DesiredState, service: ProvisionedService): Keyed | undefined {
  const { part, keys } = SLICES[service];
  const slice = state[part] as Record<string, unknown> | undefined;
  if (!slice) return undefined;
  const keyed: Keyed = {};
  for (const [field, value] of Object.entries(slice)) {
    const key = keys[field];
    keyed[field] = key ? Object.fromEntries((value as Record<string, string>[]).map((item) => [item[key], item])) : value;
  }
  return { organisation: state.organisation, hostnames: state.hostnames, graceDays: state.graceDays, [part]: keyed };
}

/** Back from keyed inputs to the desired state's shape, lists in id order. */
export function unkeyedSlice(keyed: Keyed, service: ProvisionedService): Omit<DesiredState, "departures"> {
  const { part, keys } = SLICES[service];
  const slice = keyed[part] as Record<string, unknown>;
  const lists = Object.fromEntries(
    Object.entries(slice).map(([field, value]) => [
      field,
      keys[field] ? Object.keys(value as Keyed).sort().map((k) => (value as Keyed)[k]) : value,
    ]),
  );
  return { organisation: keyed.organisation, hostnames: keyed.hostnames, graceDays: keyed.graceDays, [part]: lists } as Omit<DesiredState, "departures">;
}
