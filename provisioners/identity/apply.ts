// Makes one planned change. A creation whose answer was lost is read back (HttpClient's
// `verify`) and never sent twice; a 409 on a creation retried by an earlier run is read as
// "already there" once the thing is found by its name. Any other refusal becomes a
// ProvisionError naming the member.
import { ProvisionError } from "../model.ts";
import type { HttpResponse } from "../runtime/http.ts";
import { apiError, describeError, IdentityApiError, type IdentityClient } from "./client.ts";
import { BROWSER_FLOW } from "./desired.ts";
import { bastideProfile, BROWSER_CLIENT_SCOPES, clientMappers, clientRepresentation, userRepresentation } from "./plan.ts";
import { KEY_PROVIDER_TYPE, meetingKeyName } from "./read.ts";
import type { FlowStep, IdentityChange, UserRepresentation } from "./model.ts";

/** Keycloak's own browser flow, bound while Bastide's is being replaced. */
const BUILT_IN_BROWSER_FLOW = "browser";
const FOUND: HttpResponse = { status: 201, headers: new Headers(), text: "", json: undefined };

async function expect(promise: Promise<HttpResponse>, accepted: number[]): Promise<HttpResponse> {
  const response = await promise;
  if (!accepted.includes(response.status)) throw apiError(response);
  return response;
}

/** Read-only fields of a representation Keycloak sends but does not take back. */
function writable(user: UserRepresentation): UserRepresentation {
  const { access: _access, userProfileMetadata: _metadata, ...rest } = user as UserRepresentation & { userProfileMetadata?: unknown };
  return rest;
}

async function userIdOf(client: IdentityClient, username: string): Promise<string | undefined> {
  const found = (await client.json("GET", client.path(`/users?${new URLSearchParams({ username, exact: "true", briefRepresentation: "true" })}`))) as { id: string; username: string }[];
  return found.find((u) => u.username === username)?.id;
}

const groupIds = new WeakMap<IdentityClient, Map<string, string>>();

/** A top-level group's id, by name (remembered for the run). */
async function groupIdOf(client: IdentityClient, name: string): Promise<string | undefined> {
  const known = groupIds.get(client) ?? new Map<string, string>();
  groupIds.set(client, known);
  if (known.has(name)) return known.get(name);
  const found = (await client.json("GET", client.path(`/groups?${new URLSearchParams({ search: name, exact: "true", briefRepresentation: "true" })}`))) as { id: string; name: string }[];
  const id = found.find((g) => g.name === name)?.id;
  if (id) known.set(name, id);
  return id;
}

async function clientIdOf(client: IdentityClient, clientId: string): Promise<string | undefined> {
  const [found] = (await client.json("GET", client.path(`/clients?${new URLSearchParams({ clientId })}`))) as { id: string }[];
  return found?.id;
}

/** The id Keycloak gives in the Location header of a 201. */
const createdId = (response: HttpResponse) => response.headers.get("location")?.split("/").pop();

async function createFlow(client: IdentityClient, steps: readonly FlowStep[]): Promise<void> {
  const flows = client.path("/authentication/flows");
  await expect(
    client.request("POST", flows, {
      body: { alias: BROWSER_FLOW, description: "Bastide: a second factor by role (services.identity.twoFactor)", providerId: "basic-flow", topLevel: true, builtIn: false },
    }),
    [201],
  );
  // The flow each level's steps go into: the last sub-flow seen one level up.
  const parents = [BROWSER_FLOW];
  for (const step of steps) {
    const parent = parents[step.level]!;
    const executions = `${flows}/${encodeURIComponent(parent)}/executions`;
    let id: string | undefined;
    if (step.step.startsWith("flow:")) {
      const alias = step.step.slice("flow:".length);
      const response = await expect(client.request("POST", `${executions}/flow`, { body: { alias, description: alias, provider: "registration-page-form", type: "basic-flow" } }), [201]);
      id = createdId(response);
      parents[step.level + 1] = alias;
      parents.length = step.level + 2;
    } else {
      const response = await expect(client.request("POST", `${executions}/execution`, { body: { provider: step.step } }), [201]);
      id = createdId(response);
    }
    // A sub-flow's Location names the flow, not its execution: find the execution by position.
    const listed = (await client.json("GET", executions)) as { id: string; level: number; index: number; displayName: string; providerId?: string; flowId?: string; requirement: string }[];
    const own = listed.filter((e) => e.level === 0);
    const execution = own.find((e) => e.id === id) ?? own[own.length - 1]!;
    if (execution.requirement !== step.requirement)
      await expect(client.request("PUT", executions, { body: { ...execution, requirement: step.requirement } }), [202, 204]);
    if (step.config)
      await expect(client.request("POST", client.path(`/authentication/executions/${execution.id}/config`), { body: { alias: `${parent} condition`, config: step.config } }), [201]);
  }
}

