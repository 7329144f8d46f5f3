// The Nextcloud client of the provisioner: nextcloud-node-client for the calls it covers,
// and the OCS API for the rest, both through the provisioners' one HttpClient so that
// every call is retried when transient, counted, and bounded by the same timeout.
//
// How nextcloud-node-client is routed: its Client sends every request through
// `this.httpClient.getHttpResponse(url, requestInit, expectedStatuses, context)` (its own
// node-fetch wrapper, no retry). We put an adapter with that one method in its place, so
// the library builds the requests and reads the answers, and our HttpClient sends them.
// The library never sees the password: the adapter's HttpClient adds the credentials.
//
// What goes to the OCS API directly, and why (the library does not cover these calls):
// - groups: its createUserGroup sends no display name, and it cannot read or change one;
// - creating a user: its createUser sends only userid, email and password, then searches
//   the user list for the id. A member would need 3 more PUTs (display name, quota,
//   language) and one POST per group: about 7 writes instead of 1, at ~0.5 s each on a
//   small server. OCS takes all of them in the one POST.
import type { DesiredNextcloudUser } from "../desired.ts";
import { Client, Server, UserNotFoundError, type UserProperty } from "nextcloud-node-client";
import type { Dispatcher } from "undici";
import { withSlash, basicAuth, HttpClient, type CallCounter, type HttpResponse, type RetryPolicy } from "../runtime/http.ts";

export interface NextcloudClientOptions {
  /** e.g. https://cloud.example.org/ */
  baseUrl: string;
  /** The service account (NEXTCLOUD_ADMIN_USER). */
  user: string;
  /**
   * Its login password, as HTTP Basic. Not an app password: creating, editing, enabling
   * and deleting accounts and changing their groups are #[PasswordConfirmationRequired],
   * which a Basic login with the password satisfies (lib/private/User/Session.php, 34.0.1,
   * logClientIn sets last-password-confirm) and an app password never does (OCS 403,
   * recorded in app-password.json). Two-factor login must therefore not be enforced for
   * it: see NEXTCLOUD_TWO_FACTOR_GROUP.
   */
  password: string;
  counter?: CallCounter;
  dispatcher?: Dispatcher;
  retry?: RetryPolicy;
  /** Per attempt; 30 s when absent. */
  timeoutMs?: number;
  /** Injected in tests to skip real waits between retries. */
  sleep?: (ms: number) => Promise<void>;
  /** Reads in flight at once (writes are bounded by converge's concurrency). */
  concurrency?: number;
  /** Sent with every request: the proxy's provisioning token, which opens Nextcloud's admin API outside the VPN. */
  headers?: Record<string, string>;
}

export interface NextcloudClient {
  readonly user: string;
  readonly http: HttpClient;
  /** nextcloud-node-client, sending through `http`. */
  readonly library: Client;
  readonly concurrency: number;
}

export function createNextcloudClient(options: NextcloudClientOptions): NextcloudClient {
  const baseUrl = withSlash(options.baseUrl);
  const http = new HttpClient({
    service: "nextcloud",
    baseUrl,
    headers: {
      ...options.headers,
      Authorization: basicAuth(options.user, options.password),
      "OCS-APIRequest": "true",
    },
    timeoutMs: options.timeoutMs,
    retry: options.retry,
    counter: options.counter,
    dispatcher: options.dispatcher,
    sleep: options.sleep,
  });
  // No password here: the adapter below sends, with http's credentials.
  const library = new Client(new Server({ url: baseUrl, basicAuth: { username: options.user, password: "" } }));
  (library as unknown as { httpClient: LibraryTransport }).httpClient = libraryTransport(http, baseUrl);
  return { user: options.user, http, library, concurrency: options.concurrency ?? 4 };
}

/** The one method of nextcloud-node-client's HttpClient that its Client calls. */
interface LibraryTransport {
  getHttpResponse(url: string, init: LibraryRequestInit, expected: number[], context: { description?: string }): Promise<Response>;
}

interface LibraryRequestInit {
  method?: string;
  headers?: { forEach(callback: (value: string, name: string) => void): void };
  body?: unknown;
}

/** Statuses whose Response may not carry a body. */
const NO_BODY = new Set([204, 205, 304]);

export function toFetchResponse(response: HttpResponse): Response {
  return new Response(NO_BODY.has(response.status) ? null : response.text, { status: response.status, headers: response.headers });
}

