// CalDAV for the shared calendars: tsdav builds the MKCALENDAR and PROPFIND requests and
// parses the multistatus answers; every request goes out through the provisioners'
// HttpClient (tsdav takes a `fetch`), so it is retried when transient and counted.
//
// Where tsdav is not used, and why:
// - discovery uses tsdav's davRequest (a PROPFIND depth 1 on the calendar home) rather
//   than fetchCalendars, which adds one supported-report-set PROPFIND per calendar that
//   provisioning does not need (and a real Nextcloud takes ~0.5 s per call);
// - sharing: tsdav has none. Nextcloud shares with its own POST `o:share` body (the
//   CalendarServer `share-resource` form answers 501), sent as recorded from Nextcloud 32.
import { davRequest, makeCalendar, type DAVResponse } from "tsdav";
import type { Dispatcher } from "undici";
import { withSlash, basicAuth, HttpClient, type CallCounter, type HttpResponse, type RetryPolicy } from "../runtime/http.ts";
import type { LiveShare, ShareAccess } from "./plan.ts";

export interface CalDavClientOptions {
  /** e.g. https://cloud.example.org/ */
  baseUrl: string;
  /** The account that owns the calendars (Nextcloud's service account). */
  user: string;
  /** Its login password, HTTP Basic (see NextcloudClientOptions.password: not an app password). */
  password: string;
  /** The calendar home, relative to baseUrl; Nextcloud's `remote.php/dav/calendars/<user>/` when absent. */
  homePath?: string;
  /** Share calendars with groups the Nextcloud way (o:share, oc:invite); true when absent. */
  sharing?: boolean;
  counter?: CallCounter;
  dispatcher?: Dispatcher;
  retry?: RetryPolicy;
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Reads in flight at once. */
  concurrency?: number;
}

export interface CalDavClient {
  readonly http: HttpClient;
  /** Absolute URL of the calendar home, with a trailing slash. */
  readonly homeUrl: string;
  /** A fetch for tsdav that sends through `http`. */
  readonly fetch: typeof fetch;
  readonly sharing: boolean;
  readonly concurrency: number;
}

export function createCalDavClient(options: CalDavClientOptions): CalDavClient {
  const baseUrl = withSlash(options.baseUrl);
  const http = new HttpClient({
    service: "calendars",
    baseUrl,
    headers: {
      Authorization: basicAuth(options.user, options.password),
      Accept: "application/xml, text/xml;q=0.9, */*;q=0.5",
    },
    timeoutMs: options.timeoutMs,
    retry: options.retry,
    counter: options.counter,
    dispatcher: options.dispatcher,
    sleep: options.sleep,
  });
  const homePath = options.homePath ?? `remote.php/dav/calendars/${encodeURIComponent(options.user)}/`;
  return {
    http,
    homeUrl: withSlash(new URL(homePath.replace(/^\/+/, ""), baseUrl).href),
    fetch: fetchThrough(http),
    sharing: options.sharing ?? true,
    concurrency: options.concurrency ?? 4,
  };
}

const NO_BODY = new Set([204, 205, 304]);

const toFetchResponse = (response: HttpResponse) =>
  new Response(NO_BODY.has(response.status) ? null : response.text, { status: response.status, headers: response.headers });

/** The fetch tsdav calls: same request, sent (and retried, and counted) by HttpClient. */
function fetchThrough(http: HttpClient): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    if (init?.body !== undefined && init.body !== null && typeof init.body !== "string") throw new Error("CalDAV: only text bodies are sent");
    const response = await http.request(init?.method ?? "GET", url.pathname + url.search, { body: init?.body ?? undefined, headers });
    return toFetchResponse(response);
  }) as typeof fetch;
}

export class CalDavError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.name = "CalDavError";
    this.status = status;
  }
}

const calendarUrl = (client: CalDavClient, uri: string) => `${client.homeUrl}${encodeURIComponent(uri)}/`;

const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A PROPFIND that got no multistatus back (tsdav then returns one entry with the HTTP status). */
function requestFailure(what: string, responses: DAVResponse[]): CalDavError | undefined {
  const first = responses[0];
  if (first && ("props" in first || first.raw?.multistatus)) return undefined;
  const status = first?.status;
  const hint = status === 401 ? " (the service account's credentials were refused)" : "";
  return new CalDavError(`${what}: HTTP ${status ?? "?"} without a multistatus${hint}`, status);
}

// The request bodies are the ones a real Nextcloud 32 was recorded answering.
const HOME_PROPFIND = `<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/" xmlns:x1="http://apple.com/ns/ical/" xmlns:oc="http://owncloud.org/ns">
  <d:prop>
    <d:resourcetype/>
    <d:displayname/>
    <x1:calendar-color/>
    <c:supported-calendar-component-set/>
    <cs:getctag/>
    <d:sync-token/>
    <oc:owner-principal/>
  </d:prop>
</d:propfind>
`;

