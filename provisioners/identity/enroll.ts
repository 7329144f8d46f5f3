// Enrollment with the identity provider: one hand-over per member, not one per service.
//
// - With a mail relay: Keycloak's execute-actions e-mail (PUT /users/{id}/execute-actions-email,
//   the call @keycloak/keycloak-admin-client's users.executeActionsEmail makes): a link, valid
//   for `lifespanSeconds`, that makes the member choose their password and, where their role
//   requires it, set up their authenticator app. Nobody but the member sees a password.
// - Without one: a temporary password (`temporary: true` makes Keycloak add UPDATE_PASSWORD,
//   CredentialRepresentation / UserResource.resetPassword), returned to the caller to be shown
//   once, plus CONFIGURE_TOTP where the role requires a second factor. The member replaces
//   the password at the first login; the administrator's copy is then worthless.
//
// Every member is read first: one with no account (no `pulumi up` yet) or a disabled one
// (departed) is refused before anything changes. Nothing here prints, logs or keeps a password.
import { readablePassword } from "../jitsi/accounts.ts";
import { ProvisionError } from "../model.ts";
import { apiError, describeError, type IdentityClient } from "./client.ts";
import type { DesiredIdentityUser } from "./desired.ts";
import type { UserRepresentation } from "./model.ts";

/** How long an enrollment link stays valid: a week, for a member who reads their mail on Sundays (Keycloak's default is 12 h). */
export const LINK_LIFESPAN_SECONDS = 7 * 86_400;

export interface Enrolled {
  member: string;
  name: string;
  /** What they type at the login page. */
  login: string;
  /** Set: shown once to the administrator. Absent: the link went by e-mail to `email`. */
  temporaryPassword?: string;
  email?: string;
  /** They will set up an authenticator app before their first login ends. */
  secondFactor: boolean;
}

export interface EnrollResult {
  enrolled: Enrolled[];
  failed: ProvisionError[];
}

/** Readable groups (as Jitsi's), as many as the realm's minimum length needs. */
export function temporaryPassword(minimumLength: number): string {
  let password = readablePassword();
  while (password.length < minimumLength) password = `${password}-${readablePassword()}`;
  return password;
}

async function findUser(client: IdentityClient, username: string): Promise<UserRepresentation | undefined> {
  const found = (await client.json("GET", client.path(`/users?${new URLSearchParams({ username, exact: "true", briefRepresentation: "false" })}`))) as UserRepresentation[];
  return found.find((u) => u.username === username);
}

/** Every member's account, or a ProvisionError per member saying why it cannot be enrolled. */
async function accountsOf(client: IdentityClient, members: readonly DesiredIdentityUser[]): Promise<Map<string, UserRepresentation>> {
  const accounts = new Map<string, UserRepresentation>();
  const problems: string[] = [];
  for (const member of members) {
    const user = await findUser(client, member.username);
    if (!user) problems.push(`${member.username} has no account in Keycloak yet: run \`pulumi up\` first`);
    else if (user.enabled === false) problems.push(`${member.username}'s account is disabled (a departure, or an administrator's decision): enable it before enrolling`);
    else accounts.set(member.username, user);
  }
  if (problems.length > 0) throw new ProvisionError("identity", members.length === 1 ? members[0]!.username : undefined, `nothing was changed: ${problems.join("; ")}`);
  return accounts;
}

