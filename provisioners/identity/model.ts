// What the identity provisioner compares and changes, as plain data: the live state it
// reads back from Keycloak, and the changes its plan is made of. Shapes follow Keycloak's
// own representations (@keycloak/keycloak-admin-client 26.7.3, lib/defs/*).
import type AuthenticationExecutionInfoRepresentation from "@keycloak/keycloak-admin-client/lib/defs/authenticationExecutionInfoRepresentation.js";
import type ClientRepresentation from "@keycloak/keycloak-admin-client/lib/defs/clientRepresentation.js";
import type ProtocolMapperRepresentation from "@keycloak/keycloak-admin-client/lib/defs/protocolMapperRepresentation.js";
import type RealmRepresentation from "@keycloak/keycloak-admin-client/lib/defs/realmRepresentation.js";
import type UserRepresentation from "@keycloak/keycloak-admin-client/lib/defs/userRepresentation.js";
import type { UserProfileConfig } from "@keycloak/keycloak-admin-client/lib/defs/userProfileMetadata.js";
import type { Change } from "../model.ts";
import type { DesiredClient, DesiredIdentityUser } from "./desired.ts";

export type { AuthenticationExecutionInfoRepresentation, ClientRepresentation, ProtocolMapperRepresentation, RealmRepresentation, UserProfileConfig, UserRepresentation };

/** Order of the plan's phases: the realm before anything in it, flows and groups before the users that need them. */
export const PHASES = { realm: 0, structure: 1, settings: 2, users: 3, memberships: 4 } as const;

/** One step of an authentication flow, as the executions listing shows it, flattened. */
export interface FlowStep {
  /** Depth: 0 for the flow's own steps. */
  level: number;
  /** An authenticator's provider id, or `flow:<alias>` for a sub-flow. */
  step: string;
  requirement: "REQUIRED" | "ALTERNATIVE" | "CONDITIONAL" | "DISABLED";
  /** The authenticator's configuration, for the conditions that have one. */
  config?: Record<string, string>;
}

export interface LiveIdentityUser {
  id: string;
  username: string;
  enabled: boolean;
  /** The whole representation, to write back with only what changes. */
  representation: UserRepresentation;
  /** Group names the user is in (top-level groups only). */
  groups: string[];
  /** Open sessions, read only for members who are leaving. */
  sessions?: number;
}

export interface LiveClient {
  id: string;
  representation: ClientRepresentation;
  /** Whether its secret is the one the relying party holds (compared in read, so no secret reaches the plan). */
  secretMatches: boolean;
}

export interface LiveIdentity {
  /** Null when the realm does not exist yet. */
  realm: RealmRepresentation | null;
  profile?: UserProfileConfig;
  /** The executions of BROWSER_FLOW, flattened; null when the flow does not exist. */
  flow?: FlowStep[] | null;
  /** By group name: its id. */
  groups: Record<string, string>;
  /** By username. */
  users: Record<string, LiveIdentityUser>;
  /** By clientId. */
  clients: Record<string, LiveClient>;
  /** Bastide's meeting keys in the realm: whether one is named for the current secret, and the ids of those that are not. */
  meetingKey?: { current: boolean; stale: string[] };
}

type UserRef = { id: string; username: string };

/** Every write the provisioner makes, as data. */
export type IdentityChange =
  | Change<"realm.create", { realm: string }>
  /** Only the settings that differ. */
  | Change<"realm.update", { realm: string; settings: Partial<RealmRepresentation> }>
  /** Keycloak's user profile with what Bastide adds (plan.ts bastideProfile), applied to the profile as it is then. */
  | Change<"realm.profile", { realm: string }>
  | Change<"flow.create", { steps: FlowStep[] }>
  /** Deleted and made again: Keycloak has no way to reorder a flow's steps in one call. */
  | Change<"flow.replace", { steps: FlowStep[]; bound: boolean }>
  | Change<"group.create", { name: string }>
  | Change<"client.create", { client: DesiredClient }>
  /** Settings and, when `secret`, the secret the relying party holds (never in the payload). */
  | Change<"client.update", { id: string; client: DesiredClient; secret: boolean }>
  | Change<"client.mapper", { clientId: string; id: string; mapper: ProtocolMapperRepresentation; existing?: string }>
  /** The realm key that signs the meeting tokens, with the secret Jitsi holds (never in the payload). */
  | Change<"key.create", { name: string; clientId: string }>
  /** A meeting key of an earlier secret: tokens it signed no longer open a meeting anyway. */
  | Change<"key.delete", { id: string }>
  | Change<"user.create", { user: DesiredIdentityUser }>
  | Change<"user.update", { id: string; user: DesiredIdentityUser; representation: UserRepresentation }>
  /** Back in the file after a departure. */
  | Change<"user.enable", UserRef & { representation: UserRepresentation }>
  /** Disabled, and every session ended at once. */
  | Change<"user.disable", UserRef & { representation: UserRepresentation }>
  /** Already disabled, sessions still open (a run cut short between the two). */
  | Change<"user.logout", UserRef>
  /** Erasure after the grace period: the account and its credentials are gone. */
  | Change<"user.delete", UserRef>
  | Change<"group.add", { userId: string; username: string; group: string }>
  | Change<"group.remove", { userId: string; username: string; group: string }>;

export type IdentityChangeKind = IdentityChange["kind"];