function libraryTransport(http: HttpClient, baseUrl: string): LibraryTransport {
  return {
    async getHttpResponse(url, init, expected, context) {
      const headers: Record<string, string> = {};
      init.headers?.forEach((value, name) => {
        headers[name] = value;
      });
      if (typeof init.body !== "string" && init.body !== undefined) throw new Error(`${context.description ?? url}: only text bodies are sent`);
      const path = url.startsWith(baseUrl) ? url.slice(baseUrl.length) : url;
      const response = await http.request(init.method ?? "GET", path, { body: init.body, headers });
      // The library reads a 401 on some calls as "user not found"; it is the credentials.
      if (response.status === 401) throw authError();
      if (!expected.includes(response.status)) {
        throw new Error(`${context.description ?? path}: HTTP ${response.status}, expected ${expected.join(" or ")}`);
      }
      // It also reads any OCS failure of a write as "user not found": a refusal is said as it is.
      const refusal = ocsRefusal(response);
      if (refusal) throw new OcsError(`${context.description ?? path}: ${refusal.message}`, refusal.statuscode);
      return toFetchResponse(response);
    },
  };
}

// ---------------------------------------------------------------------------------------
// OCS, for the calls the library does not cover

export interface OcsAnswer {
  status: number;
  statuscode: number;
  message: string;
  data: any;
}

/** OCS v1 says "ok" with 100, v2 with 200. */
export const isOcsOk = (statuscode: number) => statuscode === 100 || statuscode === 200;

export class OcsError extends Error {
  readonly statuscode: number | undefined;
  constructor(message: string, statuscode?: number) {
    super(message);
    this.name = "OcsError";
    this.statuscode = statuscode;
  }
}

export function authError(): OcsError {
  return new OcsError(
    "Nextcloud refused the service account's credentials (HTTP 401, OCS 997): check its password, and that " +
      "two-factor login is not enforced for it (`occ twofactorauth:enforce` must not name a group it is in)",
    997,
  );
}

/**
 * OCS v1 answers HTTP 200 with statuscode 403 when the call is refused: "Password
 * confirmation is required" for an app password on a #[PasswordConfirmationRequired]
 * write (recorded in app-password.json), or too few rights. Undefined for anything else.
 */
export function ocsRefusal(response: HttpResponse): { statuscode: number; message: string } | undefined {
  const meta = response.json?.ocs?.meta;
  if (meta?.statuscode !== 403) return undefined;
  const text = String(meta.message ?? "");
  const hint = /password confirmation/i.test(text) ? ": the service account must use its login password, not an app password" : "";
  return { statuscode: 403, message: `refused (OCS 403 "${text}")${hint}` };
}

/** Sends an OCS v1 call (HTTP 200 for every OCS answer, so a 5xx is a real server failure). */
export async function ocs(client: NextcloudClient, method: string, path: string, form?: Record<string, unknown>): Promise<OcsAnswer> {
  const separator = path.includes("?") ? "&" : "?";
  const response = await client.http.request(method, `ocs/v1.php/cloud/${path}${separator}format=json`, form ? { body: form, form: true } : {});
  if (response.status === 401) throw authError();
  const meta = response.json?.ocs?.meta;
  if (typeof meta?.statuscode !== "number") {
    throw new OcsError(`${method} ${path}: HTTP ${response.status} without an OCS answer${response.text ? `: ${response.text.slice(0, 200)}` : ""}`);
  }
  return { status: response.status, statuscode: meta.statuscode, message: String(meta.message ?? ""), data: response.json.ocs.data };
}

function failed(what: string, answer: OcsAnswer): OcsError {
  return new OcsError(`${what}: OCS ${answer.statuscode}${answer.message ? ` "${answer.message}"` : ""}`, answer.statuscode);
}

// ---------------------------------------------------------------------------------------
// Groups (OCS)

export async function listGroups(client: NextcloudClient): Promise<Map<string, { displayName: string }>> {
  const answer = await ocs(client, "GET", "groups/details");
  if (!isOcsOk(answer.statuscode)) throw failed("list groups", answer);
  const groups = new Map<string, { displayName: string }>();
  for (const g of answer.data?.groups ?? []) groups.set(String(g.id), { displayName: String(g.displayname ?? g.id) });
  return groups;
}

