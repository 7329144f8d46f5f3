// `npm run contracts:record -- --nextcloud URL --occ "COMMAND"`: records what a real
// Nextcloud answers to every call Bastide makes, with Bastide's own clients, into
// test/contracts/recordings/nextcloud-<major>/ (the fakes and the provisioner tests replay them).
//
// The server must be freshly installed, its install admin being the service account
// (NEXTCLOUD_USER, `_bastide` when unset) in `admin`, with its login password in
// NEXTCLOUD_PASSWORD (read from the environment only, never from the command line).
// --occ is how to run `occ` on that server, e.g. "runuser -u www-data -- php -d
// memory_limit=512M occ" with --occ-cwd /path/to/nextcloud; --occ-low-memory the same
// with the PHP memory limit below Nextcloud's recommended 512M (e.g. 256M), which makes
// every occ call print a warning on standard error.
//
// Every HTTP exchange goes through a local capturing proxy; every occ call through a
// runner that keeps its exit code, standard output and standard error. Volatile values
// are replaced by the placeholders test/fakes/replay.ts knows (<timestamp>, <etag>, ...)
// and credentials by `Basic <service>` (login password) or `Basic <service:app-password>`.
// No secret is written: the recorder checks each file for the passwords it knows.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parse } from "yaml";
import { validateAssociation } from "../stacks/config/load.ts";
import { desiredState, type DesiredState } from "../provisioners/desired.ts";
import { converge } from "../provisioners/model.ts";
import { CallCounter } from "../provisioners/runtime/http.ts";
import { createNextcloudClient, nextcloudProvisioner } from "../provisioners/nextcloud/index.ts";
import { listUserIds, createUser, deleteUser, updateUser } from "../provisioners/nextcloud/client.ts";
import { calendarsProvisioner, createCalDavClient } from "../provisioners/calendars/index.ts";
import { convergeNextcloudSettings } from "../provisioners/nextcloud-settings/provisioner.ts";
import { readNextcloudApi } from "../policies/audit/nextcloud.ts";
import { commandLine, type OccRunner, type CommandResult } from "../provisioners/nextcloud-settings/occ.ts";
import { USER_OIDC } from "../stacks/services/nextcloud/oidc.ts";

const { values } = parseArgs({
  options: {
    nextcloud: { type: "string" },
    occ: { type: "string" },
    "occ-cwd": { type: "string" },
    "occ-low-memory": { type: "string" },
    out: { type: "string" },
    config: { type: "string", default: "examples/association.yaml" },
    /** Only this scenario, on the server as it is (e.g. user-oidc, on a fresh server with apps/user_oidc in place). */
    scenario: { type: "string" },
  },
});

const USAGE = 'usage: NEXTCLOUD_PASSWORD=... npm run contracts:record -- --nextcloud http://127.0.0.1:8480 --occ "php occ" [--occ-cwd DIR] [--occ-low-memory "php -d memory_limit=256M occ"] [--out DIR]';

// ---------------------------------------------------------------------------------------
// What a recording holds (the shape test/fakes/replay.ts reads)

interface HttpRecord {
  note?: string;
  request: { method: string; path: string; headers: Record<string, string>; body: string | null };
  response: { status: number; headers: Record<string, string>; body: string };
}

interface CommandRecord {
  note?: string;
  /** What occ read on its standard input (a secret is shown as its placeholder). */
  stdin?: string;
  command: string;
  exit: number;
  stdout: string;
  stderr: string;
}

type Exchange = HttpRecord | CommandRecord;

/** Request headers Bastide's clients send that say something about the call. */
const REQUEST_HEADERS = ["authorization", "content-type", "ocs-apirequest", "depth", "accept"];
/** Response headers kept (test/fakes/replay.ts compares these; absent means absent). */
const RESPONSE_HEADERS = ["content-type", "location", "content-location", "retry-after", "www-authenticate", "x-sabre-status", "etag", "oc-etag", "allow"];

