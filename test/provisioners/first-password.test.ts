// First passwords, set by the admin for one member and shown once on a terminal: one per
// service, each of which signs in. Nextcloud is the fake (it answers as a recorded
// Nextcloud 32), Jitsi a real Prosody started here. Synapse's reset_password admin API is
// not in the recordings and the fake does not serve it: a stand-in in front of the fake
// answers it as Synapse 1.67's ResetPasswordRestServlet does (its code and errors below)
// and passes everything else through, so the password it sets is checked by the fake's
// own login. The command itself runs under a pseudo-terminal (script), as an admin runs it.
import test from "ava";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { desiredState, MATRIX_BOT, matrixUserId } from "../../provisioners/desired.ts";
import { ProvisionError } from "../../provisioners/model.ts";
import {
  CREDENTIAL_ENV,
  credentialFromEnv,
  credentialsFromStackOutput,
  loadCredentials,
  pulumiStackOutput,
  STACK_OUTPUT_PATHS,
} from "../../provisioners/first-password/credentials.ts";
import { checkAccounts, formatPasswords, memberAccounts, setFirstPasswords } from "../../provisioners/first-password/passwords.ts";
import { createAccount, unusablePassword } from "../../provisioners/jitsi/accounts.ts";
import { createMatrixClient } from "../../provisioners/matrix/index.ts";
import { createNextcloudClient } from "../../provisioners/nextcloud/index.ts";
import { CallCounter } from "../../provisioners/runtime/http.ts";
import { XMPP, SECRETS as JITSI_SECRETS } from "../../stacks/services/jitsi/blueprint.ts";
import { MATRIX_SECRETS } from "../../stacks/services/matrix/blueprint.ts";
import { NEXTCLOUD_ADMIN_USER, NEXTCLOUD_SECRETS } from "../../stacks/services/nextcloud/blueprint.ts";
import { SECRETS as POLLS_SECRETS } from "../../stacks/services/polls/blueprint.ts";
import { IDENTITY_SECRETS } from "../../stacks/services/identity/blueprint.ts";
import { PROVISIONING_TOKEN } from "../../stacks/services/proxy/blueprint.ts";
import { SERVER_KEY_SECRET } from "../../stacks/services/vpn/blueprint.ts";
import { FakeServer, type FakeResponse } from "../fakes/fake-server.ts";
import { createFakeNextcloud, type FakeNextcloud } from "../fakes/nextcloud.ts";
import { createFakeSynapse, type FakeSynapse } from "../fakes/synapse.ts";
import { exampleAssociation, exampleInput } from "../support/association.ts";
import { deployedStackState, runCommand } from "../support/cli.ts";
import { signIn, startLocalProsody, type LocalProsody } from "../support/prosody.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Passwords per service exist without the identity provider (with it: test/identity/enrollment.test.ts). */
const example = exampleAssociation((input) => (input.services.identity = { enabled: false }));
const desired = desiredState(example);
const SERVER_NAME = desired.matrix!.serverName;
// Fake credentials, for tests only.
const NEXTCLOUD_PASSWORD = "fake-service-account-password";
const SHARED_SECRET = "fake-registration-shared-secret";
const TOKEN = "fake-provisioning-token";
const READABLE = /^[a-hjkmnp-z2-9]{5}(-[a-hjkmnp-z2-9]{5}){3}$/;

/**
 * `pulumi stack output --show-secrets --json serviceSecrets`, shaped as the stack exports it
 * (stacks/index.ts: each deployed service's generated secrets by name), with fake values.
 */
const STACK_OUTPUT_SAMPLE = `{
  "identity": {
    "admin-password": "fakeKeycloakAdmin",
    "db-password": "fakeKeycloakDb"
  },
  "jitsi": {
    "jicofo-auth-password": "fakeJicofo",
    "jvb-auth-password": "fakeJvb"
  },
  "matrix": {
    "db-password": "fakeMatrixDb",
    "form-secret": "fakeFormSecret",
    "macaroon-secret-key": "fakeMacaroon",
    "oidc-client": "fakeMatrixOidcClient",
    "registration-shared-secret": "${SHARED_SECRET}"
  },
  "nextcloud": {
    "admin-password": "${NEXTCLOUD_PASSWORD}",
    "db-password": "fakeNextcloudDb",
    "oidc-client": "fakeOidcClient",
    "redis-password": "fakeRedis"
  },
  "polls": {
    "db-password": "fakePollsDb",
    "db-root-password": "fakePollsRoot"
  },
  "proxy": {
    "provisioning-token": "${TOKEN}"
  },
  "vpn": {
    "server-key-seed": "fakeServerSeed"
  }
}
`;

// --- Synapse's reset_password, in front of the fake ---------------------------------------