/** Creates a group; "group exists" (102), e.g. after a retried POST, is success. */
export async function createGroup(client: NextcloudClient, group: string, displayName: string): Promise<void> {
  const answer = await ocs(client, "POST", "groups", { groupid: group, displayname: displayName });
  if (!isOcsOk(answer.statuscode) && answer.statuscode !== 102) throw failed(`create group ${group}`, answer);
}

export async function renameGroup(client: NextcloudClient, group: string, displayName: string): Promise<void> {
  const answer = await ocs(client, "PUT", `groups/${encodeURIComponent(group)}`, { key: "displayname", value: displayName });
  if (!isOcsOk(answer.statuscode)) throw failed(`rename group ${group}`, answer);
}

// ---------------------------------------------------------------------------------------
// Users

/** An account to create: exactly what the desired state says of it. */
export type NewUser = DesiredNextcloudUser;

/**
 * Creates an account with its e-mail and no password (OCS requires a password or an
 * e-mail: 108 without either). Nobody can log in until `npm run first-password` sets a
 * temporary one; Nextcloud would also mail a set-password link if the admin set up mail.
 * "User already exists" (102), after a retried POST or a concurrent run, is success.
 * Any other answer throws an OcsError, even though Nextcloud may have created the
 * account anyway (a v1 "Bad request" was recorded for one, whose e-mail was not set).
 */
export async function createUser(client: NextcloudClient, user: NewUser): Promise<"created" | "exists"> {
  const answer = await ocs(client, "POST", "users", {
    userid: user.id,
    email: user.email,
    displayName: user.displayName,
    groups: user.groups,
    quota: user.quota,
    language: user.language,
  });
  if (isOcsOk(answer.statuscode)) return "created";
  if (answer.statuscode === 102) return "exists";
  throw failed(`create user ${user.id}`, answer);
}

export interface UserDetails {
  id: string;
  displayName: string;
  email: string | null;
  quotaBytes: number | undefined;
  language: string;
  enabled: boolean;
  groups: string[];
}

export async function listUserIds(client: NextcloudClient): Promise<string[]> {
  const users = await client.library.getUsers();
  return users.map((u) => u.id);
}

/** undefined when the user does not exist. */
export async function userDetails(client: NextcloudClient, id: string): Promise<UserDetails | undefined> {
  try {
    const data = await client.library.getUserData(id);
    const quota = data.quota?.quota;
    return {
      id,
      displayName: String(data.displayName ?? ""),
      email: typeof data.email === "string" ? data.email : null,
      quotaBytes: typeof quota === "number" ? quota : undefined,
      language: String(data.language ?? ""),
      enabled: data.enabled === true || String(data.enabled) === "1" || String(data.enabled) === "true",
      groups: (data.memberGroups ?? []).map(String),
    };
  } catch (error) {
    if (error instanceof UserNotFoundError) return undefined;
    throw error;
  }
}

/** Asks Nextcloud to mail the account its welcome again (delivered only where the admin set up mail). */
export async function sendWelcome(client: NextcloudClient, id: string): Promise<void> {
  await client.library.resendWelcomeEmail(id);
}

export async function userExists(client: NextcloudClient, id: string): Promise<boolean> {
  return (await userDetails(client, id)) !== undefined;
}

export async function updateUser(client: NextcloudClient, id: string, key: string, value: string): Promise<void> {
  await client.library.updateUserProperty(id, key as UserProperty, value);
}

export async function addToGroup(client: NextcloudClient, id: string, group: string): Promise<void> {
  await client.library.addUserToMemberUserGroup(id, group);
}

export async function removeFromGroup(client: NextcloudClient, id: string, group: string): Promise<void> {
  await client.library.removeUserFromMemberUserGroup(id, group);
}

export async function enableUser(client: NextcloudClient, id: string): Promise<void> {
  await client.library.enableUser(id);
}

export async function disableUser(client: NextcloudClient, id: string): Promise<void> {
  await client.library.disableUser(id);
}

/** Deletes an account; one already gone (998 after a retried DELETE) is success. */
export async function deleteUser(client: NextcloudClient, id: string): Promise<void> {
  try {
    await client.library.deleteUser(id);
  } catch (error) {
    // The library says "not found" for any failure: only the account's absence is success.
    if (error instanceof UserNotFoundError && !(await userExists(client, id))) return;
    throw error;
  }
}
