// The identity plan: pure, from the desired state and what Keycloak holds to the list of
// writes. Nothing already right is touched, so a second run plans nothing.
import type { DesiredState } from "../desired.ts";
import { ROLES } from "../../stacks/config/schema.ts";
import { BROWSER_FLOW, ROLE_ATTRIBUTE, type DesiredClient, type DesiredIdentity, type DesiredIdentityUser } from "./desired.ts";
import { browserFlowSteps } from "./flow.ts";
import { PHASES, type ClientRepresentation, type FlowStep, type IdentityChange, type LiveIdentity, type LiveIdentityUser, type ProtocolMapperRepresentation, type UserProfileConfig, type UserRepresentation } from "./model.ts";
import { sameContent } from "../runtime/same-content.ts";
import { MEETING_LOGIN } from "../../stacks/services/jitsi/login.ts";

/** Keycloak gives lists back in an order of its own: compared as sets. */
const same = (a: unknown, b: unknown) => sameContent(a, b, { unorderedLists: true });

/**
 * The user profile Bastide needs on top of Keycloak's default (declarative user profile,
 * always on since Keycloak 24; a fresh 26.7.3 realm's profile sets no unmanagedAttributePolicy,
 * so an attribute it does not declare is dropped on write, with a 2xx):
 * - `bastide_role`, which the browser flow reads, seen and set by administrators only;
 * - lastName no longer required: a member known by one name would otherwise be stopped at
 *   their first login to invent a last name (the default marks it required for users);
 * - e-mail and names editable by administrators only: the association file decides them,
 *   and a member's edit would be undone by the next run anyway.
 */
export function bastideProfile(profile: UserProfileConfig): UserProfileConfig {
  const adminOnly = (permissions: { view?: string[]; edit?: string[] } | undefined) => ({ view: permissions?.view ?? ["admin", "user"], edit: ["admin"] });
  const attributes = (profile.attributes ?? [])
    .filter((a) => a.name !== ROLE_ATTRIBUTE && a.name !== MEETING_LOGIN.roomsAttribute)
    .map((a) => {
      if (a.name === "lastName") {
        const { required: _required, ...rest } = a;
        return { ...rest, permissions: adminOnly(a.permissions) };
      }
      if (a.name === "email" || a.name === "firstName") return { ...a, permissions: adminOnly(a.permissions) };
      return a;
    });
  attributes.push({
    name: ROLE_ATTRIBUTE,
    displayName: "Bastide role",
    validations: { options: { options: [...ROLES] } },
    permissions: { view: ["admin"], edit: ["admin"] },
    multivalued: false,
  });
  attributes.push({
    name: MEETING_LOGIN.roomsAttribute,
    displayName: "Bastide meeting rooms",
    permissions: { view: ["admin"], edit: ["admin"] },
    multivalued: false,
  });
  return { ...profile, attributes };
}

/** The client as Keycloak should hold it (secret and mappers aside). */
export function clientRepresentation(client: DesiredClient): ClientRepresentation {
  const browser = client.browser;
  return {
    clientId: client.clientId,
    name: client.name,
    enabled: true,
    protocol: "openid-connect",
    publicClient: browser !== undefined,
    bearerOnly: false,
    consentRequired: false,
    clientAuthenticatorType: "client-secret",
    standardFlowEnabled: true,
    implicitFlowEnabled: false,
    directAccessGrantsEnabled: false,
    serviceAccountsEnabled: false,
    frontchannelLogout: false,
    baseUrl: client.baseUrl,
    redirectUris: client.redirectUris,
    webOrigins: browser?.webOrigins ?? [],
    attributes: {
      "pkce.code.challenge.method": "S256",
      // Keycloak keeps the list as one attribute, "##"-separated (OIDCAdvancedConfigWrapper).
      "post.logout.redirect.uris": client.postLogoutRedirectUris.join("##"),
      "backchannel.logout.url": client.backchannelLogoutUrl ?? "",
      "backchannel.logout.session.required": "true",
      "backchannel.logout.revoke.offline.tokens": "false",
      ...(browser
        ? { "access.token.signed.response.alg": browser.accessTokenAlgorithm, "access.token.lifespan": String(browser.accessTokenLifespanSeconds) }
        : {}),
    },
  };
}