interface ResetStandIn {
  url: string;
  server: FakeServer;
  /** reset_password calls that reached the point of setting a password. */
  resets: { userId: string; logoutDevices: boolean }[];
  /** Answer the next resets as a server with password changes disabled (403, set_password.py). */
  disablePasswordChange: boolean;
  /** The provisioning header of each admin API request (the proxy's token), "" when absent. */
  adminTokens: string[];
  stop(): Promise<void>;
}

const synapseError = (status: number, errcode: string, error: string): FakeResponse => ({
  status,
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ errcode, error }),
});

async function startResetStandIn(fake: FakeSynapse): Promise<ResetStandIn> {
  const forward = async (method: string, path: string, headers: Record<string, string>, body?: string): Promise<FakeResponse> => {
    const response = await fetch(`${fake.url}${path}`, { method, headers, ...(body !== undefined && method !== "GET" && method !== "HEAD" ? { body } : {}) });
    return { status: response.status, headers: { "Content-Type": response.headers.get("content-type") ?? "application/json" }, body: await response.text() };
  };
  const standIn: ResetStandIn = {
    url: "",
    server: undefined as unknown as FakeServer,
    resets: [],
    disablePasswordChange: false,
    adminTokens: [],
    stop: () => standIn.server.stop(),
  };
  standIn.server = new FakeServer(async (request) => {
    const headers: Record<string, string> = {};
    for (const name of ["authorization", "content-type"]) if (typeof request.headers[name] === "string") headers[name] = request.headers[name] as string;
    if (request.url.pathname.startsWith("/_synapse/admin/")) standIn.adminTokens.push(String(request.headers[PROVISIONING_TOKEN.header.toLowerCase()] ?? ""));
    const match = request.url.pathname.match(/^\/_synapse\/admin\/v1\/reset_password\/([^/]*)$/);
    if (!match || request.method !== "POST") return forward(request.method, request.path, headers, request.body);

    // ResetPasswordRestServlet.on_POST (synapse/rest/admin/users.py, 1.67):
    // get_user_by_req + assert_user_is_admin (401 / 403 as on every admin endpoint), then
    // UserID.from_string (400 M_INVALID_PARAM): the fake's admin user lookup answers those the same.
    const userId = decodeURIComponent(match[1]!);
    const lookup = await forward("GET", `/_synapse/admin/v2/users/${encodeURIComponent(userId)}`, headers);
    const lookupError = lookup.status === 200 ? undefined : (JSON.parse(lookup.body ?? "{}") as { errcode?: string });
    if (lookup.status === 401 || lookup.status === 403 || lookupError?.errcode === "M_INVALID_PARAM") return lookup;
    // parse_json_object_from_request, assert_params_in_dict(["new_password"]).
    let body: unknown;
    try {
      body = JSON.parse(request.body);
    } catch {
      return synapseError(400, "M_NOT_JSON", "Content not JSON.");
    }
    if (!body || typeof body !== "object" || Array.isArray(body)) return synapseError(400, "M_BAD_JSON", "Content must be a JSON object.");
    const params = body as { new_password?: unknown; logout_devices?: unknown };
    if (!("new_password" in params)) return synapseError(400, "M_MISSING_PARAM", "Missing params: ['new_password']");
    // SetPasswordHandler.set_password (synapse/handlers/set_password.py).
    if (standIn.disablePasswordChange) return synapseError(403, "M_FORBIDDEN", "Password change disabled");
    if (lookup.status !== 200) return synapseError(404, "M_NOT_FOUND", "Unknown user");
    const logoutDevices = params.logout_devices === undefined ? true : Boolean(params.logout_devices);
    const set = await forward("PUT", `/_synapse/admin/v2/users/${encodeURIComponent(userId)}`, { ...headers, "content-type": "application/json" }, JSON.stringify({ password: params.new_password, logout_devices: logoutDevices }));
    if (set.status !== 200) throw new Error(`stand-in: the fake refused to set the password: ${set.status} ${set.body}`);
    standIn.resets.push({ userId, logoutDevices });
    return { status: 200, headers: { "Content-Type": "application/json" }, body: "{}" };
  });
  standIn.url = await standIn.server.start();
  return standIn;
}

// --- the services, as `pulumi up` left them -------------------------------------------------

interface Services {
  nc: FakeNextcloud;
  synapse: FakeSynapse;
  matrix: ResetStandIn;
  stop(): Promise<void>;
}

