// Staff open a meeting with the one login, against the real Keycloak 26.7.3: the identity
// provisioner makes the example's realm (the meeting page's client, the meeting key, the hosts'
// room claim); Bastide's meeting page (stacks/services/jitsi/login.ts, run here in a V8 context
// with the browser objects it uses) starts the login, a member goes through Keycloak's own
// pages, and the page redeems the code and sends the browser to the room with the token.
// Prosody is not here (no Jitsi token plugin can run in CI): the token is judged by Prosody's
// checks as its sources write them (test/support/prosody-token.ts).
import test from "ava";
import { randomBytes } from "node:crypto";
import vm from "node:vm";
import { parse } from "node-html-parser";
import { desiredState, type DesiredState } from "../../provisioners/desired.ts";
import { enrollMembers } from "../../provisioners/identity/enroll.ts";
import { createIdentityClient, identityProvisioner } from "../../provisioners/identity/index.ts";
import { converge } from "../../provisioners/model.ts";
import { CallCounter } from "../../provisioners/runtime/http.ts";
import type { Association } from "../../stacks/config/schema.ts";
import { hostnames } from "../../stacks/services/hosts.ts";
import { MEETING_LOGIN, meetingLoginPage, meetingLoginRedirect } from "../../stacks/services/jitsi/login.ts";
import { exampleAssociation } from "../support/association.ts";
import { CLIENT_SECRETS_FOR_TESTS, startKeycloak, type RealKeycloak } from "../support/keycloak.ts";
import { LoginBrowser, type LoginMember } from "../support/keycloak-login.ts";
import { prosodyVerdict } from "../support/prosody-token.ts";

const REALM = "meetings";
const NO_DEPARTURES = { disable: [], erase: [], enable: [] };
const config = exampleAssociation();
const MEET = `https://${hostnames(config).meet}`;
const REDIRECT = meetingLoginRedirect(hostnames(config).meet);

let keycloak: RealKeycloak;
const issuer = () => `${keycloak.url}/realms/${REALM}`;

const desiredFor = (association: Association): DesiredState => {
  const state = desiredState(association);
  return { ...state, identity: { ...state.identity!, realm: REALM }, departures: NO_DEPARTURES };
};

const clientWith = (secrets: Record<string, string> = CLIENT_SECRETS_FOR_TESTS, counter = new CallCounter()) =>
  createIdentityClient({ baseUrl: keycloak.url, realm: REALM, admin: keycloak.admin, clientSecrets: secrets, counter });

async function provision(association: Association, secrets?: Record<string, string>) {
  const counter = new CallCounter();
  const result = await converge(identityProvisioner, desiredFor(association), clientWith(secrets, counter), { concurrency: 4 });
  if (result.failed.length > 0) throw new Error(result.failed.map((f) => f.error.message).join("\n"));
  return { ...result, counter };
}

test.before(async (t) => {
  t.timeout(300_000);
  keycloak = await startKeycloak();
  await provision(config);
});

test.after.always(async () => {
  await keycloak?.stop();
});

const members = new Map<string, LoginMember>();

/**
 * A member with the temporary password the enrollment hands over, and the one they will choose;
 * the same member later on (the driver keeps their chosen password and their TOTP key).
 */
async function enrolled(username: string): Promise<LoginMember> {
  const known = members.get(username);
  if (known) return known;
  const user = desiredFor(config).identity!.users.find((u) => u.username === username)!;
  const { enrolled: [handed] } = await enrollMembers(clientWith(), [user], { byMail: false, minimumLength: 12 });
  const member = { username, password: handed!.temporaryPassword!, newPassword: `a long passphrase ${randomBytes(6).toString("hex")}` };
  members.set(username, member);
  return member;
}

interface PageRun {
  /** Where the page sent the browser (location.replace), if it did. */
  to?: string;
  /** What the page shows. */
  status: string;
  /** The token endpoint's CORS answer, when the page called it. */
  allowedOrigin?: string | null;
}

/**
 * Runs the page's script at `search`, as a browser at https://visio…/static/bastide-login.html
 * would: `storage` is the tab's sessionStorage, kept between the two legs; fetch is the real
 * one, with the Origin header a browser adds to a cross-origin POST.
 */
