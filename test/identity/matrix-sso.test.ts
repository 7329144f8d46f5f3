// Single sign-on into Matrix, end to end, with the real programs: Keycloak 26.7.3
// (test/support/keycloak.ts) and Synapse 1.163.2 running the homeserver.yaml Bastide renders
// (test/support/synapse.ts). Bastide's Matrix provisioner makes the example's accounts; a
// member enrolls at Keycloak (temporary password → own password, TOTP with the code the test
// computes) on the way into Synapse, and gets an access token for the account Bastide made.
// A disabled member cannot; nobody gets an account the member list does not have; and a
// member's password does not open Synapse.
//
// Only what the loopback needs differs from production, all in the overrides below:
// Synapse's public_baseurl (its callback URL, which the browser must reach), and the
// provider's issuer, which is http://127.0.0.1 here (Synapse checks an issuer is https unless
// skip_verification is set: synapse/handlers/oidc.py _validate_metadata, "issuers not running
// on a secure origin"). The realm, client and users are made with Keycloak's admin client as
// the contract of issue 10 describes them.
import test from "ava";
import KcAdminClient from "@keycloak/keycloak-admin-client";
import { desiredState, matrixUserId } from "../../provisioners/desired.ts";
import { createMatrixClient, matrixProvisioner } from "../../provisioners/matrix/index.ts";
import { converge } from "../../provisioners/model.ts";
import { hostnames } from "../../stacks/services/catalog.ts";
import { MATRIX_OIDC, OIDC_IDP_ID } from "../../stacks/services/matrix/blueprint.ts";
import { IDENTITY_REALM } from "../../stacks/services/identity/blueprint.ts";
import { exampleAssociation } from "../support/association.ts";
import { startKeycloak, type RealKeycloak } from "../support/keycloak.ts";
import { LoginBrowser, type LoginMember } from "../support/keycloak-login.ts";
import { startSynapse, stopPostgres, type RealSynapse } from "../support/synapse.ts";

const REALM = IDENTITY_REALM;
const config = exampleAssociation();
const ELEMENT = `https://${hostnames(config).element}/`;

let keycloak: RealKeycloak | undefined;
let synapse: RealSynapse | undefined;
let admin: KcAdminClient;

test.after.always(async () => {
  await synapse?.stop();
  await stopPostgres();
  await keycloak?.stop();
});

/** The master realm's admin token lives 60 s: a fresh one before each batch of admin calls. */
async function signIn(server: RealKeycloak) {
  admin.setConfig({ realmName: "master" });
  await admin.auth({ grantType: "password", clientId: "admin-cli", username: server.admin.username, password: server.admin.password });
  admin.setConfig({ realmName: REALM });
}

/** Keycloak, then Synapse pointed at it, then the realm with Synapse's client, then Bastide's accounts in Synapse. */
async function servers() {
  if (keycloak && synapse) return { keycloak, synapse };
  keycloak = await startKeycloak();
  const issuer = `${keycloak.url}/realms/${REALM}`;
  synapse = await startSynapse({
    config,
    overrides: (rendered, url) => ({
      // Test-only: every login here comes from 127.0.0.1 (the bot's, the members' token logins,
      // the refused password), and Synapse allows 5 per address, then one every 5 minutes
      // (synapse/config/ratelimiting.py, rc_login defaults 0.003/s, burst 5).
      rc_login: { address: { per_second: 100, burst_count: 1000 }, account: { per_second: 100, burst_count: 1000 }, failed_attempts: { per_second: 100, burst_count: 1000 } },
      public_baseurl: `${url}/`,
      oidc_providers: rendered.oidc_providers.map((provider: Record<string, unknown>) => ({ ...provider, issuer, skip_verification: true })),
    }),
  });
  const [provider] = synapse.homeserver.oidc_providers;
  admin = new KcAdminClient({ baseUrl: keycloak.url, realmName: "master" });
  await signIn(keycloak);
  await admin.realms.create({ realm: REALM, enabled: true });
  await admin.clients.create({
    clientId: MATRIX_OIDC.clientId,
    secret: provider.client_secret,
    publicClient: false,
    standardFlowEnabled: true,
    implicitFlowEnabled: false,
    directAccessGrantsEnabled: false,
    redirectUris: [`${synapse.url}${MATRIX_OIDC.callbackPath}`],
    attributes: { "pkce.code.challenge.method": "S256" },
  });
  const bot = createMatrixClient({ baseUrl: synapse.url, registrationSharedSecret: synapse.registrationSharedSecret, serverName: synapse.serverName });
  try {
    const run = await converge(matrixProvisioner, desiredState(config), bot, { concurrency: 4 });
    if (run.failed.length) throw new Error(`provisioning Synapse failed: ${run.failed.map((f) => `${f.change.kind} ${f.change.subject}: ${f.error.message}`).join("; ")}`);
  } finally {
    await bot.close();
  }
  return { keycloak, synapse };
}