/** Nextcloud and Synapse with the members' accounts created, and no password set. */
async function startServices(members = ["claire.dubois", "karim.benali", "lea.moreau", "tom.martin"]): Promise<Services> {
  const nc = await createFakeNextcloud({ users: { [NEXTCLOUD_ADMIN_USER]: NEXTCLOUD_PASSWORD }, admins: [NEXTCLOUD_ADMIN_USER] });
  const synapse = await createFakeSynapse({ serverName: SERVER_NAME, registrationSharedSecret: SHARED_SECRET });
  const matrix = await startResetStandIn(synapse);
  for (const id of members) {
    const member = example.members.find((m) => m.id === id)!;
    nc.addUser(id, { email: member.email, displayName: member.name });
    synapse.seedUser(id, { displayname: member.name });
  }
  return { nc, synapse, matrix, stop: async () => void (await Promise.all([nc.stop(), synapse.server.stop(), matrix.stop()])) };
}

async function nextcloudSignsIn(nc: FakeNextcloud, user: string, password: string): Promise<boolean> {
  const response = await fetch(`${nc.url}/ocs/v1.php/cloud/user?format=json`, {
    headers: { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`, "OCS-APIRequest": "true" },
  });
  return response.status === 200 && (await response.json()).ocs.data.id === user;
}

async function matrixSignsIn(url: string, localpart: string, password: string): Promise<boolean> {
  const response = await fetch(`${url}/_matrix/client/v3/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ type: "m.login.password", identifier: { type: "m.id.user", user: localpart }, password }),
  });
  return response.status === 200;
}

const clientsFor = (services: Services, counter?: CallCounter) => ({
  nextcloud: createNextcloudClient({ baseUrl: services.nc.url, user: NEXTCLOUD_ADMIN_USER, password: NEXTCLOUD_PASSWORD, ...(counter ? { counter } : {}) }),
  matrix: createMatrixClient({ baseUrl: services.matrix.url, registrationSharedSecret: SHARED_SECRET, serverName: SERVER_NAME, ...(counter ? { counter } : {}) }),
});

// --- the stand-in answers as Synapse documents it -------------------------------------------

