// First (and replacement) passwords, set by the admin for one member, since the server
// sends no e-mail. Each service gets its own temporary password, so one seen or leaked
// opens one service only, and the member changes the Nextcloud and Element ones at first
// sign-in (Jitsi's cannot be changed by the member; the admin replaces it on request).
//
// - Nextcloud: OCS `PUT cloud/users/<id>` key=password (Nextcloud's UsersController::editUser:
//   a password-policy refusal is statuscode 107 with the policy's reason as its message).
// - Matrix: Synapse's admin API `POST /_synapse/admin/v1/reset_password/<user id>` with
//   `logout_devices: false` (synapse/rest/admin/users.py ResetPasswordRestServlet: 200 `{}`,
//   404 M_NOT_FOUND "Unknown user"): a member resetting a forgotten password keeps their
//   signed-in devices, hence their encryption keys.
// - Jitsi: prosodyctl passwd, through provisioners/jitsi/handover.ts.
//
// Every account is read first: a member without an account (no `pulumi up` yet) or a
// disabled one (departed) is refused before any password changes. Passwords are returned
// to the caller only, to be shown once; nothing here prints, logs or stores them.
import type { Association } from "../../stacks/config/schema.ts";
import { hostnames } from "../../stacks/services/catalog.ts";
import type { DesiredState } from "../desired.ts";
import { ProvisionError } from "../model.ts";
import { handOverPassword, staffAccount } from "../jitsi/handover.ts";
import { listAccounts, readablePassword, type JitsiClient } from "../jitsi/accounts.ts";
import type { MatrixClient } from "../matrix/client.ts";
import { isOcsOk, ocs, userDetails, type NextcloudClient } from "../nextcloud/client.ts";
import type { HttpResponse } from "../runtime/http.ts";

export const PASSWORD_SERVICES = ["nextcloud", "matrix", "jitsi"] as const;
export type PasswordService = (typeof PASSWORD_SERVICES)[number];

/** A member's accounts that take a password, with where they sign in. */
export interface MemberAccounts {
  member: string;
  name: string;
  nextcloud?: { username: string; url: string };
  matrix?: { userId: string; url: string };
  jitsi?: { username: string; domain: string; url: string };
}

export interface PasswordClients {
  nextcloud?: NextcloudClient;
  matrix?: MatrixClient;
  jitsi?: JitsiClient;
}

export interface HandedPassword {
  service: PasswordService;
  /** What the member types as their login: user name or Matrix ID. */
  login: string;
  url: string;
  password: string;
}

export interface FirstPasswordResult {
  handed: HandedPassword[];
  failed: ProvisionError[];
}

/**
 * The member's accounts in the config, in the services asked for (all by default). A
 * service asked for by name where the member has no account is an error saying why.
 */
export function memberAccounts(config: Association, desired: DesiredState, memberId: string, only?: readonly PasswordService[]): MemberAccounts {
  const member = config.members.find((m) => m.id === memberId);
  if (!member) throw new Error(`${memberId} is not a member in the config: check the id (members[].id)`);
  const names = hostnames(config);
  const asked = (service: PasswordService) => !only || only.includes(service);
  const accounts: MemberAccounts = { member: member.id, name: member.name };

  if (asked("nextcloud")) {
    const user = desired.nextcloud?.users.find((u) => u.id === member.id);
    if (user) accounts.nextcloud = { username: user.id, url: `https://${names.cloud}/login` };
    else if (only) throw new ProvisionError("nextcloud", member.id, "Nextcloud is not enabled in the config (services.nextcloud.enabled)");
  }
  if (asked("matrix")) {
    const user = desired.matrix?.users.find((u) => u.localpart === member.id);
    if (user) accounts.matrix = { userId: user.id, url: `https://${names.element}` };
    else if (only) throw new ProvisionError("matrix", member.id, "Matrix is not enabled in the config (services.matrix.enabled)");
  }
  if (asked("jitsi") && (only || desired.jitsi?.accounts.some((a) => a.member === member.id))) {
    // Says why not: Jitsi off, or not staff.
    const { domain, username } = staffAccount(desired, member.id);
    accounts.jitsi = { username, domain, url: `https://${names.meet}` };
  }
  if (!accounts.nextcloud && !accounts.matrix && !accounts.jitsi) throw new Error(`${member.id} has no account that takes a password in the enabled services`);
  return accounts;
}

const adminUserPath = (userId: string) => `/_synapse/admin/v2/users/${encodeURIComponent(userId)}`;

/** Synapse's (or the proxy's) answer, in a sentence without any credential. */
function matrixProblem(response: HttpResponse): string {
  if (response.status === 403 && !response.json) {
    return `the proxy refused the admin API (${response.text.trim().slice(0, 100)}): run this from the VPN, or with the stack's provisioning token`;
  }
  return `${response.json?.errcode ?? `HTTP ${response.status}`}: ${response.json?.error ?? (response.text.slice(0, 200) || "no message")}`;
}

function clientFor<K extends keyof PasswordClients>(clients: PasswordClients, service: K, member: string): NonNullable<PasswordClients[K]> {
  const client = clients[service];
  if (!client) throw new ProvisionError(service, member, "no connection to this service was given");
  return client as NonNullable<PasswordClients[K]>;
}

const wrap = (service: PasswordService, member: string, error: unknown) =>
  error instanceof ProvisionError ? error : new ProvisionError(service, member, (error as Error).message, { cause: error });

