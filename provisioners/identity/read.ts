// Reads back what Keycloak holds for the desired state: the realm, its user profile, the
// browser flow Bastide binds, the team groups with their members, every user, and the
// clients of the services. Read-only: safe for `pulumi preview` (apart from the
// administrator's token request).
import type { DesiredState } from "../desired.ts";
import { ProvisionError } from "../model.ts";
import { mapLimit } from "../runtime/concurrency.ts";
import { apiError, describeError, type IdentityClient } from "./client.ts";
import { BROWSER_FLOW } from "./desired.ts";
import { secretFingerprint } from "../runtime/fingerprint.ts";
import type { AuthenticationExecutionInfoRepresentation, ClientRepresentation, FlowStep, LiveClient, LiveIdentity, LiveIdentityUser, UserRepresentation } from "./model.ts";

/** Groups (or departing users) read at once. */
const AT_ONCE = 4;

async function readFlow(client: IdentityClient): Promise<FlowStep[] | null> {
  const response = await client.request("GET", client.path(`/authentication/flows/${encodeURIComponent(BROWSER_FLOW)}/executions`));
  if (response.status === 404) return null;
  if (response.status !== 200) throw apiError(response);
  const executions = response.json as AuthenticationExecutionInfoRepresentation[];
  return Promise.all(
    executions.map(async (e): Promise<FlowStep> => {
      const step: FlowStep = {
        level: e.level ?? 0,
        step: e.authenticationFlow ? `flow:${e.displayName}` : String(e.providerId),
        requirement: e.requirement as FlowStep["requirement"],
      };
      if (e.authenticationConfig) step.config = (await client.json("GET", client.path(`/authentication/config/${e.authenticationConfig}`))).config ?? {};
      return step;
    }),
  );
}

/** Keycloak's key providers are components of this type (admin API GET /components?type=...). */
export const KEY_PROVIDER_TYPE = "org.keycloak.keys.KeyProvider";

/** The meeting key's name: Keycloak never gives a key's secret back, so the name carries its fingerprint. */
export const meetingKeyName = (name: string, secret: string) => `${name} ${secretFingerprint(secret).slice(0, 16)}`;

async function readMeetingKey(client: IdentityClient, key: { name: string; clientId: string }): Promise<LiveIdentity["meetingKey"]> {
  const components = (await client.json("GET", client.path(`/components?${new URLSearchParams({ type: KEY_PROVIDER_TYPE })}`))) as { id: string; name: string }[];
  const wanted = client.hasClientSecret(key.clientId) ? meetingKeyName(key.name, client.clientSecret(key.clientId)) : undefined;
  const ours = components.filter((c) => c.name.startsWith(`${key.name} `));
  return { current: ours.some((c) => c.name === wanted), stale: ours.filter((c) => c.name !== wanted).map((c) => c.id) };
}

async function readClient(client: IdentityClient, clientId: string): Promise<LiveClient | undefined> {
  const [found] = (await client.json("GET", client.path(`/clients?${new URLSearchParams({ clientId })}`))) as ClientRepresentation[];
  if (!found?.id) return undefined;
  const secretMatches = client.hasClientSecret(clientId) && found.secret === client.clientSecret(clientId);
  return { id: found.id, representation: found, secretMatches };
}

export async function readIdentity(client: IdentityClient, desired: DesiredState): Promise<LiveIdentity> {
  const identity = desired.identity;
  const empty: LiveIdentity = { realm: null, groups: {}, users: {}, clients: {} };
  if (!identity) return empty;
  try {
    const realmAnswer = await client.request("GET", client.path());
    if (realmAnswer.status === 404) return empty;
    if (realmAnswer.status !== 200) throw apiError(realmAnswer);
    const realm = realmAnswer.json;

    const [profile, flow, groupList, userList, clientList, meetingKey] = await Promise.all([
      client.json("GET", client.path("/users/profile")),
      readFlow(client),
      client.paged<{ id: string; name: string }>(client.path("/groups"), { briefRepresentation: "true" }),
      client.paged<UserRepresentation>(client.path("/users"), { briefRepresentation: "false" }),
      mapLimit(identity.clients, AT_ONCE, (c) => readClient(client, c.clientId)),
      identity.meetingKey ? readMeetingKey(client, identity.meetingKey) : undefined,
    ]);

    const groups = Object.fromEntries(groupList.map((g) => [g.name, g.id]));
    const users: Record<string, LiveIdentityUser> = {};
    for (const u of userList) users[u.username!] = { id: u.id!, username: u.username!, enabled: u.enabled !== false, representation: u, groups: [] };

    // Members of the team groups only: those are the memberships Bastide decides.
    const teamGroups = identity.groups.map((g) => g.name).filter((name) => groups[name]);
    const members = await mapLimit(teamGroups, AT_ONCE, (name) => client.paged<{ username: string }>(client.path(`/groups/${groups[name]}/members`), { briefRepresentation: "true" }));
    teamGroups.forEach((name, i) => {
      for (const m of members[i]!) users[m.username]?.groups.push(name);
    });
    for (const user of Object.values(users)) user.groups.sort();

    // Sessions, only of members who leave: ending them is part of their departure.
    const leaving = desired.departures.disable.map((id) => users[id.toLowerCase()]).filter((u): u is LiveIdentityUser => u !== undefined);
    const sessions = await mapLimit(leaving, AT_ONCE, async (u) => ((await client.json("GET", client.path(`/users/${u.id}/sessions`))) as unknown[]).length);
    leaving.forEach((u, i) => (u.sessions = sessions[i]));

    const clients: Record<string, LiveClient> = {};
    identity.clients.forEach((c, i) => {
      const live = clientList[i];
      if (live) clients[c.clientId] = live;
    });
    return { realm, profile, flow, groups, users, clients, ...(meetingKey ? { meetingKey } : {}) };
  } catch (error) {
    if (error instanceof ProvisionError) throw error;
    throw new ProvisionError("identity", undefined, `reading Keycloak: ${describeError(error)}`, { cause: error });
  }
}
