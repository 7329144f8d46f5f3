// occ, Nextcloud's command line, in the app container (dockerode exec, as www-data in
// /var/www/html), and what Bastide makes of its commands: every setting command has a
// read that says whether Nextcloud already has it, so a re-run writes nothing.
//
// Forms and exit codes are a real Nextcloud 34.0.1's (test/contracts/recordings/nextcloud-34/,
// provisioning-first-run.json and provisioning-rerun.json) or, where not recorded, its
// source (core/Command/...):
// - config:app:get APP KEY --output=json: the value as JSON; a missing key exits 1, no output;
// - app:list --output=json: {"enabled": {id: version}, "disabled": {...}} (an empty map is `[]`);
// - group:list --output=json: {gid: [uid, ...]} (`[]` when there is none);
// - twofactorauth:enforce without options prints the state: "Two-factor authentication is
//   not enforced" / "... is enforced for all users" / "... for members of the group(s) A, B",
//   then ", except members of X, Y" when groups are excluded;
// - background:cron stores core/backgroundjobs_mode = cron;
// - group:add of an existing group exits 1, printing `Group "G" already exists.`.
import type Docker from "dockerode";
import { containerName } from "../../stacks/services/blueprint.ts";
import { NEXTCLOUD_OCC } from "../../stacks/services/nextcloud/blueprint.ts";
import { execInContainer, type CommandResult } from "../runtime/docker.ts";
import type { CallCounter } from "../runtime/http.ts";
import { OIDC_PROVIDER_OPTIONS, type OidcProviderOption } from "../../stacks/services/nextcloud/oidc.ts";

export type { CommandResult };

/** Runs `php occ ...` where Nextcloud runs. */
export interface OccRunner {
  /** For messages: "container bastide-nextcloud-app". */
  readonly where: string;
  /**
   * `argv` starts with "php", "occ". Rejects only when it could not run; an exit code is a result.
   * `input` goes to occ's standard input (secrets travel there, never on the command line).
   */
  run(argv: readonly string[], input?: string): Promise<CommandResult>;
}

export interface DockerOccOptions {
  docker: Docker;
  /** Bastide's Nextcloud app container when absent. */
  container?: string;
  timeoutMs?: number;
}

/** A real Nextcloud's occ boots the whole server: seconds on a small machine. */
export const OCC_TIMEOUT_MS = 120_000;

export function dockerOcc(options: DockerOccOptions): OccRunner {
  const container = options.container ?? containerName("nextcloud", NEXTCLOUD_OCC.container);
  return {
    where: `container ${container}`,
    run: async (argv, input) =>
      execInContainer(options.docker, container, checkedArgv(argv), {
        user: NEXTCLOUD_OCC.user,
        workingDir: NEXTCLOUD_OCC.workingDir,
        timeoutMs: options.timeoutMs ?? OCC_TIMEOUT_MS,
        ...(input !== undefined ? { input } : {}),
      }),
  };
}

function checkedArgv(argv: readonly string[]): string[] {
  if (argv[0] !== "php" || argv[1] !== "occ" || argv.length < 3) throw new Error(`not an occ command: ${argv.join(" ")}`);
  return [...argv];
}