/** Reads every account first (no write): throws, naming the service, if one cannot take a password. */
export async function checkAccounts(accounts: MemberAccounts, clients: PasswordClients): Promise<void> {
  const { member } = accounts;
  const notYet = "has no account yet: run `pulumi up` first (it creates one for every member)";
  if (accounts.nextcloud) {
    const { username } = accounts.nextcloud;
    let details;
    try {
      details = await userDetails(clientFor(clients, "nextcloud", member), username);
    } catch (error) {
      throw wrap("nextcloud", member, error);
    }
    if (!details) throw new ProvisionError("nextcloud", member, `${username} ${notYet}`);
    if (!details.enabled) throw new ProvisionError("nextcloud", member, `the account ${username} is disabled (a member who left?); it is enabled again when the member is back in the config`);
  }
  if (accounts.matrix) {
    const { userId } = accounts.matrix;
    let response: HttpResponse;
    try {
      response = await clientFor(clients, "matrix", member).admin("GET", adminUserPath(userId));
    } catch (error) {
      throw wrap("matrix", member, error);
    }
    if (response.status === 404) throw new ProvisionError("matrix", member, `${userId} ${notYet}`);
    if (response.status !== 200) throw new ProvisionError("matrix", member, `cannot read ${userId}: ${matrixProblem(response)}`);
    if (response.json?.deactivated) throw new ProvisionError("matrix", member, `the account ${userId} is deactivated (a member who left?)`);
  }
  if (accounts.jitsi) {
    const { username, domain } = accounts.jitsi;
    let existing: string[];
    try {
      existing = await listAccounts(clientFor(clients, "jitsi", member), domain);
    } catch (error) {
      throw wrap("jitsi", member, error);
    }
    if (!existing.includes(username)) throw new ProvisionError("jitsi", member, `${username}@${domain} ${notYet}`);
  }
}

async function setNextcloudPassword(client: NextcloudClient, username: string, password: string): Promise<void> {
  const answer = await ocs(client, "PUT", `users/${encodeURIComponent(username)}`, { key: "password", value: password });
  if (!isOcsOk(answer.statuscode)) {
    const message = answer.message.split(password).join("<password>");
    throw new Error(`Nextcloud refused the new password: OCS ${answer.statuscode}${message ? ` "${message}"` : ""}`);
  }
}

async function setMatrixPassword(client: MatrixClient, userId: string, password: string): Promise<void> {
  const response = await client.admin("POST", `/_synapse/admin/v1/reset_password/${encodeURIComponent(userId)}`, { new_password: password, logout_devices: false });
  if (response.status !== 200) throw new Error(`Synapse refused the new password: ${matrixProblem(response)}`);
}

/**
 * Sets a fresh password in each of the member's services, one after the other. A failure
 * in one service does not stop the others: the passwords already set are returned, for
 * the admin to hand over, with the failures.
 */
export async function setFirstPasswords(accounts: MemberAccounts, clients: PasswordClients): Promise<FirstPasswordResult> {
  const { member } = accounts;
  const result: FirstPasswordResult = { handed: [], failed: [] };
  const attempt = async (service: PasswordService, login: string, url: string, set: () => Promise<string>) => {
    try {
      result.handed.push({ service, login, url, password: await set() });
    } catch (error) {
      result.failed.push(wrap(service, member, error));
    }
  };
  if (accounts.nextcloud) {
    const { username, url } = accounts.nextcloud;
    await attempt("nextcloud", username, url, async () => {
      const password = readablePassword();
      await setNextcloudPassword(clientFor(clients, "nextcloud", member), username, password);
      return password;
    });
  }
  if (accounts.matrix) {
    const { userId, url } = accounts.matrix;
    await attempt("matrix", userId, url, async () => {
      const password = readablePassword();
      await setMatrixPassword(clientFor(clients, "matrix", member), userId, password);
      return password;
    });
  }
  if (accounts.jitsi) {
    const { username, domain, url } = accounts.jitsi;
    await attempt("jitsi", username, url, () => handOverPassword(clientFor(clients, "jitsi", member), domain, username));
  }
  return result;
}

const LABELS: Record<PasswordService, { title: string; login: string }> = {
  nextcloud: { title: "Nextcloud", login: "user name" },
  matrix: { title: "Element (Matrix)", login: "Matrix ID" },
  jitsi: { title: "Jitsi Meet", login: "user name" },
};

/** What the admin reads on the terminal, once. */
export function formatPasswords(accounts: MemberAccounts, result: FirstPasswordResult): string {
  const lines = [`Temporary passwords for ${accounts.name} (${accounts.member}), one per service:`, ""];
  for (const handed of result.handed) {
    const label = LABELS[handed.service];
    lines.push(`  ${label.title}: ${handed.url}`, `    ${label.login.padEnd(10)} ${handed.login}`, `    ${"password".padEnd(10)} ${handed.password}`, "");
  }
  for (const failure of result.failed) lines.push(`  NOT SET: ${failure.message}`, "");
  if (result.handed.length > 0) {
    lines.push(
      "Give them to the member in person or over an end-to-end encrypted chat, never by e-mail.",
      "The member changes the Nextcloud and Element ones at first sign-in (see their welcome sheet);",
      "Jitsi's cannot be changed by the member: run this again (--only jitsi) for a new one.",
      "Bastide keeps no copy. Running this again replaces them.",
      "",
    );
  }
  return lines.join("\n");
}