const INVITE_PROPFIND = `<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">
  <d:prop>
    <oc:invite/>
  </d:prop>
</d:propfind>
`;

const XML = { "Content-Type": "application/xml; charset=utf-8" };

/** The calendars in the home, by URI (PROPFIND depth 1). */
export async function listCalendars(client: CalDavClient): Promise<Map<string, { displayName: string }>> {
  const responses = await davRequest({
    url: client.homeUrl,
    init: { method: "PROPFIND", headers: { ...XML, depth: "1" }, body: HOME_PROPFIND },
    convertIncoming: false,
    fetch: client.fetch,
  });
  const failure = requestFailure(`PROPFIND ${new URL(client.homeUrl).pathname}`, responses);
  if (failure) throw failure;
  const calendars = new Map<string, { displayName: string }>();
  for (const r of responses) {
    if (!r.href || !Object.keys(r.props?.resourcetype ?? {}).includes("calendar")) continue;
    const uri = decodeURIComponent(r.href.replace(/\/+$/, "").split("/").pop() ?? "");
    const name = r.props?.displayname;
    calendars.set(uri, { displayName: typeof name === "object" && name ? String(name._cdata ?? "") : String(name ?? "") });
  }
  return calendars;
}

/** Who a calendar is shared with (PROPFIND depth 0, oc:invite). */
export async function readShares(client: CalDavClient, uri: string): Promise<LiveShare[]> {
  const responses = await davRequest({
    url: calendarUrl(client, uri),
    init: { method: "PROPFIND", headers: { ...XML, depth: "0" }, body: INVITE_PROPFIND },
    convertIncoming: false,
    fetch: client.fetch,
  });
  const failure = requestFailure(`PROPFIND oc:invite of ${uri}`, responses);
  if (failure) throw failure;
  return parseInvite(responses[0]?.props?.invite);
}

/** oc:invite as tsdav parsed it: `{ user: {href, access: {readWrite|read}} | [...] }`. */
export function parseInvite(invite: unknown): LiveShare[] {
  if (!invite || typeof invite !== "object") return [];
  const users = (invite as { user?: unknown }).user;
  const list = (Array.isArray(users) ? users : users ? [users] : []) as { href?: unknown; access?: Record<string, unknown> }[];
  return list
    .filter((u) => u.href !== undefined)
    .map((u) => ({ principal: String(u.href), access: u.access && "readWrite" in u.access ? "read-write" : "read" }));
}

/**
 * MKCALENDAR. A calendar that already exists (a retried request, another run) is
 * success: Nextcloud answers 405 "already exists", plain CalDAV servers 409 with
 * DAV:resource-must-be-null (RFC 4791).
 */
export async function createCalendar(client: CalDavClient, uri: string, displayName: string): Promise<void> {
  const [response] = await makeCalendar({
    url: calendarUrl(client, uri),
    props: {
      "d:displayname": displayName,
      "c:supported-calendar-component-set": { "c:comp": { _attributes: { name: "VEVENT" } } },
    },
    fetch: client.fetch,
  });
  if (!response || response.ok) return;
  const body = typeof response.raw === "string" ? response.raw : JSON.stringify(response.raw ?? "");
  if (response.status === 405 && /already exists/i.test(body)) return;
  if (response.status === 409 && /resource-must-be-null/i.test(body)) return;
  const hint = response.status === 401 ? " (the service account's credentials were refused)" : "";
  throw new CalDavError(`MKCALENDAR ${uri}: HTTP ${response.status}${hint}`, response.status);
}

export function shareBody(group: string, access: ShareAccess): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<o:share xmlns:d="DAV:" xmlns:o="http://owncloud.org/ns">
  <o:set>
    <d:href>principal:principals/groups/${escapeXml(group)}</d:href>${access === "read-write" ? "\n    <o:read-write/>" : ""}
  </o:set>
</o:share>
`;
}

/** Shares a calendar with a group (setting it again only changes the access). */
export async function shareCalendar(client: CalDavClient, uri: string, group: string, access: ShareAccess): Promise<void> {
  const url = new URL(calendarUrl(client, uri));
  // Sent again, it sets the same share: safe to re-send after a lost answer.
  const response = await client.http.request("POST", url.pathname, { body: shareBody(group, access), headers: XML, idempotent: true });
  if (response.status < 200 || response.status >= 300) {
    const hint = response.status === 401 ? " (the service account's credentials were refused)" : "";
    throw new CalDavError(`sharing ${uri} with ${group}: HTTP ${response.status}${hint}`, response.status);
  }
}
