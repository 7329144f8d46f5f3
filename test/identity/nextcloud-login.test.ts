// Nextcloud's side of the one login, as the real programs did it: a member logging into the
// real Nextcloud 34.0.1 with user_oidc 8.10.1, configured by Bastide's own occ commands,
// through the real Keycloak 26.7.3 (test/contracts/recordings/nextcloud-34/oidc-login.json,
// made by scripts/record-oidc-login.ts; no Nextcloud can run in CI). What Nextcloud sent is
// checked against the client Bastide registers at Keycloak: a redirect URI Keycloak did not
// list exactly, or a PKCE method other than the one the client requires, and Keycloak
// would refuse every member's login.
import test from "ava";
import { desiredState } from "../../provisioners/desired.ts";
import { clientRepresentation } from "../../provisioners/identity/plan.ts";
import { hostnames } from "../../stacks/services/hosts.ts";
import { OIDC_CLIENT_ID, OIDC_SCOPE } from "../../stacks/services/nextcloud/oidc.ts";
import { IDENTITY_REALM } from "../../stacks/services/identity/blueprint.ts";
import { loadRecording } from "../fakes/recorded-nextcloud.ts";
import { exampleAssociation } from "../support/association.ts";

interface Step {
  note: string;
  request: { method: string; path: string };
  response: { status: number; location?: string };
}
interface OidcLogin {
  outcome: {
    pkce: { codeChallengeMethod: string };
    member: { landedOn: string; status: number; loggedInAs: string | null; account: { user_id: string; backend: string } };
    notProvisioned: { status: number; page: string; accountCreated: boolean };
  };
  steps: Step[];
}

const recorded = loadRecording("oidc-login") as unknown as OidcLogin;
const config = exampleAssociation();
const cloud = `https://${hostnames(config).cloud}`;
const registered = clientRepresentation(desiredState(config).identity!.clients.find((c) => c.clientId === OIDC_CLIENT_ID)!);

/** The authorization request Nextcloud sent the member's browser to, with the recording's placeholders. */
function authorization(who: string): URLSearchParams {
  const step = recorded.steps.find((s) => s.note.startsWith(who) && s.response.location?.includes("/protocol/openid-connect/auth?"));
  if (!step) throw new Error(`no redirect to Keycloak for ${who} in oidc-login.json`);
  return new URL(step.response.location!.replace("<keycloak>", "https://keycloak.invalid")).searchParams;
}

test("the redirect URI the real Nextcloud sent is one Bastide's Keycloak client lists, exactly", (t) => {
  const sent = authorization("lea.moreau").get("redirect_uri")!.replace("<nextcloud>", cloud);
  t.true(registered.redirectUris!.includes(sent), `${sent} not in ${registered.redirectUris!.join(", ")}`);
});

test("Nextcloud asks for Bastide's client, realm and scopes, with the PKCE method the client requires", (t) => {
  const sent = authorization("lea.moreau");
  t.is(sent.get("client_id"), OIDC_CLIENT_ID);
  t.is(sent.get("scope"), OIDC_SCOPE);
  t.is(sent.get("code_challenge_method"), recorded.outcome.pkce.codeChallengeMethod);
  t.is(registered.attributes!["pkce.code.challenge.method"], recorded.outcome.pkce.codeChallengeMethod);
  const toKeycloak = recorded.steps.find((s) => s.response.location?.includes("/protocol/openid-connect/auth?"))!;
  t.true(toKeycloak.response.location!.startsWith(`<keycloak>/realms/${IDENTITY_REALM}/`));
});

test("Nextcloud's login page goes straight to the provider, and the member lands in the account Bastide made", (t) => {
  const [first] = recorded.steps;
  t.like(first, { request: { method: "GET", path: "<nextcloud>/login" }, response: { status: 302 } });
  t.regex(first!.response.location!, /\/apps\/user_oidc\/login\/\d+$/);
  t.like(recorded.outcome.member, { status: 200, loggedInAs: "lea.moreau", account: { user_id: "lea.moreau", backend: "Database" } });
});

test("someone Keycloak knows and Bastide did not provision gets no Nextcloud account", (t) => {
  t.like(recorded.outcome.notProvisioned, { status: 400, accountCreated: false });
  t.regex(recorded.outcome.notProvisioned.page, /Impossible de provisionner l'utilisateur/);
});