async function enrollOne(client: IdentityClient, member: DesiredIdentityUser, user: UserRepresentation, options: EnrollOptions): Promise<Enrolled> {
  const base = { member: member.username, name: [member.firstName, member.lastName].filter(Boolean).join(" "), login: member.username, secondFactor: member.twoFactorRequired };
  if (options.byMail) {
    const actions = ["UPDATE_PASSWORD", ...(member.twoFactorRequired ? ["CONFIGURE_TOTP"] : [])];
    const query = new URLSearchParams({ lifespan: String(options.lifespanSeconds ?? LINK_LIFESPAN_SECONDS), ...(options.clientId ? { client_id: options.clientId } : {}), ...(options.redirectUri ? { redirect_uri: options.redirectUri } : {}) });
    // Sends a mail: sent once, never again blind.
    const response = await client.request("PUT", client.path(`/users/${user.id}/execute-actions-email?${query}`), { body: actions, idempotent: false });
    if (response.status !== 204) throw apiError(response);
    return { ...base, email: member.email };
  }
  const password = temporaryPassword(options.minimumLength);
  const reset = await client.request("PUT", client.path(`/users/${user.id}/reset-password`), { body: { type: "password", value: password, temporary: true } });
  if (reset.status !== 204) throw apiError(reset);
  const required = user.requiredActions ?? [];
  if (member.twoFactorRequired && !required.includes("CONFIGURE_TOTP")) {
    const current = await findUser(client, member.username);
    const { access: _access, ...writable } = (current ?? user) as UserRepresentation;
    const actions = [...new Set([...(current?.requiredActions ?? required), "CONFIGURE_TOTP"])];
    const update = await client.request("PUT", client.path(`/users/${user.id}`), { body: { ...writable, requiredActions: actions } as Record<string, unknown> });
    if (update.status !== 204) throw apiError(update);
  }
  return { ...base, temporaryPassword: password };
}

export interface EnrollOptions {
  /** Send Keycloak's execute-actions e-mail instead of making a password (needs the realm's smtpServer). */
  byMail: boolean;
  /** The realm's minimum password length (services.identity.passwords.minimumLength). */
  minimumLength: number;
  lifespanSeconds?: number;
  /** Where the e-mail's link leads once the actions are done (a client and one of its redirect URIs). */
  clientId?: string;
  redirectUri?: string;
}

/** Enrolls each member, one after another; a failure is reported and the others go on. */
export async function enrollMembers(client: IdentityClient, members: readonly DesiredIdentityUser[], options: EnrollOptions): Promise<EnrollResult> {
  const accounts = await accountsOf(client, members);
  const result: EnrollResult = { enrolled: [], failed: [] };
  for (const member of members) {
    try {
      result.enrolled.push(await enrollOne(client, member, accounts.get(member.username)!, options));
    } catch (error) {
      result.failed.push(new ProvisionError("identity", member.username, describeError(error), { cause: error }));
    }
  }
  return result;
}

/** What the administrator reads on the terminal, once: one line per member. */
export function formatEnrollment(result: EnrollResult, loginUrl: string): string {
  const lines: string[] = [];
  const byPassword = result.enrolled.filter((e) => e.temporaryPassword);
  const byMail = result.enrolled.filter((e) => !e.temporaryPassword);
  if (byPassword.length > 0) {
    const width = Math.max(6, ...byPassword.map((e) => e.login.length));
    lines.push(`One temporary password per member, for every service (${loginUrl}):`, "", `  ${"login".padEnd(width)}  temporary password          name`);
    for (const e of byPassword) lines.push(`  ${e.login.padEnd(width)}  ${e.temporaryPassword!.padEnd(26)}  ${e.name}${e.secondFactor ? "" : "  (second factor optional)"}`);
    lines.push(
      "",
      "Give each one to its member in person or over an end-to-end encrypted chat, never by e-mail.",
      "At the first login the member chooses their own password and sets up an authenticator app",
      "(the welcome sheet explains it); this one then stops working. Bastide keeps no copy.",
      "",
    );
  }
  if (byMail.length > 0) {
    lines.push(`Enrollment e-mail sent (the link is valid ${Math.round(LINK_LIFESPAN_SECONDS / 86_400)} days) to:`);
    for (const e of byMail) lines.push(`  ${e.login}  ${e.email}`);
    lines.push("");
  }
  for (const failure of result.failed) lines.push(`NOT ENROLLED: ${failure.message}`);
  if (result.failed.length > 0) lines.push("");
  return lines.join("\n");
}
