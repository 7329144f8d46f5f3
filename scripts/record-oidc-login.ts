// One whole member login into a real Nextcloud through a real Keycloak, as a browser makes it,
// recorded into test/contracts/recordings/nextcloud-34/oidc-login.json (no test can run
// Nextcloud: this is done once by hand, and the tests read what was seen).
//
//   NEXTCLOUD_URL=http://127.0.0.1:8480 OCC="runuser -u www-data -- php -d memory_limit=512M occ" \
//   OCC_CWD=/path/to/nextcloud node --import tsx scripts/record-oidc-login.ts
//   [KEYCLOAK_URL=http://127.0.0.1:PORT KEYCLOAK_ADMIN_PASSWORD=... to use a Keycloak already running]
//
// The Nextcloud must have user_oidc enabled (scripts/contracts-record.ts --scenario user-oidc
// leaves it so). The script starts the test Keycloak (test/support/keycloak.ts), makes the realm
// `bastide` with the confidential client `nextcloud` (standard flow, PKCE S256) and a member;
// on Nextcloud it makes the member's account first, as Bastide's provisioning does (with a
// random password nobody sees), points Bastide's provider at this Keycloak (the same occ
// options, another discovery URI), and sets the system config Bastide renders (oidc.ts) plus
// allow_local_remote_servers (Keycloak is on 127.0.0.1 here). Then it logs in: Nextcloud's /login,
// Keycloak's form, the code back to Nextcloud, and asks Nextcloud who is logged in. A second
// person, known to Keycloak and not to Nextcloud, must be refused (disable_account_creation).
// Every password here is a throw-away value made for this run; none is written.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { parse } from "node-html-parser";
import { startKeycloak } from "../test/support/keycloak.ts";
import { IDENTITY_REALM } from "../stacks/services/identity/blueprint.ts";
import { oidcProviderCommand, oidcSystemConfig, OIDC_CLIENT_ID, oidcRedirectPaths, USER_OIDC } from "../stacks/services/nextcloud/oidc.ts";
import { validateAssociation } from "../stacks/config/load.ts";
import { parse as parseYaml } from "yaml";
import { readFileSync } from "node:fs";

const NEXTCLOUD = process.env.NEXTCLOUD_URL ?? "http://127.0.0.1:8480";
const OCC = (process.env.OCC ?? "php occ").split(/\s+/);
const OCC_CWD = process.env.OCC_CWD;
const OUT = "test/contracts/recordings/nextcloud-34/oidc-login.json";

const secret = () => randomBytes(18).toString("base64url");
const member = { username: "lea.moreau", firstName: "Léa", lastName: "Moreau", email: "lea.moreau@example.org", password: secret() };
const stranger = { username: "not.provisioned", firstName: "Not", lastName: "Provisioned", email: "not.provisioned@example.org", password: secret() };
const clientSecret = secret();