/** An occ command as a shell would take it (recordings, messages): words with spaces or quotes in double quotes. */
export function commandLine(argv: readonly string[]): string {
  return argv.map((word) => (/[\s"'\\$`]/.test(word) ? `"${word.replace(/["\\$`]/g, (c) => `\\${c}`)}"` : word)).join(" ");
}

/** occ through a counter: reads count as GET, changes as EXEC (a write), like prosodyctl's. */
export async function runOcc(occ: OccRunner, argv: readonly string[], kind: "read" | "write", counter?: CallCounter, input?: string): Promise<CommandResult> {
  const path = argv.slice(1).join(" ");
  const method = kind === "read" ? "GET" : "EXEC";
  try {
    const result = await occ.run(argv, input);
    counter?.record("nextcloud", method, path, result.exitCode);
    return result;
  } catch (error) {
    counter?.record("nextcloud", method, path, "error");
    throw error;
  }
}

/** What occ said, on one line, for error messages (its global warnings left out). */
export function describeResult(result: CommandResult): string {
  const text = `${result.stdout}\n${commandErrors(result.stderr)}`
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .join(" | ");
  return `exit ${result.exitCode}${text ? `: ${text.slice(0, 500)}` : ""}`;
}

// ---------------------------------------------------------------------------------------
// What each setting command sets, so it can be read back

export interface TwoFactorState {
  enforced: boolean;
  /** Enforced for these groups only; everyone when empty. */
  groups: string[];
  excluded: string[];
}

/** A user_oidc provider as `user_oidc:provider ID --output=json` prints it (the settings Bastide sets only). */
export interface OidcProviderState {
  identifier: string;
  clientId: string;
  discoveryEndpoint: string;
  scope: string;
  /** Keyed as the JSON output names them; booleans as "1"/"0". */
  settings: Record<string, string>;
}

export type OccTarget =
  | { kind: "app-config"; app: string; key: string; value: string }
  | { kind: "oidc-provider"; provider: OidcProviderState }
  | { kind: "background"; mode: "cron" | "ajax" | "webcron" }
  | { kind: "app-enabled"; app: string }
  | { kind: "group"; group: string }
  | { kind: "group-member"; group: string; user: string }
  | { kind: "two-factor"; state: TwoFactorState };

const ID = /^[A-Za-z0-9_.@-]+$/;

function id(value: string | undefined, what: string, command: string): string {
  if (value === undefined || !ID.test(value)) throw new Error(`occ ${command}: ${what} "${value ?? ""}" is not a plain identifier`);
  return value;
}

/**
 * What an occ setting command sets. Pure. Throws for a command Bastide cannot read back:
 * a setting it could not compare would be rewritten on every run.
 */
export function occTarget(argv: readonly string[]): OccTarget {
  const [php, occ, command = "", ...rest] = argv;
  const text = argv.join(" ");
  if (php !== "php" || occ !== "occ") throw new Error(`not an occ command: ${text}`);
  switch (command) {
    case "config:app:set": {
      const [app, key, value, ...extra] = rest;
      // --type=string and --lazy say how Nextcloud stores the value (an app reading it lazily
      // as a string, as user_oidc does, needs both); the value read back is the same text.
      const storage = extra.every((word) => word === "--lazy" || word === "--type=string");
      if (!value?.startsWith("--value=") || !storage) throw new Error(`occ ${text}: expected config:app:set APP KEY --value=VALUE [--type=string] [--lazy]`);
      return { kind: "app-config", app: id(app, "app", text), key: id(key, "key", text), value: value.slice("--value=".length) };
    }
    case "background:cron":
    case "background:ajax":
    case "background:webcron":
      if (rest.length > 0) break;
      return { kind: "background", mode: command.slice("background:".length) as "cron" | "ajax" | "webcron" };
    case "app:enable":
      if (rest.length !== 1) break;
      return { kind: "app-enabled", app: id(rest[0], "app", text) };
    case "group:add":
      if (rest.length !== 1) break;
      return { kind: "group", group: id(rest[0], "group", text) };
    case "group:adduser":
      if (rest.length !== 2) break;
      return { kind: "group-member", group: id(rest[0], "group", text), user: id(rest[1], "user", text) };
    case "twofactorauth:enforce":
      return { kind: "two-factor", state: twoFactorArgs(rest, text) };
    case "user_oidc:provider":
      return { kind: "oidc-provider", provider: oidcProviderArgs(rest, text) };
  }
  throw new Error(`occ ${text}: Bastide has no way to read this setting back, so it cannot apply it convergently`);
}

/**
 * The provider an upsert sets. Only options Bastide can read back are taken, and the secret
 * only from standard input: a secret on the command line would be in every process list.
 */
function oidcProviderArgs(args: string[], text: string): OidcProviderState {
  const [identifier, ...options] = args;
  const provider: OidcProviderState = { identifier: id(identifier, "provider", text), clientId: "", discoveryEndpoint: "", scope: "", settings: {} };
  let secretFromStdin = false;
  for (const word of options) {
    const match = /^--([a-z-]+)=(.*)$/.exec(word);
    if (!match) throw new Error(`occ ${text}: unexpected "${word}"`);
    const [, name, value] = match as unknown as [string, string, string];
    if (name === "clientid") provider.clientId = value;
    else if (name === "discoveryuri") provider.discoveryEndpoint = value;
    else if (name === "scope") provider.scope = value;
    else if (name === "clientsecret-file" && value === "php://stdin") secretFromStdin = true;
    else if (name in OIDC_PROVIDER_OPTIONS) {
      const option = OIDC_PROVIDER_OPTIONS[name as OidcProviderOption];
      // UpsertProvider.php 275-279: a boolean setting is stored "0" for "0", "1" for anything else.
      provider.settings[option.setting] = option.boolean ? (value === "0" ? "0" : "1") : value;
    } else throw new Error(`occ ${text}: --${name} ${name.startsWith("clientsecret") ? "must be --clientsecret-file=php://stdin (the secret goes to standard input)" : "cannot be read back"}`);
  }
  if (!provider.clientId || !provider.discoveryEndpoint || !provider.scope || !secretFromStdin)
    throw new Error(`occ ${text}: needs --clientid, --discoveryuri, --scope and --clientsecret-file=php://stdin`);
  return provider;
}

function twoFactorArgs(args: string[], text: string): TwoFactorState {
  const state: TwoFactorState = { enforced: false, groups: [], excluded: [] };
  let mode: "on" | "off" | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--on" || arg === "--off") mode = arg === "--on" ? "on" : "off";
    else if (arg === "--group" || arg === "--exclude") (arg === "--group" ? state.groups : state.excluded).push(id(args[++i], "group", text));
    else throw new Error(`occ ${text}: unexpected "${arg}"`);
  }
  if (!mode) throw new Error(`occ ${text}: needs --on or --off`);
  if (mode === "off" && (state.groups.length > 0 || state.excluded.length > 0)) throw new Error(`occ ${text}: --off takes no groups`);
  return { ...state, enforced: mode === "on" };
}

// ---------------------------------------------------------------------------------------
// Reading occ's answers

/**
 * The answer proper: its last line. --output=json prints one line, and PHP CLI prints
 * notices and deprecation warnings to standard output before it.
 */
const answerLine = (stdout: string) => stdout.split("\n").map((line) => line.trim()).filter(Boolean).at(-1) ?? "";

/** JSON output: the whole of it (json_pretty), else its last line (json after PHP notices). */
function parseJson(stdout: string): unknown {
  try {
    return JSON.parse(stdout);
  } catch {
    return JSON.parse(answerLine(stdout));
  }
}

/**
 * Warnings Nextcloud's console prints on standard error before any command, whatever it
 * does (lib/private/Console/Application.php, 34.0.1, lines 76-80: when PHP's memory_limit
 * is below 512M). Recorded: test/contracts/recordings/nextcloud-34/occ-memory-warning.json.
 */
const OCC_GLOBAL_WARNINGS = [/^The current PHP memory limit is below the recommended value of 512MB\.$/];

/** Standard error without the global warnings: what the command itself complained about. */
export function commandErrors(stderr: string): string {
  return stderr
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !OCC_GLOBAL_WARNINGS.some((warning) => warning.test(line)))
    .join("\n");
}

/**
 * `config:app:get --output=json`: the value as occ prints it with plain output; null when
 * unset (exit 1, nothing on standard output, nothing but global warnings on standard error).
 */
export function parseConfigValue(result: CommandResult, what: string): string | null {
  if (result.exitCode === 1 && result.stdout.trim() === "" && commandErrors(result.stderr) === "") return null;
  if (result.exitCode !== 0) throw new Error(`${what}: ${describeResult(result)}`);
  let value: unknown;
  try {
    value = parseJson(result.stdout);
  } catch {
    throw new Error(`${what}: not JSON: ${result.stdout.slice(0, 200)}`);
  }
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/** `app:list --output=json`: the ids of enabled apps. */
export function parseEnabledApps(result: CommandResult): string[] {
  return Object.keys(parseEnabledAppVersions(result)).sort();
}

/** `group:list --output=json`: members by group. */
export function parseGroups(result: CommandResult): Record<string, string[]> {
  const json = parseJsonOutput(result, "group:list");
  if (Array.isArray(json)) {
    if (json.length === 0) return {};
    throw new Error(`group:list: unexpected list ${result.stdout.slice(0, 200)}`);
  }
  return Object.fromEntries(Object.entries(json as Record<string, unknown>).map(([gid, members]) => [gid, (members as unknown[]).map(String)]));
}

function parseJsonOutput(result: CommandResult, what: string): unknown {
  if (result.exitCode !== 0) throw new Error(`${what}: ${describeResult(result)}`);
  try {
    return parseJson(result.stdout);
  } catch {
    throw new Error(`${what}: not JSON: ${result.stdout.slice(0, 200)}`);
  }
}

/**
 * `user_oidc:provider ID --output=json`: the provider, or null when there is none (exit 255,
 * "Provider not found" on standard output), or while user_oidc is not enabled (its commands do
 * not exist: exit 1, `There are no commands defined in the "user_oidc" namespace.` on standard
 * error). Both recorded in user-oidc.json.
 */
export function parseOidcProvider(result: CommandResult): OidcProviderState | null {
  if (result.exitCode === 255 && /Provider not found/.test(result.stdout)) return null;
  if (result.exitCode === 1 && /There are no commands defined in the "user_oidc" namespace/.test(result.stderr)) return null;
  const json = parseJsonOutput(result, "user_oidc:provider") as Record<string, unknown>;
  const raw = (json?.settings ?? {}) as Record<string, unknown>;
  const settings = Object.fromEntries(Object.entries(raw).map(([key, value]) => [key, typeof value === "boolean" ? (value ? "1" : "0") : String(value ?? "")]));
  return {
    identifier: String(json.identifier ?? ""),
    clientId: String(json.clientId ?? ""),
    discoveryEndpoint: String(json.discoveryEndpoint ?? ""),
    scope: String(json.scope ?? ""),
    settings,
  };
}

/** `app:list --output=json`: the version of each enabled app (an empty map is `[]`). */
export function parseEnabledAppVersions(result: CommandResult): Record<string, string> {
  const enabled = (parseJsonOutput(result, "app:list") as { enabled?: unknown })?.enabled;
  if (enabled === undefined) throw new Error(`app:list: no "enabled" in ${result.stdout.slice(0, 200)}`);
  return Array.isArray(enabled) ? {} : Object.fromEntries(Object.entries(enabled as object).map(([id, v]) => [id, String(v)]));
}

const ENFORCE = /^Two-factor authentication is (not enforced|enforced for all users|enforced for members of the group\(s\) (.+?))(?:, except members of (.+))?$/;

/** The state `twofactorauth:enforce` prints. Group names are Bastide's own (no ", " inside). */
export function parseTwoFactorState(result: CommandResult): TwoFactorState {
  if (result.exitCode !== 0) throw new Error(`twofactorauth:enforce: ${describeResult(result)}`);
  const line = answerLine(result.stdout);
  const match = ENFORCE.exec(line);
  if (!match) throw new Error(`twofactorauth:enforce: unexpected answer "${line.slice(0, 200)}"`);
  if (match[1] === "not enforced") return { enforced: false, groups: [], excluded: [] };
  const list = (text: string | undefined) => (text ? text.split(", ") : []);
  return { enforced: true, groups: list(match[2]), excluded: list(match[3]) };
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

export function sameTwoFactorState(a: TwoFactorState, b: TwoFactorState): boolean {
  if (!a.enforced || !b.enforced) return a.enforced === b.enforced;
  return sameSet(a.groups, b.groups) && sameSet(a.excluded, b.excluded);
}

/**
 * Whether Nextcloud asks a member of `groups` for a second factor (and so refuses their
 * password logins to the API): MandatoryTwoFactor::isEnforcedFor at 34.0.1
 * (lib/private/Authentication/TwoFactorAuth/MandatoryTwoFactor.php, lines 53-82). With
 * enforced groups, membership of one of them decides alone: excluded groups are not read.
 */
export function isTwoFactorEnforcedFor(state: TwoFactorState, groups: readonly string[]): boolean {
  if (!state.enforced) return false;
  if (state.groups.length > 0) return state.groups.some((g) => groups.includes(g));
  return !state.excluded.some((g) => groups.includes(g));
}
