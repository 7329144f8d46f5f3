// The identity provisioner: the realm members log in to (password policy, brute-force
// lock-out, TOTP, login events, sessions), a browser flow that asks a second factor by
// role, one user per member with their teams as groups, and one OpenID client per service.
import type { DesiredState } from "../desired.ts";
import type { ServiceProvisioner } from "../model.ts";
import { applyIdentityChange } from "./apply.ts";
import type { IdentityClient } from "./client.ts";
import type { IdentityChange, LiveIdentity } from "./model.ts";
import { planIdentity } from "./plan.ts";
import { readIdentity } from "./read.ts";

export const identityProvisioner: ServiceProvisioner<DesiredState, LiveIdentity, IdentityChange, IdentityClient> = {
  service: "identity",
  read: readIdentity,
  plan: planIdentity,
  apply: applyIdentityChange,
};

export { createIdentityClient, IdentityClient, IdentityApiError, SESSION_SERVICE, type IdentityClientOptions } from "./client.ts";
export { PHASES, type IdentityChange, type IdentityChangeKind, type LiveIdentity, type LiveIdentityUser } from "./model.ts";
export { planIdentity, bastideProfile, clientRepresentation, CLIENT_MAPPERS } from "./plan.ts";
export { readIdentity } from "./read.ts";
export { applyIdentityChange } from "./apply.ts";
export { desiredIdentity, BROWSER_FLOW, ROLE_ATTRIBUTE, PASSWORD_HISTORY, passwordPolicy, type DesiredIdentity, type DesiredIdentityUser } from "./desired.ts";