async function runPage(search: string, storage: Map<string, string>): Promise<PageRun> {
  const html = meetingLoginPage(config, hostnames(config).meet, issuer());
  const script = parse(html).querySelector("script")!.textContent;
  const status = { textContent: "" };
  const run: PageRun = { status: "" };
  let settle!: () => void;
  const done = new Promise<void>((resolve) => (settle = resolve));
  const context = vm.createContext({
    location: { search, replace: (url: string) => ((run.to = url), settle()) },
    sessionStorage: { getItem: (k: string) => storage.get(k) ?? null, setItem: (k: string, v: string) => void storage.set(k, v), removeItem: (k: string) => void storage.delete(k) },
    document: { getElementById: (id: string) => (id === "status" ? status : null) },
    fetch: async (url: string, init: RequestInit) => {
      const response = await fetch(url, { ...init, headers: { origin: MEET } });
      run.allowedOrigin = response.headers.get("access-control-allow-origin");
      return response;
    },
    crypto: globalThis.crypto,
    TextEncoder,
    URL,
    URLSearchParams,
    btoa,
  });
  vm.runInContext(script, context);
  // The page ends by leaving (location.replace) or by saying why it cannot.
  await Promise.race([done, new Promise<void>((resolve) => setTimeout(resolve, 10_000))]);
  run.status = status.textContent;
  return run;
}

/** The web app's state for "I am the host" in room `room` (jitsi-meet _getTokenAuthState). */
const hostState = (room: string) => `?state=${encodeURIComponent(JSON.stringify({ room, roomSafe: room, tenant: "", "config.startWithAudioMuted": true, "config.localSubject": "" }))}`;

/** The whole way in: the page, Keycloak's pages, the page again; returns where the browser lands. */
async function openMeeting(member: LoginMember, room: string, browser = new LoginBrowser()) {
  const storage = new Map<string, string>();
  const first = await runPage(hostState(room), storage);
  if (!first.to) throw new Error(`the page did not start the login: ${first.status}`);
  const login = await browser.login(first.to, member, { until: (url) => url.startsWith(REDIRECT) });
  if (login.outcome !== "redirected") throw new Error(`${member.username} was refused at ${login.page}: ${login.message}`);
  const second = await runPage(new URL(login.url).search, storage);
  return { first, login, second };
}

const tokenOf = (landing: string) => new URL(landing, MEET).searchParams.get("jwt")!;
const judge = (token: string, room: string, appSecret: string = CLIENT_SECRETS_FOR_TESTS.jitsi) => prosodyVerdict(token, { appSecret, acceptedIssuers: [issuer()], room });

test.serial("a host goes from the meeting page through the one login (password, second factor) to the room, with a token Prosody accepts", async (t) => {
  t.timeout(240_000);
  const karim = await enrolled("karim.benali");
  const { first, login, second } = await openMeeting(karim, "Conseil-Mardi");

  // The page's first leg: an authorization-code request with PKCE for the meeting client, to this realm.
  const request = new URL(first.to!);
  t.is(`${request.origin}${request.pathname}`, `${issuer()}/protocol/openid-connect/auth`);
  t.like(Object.fromEntries(request.searchParams), { client_id: MEETING_LOGIN.clientId, redirect_uri: REDIRECT, response_type: "code", code_challenge_method: "S256" });
  // Staff must enrol a second factor: the one login's own pages, as for Nextcloud and Element.
  t.deepEqual(login.pages, ["login.ftl", "login-config-totp.ftl", "login-update-password.ftl"]);

  // The second leg: the code redeemed from the meeting's origin, then the room with the token and the web app's options.
  t.is(second.allowedOrigin, MEET, "Keycloak lets the meeting page's origin read the token");
  const landing = new URL(second.to!, MEET);
  t.is(landing.pathname, "/Conseil-Mardi");
  t.is(landing.hash, `#${encodeURIComponent("config.startWithAudioMuted")}=true&${encodeURIComponent("config.localSubject")}=${encodeURIComponent('""')}`);

  const verdict = judge(tokenOf(second.to!), "conseil-mardi");
  if (!verdict.accepted) return t.fail(`Prosody would refuse: ${verdict.reason}`);
  t.like(verdict.header, { typ: "JWT", alg: "HS256" });
  t.like(verdict.claims, { iss: issuer(), room: "*", context: { user: { id: "karim.benali", name: "Karim" } } });
  t.is(verdict.claims.exp - verdict.claims.iat, MEETING_LOGIN.tokenLifetimeSeconds);
  t.true([verdict.claims.aud].flat().includes(MEETING_LOGIN.clientId));
  // Nothing else about the member travels in the meeting's address.
  for (const claim of ["email", "name", "groups", "preferred_username", "given_name", "family_name", "realm_access"]) t.false(claim in verdict.claims, claim);
  // Any room: hosts open the room they want.
  t.true(judge(tokenOf(second.to!), "autre-salle").accepted);
});