const tokenClaim = { "id.token.claim": "true", "access.token.claim": "true", "userinfo.token.claim": "true", "introspection.token.claim": "true" };

/**
 * The claims every relying party reads, on the client itself rather than through the
 * realm's default scopes (which an administrator can change): the same mapper types and
 * options as the "profile" and "email" scopes of a 26.7.3 realm, and the team groups.
 */
export const CLIENT_MAPPERS: ProtocolMapperRepresentation[] = [
  { name: "groups", protocol: "openid-connect", protocolMapper: "oidc-group-membership-mapper", config: { ...tokenClaim, "claim.name": "groups", "full.path": "false" } },
  {
    name: "preferred_username",
    protocol: "openid-connect",
    protocolMapper: "oidc-usermodel-attribute-mapper",
    config: { ...tokenClaim, "user.attribute": "username", "claim.name": "preferred_username", "jsonType.label": "String" },
  },
  { name: "email", protocol: "openid-connect", protocolMapper: "oidc-usermodel-attribute-mapper", config: { ...tokenClaim, "user.attribute": "email", "claim.name": "email", "jsonType.label": "String" } },
  { name: "name", protocol: "openid-connect", protocolMapper: "oidc-full-name-mapper", config: { ...tokenClaim } },
];

const accessClaim = { "access.token.claim": "true", "id.token.claim": "false", "userinfo.token.claim": "false", "introspection.token.claim": "true" };
const accessAttribute = (name: string, attribute: string, claim: string): ProtocolMapperRepresentation => ({
  name,
  protocol: "openid-connect",
  protocolMapper: "oidc-usermodel-attribute-mapper",
  config: { ...accessClaim, "user.attribute": attribute, "claim.name": claim, "jsonType.label": "String" },
});

/**
 * The meeting token's claims, as Prosody and the web app read them (login.ts): `room` from the
 * hosts' attribute (absent, and the token refused, for everyone else), an audience, and the
 * host's id and first name under context.user (jitsi-meet shows context.user.name; a dotted
 * claim name nests, as the real server answered: {"context":{"user":{"id":...,"name":...}}}).
 * Nothing else: the token travels in the meeting's address.
 */
export const MEETING_MAPPERS: ProtocolMapperRepresentation[] = [
  accessAttribute("room", MEETING_LOGIN.roomsAttribute, "room"),
  { name: "audience", protocol: "openid-connect", protocolMapper: "oidc-audience-mapper", config: { ...accessClaim, "included.custom.audience": MEETING_LOGIN.clientId } },
  accessAttribute("context.user.id", "username", "context.user.id"),
  accessAttribute("context.user.name", "firstName", "context.user.name"),
];

/** The claims a client's tokens carry. */
export const clientMappers = (client: DesiredClient) => (client.browser ? MEETING_MAPPERS : CLIENT_MAPPERS);

/**
 * The scopes a browser client starts with (set when it is created): sub and the allowed
 * origins, without the profile, e-mail and role claims a realm's defaults would add.
 */
export const BROWSER_CLIENT_SCOPES = ["basic", "web-origins"];

function clientDiffers(desired: ClientRepresentation, live: ClientRepresentation): boolean {
  for (const [key, value] of Object.entries(desired)) {
    if (key === "attributes") continue;
    if (!same(value, (live as Record<string, unknown>)[key])) return true;
  }
  return Object.entries(desired.attributes ?? {}).some(([key, value]) => (live.attributes?.[key] ?? "") !== value);
}

/** What the plan compares of a user, from the file and from Keycloak. */
function userFields(user: DesiredIdentityUser) {
  return { email: user.email, firstName: user.firstName, lastName: user.lastName, emailVerified: true, locale: user.locale, role: user.role, meetingRooms: user.meetingRooms };
}

function liveFields(user: UserRepresentation) {
  return {
    email: user.email ?? "",
    firstName: user.firstName ?? "",
    lastName: user.lastName ?? "",
    emailVerified: user.emailVerified === true,
    locale: user.attributes?.locale?.[0],
    role: user.attributes?.[ROLE_ATTRIBUTE]?.[0],
    meetingRooms: user.attributes?.[MEETING_LOGIN.roomsAttribute]?.[0],
  };
}