async function deleteFlow(client: IdentityClient, alias: string): Promise<void> {
  const flows = (await client.json("GET", client.path("/authentication/flows"))) as { id: string; alias: string }[];
  const found = flows.find((f) => f.alias === alias);
  if (found) await expect(client.request("DELETE", client.path(`/authentication/flows/${found.id}`)), [204, 404]);
}

async function applyChange(change: IdentityChange, client: IdentityClient): Promise<void> {
  switch (change.kind) {
    case "realm.create": {
      const realm = change.payload.realm;
      const exists = async () => ((await client.request("GET", `/admin/realms/${encodeURIComponent(realm)}`)).status === 200 ? FOUND : undefined);
      await expect(client.request("POST", "/admin/realms", { body: { realm, enabled: true }, verify: exists }), [201, 409]);
      return;
    }
    case "realm.profile": {
      const profile = await client.json("GET", client.path("/users/profile"));
      await expect(client.request("PUT", client.path("/users/profile"), { body: bastideProfile(profile) as Record<string, unknown> }), [200]);
      return;
    }
    case "realm.update": {
      const settings: Record<string, unknown> = { ...change.payload.settings };
      const smtp = settings.smtpServer as Record<string, string> | undefined;
      if (smtp?.auth === "true" && client.smtpPassword) settings.smtpServer = { ...smtp, password: client.smtpPassword };
      await expect(client.request("PUT", client.path(), { body: settings }), [204]);
      return;
    }
    case "flow.create":
      return createFlow(client, change.payload.steps);
    case "flow.replace": {
      // Keycloak refuses to delete the flow the realm uses: Keycloak's own browser flow stands in meanwhile.
      if (change.payload.bound) await expect(client.request("PUT", client.path(), { body: { browserFlow: BUILT_IN_BROWSER_FLOW } }), [204]);
      await deleteFlow(client, BROWSER_FLOW);
      await createFlow(client, change.payload.steps);
      if (change.payload.bound) await expect(client.request("PUT", client.path(), { body: { browserFlow: BROWSER_FLOW } }), [204]);
      return;
    }
    case "group.create": {
      const name = change.payload.name;
      const exists = async () => ((await groupIdOf(client, name)) ? FOUND : undefined);
      await expect(client.request("POST", client.path("/groups"), { body: { name }, verify: exists }), [201, 409]);
      return;
    }
    case "client.create": {
      const { client: wanted } = change.payload;
      const exists = async () => ((await clientIdOf(client, wanted.clientId)) ? FOUND : undefined);
      const body = {
        ...clientRepresentation(wanted),
        ...(wanted.browser ? { defaultClientScopes: BROWSER_CLIENT_SCOPES, optionalClientScopes: [] } : { secret: client.clientSecret(wanted.clientId) }),
        protocolMappers: clientMappers(wanted),
      };
      await expect(client.request("POST", client.path("/clients"), { body: body as Record<string, unknown>, verify: exists }), [201, 409]);
      return;
    }
    case "client.update": {
      const { id, client: wanted, secret } = change.payload;
      const body = { ...clientRepresentation(wanted), ...(secret && !wanted.browser ? { secret: client.clientSecret(wanted.clientId) } : {}) };
      await expect(client.request("PUT", client.path(`/clients/${id}`), { body: body as Record<string, unknown> }), [204]);
      return;
    }
    case "client.mapper": {
      const { id, mapper, existing } = change.payload;
      const models = client.path(`/clients/${id}/protocol-mappers/models`);
      if (existing) await expect(client.request("PUT", `${models}/${existing}`, { body: { ...mapper, id: existing } as Record<string, unknown> }), [204]);
      else await expect(client.request("POST", models, { body: mapper as Record<string, unknown> }), [201, 409]);
      return;
    }
    case "key.create": {
      // HS256 under Jitsi's secret (login.ts): Keycloak keeps a given secret of the declared size
      // (AbstractGeneratedSecretKeyProviderFactory), base64url-encoded; Prosody uses the same
      // characters, unencoded, as its key.
      const { name, clientId } = change.payload;
      const secret = client.clientSecret(clientId);
      const realm = (await client.json("GET", client.path())) as { id: string };
      const keyName = meetingKeyName(name, secret);
      const exists = async () => (((await client.json("GET", client.path(`/components?${new URLSearchParams({ type: KEY_PROVIDER_TYPE, name: keyName })}`))) as unknown[]).length ? FOUND : undefined);
      const body = {
        name: keyName,
        providerId: "hmac-generated",
        providerType: KEY_PROVIDER_TYPE,
        parentId: realm.id,
        config: { priority: ["100"], enabled: ["true"], active: ["true"], algorithm: ["HS256"], secretSize: [String(Buffer.byteLength(secret))], secret: [Buffer.from(secret).toString("base64url")] },
      };
      await expect(client.request("POST", client.path("/components"), { body, verify: exists }), [201]);
      return;
    }
    case "key.delete":
      await expect(client.request("DELETE", client.path(`/components/${change.payload.id}`)), [204, 404]);
      return;
    case "user.create": {
      const { user } = change.payload;
      const exists = async () => ((await userIdOf(client, user.username)) ? FOUND : undefined);
      const body = {
        ...userRepresentation(user),
        enabled: true,
        groups: user.groups.map((g) => `/${g}`),
        // The flow asks for the code anyway; the required action says so from the first page.
        requiredActions: user.twoFactorRequired ? ["CONFIGURE_TOTP"] : [],
      };
      const response = await client.request("POST", client.path("/users"), { body: body as Record<string, unknown>, verify: exists });
      if (response.status === 201) return;
      // 409: a create retried by an earlier run (found by name), or another account has this e-mail.
      if (response.status === 409 && (await userIdOf(client, user.username))) return;
      throw apiError(response);
    }
    case "user.update":
    case "user.enable":
      await expect(client.request("PUT", client.path(`/users/${change.payload.id}`), { body: writable(change.payload.representation) as Record<string, unknown> }), [204]);
      return;
    case "user.disable":
      await expect(client.request("PUT", client.path(`/users/${change.payload.id}`), { body: writable(change.payload.representation) as Record<string, unknown> }), [204]);
      // Every session ends now (and with them, back-channel logouts to the services that take them).
      await expect(client.request("POST", client.path(`/users/${change.payload.id}/logout`), { idempotent: true }), [204]);
      return;
    case "user.logout":
      await expect(client.request("POST", client.path(`/users/${change.payload.id}/logout`), { idempotent: true }), [204, 404]);
      return;
    case "user.delete":
      await expect(client.request("DELETE", client.path(`/users/${change.payload.id}`)), [204, 404]);
      return;
    case "group.add":
    case "group.remove": {
      const { userId, group } = change.payload;
      const groupId = await groupIdOf(client, group);
      if (!groupId) throw new IdentityApiError(404, `group ${group} does not exist`);
      const path = client.path(`/users/${userId}/groups/${groupId}`);
      // Out of a group already left is what was asked; into one, the user must exist.
      await expect(client.request(change.kind === "group.add" ? "PUT" : "DELETE", path), change.kind === "group.add" ? [204] : [204, 404]);
      return;
    }
  }
}

export async function applyIdentityChange(change: IdentityChange, client: IdentityClient): Promise<void> {
  try {
    await applyChange(change, client);
  } catch (error) {
    throw new ProvisionError("identity", change.member, `${change.subject}: ${describeError(error)}`, { cause: error });
  }
}
