// Two-factor by role, through Keycloak 26.7.3's own login pages (test/support/keycloak-login.ts
// drives them over HTTP like a browser): a member whose role requires a second factor cannot
// end a login with the password alone, not even after deleting their authenticator; a member
// whose role relaxes it logs in with the password, and is asked for a code once they have one.
// The tokens carry the claims the services read.
import test from "ava";
import { randomBytes } from "node:crypto";
import { desiredState, type DesiredState } from "../../provisioners/desired.ts";
import { BROWSER_FLOW } from "../../provisioners/identity/desired.ts";
import { enrollMembers } from "../../provisioners/identity/enroll.ts";
import { createIdentityClient, identityProvisioner } from "../../provisioners/identity/index.ts";
import { converge } from "../../provisioners/model.ts";
import { exampleAssociation } from "../support/association.ts";
import { CLIENT_SECRETS_FOR_TESTS, startKeycloak, type RealKeycloak } from "../support/keycloak.ts";
import { authorizationRequest, LoginBrowser, type LoginMember } from "../support/keycloak-login.ts";

const SECRETS = CLIENT_SECRETS_FOR_TESTS;
const NO_DEPARTURES = { disable: [], erase: [], enable: [] };

let keycloak: RealKeycloak;
let desired: DesiredState;

/** A realm of this file's own, named apart from the others the server may hold. */
const REALM = "two-factor";
const client = () => createIdentityClient({ baseUrl: keycloak.url, realm: REALM, admin: keycloak.admin, clientSecrets: SECRETS });

test.before(async (t) => {
  t.timeout(300_000);
  keycloak = await startKeycloak();
  const config = exampleAssociation((input) => {
    input.services = { ...input.services, identity: { twoFactor: { volunteer: { required: false, relaxedBecause: "Volunteers only read the garden's planning." } } } };
  });
  const state = desiredState(config);
  desired = { ...state, identity: { ...state.identity!, realm: REALM }, departures: NO_DEPARTURES };
  const result = await converge(identityProvisioner, desired, client(), { concurrency: 4 });
  if (result.failed.length > 0) throw new Error(result.failed.map((f) => f.error.message).join("\n"));
});

test.after.always(async () => {
  await keycloak?.stop();
});

const matrixClient = () => desired.identity!.clients.find((c) => c.clientId === "matrix")!;
const redirectUri = () => matrixClient().redirectUris[0]!;

/** A member with the temporary password enrollment gives them, and the one they will choose. */
async function enrolled(username: string): Promise<LoginMember> {
  const user = desired.identity!.users.find((u) => u.username === username)!;
  const { enrolled: [handed] } = await enrollMembers(client(), [user], { byMail: false, minimumLength: 12 });
  // Not containing the id: the realm's notContainsUsername policy would refuse it.
  return { username, password: handed!.temporaryPassword!, newPassword: `a long passphrase ${randomBytes(6).toString("hex")}` };
}

/** A login to the matrix client, with PKCE, from a fresh browser. */
async function login(member: LoginMember) {
  const request = authorizationRequest(`${keycloak.url}/realms/${REALM}`, { clientId: "matrix", redirectUri: redirectUri() });
  const result = await new LoginBrowser().login(request.url, member, { until: (url) => url.startsWith(redirectUri()) });
  return { ...result, request };
}

async function deleteSecondFactors(username: string): Promise<void> {
  const c = client();
  const [user] = await c.json("GET", c.path(`/users?${new URLSearchParams({ username, exact: "true" })}`));
  const credentials = (await c.json("GET", c.path(`/users/${user.id}/credentials`))) as { id: string; type: string }[];
  for (const credential of credentials.filter((cr) => cr.type === "otp")) await c.json("DELETE", c.path(`/users/${user.id}/credentials/${credential.id}`));
}

test.serial("an administrator sets a password and a second factor at the first login, and cannot log in without a code, even after deleting it", async (t) => {
  t.timeout(240_000);
  const claire = await enrolled("claire.dubois");
  const first = await login(claire);
  t.is(first.outcome, "redirected");
  // Required actions run by their priority (CONFIGURE_TOTP 10 before UPDATE_PASSWORD 30, the realm's defaults).
  t.deepEqual(first.pages, ["login.ftl", "login-config-totp.ftl", "login-update-password.ftl"]);
  t.truthy(claire.totpSecret);

  // With her authenticator: the password page, then the code.
  const second = await login({ ...claire });
  t.deepEqual(second.pages, ["login.ftl", "login-otp.ftl"]);
  t.is(second.outcome, "redirected");

  // Without her code, the password alone ends nowhere: the driver is asked for a code it has not got.
  await t.throwsAsync(login({ username: claire.username, password: claire.password }), { message: /asks claire\.dubois for a one-time code/ });

  // She deletes her authenticator: Keycloak makes her set up a new one before the login ends.
  await deleteSecondFactors("claire.dubois");
  const again = await login({ username: claire.username, password: claire.password });
  t.deepEqual(again.pages, ["login.ftl", "login-config-totp.ftl"]);
  t.is(again.outcome, "redirected");
});