test("the reset_password stand-in answers as Synapse 1.67 does: admin only, 404 for an unknown user, new_password required", async (t) => {
  const services = await startServices(["lea.moreau"]);
  try {
    const adminToken = services.synapse.seedUser("admin.of.server", { admin: true });
    const userToken = services.synapse.seedUser("not.an.admin");
    const post = async (userId: string, body: unknown, token?: string) => {
      const response = await fetch(`${services.matrix.url}/_synapse/admin/v1/reset_password/${encodeURIComponent(userId)}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      return { status: response.status, body: await response.json() };
    };
    const lea = matrixUserId("lea.moreau", SERVER_NAME);
    t.like(await post(lea, { new_password: "x" }), { status: 401, body: { errcode: "M_MISSING_TOKEN" } });
    t.like(await post(lea, { new_password: "x" }, userToken), { status: 403, body: { errcode: "M_FORBIDDEN", error: "You are not a server admin" } });
    t.deepEqual(await post(lea, {}, adminToken), { status: 400, body: { errcode: "M_MISSING_PARAM", error: "Missing params: ['new_password']" } });
    t.deepEqual(await post(lea, "{", adminToken), { status: 400, body: { errcode: "M_NOT_JSON", error: "Content not JSON." } });
    t.deepEqual(await post(matrixUserId("nobody", SERVER_NAME), { new_password: "x" }, adminToken), { status: 404, body: { errcode: "M_NOT_FOUND", error: "Unknown user" } });
    t.deepEqual(services.matrix.resets, []);
    t.deepEqual(await post(lea, { new_password: "a-new-password" }, adminToken), { status: 200, body: {} });
    t.deepEqual(services.matrix.resets, [{ userId: lea, logoutDevices: true }], "logout_devices defaults to true");
    t.true(await matrixSignsIn(services.synapse.url, "lea.moreau", "a-new-password"));
  } finally {
    await services.stop();
  }
});

// --- credentials ----------------------------------------------------------------------------

const NEEDS_BOTH = { nextcloud: true, matrix: true };
const neverPulumi = () => {
  throw new Error("pulumi must not run");
};

test("credentials: the sample has the stack's shape: each service's secrets by the names the blueprints give them", (t) => {
  const sample = JSON.parse(STACK_OUTPUT_SAMPLE) as Record<string, Record<string, string>>;
  const keys = (service: string) => Object.keys(sample[service]!).sort();
  t.deepEqual(keys("nextcloud"), Object.values(NEXTCLOUD_SECRETS).sort());
  t.deepEqual(keys("matrix"), Object.values(MATRIX_SECRETS).sort());
  t.deepEqual(keys("proxy"), [PROVISIONING_TOKEN.secret]);
  t.deepEqual(keys("vpn"), [SERVER_KEY_SECRET]);
  t.deepEqual(keys("jitsi"), Object.values(JITSI_SECRETS).sort());
  t.deepEqual(keys("polls"), Object.values(POLLS_SECRETS).sort());
  t.deepEqual(keys("identity"), Object.values(IDENTITY_SECRETS).sort());
  // identity: Keycloak's bootstrap administrator, IDENTITY_SECRETS.admin of the identity blueprint.
  t.deepEqual(STACK_OUTPUT_PATHS, { identityPassword: ["identity", "admin-password"], nextcloudPassword: ["nextcloud", "admin-password"], matrixSharedSecret: ["matrix", "registration-shared-secret"], provisioningToken: ["proxy", "provisioning-token"] });
});

test("credentials: from `pulumi stack output` when the environment holds none", (t) => {
  let calls = 0;
  const credentials = loadCredentials(NEEDS_BOTH, { env: {}, stackOutput: () => (calls++, STACK_OUTPUT_SAMPLE) });
  t.deepEqual(credentials, {
    nextcloud: { user: NEXTCLOUD_ADMIN_USER, password: NEXTCLOUD_PASSWORD },
    matrix: { registrationSharedSecret: SHARED_SECRET },
    provisioningToken: TOKEN,
  });
  t.is(calls, 1);
  t.deepEqual(credentialsFromStackOutput(STACK_OUTPUT_SAMPLE), { identityPassword: "fakeKeycloakAdmin", nextcloudPassword: NEXTCLOUD_PASSWORD, matrixSharedSecret: SHARED_SECRET, provisioningToken: TOKEN });
  // Only what the member's services need: Nextcloud's provisioning API is VPN-only at the proxy
  // too (stacks/services/nextcloud/blueprint.ts ADMIN_PATHS), so its run carries the token.
  t.deepEqual(loadCredentials({ nextcloud: true, matrix: false }, { env: {}, stackOutput: () => STACK_OUTPUT_SAMPLE }), {
    nextcloud: { user: NEXTCLOUD_ADMIN_USER, password: NEXTCLOUD_PASSWORD },
    provisioningToken: TOKEN,
  });
});

test("credentials: the environment first; Pulumi is not run when it holds what is needed", (t) => {
  const env = { [CREDENTIAL_ENV.nextcloudPassword]: "from-env-nc", [CREDENTIAL_ENV.matrixSharedSecret]: "from-env-secret", [CREDENTIAL_ENV.provisioningToken]: "from-env-token" };
  t.deepEqual(loadCredentials(NEEDS_BOTH, { env, stackOutput: neverPulumi }), {
    nextcloud: { user: NEXTCLOUD_ADMIN_USER, password: "from-env-nc" },
    matrix: { registrationSharedSecret: "from-env-secret" },
    provisioningToken: "from-env-token",
  });
  // The token alone is optional (the VPN opens the admin API too): never a reason to run Pulumi.
  const { [CREDENTIAL_ENV.provisioningToken]: _token, ...withoutToken } = env;
  t.deepEqual(loadCredentials(NEEDS_BOTH, { env: withoutToken, stackOutput: neverPulumi }), {
    nextcloud: { user: NEXTCLOUD_ADMIN_USER, password: "from-env-nc" },
    matrix: { registrationSharedSecret: "from-env-secret" },
  });
  // Part from each: the environment's value wins.
  t.deepEqual(loadCredentials(NEEDS_BOTH, { env: { [CREDENTIAL_ENV.nextcloudPassword]: "from-env-nc" }, stackOutput: () => STACK_OUTPUT_SAMPLE }), {
    nextcloud: { user: NEXTCLOUD_ADMIN_USER, password: "from-env-nc" },
    matrix: { registrationSharedSecret: SHARED_SECRET },
    provisioningToken: TOKEN,
  });
});

test("credentials: without Pulumi and without the variables, the error names both ways; a secret is never quoted", (t) => {
  const missing = t.throws(() => loadCredentials(NEEDS_BOTH, { env: {}, stackOutput: () => undefined }));
  t.regex(missing.message, /BASTIDE_NEXTCLOUD_PASSWORD \(serviceSecrets\.nextcloud\.admin-password\), BASTIDE_MATRIX_SHARED_SECRET/);
  t.regex(missing.message, /the Pulumi CLI is not installed/);
  const failing = t.throws(() =>
    loadCredentials(NEEDS_BOTH, {
      env: {},
      stackOutput: () => {
        throw new Error("pulumi stack output failed (exit 255): error: no stack named 'dev' found");
      },
    }),
  );
  t.regex(failing.message, /no stack named 'dev' found/);
  const garbled = t.throws(() => loadCredentials(NEEDS_BOTH, { env: {}, stackOutput: () => `not json ${NEXTCLOUD_PASSWORD}` }));
  t.false(garbled.message.includes(NEXTCLOUD_PASSWORD));
  t.regex(garbled.message, /did not print JSON/);
});

/** A `pulumi` that records its arguments and prints `stdout` (or fails): the real CLI cannot run here. */
function fakePulumi(dir: string, behaviour: { stdout?: string; exit?: number; stderr?: string }): string {
  const program = join(dir, "pulumi");
  const payload = join(dir, "payload.json");
  writeFileSync(payload, behaviour.stdout ?? "");
  writeFileSync(
    program,
    `#!/bin/sh\nprintf '%s\\n' "$PWD" "$@" > "${join(dir, "args")}"\nprintf '%s\\n' "$PULUMI_BACKEND_URL" "$PULUMI_CONFIG_PASSPHRASE_FILE" "\${PULUMI_CONFIG_PASSPHRASE-passphrase variable unset}" > "${join(dir, "pulumi-env")}"\ncat "${payload}"\n${behaviour.stderr ? `echo '${behaviour.stderr}' >&2\n` : ""}exit ${behaviour.exit ?? 0}\n`,
  );
  chmodSync(program, 0o755);
  return program;
}

test("credentials: the Pulumi command asked, in the project folder, for the admin's stack (local) or the one named, with its backend and passphrase file", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "bastide-pulumi-"));
  try {
    const env = { ...deployedStackState(dir, "local"), PATH: process.env.PATH };
    deployedStackState(dir, "prod");
    const pulumi = fakePulumi(dir, { stdout: STACK_OUTPUT_SAMPLE });
    t.is(pulumiStackOutput({ cwd: ROOT, pulumi, env }), STACK_OUTPUT_SAMPLE);
    t.deepEqual(readFileSync(join(dir, "args"), "utf8").trim().split("\n"), [ROOT.replace(/\/$/, ""), "stack", "output", "--show-secrets", "--json", "serviceSecrets", "--stack", "local"]);
    t.deepEqual(readFileSync(join(dir, "pulumi-env"), "utf8").trim().split("\n"), [`file://${env.BASTIDE_STATE_DIR}/pulumi`, `${env.BASTIDE_STATE_DIR}/passphrase`, "passphrase variable unset"]);
    pulumiStackOutput({ cwd: ROOT, pulumi, stack: "prod", env: { ...env, PULUMI_CONFIG_PASSPHRASE: "another" } });
    t.deepEqual(readFileSync(join(dir, "args"), "utf8").trim().split("\n").slice(-2), ["--stack", "prod"]);
    t.is(readFileSync(join(dir, "pulumi-env"), "utf8").trim().split("\n")[2], "passphrase variable unset");

    t.is(pulumiStackOutput({ cwd: ROOT, pulumi: join(dir, "not-installed"), env }), undefined);
    const failing = fakePulumi(dir, { exit: 255, stderr: "error: no stack named dev found" });
    t.throws(() => pulumiStackOutput({ cwd: ROOT, pulumi: failing, env }), { message: "pulumi stack output failed (exit 255): error: no stack named dev found" });
    // A stack never deployed here: said before Pulumi runs, with what to do.
    t.throws(() => pulumiStackOutput({ cwd: ROOT, pulumi, stack: "dev", env }), { message: /The stack "dev" has no state in .*bastide-state\/pulumi\. Deploy it first with npm run deploy -- path\/to\/association\.yaml/ });
    t.throws(() => pulumiStackOutput({ cwd: ROOT, pulumi, env: { BASTIDE_STATE_DIR: join(dir, "nothing") }, language: "fr" }), { message: /^Aucune pile Bastide sur cette machine : .*nothing\/passphrase n'existe pas/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("credentials: the Nextcloud password's former variable is still read, with a line giving its new name", (t) => {
  const lines: string[] = [];
  t.is(credentialFromEnv({ BASTIDE_NEXTCLOUD_ADMIN_PASSWORD: "old-name" }, "nextcloudPassword", (line) => lines.push(line)), "old-name");
  t.deepEqual(lines, ["BASTIDE_NEXTCLOUD_ADMIN_PASSWORD is now called BASTIDE_NEXTCLOUD_PASSWORD; the old name is read until the next release."]);
  t.is(credentialFromEnv({ BASTIDE_NEXTCLOUD_PASSWORD: "new", BASTIDE_NEXTCLOUD_ADMIN_PASSWORD: "old-name" }, "nextcloudPassword", (line) => lines.push(line)), "new");
  t.is(lines.length, 1);
  t.is(credentialFromEnv({}, "nextcloudPassword", (line) => lines.push(line)), undefined);
});

// --- which accounts ---------------------------------------------------------------------------

test("a volunteer has Nextcloud and Matrix passwords, staff Jitsi too; --only picks, and says why it cannot", (t) => {
  t.deepEqual(memberAccounts(example, desired, "lea.moreau"), {
    member: "lea.moreau",
    name: "Léa Moreau",
    nextcloud: { username: "lea.moreau", url: "https://cloud.jardins-canal.localhost/login" },
    matrix: { userId: "@lea.moreau:matrix.jardins-canal.localhost", url: "https://chat.jardins-canal.localhost" },
  });
  t.deepEqual(memberAccounts(example, desired, "karim.benali").jitsi, { username: "karim.benali", domain: XMPP.domain, url: "https://visio.jardins-canal.localhost" });
  t.deepEqual(Object.keys(memberAccounts(example, desired, "karim.benali", ["jitsi"])), ["member", "name", "jitsi"]);
  const volunteer = t.throws(() => memberAccounts(example, desired, "lea.moreau", ["jitsi"]), { instanceOf: ProvisionError });
  t.regex(volunteer.message, /jitsi \(member lea\.moreau\): only members with role admin or staff/);
  t.throws(() => memberAccounts(example, desired, "nobody.here"), { message: /nobody\.here is not a member in the config/ });
  const noMatrix = exampleAssociation((input) => {
    input.services.matrix = { enabled: false };
  });
  t.throws(() => memberAccounts(noMatrix, desiredState(noMatrix), "lea.moreau", ["matrix"]), { message: /matrix \(member lea\.moreau\): Matrix is not enabled/ });
});

// --- against the services ----------------------------------------------------------------------

let prosody: Promise<LocalProsody> | undefined;
test.after.always(async () => {
  if (prosody) await (await prosody.catch(() => undefined))?.stop();
});

test("a staff member gets three passwords, one per service, each of which signs in; their devices stay signed in", async (t) => {
  const services = await startServices();
  const server = await (prosody ??= startLocalProsody(XMPP.domain));
  try {
    const jitsi = { commands: server.commands };
    t.is(await createAccount(jitsi, "karim.benali", XMPP.domain, unusablePassword()), "created");
    const karim = matrixUserId("karim.benali", SERVER_NAME);
    const phoneToken = services.synapse.seedUser("karim.benali"); // signed in on a phone before: kept
    const counter = new CallCounter();
    const clients = { ...clientsFor(services, counter), jitsi };
    const accounts = memberAccounts(example, desired, "karim.benali");
    try {
      await checkAccounts(accounts, clients);
      const result = await setFirstPasswords(accounts, clients);
      t.deepEqual(result.failed, []);
      t.deepEqual(result.handed.map((h) => [h.service, h.login]), [["nextcloud", "karim.benali"], ["matrix", karim], ["jitsi", "karim.benali"]]);
      const [nextcloud, matrix, meet] = result.handed.map((h) => h.password);
      for (const password of [nextcloud, matrix, meet]) t.regex(password!, READABLE);
      t.is(new Set([nextcloud, matrix, meet]).size, 3, "a password per service");

      t.true(await nextcloudSignsIn(services.nc, "karim.benali", nextcloud!));
      t.false(await nextcloudSignsIn(services.nc, "karim.benali", matrix!));
      t.is(services.nc.user("karim.benali")!.passwordSets, 1);
      t.true(await matrixSignsIn(services.synapse.url, "karim.benali", matrix!));
      t.deepEqual(services.matrix.resets, [{ userId: karim, logoutDevices: false }]);
      t.true(services.synapse.tokensOf(karim).includes(phoneToken), "logout_devices: false keeps the member's sessions (and their keys)");
      const session = await signIn({ port: server.port, domain: XMPP.domain, username: "karim.benali", password: meet! });
      t.true(session.ok);
      if (session.ok) session.session.close();

      // What the admin reads: every password once, how to hand them over, nothing else.
      const text = formatPasswords(accounts, result);
      for (const password of [nextcloud, matrix, meet]) t.is(text.split(password!).length - 1, 1);
      t.regex(text, /Nextcloud: https:\/\/cloud\.jardins-canal\.localhost\/login\n    user name  karim\.benali\n    password   /);
      t.regex(text, /in person or over an end-to-end encrypted chat, never by e-mail/);
      // No password travelled in a URL.
      t.false(counter.calls.some((c) => [nextcloud, matrix].some((p) => c.path.includes(p!))));
    } finally {
      await clients.matrix.close();
    }
  } finally {
    await services.stop();
  }
});

test("nothing changes for a member whose account is missing or disabled: every account is read before any write", async (t) => {
  const services = await startServices(["lea.moreau"]);
  try {
    // Tom has no Nextcloud account yet (no `pulumi up` since he was added).
    services.synapse.seedUser("tom.martin");
    const clients = clientsFor(services);
    try {
      const tom = memberAccounts(example, desired, "tom.martin");
      await t.throwsAsync(() => checkAccounts(tom, clients), { instanceOf: ProvisionError, message: /^nextcloud \(member tom\.martin\): tom\.martin has no account yet: run `pulumi up` first/ });
      services.nc.addUser("tom.martin", { enabled: false });
      await t.throwsAsync(() => checkAccounts(tom, clients), { message: /^nextcloud \(member tom\.martin\): the account tom\.martin is disabled/ });
      // Claire's Matrix account was deactivated.
      services.nc.addUser("claire.dubois", {});
      services.synapse.seedUser("claire.dubois");
      services.synapse.users.get(matrixUserId("claire.dubois", SERVER_NAME))!.deactivated = true;
      await t.throwsAsync(() => checkAccounts(memberAccounts(example, desired, "claire.dubois", ["nextcloud", "matrix"]), clients), {
        message: /^matrix \(member claire\.dubois\): the account @claire\.dubois:matrix\.jardins-canal\.localhost is deactivated/,
      });
      t.is(services.nc.server.writes(), 0);
      t.deepEqual(services.matrix.resets, []);
      t.is(services.nc.user("tom.martin")!.passwordSets, 0);
    } finally {
      await clients.matrix.close();
    }
  } finally {
    await services.stop();
  }
});

test("when one service refuses, the passwords set elsewhere are still shown, with the failure", async (t) => {
  const services = await startServices(["lea.moreau"]);
  try {
    services.matrix.disablePasswordChange = true;
    const clients = clientsFor(services);
    const accounts = memberAccounts(example, desired, "lea.moreau");
    try {
      const result = await setFirstPasswords(accounts, clients);
      t.deepEqual(result.handed.map((h) => h.service), ["nextcloud"]);
      t.true(await nextcloudSignsIn(services.nc, "lea.moreau", result.handed[0]!.password));
      t.is(result.failed.length, 1);
      t.is(result.failed[0]!.message, "matrix (member lea.moreau): Synapse refused the new password: M_FORBIDDEN: Password change disabled");
      const text = formatPasswords(accounts, result);
      t.regex(text, /NOT SET: matrix \(member lea\.moreau\): Synapse refused/);
      t.true(text.includes(result.handed[0]!.password));
    } finally {
      await clients.matrix.close();
    }
  } finally {
    await services.stop();
  }
});

// --- the command, as the admin runs it -----------------------------------------------------------

/** `npm run first-password -- ...`'s program, on a pseudo-terminal when `tty`. */
const firstPasswordCli = (args: string[], options: { tty: boolean; env: Record<string, string> }) => runCommand("provisioners/first-password/cli.ts", args, options);

/** The passwords as shown, by service title. */
function shownPasswords(output: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const match of output.replaceAll("\r", "").matchAll(/^ {2}(Nextcloud|Element \(Matrix\)|Jitsi Meet): \S+\n {4}.+\n {4}password {3}(\S+)$/gm)) found[match[1]!] = match[2]!;
  return found;
}

/**
 * The example with the identity provider off: the per-service passwords these tests are about
 * (with it on, the command enrolls through Keycloak: test/identity/enrollment.test.ts).
 */
function perServiceConfig(dir: string): string {
  const file = join(dir, "association.yaml");
  const input = exampleInput();
  input.services = { ...input.services, identity: { enabled: false } };
  writeFileSync(file, stringify(input));
  return file;
}

function cliEnvironment(services: Services, dir: string, credentials: "env" | "pulumi", pulumi: { stdout?: string; exit?: number; stderr?: string } = { exit: 99, stderr: "pulumi must not run" }) {
  fakePulumi(dir, pulumi);
  return {
    PATH: `${dir}:${process.env.PATH}`,
    BASTIDE_NEXTCLOUD_URL: services.nc.url,
    BASTIDE_MATRIX_URL: services.matrix.url,
    ...deployedStackState(dir, "dev"),
    ...(credentials === "env" ? { [CREDENTIAL_ENV.nextcloudPassword]: NEXTCLOUD_PASSWORD, [CREDENTIAL_ENV.matrixSharedSecret]: SHARED_SECRET } : {}),
  };
}

test("the command shows the passwords on a terminal only: piped, it refuses and nothing is read or changed", async (t) => {
  const services = await startServices(["lea.moreau"]);
  const dir = mkdtempSync(join(tmpdir(), "bastide-first-password-"));
  try {
    const piped = await firstPasswordCli(["lea.moreau", perServiceConfig(dir)], { tty: false, env: cliEnvironment(services, dir, "env") });
    t.is(piped.status, 2);
    t.is(piped.stdout, "");
    // The example association speaks French.
    t.regex(piped.output, /n'affiche les mots de passe que sur un terminal.*Rien n'a été modifié/);
    t.deepEqual(services.nc.server.log, []);
    t.deepEqual(services.matrix.server.log, []);
    t.is(services.nc.user("lea.moreau")!.passwordSets, 0);
    const usage = await firstPasswordCli([], { tty: false, env: {} });
    t.is(usage.status, 2);
    t.regex(usage.output, /usage: npm run first-password -- <member id>/);
    t.regex((await firstPasswordCli(["lea.moreau", perServiceConfig(dir), "--only", "mail"], { tty: false, env: {} })).output, /--only takes nextcloud, matrix, jitsi \(comma-separated\), not mail/);
  } finally {
    await services.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("on a terminal: a password per service, shown once, each signs in; the bot's session is closed", async (t) => {
  const services = await startServices(["lea.moreau"]);
  const dir = mkdtempSync(join(tmpdir(), "bastide-first-password-"));
  try {
    const shown = await firstPasswordCli(["lea.moreau", perServiceConfig(dir)], { tty: true, env: cliEnvironment(services, dir, "env") });
    t.is(shown.status, 0, shown.output);
    const passwords = shownPasswords(shown.output);
    t.deepEqual(Object.keys(passwords), ["Nextcloud", "Element (Matrix)"]);
    t.true(await nextcloudSignsIn(services.nc, "lea.moreau", passwords.Nextcloud!));
    t.true(await matrixSignsIn(services.synapse.url, "lea.moreau", passwords["Element (Matrix)"]!));
    t.not(passwords.Nextcloud, passwords["Element (Matrix)"]);
    t.regex(shown.output, /Temporary passwords for Léa Moreau \(lea\.moreau\), one per service/);
    t.deepEqual(services.synapse.tokensOf(matrixUserId(MATRIX_BOT, SERVER_NAME)), [], "the bot signed out");
    t.deepEqual([...new Set(services.matrix.adminTokens)], [""], "no token in the environment: none sent (from the VPN, the proxy needs none)");

    // --only replaces just the one asked for: the Nextcloud password Léa chose stays.
    const again = await firstPasswordCli(["lea.moreau", perServiceConfig(dir), "--only", "matrix"], { tty: true, env: cliEnvironment(services, dir, "env") });
    t.is(again.status, 0, again.output);
    t.deepEqual(Object.keys(shownPasswords(again.output)), ["Element (Matrix)"]);
    t.is(services.nc.user("lea.moreau")!.passwordSets, 1);
    t.true(await nextcloudSignsIn(services.nc, "lea.moreau", passwords.Nextcloud!));
    t.false(await matrixSignsIn(services.synapse.url, "lea.moreau", passwords["Element (Matrix)"]!));
  } finally {
    await services.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("on a terminal, with the credentials from `pulumi stack output` of the named stack", async (t) => {
  const services = await startServices(["lea.moreau"]);
  const dir = mkdtempSync(join(tmpdir(), "bastide-first-password-"));
  try {
    const env = cliEnvironment(services, dir, "pulumi", { stdout: STACK_OUTPUT_SAMPLE });
    const shown = await firstPasswordCli(["lea.moreau", perServiceConfig(dir), "--stack", "dev"], { tty: true, env });
    t.is(shown.status, 0, shown.output);
    t.deepEqual(readFileSync(join(dir, "args"), "utf8").trim().split("\n").slice(1), ["stack", "output", "--show-secrets", "--json", "serviceSecrets", "--stack", "dev"]);
    t.true(await nextcloudSignsIn(services.nc, "lea.moreau", shownPasswords(shown.output).Nextcloud!));
    // The proxy's token went with every admin API call (the proxy lets those through off the VPN).
    t.true(services.matrix.adminTokens.length > 0);
    t.deepEqual([...new Set(services.matrix.adminTokens)], [TOKEN]);
    t.false(shown.output.includes(TOKEN) || shown.output.includes(SHARED_SECRET) || shown.output.includes(NEXTCLOUD_PASSWORD));

    // A member whose account does not exist yet: refused, nothing set anywhere.
    services.synapse.seedUser("tom.martin");
    const before = services.nc.server.writes();
    const refused = await firstPasswordCli(["tom.martin", perServiceConfig(dir), "--stack", "dev"], { tty: true, env });
    t.is(refused.status, 1);
    t.regex(refused.output, /nextcloud \(member tom\.martin\): tom\.martin has no account yet: run `pulumi up` first/);
    t.deepEqual(shownPasswords(refused.output), {});
    t.is(services.nc.server.writes(), before);
    t.deepEqual(services.matrix.resets.map((r) => r.userId), ["@lea.moreau:matrix.jardins-canal.localhost"]);
  } finally {
    await services.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