const HEADER_NAMES: Record<string, string> = {
  authorization: "Authorization",
  "content-type": "Content-Type",
  "ocs-apirequest": "OCS-APIRequest",
  depth: "Depth",
  accept: "Accept",
  location: "Location",
  "content-location": "Content-Location",
  "retry-after": "Retry-After",
  "www-authenticate": "WWW-Authenticate",
  "x-sabre-status": "X-Sabre-Status",
  etag: "ETag",
  "oc-etag": "OC-ETag",
  allow: "Allow",
};

class Recorder {
  exchanges: Exchange[] = [];
  note: string | undefined;
  /** Secret text → what the recording says instead. */
  readonly secrets = new Map<string, string>();

  readonly dataDir: string | undefined;

  constructor(dataDir: string | undefined) {
    this.dataDir = dataDir;
  }

  /** Replaces secrets and volatile values in any recorded text. */
  clean(text: string): string {
    let out = text;
    for (const [secret, shown] of this.secrets) out = out.split(secret).join(shown);
    if (this.dataDir) out = out.split(this.dataDir).join("<datadir>").split(this.dataDir.replaceAll("/", "\\/")).join("<datadir>");
    return out
      .replace(/"(lastLogin|lastLoginTimestamp|firstLoginTimestamp|last_seen|backend_capabilities_timestamp)":\s*\d+/g, '"$1":"<timestamp>"')
      .replace(/"(free|used|total)":\s*-?\d+(\.\d+)?/g, '"$1":"<bytes>"')
      .replace(/"relative":\s*-?\d+(\.\d+)?/g, '"relative":"<bytes>"')
      .replace(/<d:getetag>[^<]*<\/d:getetag>/g, "<d:getetag>&lt;etag&gt;</d:getetag>")
      .replace(/<d:getlastmodified>[^<]*<\/d:getlastmodified>/g, "<d:getlastmodified>&lt;date&gt;</d:getlastmodified>");
  }

  push(exchange: Exchange): void {
    this.exchanges.push(this.note ? { note: this.note, ...exchange } : exchange);
  }

  take(): Exchange[] {
    const taken = this.exchanges;
    this.exchanges = [];
    this.note = undefined;
    return taken;
  }
}

// ---------------------------------------------------------------------------------------
// The capturing proxy

const readBody = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });

function startProxy(target: string, recorder: Recorder): Promise<{ url: string; server: Server }> {
  const server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value === undefined || ["host", "connection", "content-length", "transfer-encoding"].includes(name)) continue;
        headers[name] = Array.isArray(value) ? value.join(", ") : value;
      }
      const index = recorder.exchanges.length;
      recorder.exchanges.push(undefined as unknown as Exchange); // keeps arrival order
      const note = recorder.note;
      const answer = await fetch(new URL(req.url ?? "/", target), {
        method: req.method,
        headers,
        body: body.length > 0 ? new Uint8Array(body) : undefined,
        redirect: "manual",
      });
      const text = await answer.text();
      const requestHeaders: Record<string, string> = {};
      for (const name of REQUEST_HEADERS) if (headers[name] !== undefined) requestHeaders[HEADER_NAMES[name]!] = recorder.clean(headers[name]);
      const responseHeaders: Record<string, string> = {};
      for (const name of RESPONSE_HEADERS) {
        const value = answer.headers.get(name);
        if (value !== null) responseHeaders[HEADER_NAMES[name]!] = name.includes("etag") ? "<etag>" : recorder.clean(value);
      }
      recorder.exchanges[index] = {
        ...(note ? { note } : {}),
        request: { method: req.method ?? "GET", path: req.url ?? "/", headers: requestHeaders, body: body.length > 0 ? recorder.clean(body.toString("utf8")) : null },
        response: { status: answer.status, headers: responseHeaders, body: recorder.clean(text) },
      };
      const out: Record<string, string> = {};
      answer.headers.forEach((value, name) => {
        if (!["content-encoding", "content-length", "transfer-encoding", "connection"].includes(name)) out[name] = value;
      });
      res.writeHead(answer.status, out);
      res.end(text);
    } catch (error) {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(`recorder proxy: ${(error as Error).message}`);
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server })));
}