test.serial("with Keycloak's own browser flow, the same member would get in with the password alone once her authenticator is gone", async (t) => {
  t.timeout(240_000);
  // What Bastide's flow prevents: bound to the built-in "browser" flow for this one test.
  const c = client();
  const karim = await enrolled("karim.benali");
  t.deepEqual((await login(karim)).pages, ["login.ftl", "login-config-totp.ftl", "login-update-password.ftl"]);
  await deleteSecondFactors("karim.benali");
  await c.json("PUT", c.path(), { body: { browserFlow: "browser" } });
  try {
    const weak = await login({ username: karim.username, password: karim.password });
    t.deepEqual(weak.pages, ["login.ftl"], "Keycloak's default asks a code only from who has one");
  } finally {
    await c.json("PUT", c.path(), { body: { browserFlow: BROWSER_FLOW } });
  }
  const guarded = await login({ username: karim.username, password: karim.password });
  t.deepEqual(guarded.pages, ["login.ftl", "login-config-totp.ftl"]);
});

test.serial("a volunteer, whose role relaxes it, logs in with the password; once they add a code it is asked", async (t) => {
  t.timeout(240_000);
  const lea = await enrolled("lea.moreau");
  const first = await login(lea);
  t.deepEqual(first.pages, ["login.ftl", "login-update-password.ftl"]);
  t.is(first.outcome, "redirected");

  // She adds an authenticator of her own accord (the required action an account page would set).
  const c = client();
  const [user] = await c.json("GET", c.path(`/users?${new URLSearchParams({ username: "lea.moreau", exact: "true", briefRepresentation: "false" })}`));
  await c.json("PUT", c.path(`/users/${user.id}`), { body: { ...user, requiredActions: ["CONFIGURE_TOTP"] } });
  t.deepEqual((await login(lea)).pages, ["login.ftl", "login-config-totp.ftl"]);
  t.deepEqual((await login(lea)).pages, ["login.ftl", "login-otp.ftl"]);
});

test.serial("the tokens carry the member id, e-mail, name and teams the services read", async (t) => {
  t.timeout(240_000);
  const tom = await enrolled("tom.martin");
  const { outcome, request, ...result } = await login(tom);
  t.is(outcome, "redirected");
  const code = new URL((result as { url: string }).url).searchParams.get("code")!;
  const response = await fetch(`${keycloak.url}/realms/${REALM}/protocol/openid-connect/token`, {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from(`matrix:${SECRETS.matrix}`).toString("base64")}` },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: redirectUri(), code_verifier: request.verifier }),
  });
  const tokens = (await response.json()) as { id_token: string };
  t.is(response.status, 200, JSON.stringify(tokens));
  const claims = JSON.parse(Buffer.from(tokens.id_token.split(".")[1]!, "base64url").toString("utf8"));
  t.like(claims, { iss: `${keycloak.url}/realms/${REALM}`, aud: "matrix", preferred_username: "tom.martin", email: "tom.martin@jardins-canal.localhost", name: "Tom Martin" });
  t.deepEqual([...claims.groups].sort(), ["evenements", "potager"]);

  // PKCE is required: the same flow without a code challenge is refused.
  const bare = new URL(request.url);
  bare.searchParams.delete("code_challenge");
  bare.searchParams.delete("code_challenge_method");
  const refused = await fetch(bare, { redirect: "manual" });
  t.regex(decodeURIComponent(refused.headers.get("location") ?? ""), /error=invalid_request&error_description=Missing\+parameter:\+code_challenge_method/);
});

test.serial("the realm's password policy refuses a new password that contains the member id, or is shorter than the file's minimum", async (t) => {
  t.timeout(240_000);
  const withId = await enrolled("tom.martin");
  const refused = await login({ ...withId, newPassword: "tom.martin-in-the-garden-2026" });
  t.like(refused, { outcome: "refused", page: "login-update-password.ftl" });
  const short = await login({ ...(await enrolled("tom.martin")), newPassword: "Short-1" });
  t.like(short, { outcome: "refused", page: "login-update-password.ftl" });
  t.regex((short as { message: string }).message, /12/);
});
