// The login driver against the real Keycloak 26.7.3: a member with a temporary password and the
// two required actions Bastide gives (UPDATE_PASSWORD, CONFIGURE_TOTP) enrolls through the real
// pages, then logs in again with the password and a one-time code; the authorization code the
// driver brings back is redeemed at the real token endpoint. Wrong answers and a disabled
// account are refused by the pages. The realm is set up here with Keycloak's admin client.
import test from "ava";
import KcAdminClient from "@keycloak/keycloak-admin-client";
import { startKeycloak, type RealKeycloak } from "../support/keycloak.ts";
import { authorizationRequest, LoginBrowser, type LoginMember } from "../support/keycloak-login.ts";

const REALM = "bastide";
// Never fetched: the driver stops at the relying party's redirect.
const REDIRECT = "http://127.0.0.1:9/callback";
const CLIENT = { clientId: "test-app", redirectUri: REDIRECT };
const CLIENT_SECRET = "test-only-client-secret";

let keycloak: RealKeycloak | undefined;
let admin: KcAdminClient;

/** The master realm's admin token lives 60 s: a fresh one for each test; calls then go to the test realm. */
async function signIn(server: RealKeycloak) {
  admin.setConfig({ realmName: "master" });
  await admin.auth({ grantType: "password", clientId: "admin-cli", username: server.admin.username, password: server.admin.password });
  admin.setConfig({ realmName: REALM });
}

let setUp: Promise<RealKeycloak> | undefined;

/** One Keycloak for the file, with the test realm and client; started once even if a test fails. */
async function ready(t: { timeout(ms: number): void }) {
  // Two cores shared with other tests: Keycloak's start and its password hashing are slow here.
  t.timeout(420_000);
  setUp ??= (async () => {
    keycloak = await startKeycloak();
    admin = new KcAdminClient({ baseUrl: keycloak.url, realmName: "master" });
    await signIn(keycloak);
    await admin.realms.create({ realm: REALM, enabled: true });
    await admin.clients.create({
      clientId: CLIENT.clientId,
      secret: CLIENT_SECRET,
      publicClient: false,
      standardFlowEnabled: true,
      directAccessGrantsEnabled: false,
      redirectUris: [REDIRECT],
      attributes: { "pkce.code.challenge.method": "S256" },
    });
    return keycloak;
  })();
  const server = await setUp;
  await signIn(server);
  return server;
}

/** A member as Bastide hands them over: a temporary password, a new one and TOTP to set at first login. */
async function newMember(username: string): Promise<{ id: string; member: LoginMember }> {
  const temporary = `temporary-${username}-Aa1!`;
  const { id } = await admin.users.create({
    username,
    email: `${username}@example.org`,
    firstName: username,
    lastName: "Test",
    emailVerified: true,
    enabled: true,
    requiredActions: ["UPDATE_PASSWORD", "CONFIGURE_TOTP"],
    credentials: [{ type: "password", value: temporary, temporary: true }],
  });
  return { id, member: { username, password: temporary, newPassword: `chosen by ${username}, long enough` } };
}

const issuer = () => `${keycloak!.url}/realms/${REALM}`;
const atRedirect = (url: string) => url.startsWith(REDIRECT);

/** Redeems the code as the relying party would; Keycloak checks the PKCE verifier. */
async function redeem(url: string, verifier: string) {
  const code = new URL(url).searchParams.get("code");
  const response = await fetch(`${issuer()}/protocol/openid-connect/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "authorization_code", code: code ?? "", redirect_uri: REDIRECT, client_id: CLIENT.clientId, client_secret: CLIENT_SECRET, code_verifier: verifier }),
  });
  const json = (await response.json()) as { access_token?: string; id_token?: string; error?: string };
  if (!json.id_token) throw new Error(`no token for the code: ${JSON.stringify(json)}`);
  return JSON.parse(Buffer.from(json.id_token.split(".")[1] ?? "", "base64url").toString()) as { preferred_username: string; email: string };
}

test.after.always(async () => {
  await keycloak?.stop();
});

test.serial("a member enrolls (new password, TOTP read from the page) then logs in with password and code", async (t) => {
  await ready(t);
  const { member } = await newMember("alice");
  const first = authorizationRequest(issuer(), CLIENT);
  const started = Date.now();
  const enrolled = await new LoginBrowser().login(first.url, member, { until: atRedirect });
  t.log(`enrollment through the pages: ${Date.now() - started} ms`);
  if (enrolled.outcome !== "redirected") return t.fail(`enrollment refused on ${enrolled.page}: ${enrolled.message}\n${keycloak!.log().slice(-2000)}`);
  // Keycloak runs the required actions in its own priority order (the realm's required-actions
  // list: CONFIGURE_TOTP before UPDATE_PASSWORD), not in the order the user's list gives them.
  t.deepEqual(enrolled.pages, ["login.ftl", "login-config-totp.ftl", "login-update-password.ftl"]);
  t.is(new URL(enrolled.url).searchParams.get("state"), first.state);
  t.is((await redeem(enrolled.url, first.verifier)).preferred_username, "alice");
  t.is(member.password, "chosen by alice, long enough");
  t.regex(member.totpSecret ?? "", /^[A-Z2-7]+=*$/);

  // A new browser (no session cookie): password, then the one-time code.
  const second = authorizationRequest(issuer(), CLIENT);
  const again = await new LoginBrowser().login(second.url, member, { until: atRedirect });
  if (again.outcome !== "redirected") return t.fail(`second login refused on ${again.page}: ${again.message}`);
  t.deepEqual(again.pages, ["login.ftl", "login-otp.ftl"]);
  t.is((await redeem(again.url, second.verifier)).email, "alice@example.org");
});

test.serial("a wrong password, a wrong code and a disabled account are refused by the pages", async (t) => {
  await ready(t);
  const { id, member } = await newMember("bob");
  const enrolled = await new LoginBrowser().login(authorizationRequest(issuer(), CLIENT).url, member, { until: atRedirect });
  t.is(enrolled.outcome, "redirected");

  const wrongPassword = await new LoginBrowser().login(authorizationRequest(issuer(), CLIENT).url, { ...member, password: "not the password at all" }, { until: atRedirect });
  t.like(wrongPassword, { outcome: "refused", page: "login.ftl", message: "Invalid username or password." });

  // A valid Base32 key that is not bob's: its codes are wrong for him.
  const wrongCode = await new LoginBrowser().login(authorizationRequest(issuer(), CLIENT).url, { ...member, totpSecret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" }, { until: atRedirect });
  t.like(wrongCode, { outcome: "refused", page: "login-otp.ftl", message: "Invalid authenticator code." });

  await admin.users.update({ id }, { enabled: false });
  const disabled = await new LoginBrowser().login(authorizationRequest(issuer(), CLIENT).url, member, { until: atRedirect });
  t.like(disabled, { outcome: "refused", page: "login.ftl", message: "Account is disabled, contact your administrator." });
});