// ---------------------------------------------------------------------------------------
// occ, recorded

function runCommand(occCommand: string, args: readonly string[], cwd: string | undefined, env: Record<string, string> = {}, input?: string): Promise<CommandResult> {
  const [program, ...fixed] = occCommand.split(/\s+/).filter(Boolean);
  return new Promise((resolve, reject) => {
    const child = spawn(program!, [...fixed, ...args], { cwd, stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...env } });
    child.stdin.end(input ?? "");
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => resolve({ exitCode: code ?? -1, stdout, stderr }));
  });
}

/** An OccRunner that runs `php occ ARGS` as `occCommand ARGS` and records each call. */
function recordedOcc(occCommand: string, cwd: string | undefined, recorder: Recorder): OccRunner {
  return {
    where: "the recording server",
    async run(argv, input) {
      const result = await runCommand(occCommand, argv.slice(2), cwd, {}, input);
      recorder.push({
        ...(input !== undefined ? { stdin: recorder.clean(input) } : {}),
        command: recorder.clean(commandLine(argv)),
        exit: result.exitCode,
        stdout: recorder.clean(result.stdout),
        stderr: recorder.clean(result.stderr),
      });
      return result;
    },
  };
}

// ---------------------------------------------------------------------------------------
// Scenarios

interface Context {
  proxyUrl: string;
  user: string;
  password: string;
  desired: DesiredState;
  occ: OccRunner;
  occCommand: string;
  occCwd: string | undefined;
  lowMemoryOcc: OccRunner | undefined;
  recorder: Recorder;
  server: string;
  out: string;
}

function write(ctx: Context, scenario: string, description: string, exchanges: Exchange[]): void {
  const file = join(ctx.out, `${scenario}.json`);
  const text = `${JSON.stringify({ scenario, server: ctx.server, recorded: new Date().toISOString().slice(0, 10), description, exchanges }, null, 2)}\n`;
  for (const secret of ctx.recorder.secrets.keys()) if (text.includes(secret)) throw new Error(`${scenario}: a secret would be written`);
  writeFileSync(file, text);
  console.log(`${file}: ${exchanges.length} exchanges`);
}

const clients = (ctx: Context, counter: CallCounter, password = ctx.password) => ({
  nextcloud: createNextcloudClient({ baseUrl: ctx.proxyUrl, user: ctx.user, password, counter, concurrency: 4 }),
  calendars: createCalDavClient({ baseUrl: ctx.proxyUrl, user: ctx.user, password, counter, concurrency: 4 }),
});

/** One full provisioning pass as `pulumi up` runs it: settings, accounts, calendars. Failures are recorded, not thrown. */
async function provisioningRun(ctx: Context, counter: CallCounter): Promise<string[]> {
  const { nextcloud, calendars } = clients(ctx, counter);
  const failures: string[] = [];
  const options = { concurrency: 4 };
  const step = async (name: string, run: () => Promise<{ failed: { error: Error }[] }>) => {
    ctx.recorder.note = name;
    try {
      failures.push(...(await run()).failed.map((f) => `${name}: ${f.error.message}`));
    } catch (error) {
      failures.push(`${name}: ${(error as Error).message}`);
    }
  };
  await step("settings", () => convergeNextcloudSettings(ctx.desired.nextcloudSettings!, { occ: ctx.occ, nextcloud, counter }, options));
  await step("accounts", () => converge(nextcloudProvisioner, ctx.desired, nextcloud, options));
  await step("calendars", () => converge(calendarsProvisioner, ctx.desired, calendars, options));
  ctx.recorder.note = undefined;
  return failures;
}