/** The representation a user update sends: the whole user, so that nothing unsent is cleared. */
export function userRepresentation(user: DesiredIdentityUser, live?: UserRepresentation): UserRepresentation {
  const { access: _access, userProfileMetadata: _metadata, ...kept } = (live ?? {}) as UserRepresentation & { userProfileMetadata?: unknown };
  return {
    ...kept,
    username: user.username,
    email: user.email,
    emailVerified: true,
    firstName: user.firstName,
    lastName: user.lastName,
    attributes: meetingRoomsOf(user, { ...live?.attributes, locale: [user.locale], [ROLE_ATTRIBUTE]: [user.role] }),
  };
}

/** The attributes with the hosts' rooms set, or taken away from a member who no longer hosts. */
function meetingRoomsOf(user: DesiredIdentityUser, attributes: Record<string, string[]>): Record<string, string[]> {
  const { [MEETING_LOGIN.roomsAttribute]: _rooms, ...others } = attributes;
  return user.meetingRooms ? { ...others, [MEETING_LOGIN.roomsAttribute]: [user.meetingRooms] } : others;
}

function planStructure(identity: DesiredIdentity, live: LiveIdentity): IdentityChange[] {
  const changes: IdentityChange[] = [];
  const realm = identity.realm;
  const fresh = live.realm === null;
  if (fresh) changes.push({ service: "identity", kind: "realm.create", subject: `realm ${realm}`, phase: PHASES.realm, payload: { realm } });

  if (fresh || !live.profile || !same(bastideProfile(live.profile), live.profile))
    changes.push({ service: "identity", kind: "realm.profile", subject: `user profile of ${realm}`, phase: PHASES.structure, payload: { realm } });

  const steps = browserFlowSteps(identity.twoFactorRoles);
  if (fresh || !live.flow) changes.push({ service: "identity", kind: "flow.create", subject: BROWSER_FLOW, phase: PHASES.structure, lane: "flow", payload: { steps } });
  else if (!sameSteps(steps, live.flow))
    changes.push({ service: "identity", kind: "flow.replace", subject: BROWSER_FLOW, phase: PHASES.structure, lane: "flow", payload: { steps, bound: live.realm?.browserFlow === BROWSER_FLOW } });

  for (const group of identity.groups)
    if (!live.groups[group.name]) changes.push({ service: "identity", kind: "group.create", subject: `group ${group.name}`, phase: PHASES.structure, payload: { name: group.name } });

  for (const client of identity.clients) {
    const existing = live.clients[client.clientId];
    const lane = `client ${client.clientId}`;
    const base = { service: "identity" as const, subject: `client ${client.clientId}`, phase: PHASES.structure, lane };
    if (!existing) {
      changes.push({ ...base, kind: "client.create", payload: { client } });
      continue;
    }
    // A browser client has no secret to match.
    const secretStale = !client.browser && !existing.secretMatches;
    if (clientDiffers(clientRepresentation(client), existing.representation) || secretStale)
      changes.push({ ...base, kind: "client.update", payload: { id: existing.id, client, secret: secretStale } });
    for (const mapper of clientMappers(client)) {
      const found = existing.representation.protocolMappers?.find((m) => m.name === mapper.name);
      if (found && found.protocolMapper === mapper.protocolMapper && same(found.config, mapper.config)) continue;
      changes.push({
        ...base,
        kind: "client.mapper",
        subject: `${mapper.name} claim of client ${client.clientId}`,
        payload: { clientId: client.clientId, id: existing.id, mapper, ...(found?.id ? { existing: found.id } : {}) },
      });
    }
  }

  const key = identity.meetingKey;
  if (key) {
    const base = { service: "identity" as const, phase: PHASES.structure, lane: "meeting key" };
    if (!live.meetingKey?.current) changes.push({ ...base, kind: "key.create", subject: `meeting key of ${realm}`, payload: key });
    for (const id of live.meetingKey?.stale ?? []) changes.push({ ...base, kind: "key.delete", subject: `former meeting key ${id}`, payload: { id } });
  }

  const wanted = identity.settings as unknown as Record<string, unknown>;
  const current = (live.realm ?? {}) as Record<string, unknown>;
  const settings: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(wanted)) {
    const now = key === "smtpServer" ? withoutPassword(current[key] as Record<string, string> | undefined) : current[key];
    if (!same(value, now)) settings[key] = value;
  }
  if (Object.keys(settings).length > 0)
    changes.push({ service: "identity", kind: "realm.update", subject: `settings of realm ${realm}: ${Object.keys(settings).sort().join(", ")}`, phase: PHASES.settings, payload: { realm, settings } });
  return changes;
}