test.serial("a volunteer can log in, but Prosody refuses their token: no room claim, so they join as a guest", async (t) => {
  t.timeout(240_000);
  const lea = await enrolled("lea.moreau");
  const { second } = await openMeeting(lea, "conseil-mardi");
  const verdict = judge(tokenOf(second.to!), "conseil-mardi");
  t.deepEqual(verdict, { accepted: false, reason: "'room' claim is missing" });
});

test.serial("a token signed by any other key of the realm, or with an old secret, opens nothing", async (t) => {
  t.timeout(240_000);
  const claire = await enrolled("claire.dubois");
  const { second } = await openMeeting(claire, "bureau");
  const token = tokenOf(second.to!);
  t.true(judge(token, "bureau").accepted);
  t.deepEqual(judge(token, "bureau", "another-secret-of-64-characters-another-secret-of-64-characters"), { accepted: false, reason: "Invalid signature" });
  t.deepEqual(prosodyVerdict(token, { appSecret: CLIENT_SECRETS_FOR_TESTS.jitsi, acceptedIssuers: ["https://elsewhere.example/realms/bastide"], room: "bureau" }), { accepted: false, reason: "Invalid issuer ('iss' claim)" });
  t.deepEqual(prosodyVerdict(token, { appSecret: CLIENT_SECRETS_FOR_TESTS.jitsi, acceptedIssuers: [issuer()], room: "bureau", now: new Date(Date.now() + (MEETING_LOGIN.tokenLifetimeSeconds + 1) * 1000) }), { accepted: false, reason: "Not acceptable by exp" });
});

test.serial("an unchanged re-run writes nothing; a new secret replaces the key; a host who becomes a volunteer loses the room claim", async (t) => {
  t.timeout(300_000);
  const again = await provision(config);
  t.deepEqual(again.planned.map((c) => `${c.kind} ${c.subject}`), []);
  t.is(again.counter.writes("identity"), 0);

  const rotated = { ...CLIENT_SECRETS_FOR_TESTS, jitsi: `rotated${CLIENT_SECRETS_FOR_TESTS.jitsi.slice("rotated".length)}` };
  const rotation = await provision(config, rotated);
  t.deepEqual(rotation.planned.map((c) => c.kind).sort(), ["key.create", "key.delete"]);
  const karim = await enrolled("karim.benali");
  const token = tokenOf((await openMeeting(karim, "bureau")).second.to!);
  t.true(judge(token, "bureau", rotated.jitsi).accepted, "signed with the new secret");
  t.deepEqual(judge(token, "bureau"), { accepted: false, reason: "Invalid signature" }, "not with the former one");
  t.deepEqual((await provision(config, rotated)).planned, [], "and that holds on the next run");

  const demoted = exampleAssociation((input) => {
    // (Volunteers get no VPN access: the file refuses devices for them.)
    for (const m of input.members) if (m.id === "karim.benali") Object.assign(m, { role: "volunteer", devices: [] });
  });
  const demotion = await provision(demoted, rotated);
  t.deepEqual(demotion.planned.map((c) => `${c.kind} ${c.subject}`), ["user.update user karim.benali"]);
  const volunteer = await enrolled("karim.benali");
  const after = tokenOf((await openMeeting(volunteer, "bureau")).second.to!);
  t.deepEqual(judge(after, "bureau", rotated.jitsi), { accepted: false, reason: "'room' claim is missing" });
  // Back to the example's secret for any later test.
  await provision(config);
});