/** `npm run audit`'s API reads (capabilities, system tags, retention rules, accounts). */
async function recordAudit(ctx: Context, scenario: string, description: string): Promise<void> {
  ctx.recorder.note = "audit";
  let outcome = "read";
  try {
    await readNextcloudApi({ baseUrl: ctx.proxyUrl, user: ctx.user, password: ctx.password }, { retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
  } catch (error) {
    outcome = `failed: ${(error as Error).message}`;
  }
  write(ctx, scenario, `${description} Outcome: ${outcome}.`, ctx.recorder.take());
}

async function recordProvisioning(ctx: Context): Promise<void> {
  const first = new CallCounter();
  const failures = await provisioningRun(ctx, first);
  write(
    ctx,
    "provisioning-first-run",
    `The example association (examples/association.yaml) provisioned on a fresh server by Bastide's own code: settings (occ, then the retention rule), accounts, calendars. ${first.writes()} writes. Failures: ${failures.length === 0 ? "none" : failures.join(" | ")}`,
    ctx.recorder.take(),
  );
  const second = new CallCounter();
  const again = await provisioningRun(ctx, second);
  write(
    ctx,
    "provisioning-rerun",
    `The same run again, nothing changed in the config: ${second.writes()} writes (occ changes count as writes). Failures: ${again.length === 0 ? "none" : again.join(" | ")}`,
    ctx.recorder.take(),
  );
}

async function recordOccWarnings(ctx: Context): Promise<void> {
  if (!ctx.lowMemoryOcc) return;
  const occ = ctx.lowMemoryOcc;
  ctx.recorder.note = "PHP memory_limit below 512M: every call warns on standard error";
  await occ.run(["php", "occ", "config:app:get", "core", "no_such_key_bastide", "--output=json"]);
  await occ.run(["php", "occ", "config:app:get", "core", "shareapi_enforce_links_password", "--output=json"]);
  await occ.run(["php", "occ", "config:app:get", "core", "backgroundjobs_mode", "--output=json"]);
  await occ.run(["php", "occ", "twofactorauth:enforce"]);
  await occ.run(["php", "occ", "group:add", "admin"]);
  write(ctx, "occ-memory-warning", "occ run with PHP's memory_limit at 256M (below the 512M lib/private/Console/Application.php asks for): reads of an unset key, a set key, the 2FA state, an existing group.", ctx.recorder.take());
}

/** Login with the password is refused once 2FA is enforced for a group the service account is in, excluded groups notwithstanding. */
async function recordTwoFactorLockout(ctx: Context): Promise<void> {
  const counter = new CallCounter();
  const { nextcloud } = clients(ctx, counter);
  const occ = ctx.occ;
  ctx.recorder.note = "before: the state the settings left";
  await occ.run(["php", "occ", "twofactorauth:enforce"]);
  ctx.recorder.note = "the pre-fix enforcement: group admin, excluding bastide-service, the service account being in both";
  await occ.run(["php", "occ", "group:add", "bastide-service"]);
  await occ.run(["php", "occ", "group:adduser", "bastide-service", ctx.user]);
  await occ.run(["php", "occ", "twofactorauth:enforce", "--on", "--group", "admin", "--exclude", "bastide-service"]);
  ctx.recorder.note = "the service account's API call with its login password";
  await listUserIds(nextcloud).catch(() => undefined);
  ctx.recorder.note = "the enforcement Bastide sets now, for a group the service account is not in";
  const enforce = ctx.desired.nextcloudSettings!.occ.find((s) => s.command[2] === "twofactorauth:enforce")!;
  await occ.run(enforce.command);
  await occ.run(["php", "occ", "group:removeuser", "bastide-service", ctx.user]);
  await occ.run(["php", "occ", "group:delete", "bastide-service"]);
  ctx.recorder.note = "the same API call, same password";
  await listUserIds(nextcloud).catch(() => undefined);
  write(ctx, "two-factor-enforcement", "twofactorauth:enforce and the service account: enforced groups overrule excluded ones (lib/private/Authentication/TwoFactorAuth/MandatoryTwoFactor.php, isEnforcedFor).", ctx.recorder.take());
}

/** An app password logs in, but cannot confirm a password: writes marked #[PasswordConfirmationRequired] are refused. */
async function recordAppPassword(ctx: Context): Promise<void> {
  // Run unrecorded, then recorded once the token is known as a secret. With the login
  // password (OC_PASS), so that the token is a full one, as a user's own app password is.
  const argv = ["php", "occ", "user:auth-tokens:add", "--password-from-env", ctx.user];
  const added = await runCommand(ctx.occCommand, argv.slice(2), ctx.occCwd, { OC_PASS: ctx.password });
  const appPassword = /([A-Za-z0-9]{72})/.exec(added.stdout)?.[1];
  if (!appPassword) throw new Error(`user:auth-tokens:add printed no app password: exit ${added.exitCode}`);
  ctx.recorder.secrets.set(appPassword, "<token>");
  ctx.recorder.secrets.set(Buffer.from(`${ctx.user}:${appPassword}`).toString("base64"), `<${ctx.user}:app-password>`);
  ctx.recorder.note = "an app password for the service account";
  const clean = ctx.recorder.clean.bind(ctx.recorder);
  ctx.recorder.push({ command: commandLine(argv), exit: added.exitCode, stdout: clean(added.stdout), stderr: clean(added.stderr) });
  const counter = new CallCounter();
  const withToken = clients(ctx, counter, appPassword).nextcloud;
  const withPassword = clients(ctx, counter).nextcloud;
  const member = { id: "app.password.probe", displayName: "Probe", email: "probe@example.org", quota: "1 GB", language: "fr", groups: ["association"] };
  ctx.recorder.note = "app password: read";
  await listUserIds(withToken).catch(() => undefined);
  ctx.recorder.note = "app password: create a user";
  await createUser(withToken, member).catch(() => undefined);
  ctx.recorder.note = "login password: create the same user";
  await createUser(withPassword, member).catch(() => undefined);
  ctx.recorder.note = "app password: change its display name";
  await updateUser(withToken, member.id, "displayname", "Probe 2").catch(() => undefined);
  ctx.recorder.note = "app password: delete it";
  await deleteUser(withToken, member.id).catch(() => undefined);
  ctx.recorder.note = "login password: delete it";
  await deleteUser(withPassword, member.id).catch(() => undefined);
  write(ctx, "app-password", "The service account with an app password (occ user:auth-tokens:add --password-from-env, the login password given) against #[PasswordConfirmationRequired] (lib/private/AppFramework/Middleware/Security/PasswordConfirmationMiddleware.php), then with its login password.", ctx.recorder.take());
}

/**
 * user_oidc (issue 10): the settings with the identity provider enabled, on a fresh server with
 * apps/user_oidc in place: a first run, a re-run, a changed client secret; then the service
 * account's API call with its password, and the login page (straight to the provider; the
 * password form at ?direct=1). Client secrets are test-only values, replaced by placeholders.
 */
async function recordUserOidc(ctx: Context): Promise<void> {
  const [first, second] = ["recording-oidc-client-secret-1", "recording-oidc-client-secret-2"];
  ctx.recorder.secrets.set(first, "<oidc-client-secret-1>");
  ctx.recorder.secrets.set(second, "<oidc-client-secret-2>");
  const settings = ctx.desired.nextcloudSettings!;
  const run = async (note: string, secret: string) => {
    ctx.recorder.note = note;
    const counter = new CallCounter();
    const { nextcloud } = clients(ctx, counter);
    const result = await convergeNextcloudSettings(settings, { occ: ctx.occ, nextcloud, counter, oidcClientSecret: secret }, { concurrency: 4 });
    return `${note}: ${counter.writes()} writes${result.failed.length ? `, failed: ${result.failed.map((f) => f.error.message).join(" | ")}` : ""}`;
  };
  const outcomes = [await run("first run", first), await run("re-run", first), await run("changed client secret", second)];
  ctx.recorder.note = "the provider as user_oidc keeps it";
  await ctx.occ.run(["php", "occ", "user_oidc:provider", "--output=json"]);
  await ctx.occ.run(["php", "occ", "config:app:get", "user_oidc", "allow_multiple_user_backends", "--details", "--output=json"]);
  ctx.recorder.note = "the service account's API call with its login password, after the settings";
  await listUserIds(clients(ctx, new CallCounter()).nextcloud).catch(() => undefined);
  ctx.recorder.note = "the login page, as a browser asks for it";
  const browser = { accept: "text/html,application/xhtml+xml", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document" };
  await fetch(new URL("login", ctx.proxyUrl), { headers: browser, redirect: "manual" });
  ctx.recorder.note = "the password form for the admin's own account";
  await fetch(new URL("login?direct=1", ctx.proxyUrl), { headers: browser, redirect: "manual" });
  write(ctx, "user-oidc", `Settings with services.identity enabled (user_oidc ${USER_OIDC.version} from its git tag). ${outcomes.join(". ")}.`, ctx.recorder.take());
}

// ---------------------------------------------------------------------------------------

async function serverVersion(url: string): Promise<string> {
  const status = (await (await fetch(new URL("status.php", url))).json()) as { versionstring: string; version: string; productname: string };
  return `${status.productname} ${status.versionstring} (status.php: version ${status.version})`;
}

async function main(): Promise<number> {
  const password = process.env.NEXTCLOUD_PASSWORD;
  if (!values.nextcloud || !values.occ || !password) {
    console.error(USAGE);
    return 2;
  }
  const user = process.env.NEXTCLOUD_USER ?? "_bastide";
  const server = await serverVersion(values.nextcloud);
  const major = /Nextcloud (\d+)\./.exec(server)?.[1];
  if (!major) throw new Error(`not a Nextcloud: ${server}`);
  const out = values.out ?? `test/contracts/recordings/nextcloud-${major}`;
  mkdirSync(out, { recursive: true });
  const recorder = new Recorder(process.env.NEXTCLOUD_DATA_DIR);
  recorder.secrets.set(password, "<admin-password>");
  recorder.secrets.set(Buffer.from(`${user}:${password}`).toString("base64"), "<service>");
  const config = validateAssociation(parse(readFileSync(values.config!, "utf8")), values.config!);
  const { url: proxyUrl, server: proxy } = await startProxy(values.nextcloud, recorder);
  const ctx: Context = {
    proxyUrl,
    user,
    password,
    desired: desiredState(config),
    occ: recordedOcc(values.occ, values["occ-cwd"], recorder),
    occCommand: values.occ,
    occCwd: values["occ-cwd"],
    lowMemoryOcc: values["occ-low-memory"] ? recordedOcc(values["occ-low-memory"], values["occ-cwd"], recorder) : undefined,
    recorder,
    server,
    out,
  };
  try {
    console.log(`recording ${server} at ${values.nextcloud} into ${out}`);
    if (values.scenario === "user-oidc") return await recordUserOidc(ctx).then(() => 0);
    if (values.scenario) throw new Error(`unknown scenario ${values.scenario}`);
    await recordAudit(ctx, "audit-default", "The audit's API reads on the freshly installed server, before Bastide set anything.");
    await recordProvisioning(ctx);
    await recordAudit(ctx, "audit-provisioned", "The audit's API reads after the first provisioning run.");
    await recordOccWarnings(ctx);
    await recordTwoFactorLockout(ctx);
    await recordAppPassword(ctx);
  } finally {
    proxy.close();
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