function withoutPassword(smtp: Record<string, string> | undefined): Record<string, string> {
  const { password: _password, ...rest } = smtp ?? {};
  return rest;
}

/** Same steps, in the same order, with the same options (the conditions' config compared by the keys Bastide sets). */
export function sameSteps(wanted: readonly FlowStep[], live: readonly FlowStep[]): boolean {
  if (wanted.length !== live.length) return false;
  return wanted.every((w, i) => {
    const l = live[i]!;
    if (w.level !== l.level || w.step !== l.step || w.requirement !== l.requirement) return false;
    return Object.entries(w.config ?? {}).every(([key, value]) => l.config?.[key] === value);
  });
}

function planUsers(identity: DesiredIdentity, departures: DesiredState["departures"], live: LiveIdentity): IdentityChange[] {
  const changes: IdentityChange[] = [];
  const comingBack = new Set(departures.enable.map((id) => id.toLowerCase()));
  const teamGroups = new Set(identity.groups.map((g) => g.name));
  for (const user of identity.users) {
    const existing: LiveIdentityUser | undefined = live.users[user.username];
    const base = { service: "identity" as const, subject: `user ${user.username}`, member: user.username, phase: PHASES.users, lane: `user ${user.username}` };
    if (!existing) {
      changes.push({ ...base, kind: "user.create", payload: { user } });
      continue;
    }
    if (!existing.enabled) {
      // Disabled by hand and not a returning departure: left as the administrator made it.
      if (!comingBack.has(user.username)) continue;
      changes.push({ ...base, kind: "user.enable", payload: { id: existing.id, username: user.username, representation: { ...userRepresentation(user, existing.representation), enabled: true } } });
    } else if (!same(userFields(user), liveFields(existing.representation))) {
      changes.push({ ...base, kind: "user.update", payload: { id: existing.id, user, representation: userRepresentation(user, existing.representation) } });
    }
    const membership = { service: "identity" as const, member: user.username, phase: PHASES.memberships, lane: `user ${user.username}` };
    for (const group of user.groups)
      if (!existing.groups.includes(group)) changes.push({ ...membership, kind: "group.add", subject: `${user.username} → ${group}`, payload: { userId: existing.id, username: user.username, group } });
    for (const group of existing.groups)
      if (teamGroups.has(group) && !user.groups.includes(group))
        changes.push({ ...membership, kind: "group.remove", subject: `${user.username} out of ${group}`, payload: { userId: existing.id, username: user.username, group } });
  }
  for (const member of departures.disable) {
    const username = member.toLowerCase();
    const existing = live.users[username];
    if (!existing) continue;
    const base = { service: "identity" as const, subject: `user ${username}`, member: username, phase: PHASES.users, lane: `user ${username}` };
    if (existing.enabled) changes.push({ ...base, kind: "user.disable", payload: { id: existing.id, username, representation: { ...existing.representation, enabled: false } } });
    else if ((existing.sessions ?? 0) > 0) changes.push({ ...base, kind: "user.logout", payload: { id: existing.id, username } });
  }
  for (const member of departures.erase) {
    const username = member.toLowerCase();
    const existing = live.users[username];
    if (existing)
      changes.push({ service: "identity", kind: "user.delete", subject: `user ${username}`, member: username, phase: PHASES.users, lane: `user ${username}`, payload: { id: existing.id, username } });
  }
  return changes;
}

export function planIdentity(desired: DesiredState, live: LiveIdentity): IdentityChange[] {
  const identity = desired.identity;
  if (!identity) return [];
  return [...planStructure(identity, live), ...planUsers(identity, desired.departures, live)];
}