function occ(args: string[], input = "", env: Record<string, string> = {}): Promise<{ exit: number; stdout: string; stderr: string }> {
  const [program, ...fixed] = OCC;
  return new Promise((resolve, reject) => {
    const child = spawn(program!, [...fixed, ...args], { cwd: OCC_CWD, env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c));
    child.stderr.on("data", (c: Buffer) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ exit: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

async function mustOcc(args: string[], input = "", env: Record<string, string> = {}) {
  const result = await occ(args, input, env);
  if (result.exit !== 0) throw new Error(`occ ${args.join(" ")}: exit ${result.exit}: ${result.stdout}${result.stderr}`);
  return result;
}

// --- a browser: one cookie jar (both servers are on 127.0.0.1), redirects followed by hand ---

interface Step {
  note: string;
  request: { method: string; path: string };
  response: { status: number; location?: string };
}

class Browser {
  readonly cookies = new Map<string, string>();
  readonly steps: Step[] = [];
  readonly hide: (text: string) => string;
  constructor(hide: (text: string) => string) {
    this.hide = hide;
  }

  async request(note: string, method: string, url: string, body?: URLSearchParams, headers: Record<string, string> = {}): Promise<Response> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const response = await fetch(url, {
      method,
      redirect: "manual",
      headers: { accept: "text/html,application/xhtml+xml", ...(cookie ? { cookie } : {}), ...headers },
      ...(body ? { body } : {}),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair!.indexOf("=");
      const [name, value] = [pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim()];
      if (value === "" || /deleted|Max-Age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const u = new URL(url);
    const location = response.headers.get("location") ?? undefined;
    this.steps.push({ note, request: { method, path: this.hide(`${u.origin === NEXTCLOUD ? "<nextcloud>" : "<keycloak>"}${u.pathname}${u.search}`) }, response: { status: response.status, ...(location ? { location: this.hide(location) } : {}) } });
    return response;
  }

  /** GET, following redirects (at most 10). */
  async follow(note: string, url: string): Promise<{ response: Response; url: string }> {
    let current = url;
    for (let hop = 0; hop < 10; hop++) {
      const response = await this.request(note, "GET", current);
      const location = response.headers.get("location");
      if (response.status < 300 || response.status >= 400 || !location) return { response, url: current };
      await response.arrayBuffer();
      current = new URL(location, current).href;
    }
    throw new Error(`${note}: more than 10 redirects`);
  }
}

async function login(browser: Browser, person: { username: string; password: string }): Promise<{ response: Response; url: string }> {
  const page = await browser.follow(`${person.username}: Nextcloud's login page`, `${NEXTCLOUD}/login`);
  const form = parse(await page.response.text()).querySelector("form#kc-form-login");
  if (!form) throw new Error(`no Keycloak login form at ${page.url} (HTTP ${page.response.status})`);
  const action = new URL(form.getAttribute("action")!, page.url).href;
  const posted = await browser.request(`${person.username}: Keycloak's form`, "POST", action, new URLSearchParams({ username: person.username, password: person.password, credentialId: "" }));
  const back = posted.headers.get("location");
  if (posted.status !== 302 || !back) throw new Error(`Keycloak did not send the browser back: HTTP ${posted.status}`);
  return browser.follow(`${person.username}: the code back to Nextcloud`, back);
}

/** The words of user_oidc's error page (templates/error.php), in the instance's language. */
function errorText(html: string): string {
  const page = parse(html.replace(/<noscript>[\s\S]*?<\/noscript>/g, ""));
  return (page.querySelector("body")?.textContent ?? "").replace(/\s+/g, " ").trim().slice(0, 300);
}

async function main() {
  const config = validateAssociation(parseYaml(readFileSync("examples/association.yaml", "utf8")), "examples/association.yaml");
  // A Keycloak already running (KEYCLOAK_URL, KEYCLOAK_ADMIN_PASSWORD; bootstrap admin "admin") when the
  // machine is too loaded for startKeycloak's 3 minutes; else the test one.
  const given = process.env.KEYCLOAK_URL;
  const keycloak = given
    ? { url: given, admin: { username: "admin", password: process.env.KEYCLOAK_ADMIN_PASSWORD ?? "" }, stop: async () => {} }
    : await startKeycloak();
  const hide = (text: string) =>
    text
      .replaceAll(keycloak.url, "<keycloak>")
      .replaceAll(encodeURIComponent(keycloak.url), "<keycloak>")
      .replaceAll(NEXTCLOUD, "<nextcloud>")
      .replaceAll(encodeURIComponent(NEXTCLOUD), "<nextcloud>")
      .replace(/([?&](state|nonce|code|code_challenge|session_state|session_code|execution|tab_id|client_data|iss)=)[^&]+/g, "$1<$2>");
  try {
    // Keycloak: realm, client, two people (the identity provisioner's job in Bastide; by hand here).
    const token = (
      (await fetch(`${keycloak.url}/realms/master/protocol/openid-connect/token`, {
        method: "POST",
        body: new URLSearchParams({ grant_type: "password", client_id: "admin-cli", username: keycloak.admin.username, password: keycloak.admin.password }),
      }).then((r) => r.json())) as { access_token: string }
    ).access_token;
    const admin = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${keycloak.url}/admin/realms${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      if (response.status >= 300) throw new Error(`Keycloak ${method} ${path}: HTTP ${response.status} ${await response.text()}`);
    };
    // A realm left by an earlier run against the same Keycloak goes first (its people have other passwords).
    await fetch(`${keycloak.url}/admin/realms/${IDENTITY_REALM}`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
    await admin("POST", "", { realm: IDENTITY_REALM, enabled: true });
    await admin("POST", `/${IDENTITY_REALM}/clients`, {
      clientId: OIDC_CLIENT_ID,
      protocol: "openid-connect",
      publicClient: false,
      secret: clientSecret,
      standardFlowEnabled: true,
      directAccessGrantsEnabled: false,
      implicitFlowEnabled: false,
      redirectUris: oidcRedirectPaths.map((path) => `${NEXTCLOUD}${path}`),
      attributes: { "pkce.code.challenge.method": "S256" },
    });
    for (const person of [member, stranger]) {
      const { password, ...profile } = person;
      await admin("POST", `/${IDENTITY_REALM}/users`, { ...profile, enabled: true, emailVerified: true, credentials: [{ type: "password", value: password, temporary: false }] });
    }

    // Nextcloud: the member's account as Bastide makes it, Bastide's provider pointed at this Keycloak.
    if ((await occ(["user:info", member.username, "--output=json"])).exit !== 0)
      await mustOcc(["user:add", "--password-from-env", "--display-name", `${member.firstName} ${member.lastName}`, member.username], "", { OC_PASS: secret() });
    await mustOcc(["config:system:set", "allow_local_remote_servers", "--value=true", "--type=boolean"]);
    // user_oidc refuses plain HTTP unless told (LoginController.php 121-126); Bastide's Nextcloud is
    // reached over HTTPS through the proxy (overwriteprotocol https), this one over http://127.0.0.1.
    await mustOcc(["config:app:set", USER_OIDC.app, "allow_insecure_http", "--value=1", "--type=boolean", "--lazy"]);
    for (const [key, value] of Object.entries(oidcSystemConfig())) {
      if (typeof value === "object" && value !== null && !Array.isArray(value)) {
        for (const [sub, v] of Object.entries(value)) await mustOcc(["config:system:set", key, sub, `--value=${v}`, "--type=boolean"]);
      } else await mustOcc(["config:system:set", key, `--value=${String(value)}`]);
    }
    const discovery = `${keycloak.url}/realms/${IDENTITY_REALM}/.well-known/openid-configuration`;
    const upsert = oidcProviderCommand(config).slice(2).map((word) => (word.startsWith("--discoveryuri=") ? `--discoveryuri=${discovery}` : word));
    await mustOcc(upsert, clientSecret);

    const browser = new Browser(hide);
    const landed = await login(browser, member);
    const who = await browser.request("lea.moreau: who Nextcloud says is logged in", "GET", `${NEXTCLOUD}/ocs/v2.php/cloud/user?format=json`, undefined, { "OCS-APIRequest": "true", accept: "application/json" });
    const id = ((await who.json()) as { ocs?: { data?: { id?: string } } }).ocs?.data?.id;
    const info = JSON.parse((await mustOcc(["user:info", member.username, "--output=json"])).stdout) as { backend: string; user_id: string };

    const strangerBrowser = new Browser(hide);
    const refused = await login(strangerBrowser, stranger);
    const refusedText = await refused.response.text();
    const strangerInNextcloud = (await occ(["user:info", stranger.username, "--output=json"])).exit === 0;

    const authorize = browser.steps.find((step) => step.request.path.includes("/protocol/openid-connect/auth?"))!.request.path;
    const outcome = {
      pkce: { codeChallengeMethod: new URLSearchParams(authorize.split("?")[1]).get("code_challenge_method") },
      member: { landedOn: hide(landed.url), status: landed.response.status, loggedInAs: id ?? null, account: { user_id: info.user_id, backend: info.backend } },
      notProvisioned: { status: refused.response.status, page: errorText(refusedText), accountCreated: strangerInNextcloud },
    };
    const text = `${JSON.stringify(
      {
        scenario: "oidc-login",
        server: `Nextcloud at ${NEXTCLOUD} with user_oidc ${USER_OIDC.version}, Keycloak (test/support/keycloak.ts)`,
        recorded: new Date().toISOString().slice(0, 10),
        description:
          "A member whose account Bastide made logs in through Keycloak (realm bastide, client nextcloud, PKCE S256): Nextcloud's /login, Keycloak's form, the code back. Then someone Keycloak knows and Nextcloud does not: refused, no account made.",
        outcome,
        steps: [...browser.steps, ...strangerBrowser.steps],
      },
      null,
      2,
    )}\n`;
    for (const value of [member.password, stranger.password, clientSecret, keycloak.admin.password]) if (text.includes(value)) throw new Error("a secret would be written");
    writeFileSync(OUT, text);
    console.log(JSON.stringify(outcome, null, 2));
  } finally {
    await keycloak.stop();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
