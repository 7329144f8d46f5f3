// System tags (WebDAV) and files_retention rules (OCS v2), through the Nextcloud client's
// HttpClient: retried when transient, counted. Requests and answers are the ones recorded
// from a real Nextcloud 32; the tag and rule creation and listing were recorded again from
// 34.0.1 with files_retention 5.0.0 (test/contracts/recordings/nextcloud-34/provisioning-first-run.json):
// - POST /remote.php/dav/systemtags/ (JSON) → 201 + Content-Location …/systemtags/<id>;
//   a name that exists → 409 "Tag already exists";
// - PROPFIND depth 1 lists the tags (oc:id, oc:display-name, …);
// - /ocs/v2.php/apps/files_retention/api/v1/retentions: GET lists every rule, POST (JSON)
//   creates one → 201, DELETE …/<id> → 204, or 404 when it is already gone.
import { davRequest } from "tsdav";
import { authError, toFetchResponse, type NextcloudClient } from "../nextcloud/client.ts";
import type { HttpClient } from "../runtime/http.ts";
import type { RetentionRuleSpec } from "./desired.ts";
import type { LiveRule } from "./plan.ts";

export const SYSTEMTAGS_PATH = "remote.php/dav/systemtags/";
export const RULES_PATH = "ocs/v2.php/apps/files_retention/api/v1/retentions";

export class RetentionApiError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.name = "RetentionApiError";
    this.status = status;
  }
}

const TAGS_PROPFIND = `<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">
  <d:prop>
    <oc:id/>
    <oc:display-name/>
    <oc:user-visible/>
    <oc:user-assignable/>
    <oc:can-assign/>
  </d:prop>
</d:propfind>
`;

/** A fetch for tsdav that sends through `http` (same retries, same counter, same credentials). */
function fetchThrough(http: HttpClient): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    if (init?.body !== undefined && init.body !== null && typeof init.body !== "string") throw new Error("systemtags: only text bodies are sent");
    return toFetchResponse(await http.request(init?.method ?? "GET", url.pathname + url.search, { body: init?.body ?? undefined, headers }));
  }) as typeof fetch;
}

export interface LiveTag {
  id: number;
  name: string;
  userVisible: boolean;
  userAssignable: boolean;
}

/** Every system tag the service account (an admin) sees: all of them. */
export async function listTags(client: NextcloudClient): Promise<LiveTag[]> {
  const responses = await davRequest({
    url: new URL(SYSTEMTAGS_PATH, client.http.options.baseUrl).href,
    init: { method: "PROPFIND", headers: { "content-type": "application/xml; charset=utf-8", depth: "1" }, body: TAGS_PROPFIND },
    convertIncoming: false,
    fetch: fetchThrough(client.http),
  });
  const first = responses[0];
  if (!first || (!first.raw?.multistatus && !("props" in first))) {
    if (first?.status === 401) throw authError();
    throw new RetentionApiError(`PROPFIND /${SYSTEMTAGS_PATH}: HTTP ${first?.status ?? "?"} without a multistatus`, first?.status);
  }
  const tags: LiveTag[] = [];
  for (const r of responses) {
    const props = r.props ?? {};
    // tsdav reads numbers and booleans as such: a tag named "2024" comes back as 2024.
    if (props.id === undefined || typeof props.id === "object") continue;
    tags.push({
      id: Number(props.id),
      name: String(props.displayName),
      userVisible: String(props.userVisible) === "true",
      userAssignable: String(props.userAssignable) === "true",
    });
  }
  return tags;
}

/** Creates a tag members can see and put on their files; one that exists already (a race, a retry) is fine. */
export async function createTag(client: NextcloudClient, name: string): Promise<void> {
  const response = await client.http.request("POST", SYSTEMTAGS_PATH, {
    body: { name, userVisible: true, userAssignable: true, canAssign: true },
  });
  if (response.status === 201) return;
  if (response.status === 409 && /already exists/i.test(response.text)) return;
  if (response.status === 401) throw authError();
  throw new RetentionApiError(`create system tag ${name}: HTTP ${response.status} ${response.text.slice(0, 200)}`, response.status);
}

/**
 * Every retention rule. files_retention answers 404 while it is not enabled (before the
 * first run enables it, seen only when planning): no rules then.
 */
export async function listRules(client: NextcloudClient): Promise<LiveRule[]> {
  const response = await client.http.request("GET", RULES_PATH);
  if (response.status === 401) throw authError();
  if (response.status === 404) return [];
  const data = response.json?.ocs?.data;
  if (response.status !== 200 || !Array.isArray(data)) {
    throw new RetentionApiError(`list retention rules: HTTP ${response.status} ${response.text.slice(0, 200)}`, response.status);
  }
  return data.map((r: Record<string, unknown>) => ({
    id: Number(r.id),
    tagid: Number(r.tagid),
    timeunit: Number(r.timeunit),
    timeamount: Number(r.timeamount),
    timeafter: Number(r.timeafter ?? 0),
  }));
}

export async function createRule(client: NextcloudClient, tagId: number, rule: RetentionRuleSpec): Promise<number> {
  const response = await client.http.request("POST", RULES_PATH, { body: { tagid: tagId, ...rule } });
  if (response.status === 401) throw authError();
  const created = response.json?.ocs?.data;
  if (response.status !== 201 || typeof created?.id !== "number") {
    const error = response.json?.ocs?.data?.error;
    throw new RetentionApiError(`create retention rule on tag ${tagId}: HTTP ${response.status}${error ? ` (invalid ${error})` : ""}`, response.status);
  }
  return created.id;
}

/** Deletes a rule; one already gone (404) is fine. */
export async function deleteRule(client: NextcloudClient, id: number): Promise<void> {
  const response = await client.http.request("DELETE", `${RULES_PATH}/${id}`);
  if (response.status === 204 || response.status === 200 || response.status === 404) return;
  if (response.status === 401) throw authError();
  throw new RetentionApiError(`delete retention rule ${id}: HTTP ${response.status} ${response.text.slice(0, 200)}`, response.status);
}