/** The member in Keycloak as Bastide hands them over: a temporary password, TOTP and a new password at first login. */
async function keycloakMember(id: string, options: { enrolled?: boolean } = {}): Promise<{ userId: string; member: LoginMember }> {
  const member = config.members.find((m) => m.id === id);
  const [firstName, ...rest] = (member?.name ?? id).split(" ");
  const temporary = `temporary ${id} 1A!`;
  const { id: userId } = await admin.users.create({
    username: id,
    email: member?.email ?? `${id}@example.org`,
    firstName,
    lastName: rest.join(" ") || id,
    emailVerified: true,
    enabled: true,
    requiredActions: options.enrolled === false ? [] : ["UPDATE_PASSWORD", "CONFIGURE_TOTP"],
    credentials: [{ type: "password", value: temporary, temporary: options.enrolled !== false }],
    attributes: { bastide_role: [member?.role ?? "volunteer"], locale: [member?.language ?? config.organisation.language] },
  });
  return { userId, member: { username: id, password: temporary, newPassword: `${id} chose this long password` } };
}

/** Element's way in: Synapse's SSO redirect for Bastide's provider, back to Element with a login token. */
const ssoStart = (server: RealSynapse) => `${server.url}/_matrix/client/v3/login/sso/redirect/oidc-${OIDC_IDP_ID}?redirectUrl=${encodeURIComponent(ELEMENT)}`;
const backAtElement = (url: string) => url.startsWith(ELEMENT);

async function loginWithToken(server: RealSynapse, url: string) {
  const token = new URL(url).searchParams.get("loginToken");
  if (!token) throw new Error(`no loginToken in ${url}`);
  return server.call(undefined, "POST", "/_matrix/client/v3/login", { type: "m.login.token", token });
}

async function accounts(server: RealSynapse): Promise<string[]> {
  const bot = createMatrixClient({ baseUrl: server.url, registrationSharedSecret: server.registrationSharedSecret, serverName: server.serverName });
  try {
    return (await bot.listUsers()).map((user) => user.name).sort();
  } finally {
    await bot.close();
  }
}

test.serial("a member enrolls at Keycloak on the way into Element, and Synapse opens the account Bastide provisioned", async (t) => {
  t.timeout(600_000);
  const { synapse } = await servers();
  await signIn(keycloak!);
  const before = await accounts(synapse);
  const claire = matrixUserId("claire.dubois", synapse.serverName);
  t.true(before.includes(claire), "the provisioner made the account before any login");

  const { member } = await keycloakMember("claire.dubois");
  const enrolled = await new LoginBrowser().login(ssoStart(synapse), member, { until: backAtElement });
  if (enrolled.outcome !== "redirected") return t.fail(`refused on ${enrolled.page}: ${enrolled.message}\n${synapse.log()}`);
  t.deepEqual(enrolled.pages, ["login.ftl", "login-config-totp.ftl", "login-update-password.ftl"]);
  const first = await loginWithToken(synapse, enrolled.url);
  t.is(first.status, 200, JSON.stringify(first.json));
  t.is(first.json.user_id, claire);

  // Later logins: her own password and a one-time code from her app, in a new browser.
  const again = await new LoginBrowser().login(ssoStart(synapse), member, { until: backAtElement });
  if (again.outcome !== "redirected") return t.fail(`second login refused on ${again.page}: ${again.message}`);
  t.deepEqual(again.pages, ["login.ftl", "login-otp.ftl"]);
  t.is((await loginWithToken(synapse, again.url)).json.user_id, claire);
  t.deepEqual(await accounts(synapse), before, "no account was created by the logins");

  // Her password opens Keycloak, not Synapse: members have no Synapse password.
  const byPassword = await synapse.call(undefined, "POST", "/_matrix/client/v3/login", { type: "m.login.password", identifier: { type: "m.id.user", user: "claire.dubois" }, password: member.password });
  t.is(byPassword.status, 403, JSON.stringify(byPassword.json));
  t.is(byPassword.json.errcode, "M_FORBIDDEN");
});

test.serial("a member disabled at Keycloak cannot log into Synapse any more", async (t) => {
  t.timeout(600_000);
  const { synapse } = await servers();
  await signIn(keycloak!);
  const { userId, member } = await keycloakMember("karim.benali", { enrolled: false });
  const before = await new LoginBrowser().login(ssoStart(synapse), member, { until: backAtElement });
  if (before.outcome !== "redirected") return t.fail(`refused before being disabled, on ${before.page}: ${before.message}`);
  t.is((await loginWithToken(synapse, before.url)).json.user_id, matrixUserId("karim.benali", synapse.serverName));

  await signIn(keycloak!);
  await admin.users.update({ id: userId }, { enabled: false });
  const after = await new LoginBrowser().login(ssoStart(synapse), member, { until: backAtElement });
  t.like(after, { outcome: "refused", page: "login.ftl", message: "Account is disabled, contact your administrator." });
});

test.serial("someone Keycloak knows but the member list does not gets no Matrix account", async (t) => {
  t.timeout(600_000);
  const { synapse } = await servers();
  await signIn(keycloak!);
  const before = await accounts(synapse);
  const { member } = await keycloakMember("stranger", { enrolled: false });
  const result = await new LoginBrowser().login(ssoStart(synapse), member, { until: backAtElement });
  // Keycloak lets them in; Synapse then refuses to register them (enable_registration: false on the provider).
  // Synapse's sso_error.html with the MappingException of synapse/handlers/sso.py (registration_enabled false).
  t.like(result, { outcome: "refused", page: "http 400" });
  t.regex(result.outcome === "refused" ? result.message : result.url, /User does not exist and registrations are disabled/);
  t.deepEqual(await accounts(synapse), before);
});
