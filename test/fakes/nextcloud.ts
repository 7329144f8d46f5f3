// A fake Nextcloud for the provisioner tests (a real one runs here only to record: see
// scripts/contracts-record.ts). It keeps state (users, groups, calendars and their shares,
// events, system tags, retention rules, polls) and answers the OCS and DAV calls as a real
// Nextcloud does: same statuses, OCS status codes, v1/v2 differences, content types, XML
// shapes and error messages, quirks included. First written from recordings of 32.0.1;
// test/contracts/nextcloud.test.ts replays the 34.0.1 recordings
// (test/contracts/recordings/nextcloud-34) against it.
// test/contracts/nextcloud.test.ts replays those recordings against it.
//
// Behaviour not covered by a recording follows the server's code where known and is
// marked "not recorded" below. Anything else answers 501 "fake nextcloud: not modelled",
// so a test notices a gap instead of trusting an invented answer.
//
// Use: const nc = await createFakeNextcloud({ users: { admin: "pw" } }); … nc.url …
//      nc.users(), nc.groups(), nc.calendars(), nc.shares(owner, uri), nc.server.inject(…),
//      nc.server.latencyMs = 30, nc.server.log, await nc.stop().
import { createHash } from "node:crypto";
import { FakeServer, type FakeRequest, type FakeResponse } from "./fake-server.ts";
import { parseXml, type XmlElement } from "./replay.ts";

export interface FakeNextcloudOptions {
  /** Accounts present at start (id → password), as after installation: logged in once, skeleton files copied. */
  users: Record<string, string>;
  /** Members of the `admin` group; when absent, the user `admin` (or else the first user). */
  admins?: string[];
  /**
   * First ids handed out (1 when absent). The recorded instance had used id 1 of each
   * before the recording, so the contract replay starts them at 2.
   */
  nextIds?: { systemTag?: number; retentionRule?: number; poll?: number };
  /** Shown in storageLocation; /var/www/html/data when absent. */
  dataDirectory?: string;
}

export interface UserView {
  id: string;
  displayName: string;
  email: string | null;
  enabled: boolean;
  groups: string[];
  /** Bytes, or "none" (unlimited). */
  quota: number | "none";
  language: string;
  /** Whether a usable password is set (accounts created with an e-mail only have none). */
  hasPassword: boolean;
  /** How many times a password was set (creation with one included): "never resend a password". */
  passwordSets: number;
}

export interface GroupView {
  id: string;
  displayName: string;
  members: string[];
}

export interface ShareView {
  /** e.g. principals/groups/team */
  principal: string;
  kind: "user" | "group";
  /** The user or group id. */
  id: string;
  readWrite: boolean;
}

export interface EventView {
  name: string;
  uid: string;
  etag: string;
  data: string;
}

export interface CalendarView {
  owner: string;
  uri: string;
  displayName: string;
  color: string | null;
  description: string | null;
  components: string[];
  syncToken: number;
  shares: ShareView[];
  events: EventView[];
}

export interface SystemTagView {
  id: number;
  name: string;
  userVisible: boolean;
  userAssignable: boolean;
}

export interface RetentionRuleView {
  id: number;
  tagid: number;
  timeunit: number;
  timeamount: number;
  timeafter: number;
}

export interface MailView {
  to: string;
  userid: string;
  /** The welcome mail carries a set-password link (the account was created without a password). */
  setPasswordLink: boolean;
}

export interface FakeNextcloud {
  /** inject(), latencyMs, log, writes(), reads(), resetLog(). */
  server: FakeServer;
  url: string;
  stop(): Promise<void>;
  users(): UserView[];
  user(id: string): UserView | undefined;
  groups(): GroupView[];
  /** All calendars, or one user's (the default personal and contact_birthdays included). */
  calendars(owner?: string): CalendarView[];
  calendar(owner: string, uri: string): CalendarView | undefined;
  shares(owner: string, uri: string): ShareView[];
  systemTags(): SystemTagView[];
  retentionRules(): RetentionRuleView[];
  /** Welcome mails "sent" on account creation or POST users/<id>/welcome. */
  mails(): MailView[];
  // Seeding, without HTTP (not in the log):
  addUser(id: string, options?: { password?: string; email?: string; displayName?: string; groups?: string[]; enabled?: boolean; quota?: number | "none" }): void;
  addGroup(id: string, displayName?: string): void;
  addCalendar(owner: string, uri: string, options?: { displayName?: string; color?: string; components?: string[] }): void;
  shareCalendar(owner: string, uri: string, principal: string, readWrite: boolean): void;
  /**
   * Reproduces a failure the real server was recorded making (users-create #1): the next
   * POST cloud/users for `userid` creates the account (groups, display name, quota,
   * language) but not its e-mail, and answers 101 "Bad request".
   */
  failNextUserCreation(userid: string): void;
}

// ---------------------------------------------------------------------------------------
// State

interface User {
  id: string;
  password: string | null;
  passwordSets: number;
  displayName: string;
  email: string | null;
  quota: number | "none";
  language: string;
  locale: string;
  enabled: boolean;
  firstLogin: number;
  lastLogin: number;
  usedBytes: number;
  profile: Record<string, string>;
}

interface Group {
  id: string;
  displayName: string;
  members: Set<string>;
}

interface CalendarObject {
  name: string;
  data: string;
  etag: string;
  uid: string;
  component: string;
  modified: number;
}

interface Calendar {
  id: number;
  owner: string;
  uri: string;
  displayName: string;
  color: string | null;
  description: string | null;
  components: string[];
  syncToken: number;
  objects: Map<string, CalendarObject>;
  /** principal (principals/groups/x or principals/users/x) → read-write. */
  shares: Map<string, boolean>;
}

interface SystemTag {
  id: number;
  name: string;
  userVisible: boolean;
  userAssignable: boolean;
}

interface RetentionRule {
  id: number;
  tagid: number;
  timeunit: number;
  timeamount: number;
  timeafter: number;
}

interface PollOption {
  id: number;
  pollId: number;
  text: string;
  order: number;
}

interface Poll {
  id: number;
  type: string;
  title: string;
  owner: string;
  created: number;
  options: PollOption[];
}

/** Bytes of the skeleton files copied at an account's first login (as recorded for admin). */
const SKELETON_BYTES = 20174294;
const now = () => Math.floor(Date.now() / 1000);

class State {
  readonly users = new Map<string, User>();
  readonly groups = new Map<string, Group>();
  readonly calendars: Calendar[] = [];
  readonly tags = new Map<number, SystemTag>();
  readonly rules = new Map<number, RetentionRule>();
  readonly polls = new Map<number, Poll>();
  readonly mails: MailView[] = [];
  readonly failingCreations = new Set<string>();
  readonly dataDirectory: string;
  nextCalendarId = 1;
  nextTagId: number;
  nextRuleId: number;
  nextPollId: number;
  nextOptionId = 1;

  constructor(options: FakeNextcloudOptions) {
    this.dataDirectory = options.dataDirectory ?? "/var/www/html/data";
    this.nextTagId = options.nextIds?.systemTag ?? 1;
    this.nextRuleId = options.nextIds?.retentionRule ?? 1;
    this.nextPollId = options.nextIds?.poll ?? 1;
    this.addGroup("admin");
    for (const [id, password] of Object.entries(options.users)) {
      const user = this.addUser(id, password);
      user.firstLogin = user.lastLogin = now();
      user.usedBytes = SKELETON_BYTES;
    }
    const ids = Object.keys(options.users);
    for (const id of options.admins ?? (ids.includes("admin") ? ["admin"] : ids.slice(0, 1))) {
      if (!this.users.has(id)) throw new Error(`admin ${id} is not among the users`);
      this.groups.get("admin")!.members.add(id);
    }
  }

  addUser(id: string, password: string | null): User {
    const user: User = {
      id,
      password,
      passwordSets: password === null ? 0 : 1,
      displayName: id,
      email: null,
      quota: "none",
      language: "en",
      locale: "",
      enabled: true,
      firstLogin: 0,
      lastLogin: 0,
      usedBytes: 0,
      profile: {},
    };
    this.users.set(id, user);
    // Nextcloud gives every account these two calendars (sync token 2 as recorded).
    this.addCalendar(id, "personal", { displayName: "Personal", color: "#00679e", components: ["VEVENT"], syncToken: 2 });
    this.addCalendar(id, "contact_birthdays", { displayName: "Contact birthdays", color: "#E9D859", components: ["VEVENT"], syncToken: 2 });
    return user;
  }

  deleteUser(id: string): void {
    this.users.delete(id);
    for (const group of this.groups.values()) group.members.delete(id);
    for (let i = this.calendars.length - 1; i >= 0; i--) {
      const calendar = this.calendars[i]!;
      if (calendar.owner === id) this.calendars.splice(i, 1);
      else calendar.shares.delete(`principals/users/${id}`);
    }
  }

  addGroup(id: string, displayName = id): Group {
    const group: Group = { id, displayName: displayName || id, members: new Set() };
    this.groups.set(id, group);
    return group;
  }

  deleteGroup(id: string): void {
    this.groups.delete(id);
    for (const calendar of this.calendars) calendar.shares.delete(`principals/groups/${id}`);
  }

  addCalendar(
    owner: string,
    uri: string,
    options: { displayName?: string; color?: string | null; description?: string | null; components?: string[]; syncToken?: number },
  ): Calendar {
    const calendar: Calendar = {
      id: this.nextCalendarId++,
      owner,
      uri,
      displayName: options.displayName ?? uri,
      color: options.color ?? null,
      description: options.description ?? null,
      components: options.components ?? ["VEVENT", "VTODO"],
      syncToken: options.syncToken ?? 1,
      objects: new Map(),
      shares: new Map(),
    };
    this.calendars.push(calendar);
    return calendar;
  }

  ownCalendar(owner: string, uri: string): Calendar | undefined {
    return this.calendars.find((c) => c.owner === owner && c.uri === uri);
  }

  groupsOf(userId: string): string[] {
    return [...this.groups.values()].filter((g) => g.members.has(userId)).map((g) => g.id).sort(byCodeUnit);
  }

  isAdmin(userId: string): boolean {
    return this.groups.get("admin")?.members.has(userId) ?? false;
  }

  /** Calendars shared with a user (directly or through a group), with the access that wins. */
  sharedWith(userId: string): { calendar: Calendar; readWrite: boolean }[] {
    const principals = [`principals/users/${userId}`, ...this.groupsOf(userId).map((g) => `principals/groups/${g}`)];
    const result: { calendar: Calendar; readWrite: boolean }[] = [];
    for (const calendar of this.calendars) {
      if (calendar.owner === userId) continue;
      const grants = principals.filter((p) => calendar.shares.has(p)).map((p) => calendar.shares.get(p)!);
      if (grants.length > 0) result.push({ calendar, readWrite: grants.some(Boolean) });
    }
    return result;
  }
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byLowerCase = (a: string, b: string) => byCodeUnit(a.toLowerCase(), b.toLowerCase()) || byCodeUnit(a, b);
const md5 = (text: string) => createHash("md5").update(text).digest("hex");

// ---------------------------------------------------------------------------------------
// Requests: parameters (query + form or JSON body, PHP style) and Basic credentials

type Params = Record<string, unknown>;

function assignPhp(params: Params, key: string, value: string): void {
  if (key.endsWith("[]")) {
    const name = key.slice(0, -2);
    const list = Array.isArray(params[name]) ? (params[name] as unknown[]) : [];
    list.push(value);
    params[name] = list;
  } else params[key] = value;
}

function requestParams(req: FakeRequest): Params {
  const params: Params = {};
  for (const [key, value] of req.url.searchParams) assignPhp(params, key, value);
  const type = String(req.headers["content-type"] ?? "");
  if (req.body && type.includes("json")) {
    try {
      const parsed: unknown = JSON.parse(req.body);
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) Object.assign(params, parsed);
    } catch {
      // Nextcloud ignores a body it cannot decode.
    }
  } else if (req.body && type.includes("x-www-form-urlencoded")) {
    for (const [key, value] of new URLSearchParams(req.body)) assignPhp(params, key, value);
  }
  return params;
}

type Credentials = { kind: "none" } | { kind: "refused" } | { kind: "user"; user: User };

function authenticate(state: State, req: FakeRequest): Credentials {
  const header = String(req.headers.authorization ?? "");
  if (!header) return { kind: "none" };
  const m = /^Basic\s+(\S+)$/i.exec(header);
  if (!m) return { kind: "refused" };
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const user = state.users.get(decoded.slice(0, colon));
  if (colon < 0 || !user || !user.enabled || user.password === null || user.password !== decoded.slice(colon + 1)) return { kind: "refused" };
  user.lastLogin = now();
  if (user.firstLogin === 0) user.firstLogin = user.lastLogin;
  return { kind: "user", user };
}

const escapeXml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

const notModelled = (req: FakeRequest): FakeResponse => ({
  status: 501,
  headers: { "Content-Type": "text/plain; charset=utf-8" },
  body: `fake nextcloud: not modelled: ${req.method} ${req.path}`,
});

// ---------------------------------------------------------------------------------------
// OCS: envelope, v1/v2 status mapping, JSON and XML

interface OcsCall {
  version: 1 | 2;
  json: boolean;
  req: FakeRequest;
  params: Params;
  user: User;
  admin: boolean;
  origin: string;
}

type OcsFormat = Pick<OcsCall, "version" | "json">;

/** An OCS answer in v2 terms: 200 is "ok" (v1 shows it as 100). */
interface OcsResult {
  code: number;
  data?: unknown;
  message?: string;
}

/** Thrown by handlers, like Nextcloud's OCSException. */
class OcsFailure extends Error {
  readonly code: number;
  constructor(code: number, message = "") {
    super(message);
    this.code = code;
  }
}

/** A PHP TypeError in a controller (missing or ill-typed parameter): 500 / 996. */
const serverError = () => new OcsFailure(996, "Internal Server Error\n");

function v2Status(code: number): number {
  if (code === 997) return 401;
  if (code === 998) return 404;
  if (code === 996 || code === 999) return 500;
  if (code < 200 || code > 600) return 400;
  return code;
}

function ocsXmlValue(key: string, value: unknown, depth: number): string {
  const pad = " ".repeat(depth);
  if (value === null || value === undefined) return `${pad}<${key}/>\n`;
  if (typeof value === "object") {
    const entries = Array.isArray(value)
      ? value.map((v) => ["element", v] as const)
      : Object.entries(value as Record<string, unknown>).map(([k, v]) => [/^\d+$/.test(k) ? "element" : k, v] as const);
    if (entries.length === 0) return `${pad}<${key}/>\n`;
    return `${pad}<${key}>\n${entries.map(([k, v]) => ocsXmlValue(k, v, depth + 1)).join("")}${pad}</${key}>\n`;
  }
  const text = value === true ? "1" : value === false ? "" : String(value);
  return `${pad}<${key}>${escapeXml(text)}</${key}>\n`;
}

function ocsResponse(format: OcsFormat, code: number, data: unknown = [], message?: string): FakeResponse {
  const statuscode = format.version === 1 && code === 200 ? 100 : code;
  const ok = format.version === 1 ? statuscode === 100 : code >= 200 && code < 300;
  const meta: Record<string, unknown> = { status: ok ? "ok" : "failure", statuscode, message: ok ? "OK" : (message ?? "") };
  if (format.version === 1) Object.assign(meta, { totalitems: "", itemsperpage: "" });
  const status = format.version === 1 ? (code === 997 ? 401 : 200) : v2Status(code);
  const contentType = format.json ? "application/json; charset=utf-8" : "application/xml; charset=utf-8";
  if (status === 204) return { status, headers: { "Content-Type": contentType }, body: "" };
  const body = format.json
    ? JSON.stringify({ ocs: { meta, data } })
    : `<?xml version="1.0"?>\n<ocs>\n${ocsXmlValue("meta", meta, 1)}${ocsXmlValue("data", data, 1)}</ocs>\n`;
  return { status, headers: { "Content-Type": contentType }, body };
}

/** JSON when asked by ?format=json or an Accept naming application/json; XML otherwise. */
function ocsFormat(req: FakeRequest, version: 1 | 2): OcsFormat {
  const format = req.url.searchParams.get("format");
  const json = format ? format === "json" : String(req.headers.accept ?? "").includes("application/json");
  return { version, json };
}

/** PHP encodes an empty associative array as []. */
const phpObject = (entries: [string, unknown][]) => (entries.length === 0 ? [] : Object.fromEntries(entries));

const str = (params: Params, name: string, fallback = ""): string => {
  const value = params[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  if (typeof value === "boolean") return value ? "1" : "";
  throw serverError();
};

/** An `int` controller parameter: missing or not numeric is a TypeError (500) in PHP. */
const int = (params: Params, name: string, fallback?: number): number => {
  const value = params[name];
  if (value === undefined || value === null) {
    if (fallback === undefined) throw serverError();
    return fallback;
  }
  if (typeof value === "number" && Number.isInteger(value)) return value;
  if (typeof value === "string" && /^-?\d+$/.test(value.trim())) return Number(value);
  throw serverError();
};

// ---------------------------------------------------------------------------------------
// Provisioning API: users

const LOGIN_CHARACTERS = /^[a-zA-Z0-9 _.@\-']+$/;
// A few of the password_policy app's "1,000,000 most common" (the real list is not needed).
const COMMON_PASSWORDS = new Set(["abc", "password", "123456", "12345678", "123456789", "qwerty", "azerty", "111111", "letmein", "admin", "changeme", "iloveyou"]);

function passwordProblems(password: string): string[] {
  const problems: string[] = [];
  if (COMMON_PASSWORDS.has(password.toLowerCase())) problems.push("Password is among the 1,000,000 most common ones. Please make it unique.");
  if (password.length < 10) problems.push("Password needs to be at least 10 characters long.");
  return problems;
}

/** The same checks as Nextcloud's user manager (messages as it words them). */
function loginProblem(userid: string): string | undefined {
  if (userid.trim() === "") return "A valid Login must be provided";
  if (!LOGIN_CHARACTERS.test(userid)) return `Only the following characters are allowed in an Login: "a-z", "A-Z", "0-9", spaces and "_.@-'"`;
  if (userid.trim() !== userid) return "Login contains whitespace at the beginning or at the end";
  if (/^\.+$/.test(userid)) return "Login must not consist of dots only";
  return undefined;
}

/** OC\Util::computerFileSize: "1 GB" → 1073741824, numbers as they are, otherwise invalid. */
function computerFileSize(text: string): number | undefined {
  const value = text.toLowerCase().trim();
  if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(value)) return Number(value);
  const units: Record<string, number> = { b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, p: 1024 ** 5, pb: 1024 ** 5 };
  const unit = /([kmgtp]?b?)$/.exec(value)![1]!;
  if (!(unit in units)) return undefined;
  return Math.round((parseFloat(value) || 0) * units[unit]!);
}

function parseQuota(value: string): number | "none" | undefined {
  if (value === "none" || value === "default") return "none";
  const bytes = computerFileSize(value);
  if (bytes === undefined) return undefined;
  return bytes === -1 ? "none" : bytes;
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;
const LANGUAGE = /^[a-z]{2,3}(_[A-Z][a-zA-Z]{1,3})?$/;

function quotaView(user: User) {
  if (user.quota === "none") return { free: -3, used: user.usedBytes, total: -3, relative: 0, quota: -3 };
  const total = user.quota;
  return { free: Math.max(total - user.usedBytes, 0), used: user.usedBytes, total, relative: total > 0 ? Math.round((user.usedBytes / total) * 10000) / 100 : 0, quota: total };
}

const PROFILE_FIELDS: [string, string][] = [
  ["phone", "v2-local"],
  ["address", "v2-local"],
  ["website", "v2-local"],
  ["twitter", "v2-local"],
  ["bluesky", "v2-local"],
  ["fediverse", "v2-local"],
  ["organisation", "v2-local"],
  ["role", "v2-local"],
  ["headline", "v2-local"],
  ["biography", "v2-local"],
];

/** GET cloud/users/<id>; the scopes only when users read themselves. */
function userData(state: State, user: User, withScopes: boolean): Record<string, unknown> {
  const data: Record<string, unknown> = {
    enabled: user.enabled,
    storageLocation: `${state.dataDirectory}/${user.id}`,
    id: user.id,
    firstLoginTimestamp: user.firstLogin,
    lastLoginTimestamp: user.lastLogin,
    lastLogin: user.lastLogin * 1000,
    backend: "Database",
    subadmin: [],
    quota: quotaView(user),
    manager: "",
  };
  const scoped = (key: string, value: unknown, scope: unknown) => {
    data[key] = value;
    if (withScopes) data[`${key}Scope`] = scope;
  };
  if (withScopes) data.avatarScope = "v2-federated";
  scoped("email", user.email, "v2-federated");
  scoped("additional_mail", [], []);
  data.displayname = user.displayName;
  scoped("display-name", user.displayName, undefined);
  if (withScopes) {
    delete data["display-nameScope"];
    data.displaynameScope = "v2-federated";
  }
  for (const [field, scope] of PROFILE_FIELDS) scoped(field, user.profile[field] ?? "", scope);
  scoped("profile_enabled", "1", "v2-local");
  scoped("pronouns", user.profile.pronouns ?? "", "v2-federated");
  Object.assign(data, {
    groups: state.groupsOf(user.id),
    language: user.language,
    locale: user.locale,
    timezone: "",
    notify_email: null,
    backendCapabilities: { setDisplayName: true, setPassword: true },
  });
  return data;
}

function listedUsers(state: State, params: Params, filter: (u: User) => boolean = () => true): User[] {
  const search = str(params, "search").toLowerCase();
  const limit = params.limit === undefined || params.limit === "" ? undefined : int(params, "limit");
  const offset = params.offset === undefined || params.offset === "" ? 0 : int(params, "offset");
  const matching = [...state.users.values()]
    .filter((u) => !search || u.id.toLowerCase().includes(search) || u.displayName.toLowerCase().includes(search) || (u.email ?? "").includes(search))
    .filter(filter)
    .sort((a, b) => byLowerCase(a.id, b.id));
  return matching.slice(offset, limit === undefined || limit < 0 ? undefined : offset + limit);
}

function sendWelcome(state: State, user: User, setPasswordLink: boolean): void {
  if (user.email) state.mails.push({ to: user.email, userid: user.id, setPasswordLink });
}

function createUser(state: State, call: OcsCall): OcsResult {
  const p = call.params;
  const userid = str(p, "userid");
  const password = str(p, "password");
  const displayName = str(p, "displayName");
  const email = str(p, "email");
  const quota = str(p, "quota");
  const language = str(p, "language");
  const groups = p.groups === undefined ? [] : p.groups;
  if (!Array.isArray(groups)) throw serverError();
  if (state.users.has(userid)) throw new OcsFailure(102, "User already exists");
  for (const group of groups.map(String)) if (!state.groups.has(group)) throw new OcsFailure(104, `Group ${group} does not exist`);
  if (password.length > 469) throw new OcsFailure(101, "Invalid password value");
  let passwordLink = false;
  if (password === "") {
    if (email === "") throw new OcsFailure(108, "An email address is required, to send a password link to the user.");
    passwordLink = true;
  }
  // Not recorded: Nextcloud checks the address before creating the account.
  if (email !== "" && !EMAIL.test(email)) throw new OcsFailure(101, "Invalid email address");
  const problem = loginProblem(userid);
  if (problem) throw new OcsFailure(101, problem);
  if (!passwordLink) {
    const problems = passwordProblems(password);
    if (problems.length > 0) throw new OcsFailure(107, problems.join(" "));
  }
  // Edits after creation fail like PUT would, but the account stays (as in Nextcloud).
  const user = state.addUser(userid, passwordLink ? null : password);
  for (const group of groups.map(String)) state.groups.get(group)!.members.add(userid);
  if (displayName !== "") user.displayName = displayName;
  if (quota !== "") {
    const parsed = parseQuota(quota);
    if (parsed === undefined) throw new OcsFailure(101, `Invalid quota value: ${quota}`);
    user.quota = parsed;
  }
  if (language !== "") {
    if (!LANGUAGE.test(language)) throw new OcsFailure(101, "Invalid language");
    user.language = language;
  }
  if (state.failingCreations.delete(userid)) throw new OcsFailure(101, "Bad request");
  if (email !== "") {
    user.email = email.toLowerCase();
    sendWelcome(state, user, passwordLink);
  }
  return { code: 200, data: { id: userid } };
}

/** PUT cloud/users/<id> key=…&value=… */
function editUser(state: State, call: OcsCall, id: string): OcsResult {
  const target = state.users.get(id);
  // Not recorded: Nextcloud answers an unknown account with 997 (the library notes a 401).
  if (!target) throw new OcsFailure(997);
  const key = str(call.params, "key");
  const value = str(call.params, "value");
  const self = target.id === call.user.id;
  const allowed = new Set(["display", "displayname", "email", "password", "language", "locale", "pronouns", ...PROFILE_FIELDS.map(([f]) => f)]);
  if (call.admin) allowed.add("quota");
  if (!call.admin && !self) throw new OcsFailure(403, "Logged in account must be at least a sub admin");
  if (!allowed.has(key)) throw new OcsFailure(113);
  switch (key) {
    case "display":
    case "displayname":
      target.displayName = value;
      break;
    case "email":
      if (value !== "" && !EMAIL.test(value)) throw new OcsFailure(101);
      target.email = value === "" ? null : value.trim().toLowerCase();
      break;
    case "quota": {
      const quota = parseQuota(value);
      if (quota === undefined) throw new OcsFailure(101, `Invalid quota value: ${value}`);
      target.quota = quota;
      break;
    }
    case "language":
      if (!LANGUAGE.test(value)) throw new OcsFailure(101, "Invalid language");
      target.language = value;
      break;
    case "locale":
      target.locale = value;
      break;
    case "password": {
      const problems = passwordProblems(value);
      if (problems.length > 0) throw new OcsFailure(107, problems.join(" "));
      target.password = value;
      target.passwordSets++;
      break;
    }
    default:
      target.profile[key] = value;
  }
  return { code: 200 };
}

function setEnabled(state: State, call: OcsCall, id: string, enabled: boolean): OcsResult {
  const target = state.users.get(id);
  if (!target || target.id === call.user.id) throw new OcsFailure(101);
  target.enabled = enabled;
  return { code: 200 };
}

function deleteUser(state: State, call: OcsCall, id: string): OcsResult {
  if (!state.users.has(id)) throw new OcsFailure(998);
  if (id === call.user.id) throw new OcsFailure(101);
  state.deleteUser(id);
  return { code: 200 };
}

function addToGroup(state: State, call: OcsCall, id: string): OcsResult {
  const groupid = str(call.params, "groupid");
  if (groupid === "") throw new OcsFailure(101);
  const group = state.groups.get(groupid);
  if (!group) throw new OcsFailure(102);
  if (!state.users.has(id)) throw new OcsFailure(103);
  group.members.add(id);
  return { code: 200 };
}

function removeFromGroup(state: State, call: OcsCall, id: string): OcsResult {
  const groupid = str(call.params, "groupid");
  if (groupid.trim() === "") throw new OcsFailure(101);
  const group = state.groups.get(groupid);
  if (!group) throw new OcsFailure(102);
  if (!state.users.has(id)) throw new OcsFailure(103);
  if (id === call.user.id && groupid === "admin") throw new OcsFailure(105, "Cannot remove yourself from the admin group");
  group.members.delete(id);
  return { code: 200 };
}

function resendWelcome(state: State, id: string): OcsResult {
  const target = state.users.get(id);
  if (!target) throw new OcsFailure(998);
  if (!target.email) throw new OcsFailure(101, "Email address not available");
  sendWelcome(state, target, target.password === null);
  return { code: 200 };
}

// ---------------------------------------------------------------------------------------
// Provisioning API: groups

function listedGroups(state: State, params: Params): Group[] {
  const search = str(params, "search").toLowerCase();
  const limit = params.limit === undefined || params.limit === "" ? undefined : int(params, "limit");
  const offset = params.offset === undefined || params.offset === "" ? 0 : int(params, "offset");
  const matching = [...state.groups.values()]
    .filter((g) => !search || g.id.toLowerCase().includes(search) || g.displayName.toLowerCase().includes(search))
    .sort((a, b) => byCodeUnit(a.id, b.id));
  return matching.slice(offset, limit === undefined || limit < 0 ? undefined : offset + limit);
}

function groupDetails(state: State, group: Group) {
  const disabled = [...group.members].filter((id) => state.users.get(id)?.enabled === false).length;
  return { id: group.id, displayname: group.displayName, usercount: group.members.size, disabled, canAdd: true, canRemove: true };
}

function groupOrFail(state: State, id: string): Group {
  const group = state.groups.get(id);
  if (!group) throw new OcsFailure(404, "The requested group could not be found");
  return group;
}

function createGroup(state: State, call: OcsCall): OcsResult {
  const groupid = str(call.params, "groupid");
  if (groupid === "") throw new OcsFailure(101, "Invalid group name");
  if (state.groups.has(groupid)) throw new OcsFailure(102, "group exists");
  state.addGroup(groupid, str(call.params, "displayname") || groupid);
  return { code: 200 };
}

function deleteGroup(state: State, id: string): OcsResult {
  if (!state.groups.has(id)) throw new OcsFailure(101);
  if (id === "admin") throw new OcsFailure(102);
  state.deleteGroup(id);
  return { code: 200 };
}

/** Not recorded: PUT cloud/groups/<id> key=displayname (Nextcloud 30+). */
function updateGroup(state: State, call: OcsCall, id: string): OcsResult {
  const group = state.groups.get(id);
  if (!group) throw new OcsFailure(404, "Group does not exist");
  if (str(call.params, "key") !== "displayname") throw new OcsFailure(101, "Key not found");
  group.displayName = str(call.params, "value");
  return { code: 200 };
}

// ---------------------------------------------------------------------------------------
// files_retention

const ruleJson = (rule: RetentionRule) => ({ ...rule, hasJob: true });

function createRule(state: State, call: OcsCall): OcsResult {
  const tagid = int(call.params, "tagid");
  const timeunit = int(call.params, "timeunit");
  const timeamount = int(call.params, "timeamount");
  const timeafter = int(call.params, "timeafter", 0);
  // An unknown tag raises TagNotFoundException, which the app does not catch (recorded 500).
  if (!state.tags.has(tagid)) throw serverError();
  if (timeunit < 0 || timeunit > 3) return { code: 400, data: { error: "timeunit" } };
  if (timeamount < 1) return { code: 400, data: { error: "timeamount" } };
  if (timeafter < 0 || timeafter > 1) return { code: 400, data: { error: "timeafter" } };
  const rule: RetentionRule = { id: state.nextRuleId++, tagid, timeunit, timeamount, timeafter };
  state.rules.set(rule.id, rule);
  return { code: 201, data: ruleJson(rule) };
}

function deleteRule(state: State, id: string): OcsResult {
  const rule = state.rules.get(Number(id));
  if (!rule) return { code: 404 };
  state.rules.delete(rule.id);
  return { code: 204 };
}

// ---------------------------------------------------------------------------------------
// polls 9.2 (not used by Bastide; modelled because it is cheap and recorded)

const POLL_TYPES = new Set(["textPoll", "datePoll"]);

function pollJson(state: State, poll: Poll, viewer: User, justCreated: boolean) {
  const owner = state.users.get(poll.owner);
  // The create answer shows the entity before the database defaults apply (as recorded).
  const defaults = justCreated
    ? { allowComment: false, allowMaybe: false, allowProposals: "", hideBookedUp: false }
    : { allowComment: true, allowMaybe: true, allowProposals: "disallow", hideBookedUp: true };
  return {
    id: poll.id,
    type: poll.type,
    votingVariant: "simple",
    configuration: {
      access: "private",
      allowComment: defaults.allowComment,
      allowMaybe: defaults.allowMaybe,
      allowProposals: defaults.allowProposals,
      anonymous: false,
      autoReminder: false,
      collapseDescription: true,
      description: "",
      allowDownload: true,
      expire: 0,
      forceConfidentialComments: false,
      forcedDisplayMode: "user-pref",
      hideBookedUp: defaults.hideBookedUp,
      maxVotesPerOption: 0,
      maxVotesPerUser: 0,
      proposalsExpire: 0,
      showResults: "always",
      title: poll.title,
      useNo: true,
      timezoneName: "simple",
    },
    descriptionSafe: "",
    owner: {
      array: "richArray",
      categories: [],
      desc: "User",
      displayName: owner?.displayName ?? poll.owner,
      emailAddress: owner?.email ?? "",
      id: poll.owner,
      user: poll.owner,
      isAdmin: state.isAdmin(poll.owner),
      isGuest: false,
      isNoUser: false,
      isUnrestrictedOwner: true,
      languageCode: "",
      languageCodeIntl: "",
      localeCode: "",
      localeCodeIntl: "",
      organisation: "",
      subname: "User",
      subtitle: "User",
      timeZone: "",
      type: "user",
      userId: poll.owner,
    },
    status: {
      lastInteraction: poll.created,
      created: poll.created,
      isAnonymous: false,
      isArchived: false,
      isExpired: false,
      isRealAnonymous: false,
      relevantThreshold: poll.created,
      deletionDate: 0,
      archivedDate: 0,
      countParticipants: 0,
      maxVotes: 0,
      maxOptionVotes: 0,
      forcedViewMode: null,
    },
    currentUserStatus: {
      groupInvitations: [],
      isInvolved: true,
      isLocked: false,
      isLoggedIn: true,
      isNoUser: false,
      isOwner: true,
      orphanedVotes: 0,
      shareToken: "",
      userId: viewer.id,
      userRole: "owner",
      countVotes: 0,
      yesVotes: 0,
      noVotes: 0,
      maybeVotes: 0,
      pollGroupUserShares: [],
    },
    permissions: {
      addOptions: true,
      addShares: true,
      addSharesExternal: true,
      archive: true,
      changeForeignVotes: true,
      changeOwner: true,
      clone: true,
      comment: true,
      confirmOptions: false,
      deanonymize: true,
      delete: true,
      edit: true,
      reorderOptions: true,
      seeResults: true,
      seeUsernames: true,
      subscribe: false,
      takeOver: true,
      view: true,
      vote: true,
      download: true,
    },
    pollGroups: [],
  };
}

const optionJson = (option: PollOption, currentUser: string | null) => ({
  id: option.id,
  pollId: option.pollId,
  text: option.text,
  timestamp: 0,
  duration: 0,
  isoTimestamp: null,
  isoDuration: null,
  deleted: 0,
  order: option.order,
  confirmed: 0,
  locked: false,
  hash: md5(`${option.pollId}${option.text}`),
  isOwner: false,
  votes: { no: 0, yes: 0, maybe: 0, count: 0, currentUser },
  owner: null,
});

/** Only the owner's view of a poll is modelled: another user gets "Poll not found". */
function pollOrFail(state: State, call: OcsCall, id: string): Poll {
  const poll = state.polls.get(Number(id));
  if (!poll || poll.owner !== call.user.id) throw new OcsFailure(400, "Poll not found");
  return poll;
}

function createPoll(state: State, call: OcsCall): OcsResult {
  const type = str(call.params, "type");
  if (!POLL_TYPES.has(type)) throw new OcsFailure(400, "Invalid poll type");
  const poll: Poll = { id: state.nextPollId++, type, title: str(call.params, "title"), owner: call.user.id, created: now(), options: [] };
  state.polls.set(poll.id, poll);
  return { code: 201, data: { poll: pollJson(state, poll, call.user, true) } };
}

function addPollOption(state: State, call: OcsCall, id: string): OcsResult {
  const poll = pollOrFail(state, call, id);
  const input = call.params.option;
  const text = input && typeof input === "object" ? String((input as Record<string, unknown>).text ?? "") : "";
  // Date options (timestamp/duration) are not modelled.
  if (text === "") throw new OcsFailure(400, "fake nextcloud: only text options are modelled");
  const option: PollOption = { id: state.nextOptionId++, pollId: poll.id, text, order: poll.options.length + 1 };
  poll.options.push(option);
  return {
    code: 201,
    data: { option: optionJson(option, ""), repetitions: [], options: poll.options.map((o) => optionJson(o, null)), votes: [] },
  };
}

// ---------------------------------------------------------------------------------------
// OCS routing

/** Who may call: anyone, any user, an admin or sub-admin, an admin. */
type Access = "public" | "user" | "subadmin" | "admin";

interface OcsRoute {
  method: string;
  path: RegExp;
  access: Access | ((call: OcsCall, args: string[]) => Access);
  handle: (state: State, call: OcsCall, args: string[]) => OcsResult;
}

const selfOr = (access: Access) => (call: OcsCall, args: string[]): Access => (args[0] === call.user.id ? "user" : access);

const OCS_ROUTES: OcsRoute[] = [
  { method: "GET", path: /^cloud\/capabilities$/, access: "public", handle: (_s, call) => ({ code: 200, data: capabilities(call.origin) }) },
  { method: "GET", path: /^cloud\/user$/, access: "user", handle: (s, call) => ({ code: 200, data: userData(s, call.user, true) }) },
  { method: "GET", path: /^cloud\/users$/, access: "subadmin", handle: (s, call) => ({ code: 200, data: { users: listedUsers(s, call.params).map((u) => u.id) } }) },
  {
    method: "GET",
    path: /^cloud\/users\/details$/,
    access: "subadmin",
    handle: (s, call) => ({ code: 200, data: { users: phpObject(listedUsers(s, call.params).map((u) => [u.id, userData(s, u, false)])) } }),
  },
  {
    method: "GET",
    path: /^cloud\/users\/disabled$/,
    access: "subadmin",
    handle: (s, call) => ({
      code: 200,
      data: { users: phpObject(listedUsers(s, call.params, (u) => !u.enabled).map((u) => [u.id, userData(s, u, false)])) },
    }),
  },
  { method: "POST", path: /^cloud\/users$/, access: "subadmin", handle: (s, call) => createUser(s, call) },
  {
    method: "GET",
    path: /^cloud\/users\/([^/]+)$/,
    access: selfOr("subadmin"),
    handle: (s, call, [id]) => {
      const user = s.users.get(id!);
      if (!user) throw new OcsFailure(404, "User does not exist");
      return { code: 200, data: userData(s, user, user.id === call.user.id) };
    },
  },
  { method: "PUT", path: /^cloud\/users\/([^/]+)$/, access: selfOr("subadmin"), handle: (s, call, [id]) => editUser(s, call, id!) },
  { method: "DELETE", path: /^cloud\/users\/([^/]+)$/, access: "subadmin", handle: (s, call, [id]) => deleteUser(s, call, id!) },
  { method: "PUT", path: /^cloud\/users\/([^/]+)\/enable$/, access: "subadmin", handle: (s, call, [id]) => setEnabled(s, call, id!, true) },
  { method: "PUT", path: /^cloud\/users\/([^/]+)\/disable$/, access: "subadmin", handle: (s, call, [id]) => setEnabled(s, call, id!, false) },
  { method: "POST", path: /^cloud\/users\/([^/]+)\/welcome$/, access: "subadmin", handle: (s, _call, [id]) => resendWelcome(s, id!) },
  {
    method: "GET",
    path: /^cloud\/users\/([^/]+)\/groups$/,
    access: selfOr("subadmin"),
    handle: (s, _call, [id]) => {
      if (!s.users.has(id!)) throw new OcsFailure(998);
      return { code: 200, data: { groups: s.groupsOf(id!) } };
    },
  },
  { method: "POST", path: /^cloud\/users\/([^/]+)\/groups$/, access: "subadmin", handle: (s, call, [id]) => addToGroup(s, call, id!) },
  { method: "DELETE", path: /^cloud\/users\/([^/]+)\/groups$/, access: "subadmin", handle: (s, call, [id]) => removeFromGroup(s, call, id!) },
  { method: "GET", path: /^cloud\/groups$/, access: "subadmin", handle: (s, call) => ({ code: 200, data: { groups: listedGroups(s, call.params).map((g) => g.id) } }) },
  {
    method: "GET",
    path: /^cloud\/groups\/details$/,
    access: "subadmin",
    handle: (s, call) => ({ code: 200, data: { groups: listedGroups(s, call.params).map((g) => groupDetails(s, g)) } }),
  },
  { method: "POST", path: /^cloud\/groups$/, access: "admin", handle: (s, call) => createGroup(s, call) },
  {
    method: "GET",
    path: /^cloud\/groups\/([^/]+)(?:\/users)?$/,
    access: "subadmin",
    handle: (s, _call, [id]) => ({ code: 200, data: { users: [...groupOrFail(s, id!).members].sort(byLowerCase) } }),
  },
  {
    method: "GET",
    path: /^cloud\/groups\/([^/]+)\/users\/details$/,
    access: "subadmin",
    handle: (s, _call, [id]) => {
      const members = [...groupOrFail(s, id!).members].sort(byLowerCase);
      return { code: 200, data: { users: phpObject(members.map((m) => [m, userData(s, s.users.get(m)!, false)])) } };
    },
  },
  { method: "PUT", path: /^cloud\/groups\/([^/]+)$/, access: "admin", handle: (s, call, [id]) => updateGroup(s, call, id!) },
  { method: "DELETE", path: /^cloud\/groups\/([^/]+)$/, access: "admin", handle: (s, _call, [id]) => deleteGroup(s, id!) },
  {
    method: "GET",
    path: /^apps\/files_retention\/api\/v1\/retentions$/,
    access: "admin",
    handle: (s) => ({ code: 200, data: [...s.rules.values()].sort((a, b) => a.id - b.id).map(ruleJson) }),
  },
  { method: "POST", path: /^apps\/files_retention\/api\/v1\/retentions$/, access: "admin", handle: (s, call) => createRule(s, call) },
  { method: "DELETE", path: /^apps\/files_retention\/api\/v1\/retentions\/(\d+)$/, access: "admin", handle: (s, _call, [id]) => deleteRule(s, id!) },
  { method: "POST", path: /^apps\/polls\/api\/v1\.0\/poll$/, access: "user", handle: (s, call) => createPoll(s, call) },
  {
    method: "GET",
    path: /^apps\/polls\/api\/v1\.0\/polls$/,
    access: "user",
    handle: (s, call) => ({
      code: 200,
      data: { polls: [...s.polls.values()].filter((p) => p.owner === call.user.id).map((p) => pollJson(s, p, call.user, false)) },
    }),
  },
  {
    method: "GET",
    path: /^apps\/polls\/api\/v1\.0\/poll\/(\d+)$/,
    access: "user",
    handle: (s, call, [id]) => {
      const poll = pollOrFail(s, call, id!);
      return {
        code: 200,
        data: { poll: pollJson(s, poll, call.user, false), options: poll.options.map((o) => optionJson(o, null)), votes: [], comments: [], shares: [], subscribed: false },
      };
    },
  },
  { method: "POST", path: /^apps\/polls\/api\/v1\.0\/poll\/(\d+)\/option$/, access: "user", handle: (s, call, [id]) => addPollOption(s, call, id!) },
  {
    method: "GET",
    path: /^apps\/polls\/api\/v1\.0\/poll\/(\d+)\/options$/,
    access: "user",
    handle: (s, call, [id]) => ({ code: 200, data: { options: pollOrFail(s, call, id!).options.map((o) => optionJson(o, null)) } }),
  },
];

const NOT_ADMIN = "Logged in account must be an admin";
const NOT_SUBADMIN = "Logged in account must be at least a sub admin";

function handleOcs(state: State, req: FakeRequest, version: 1 | 2, route: string): FakeResponse {
  const format = ocsFormat(req, version);
  const credentials = authenticate(state, req);
  if (credentials.kind === "refused") {
    // Refused at login, before routing; the v1 XML of this answer is text/xml.
    const response = ocsResponse(format, 997, [], "Unauthorised");
    response.headers!["WWW-Authenticate"] = 'Basic realm="Authorisation Required"';
    if (!format.json) response.headers!["Content-Type"] = "text/xml; charset=UTF-8";
    return response;
  }
  let args: string[] = [];
  const found = OCS_ROUTES.find((r) => {
    if (r.method !== req.method) return false;
    const m = r.path.exec(route);
    if (m) args = m.slice(1).map((a) => decodeURIComponent(a));
    return m !== null;
  });
  if (!found) {
    // Not recorded: the router's answer to an unknown OCS route.
    return ocsResponse(format, 998, [], "Invalid query, please check the syntax. API specifications are here: http://www.freedesktop.org/wiki/Specifications/open-collaboration-services.");
  }
  const user = credentials.kind === "user" ? credentials.user : undefined;
  const call: OcsCall = {
    ...format,
    req,
    params: requestParams(req),
    user: user!,
    admin: user ? state.isAdmin(user.id) : false,
    origin: `http://${req.headers.host ?? "127.0.0.1"}`,
  };
  const access = typeof found.access === "function" ? (user ? found.access(call, args) : "user") : found.access;
  try {
    if (access !== "public") {
      if (!user) return ocsResponse(format, 997, [], "Current user is not logged in");
      // Nextcloud's security middleware: login, admin, then CSRF; the provisioning API's own
      // sub-admin check comes after.
      if (access === "admin" && !call.admin) return ocsResponse(format, 403, [], NOT_ADMIN);
      // Request::passesCSRFCheck lets any non-empty OCS-APIRequest through ("true, true" too).
      if (String(req.headers["ocs-apirequest"] ?? "") === "") {
        return { status: 412, headers: { "Content-Type": "application/json; charset=utf-8" }, body: JSON.stringify({ message: "CSRF check failed" }) };
      }
      if (access === "subadmin" && !call.admin) return ocsResponse(format, 403, [], NOT_SUBADMIN);
    }
    const result = found.handle(state, call, args);
    return ocsResponse(format, result.code, result.data ?? [], result.message);
  } catch (error) {
    if (error instanceof OcsFailure) return ocsResponse(format, error.code, [], error.message);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------
// WebDAV (sabre/dav as Nextcloud runs it)

const NS = {
  dav: "DAV:",
  sabre: "http://sabredav.org/ns",
  caldav: "urn:ietf:params:xml:ns:caldav",
  cs: "http://calendarserver.org/ns/",
  oc: "http://owncloud.org/ns",
  nc: "http://nextcloud.org/ns",
  apple: "http://apple.com/ns/ical/",
  ncCom: "http://nextcloud.com/ns",
};

const clark = (ns: string, local: string) => `{${ns}}${local}`;

/** Sabre's error document. */
function davError(status: number, exception: string, message: string, header?: string, extraHeaders: Record<string, string> = {}): FakeResponse {
  const body =
    `<?xml version="1.0" encoding="utf-8"?>\n<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">\n` +
    `  <s:exception>${escapeXml(exception)}</s:exception>\n  <s:message>${escapeXml(message)}</s:message>\n` +
    (header ? `  <s:header>${header}</s:header>\n` : "") +
    `</d:error>\n`;
  return { status, headers: { "Content-Type": "application/xml; charset=utf-8", ...extraHeaders }, body };
}

const notFound = (message: string) => davError(404, "Sabre\\DAV\\Exception\\NotFound", message);
const nodeNotFound = (name: string) => notFound(`Node with name '${name}' could not be found`);
const EMPTY_OK = { "Content-Type": "text/html; charset=UTF-8" };

/**
 * Writes properties the way Sabre's XML writer does: the document's known prefixes,
 * and x1, x2… declared on the element itself for other namespaces, numbered per document.
 */
class DavWriter {
  readonly prefixes: Map<string, string>;
  private readonly adhoc = new Map<string, string>();

  constructor(prefixes: [string, string][]) {
    this.prefixes = new Map(prefixes);
  }

  /** inner: null for <x/>, "" for <x></x>, else already escaped XML. */
  element(name: string, inner: string | null, attributes = ""): string {
    const m = /^\{([^}]*)\}(.+)$/.exec(name)!;
    const ns = m[1]!;
    let prefix = this.prefixes.get(ns);
    let declaration = "";
    if (prefix === undefined) {
      prefix = this.adhoc.get(ns) ?? `x${this.adhoc.size + 1}`;
      this.adhoc.set(ns, prefix);
      declaration = ` xmlns:${prefix}="${ns}"`;
    }
    const tag = `${prefix}:${m[2]}`;
    return inner === null ? `<${tag}${declaration}${attributes}/>` : `<${tag}${declaration}${attributes}>${inner}</${tag}>`;
  }

  root(): string {
    return [...this.prefixes].map(([ns, prefix]) => ` xmlns:${prefix}="${ns}"`).join("");
  }
}

const CALDAV_PREFIXES: [string, string][] = [
  [NS.dav, "d"],
  [NS.sabre, "s"],
  [NS.caldav, "cal"],
  [NS.cs, "cs"],
  [NS.oc, "oc"],
  [NS.nc, "nc"],
];
const SYSTEMTAGS_PREFIXES: [string, string][] = [
  [NS.dav, "d"],
  [NS.sabre, "s"],
  [NS.oc, "oc"],
  [NS.nc, "nc"],
];

/** A property's value as a function of the writer (for nested elements); undefined = 404. */
type PropValue = ((w: DavWriter) => string | null) | undefined;

interface DavResource {
  href: string;
  prop: (name: string) => PropValue;
  /** What allprop returns. */
  allprops: string[];
}

/** sabre/dav's encodePath. */
const encodePath = (path: string) => path.replace(/[^A-Za-z0-9_\-.~()/:@]/g, (c) => encodeURIComponent(c));

function multistatus(writer: DavWriter, resources: DavResource[], requested: string[] | "allprop"): FakeResponse {
  let body = `<?xml version="1.0"?>\n<d:multistatus${writer.root()}>`;
  for (const resource of resources) {
    const names = requested === "allprop" ? resource.allprops : requested;
    const found: string[] = [];
    const missing: string[] = [];
    for (const name of names) {
      const value = resource.prop(name);
      if (value === undefined) missing.push(writer.element(name, null));
      else found.push(writer.element(name, value(writer)));
    }
    body += `<d:response><d:href>${escapeXml(encodePath(resource.href))}</d:href>`;
    if (found.length > 0) body += `<d:propstat><d:prop>${found.join("")}</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>`;
    if (missing.length > 0 && requested !== "allprop") {
      body += `<d:propstat><d:prop>${missing.join("")}</d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>`;
    }
    body += `</d:response>`;
  }
  body += `</d:multistatus>\n`;
  return { status: 207, headers: { "Content-Type": "application/xml; charset=utf-8" }, body };
}

const text = (value: string): PropValue => () => escapeXml(value);

function parseBody(req: FakeRequest): XmlElement | undefined | "invalid" {
  if (req.body.trim() === "") return undefined;
  try {
    return parseXml(req.body);
  } catch {
    return "invalid";
  }
}

const badXml = () => davError(400, "Sabre\\DAV\\Exception\\BadRequest", "The request body had an invalid XML body.");
const elements = (e: XmlElement) => e.children.filter((c): c is XmlElement => typeof c !== "string");
const nameOf = (e: XmlElement) => clark(e.ns, e.local);
const textContent = (e: XmlElement): string => e.children.map((c) => (typeof c === "string" ? c : textContent(c))).join("");

/** The properties a PROPFIND asks for (allprop when it names none). */
function requestedProps(req: FakeRequest): string[] | "allprop" | FakeResponse {
  const body = parseBody(req);
  if (body === "invalid") return badXml();
  const prop = body ? elements(body).find((e) => nameOf(e) === clark(NS.dav, "prop")) : undefined;
  return prop ? elements(prop).map(nameOf) : "allprop";
}

function davAuth(state: State, req: FakeRequest): User | FakeResponse {
  const credentials = authenticate(state, req);
  if (credentials.kind === "user") return credentials.user;
  const reason =
    credentials.kind === "refused"
      ? "Username or password was incorrect, No 'Authorization: Bearer' header found. Either the client didn't send one, or the server is mis-configured, Username or password was incorrect"
      : // Not recorded: the wording without credentials.
        "No 'Authorization: Basic' header found. Either the client didn't send one, or the server is mis-configured, No 'Authorization: Bearer' header found. Either the client didn't send one, or the server is mis-configured, No 'Authorization: Basic' header found. Either the client didn't send one, or the server is mis-configured";
  return davError(
    401,
    "Sabre\\DAV\\Exception\\NotAuthenticated",
    `No public access to this resource., AppAPIAuth has not passed, This request is not for a federated calendar, ${reason}`,
    undefined,
    { "WWW-Authenticate": 'Basic realm="Nextcloud", charset="UTF-8"' },
  );
}

// ---------------------------------------------------------------------------------------
// CalDAV

type CalendarNode =
  | { kind: "home"; home: User; name: string }
  | { kind: "special"; home: User; name: "inbox" | "outbox" | "trashbin" }
  /** `listed`: reached through the home's children (Nextcloud then adds owner-principal). */
  | { kind: "calendar"; home: User; name: string; calendar: Calendar; shared: boolean; readWrite: boolean; listed: boolean }
  | { kind: "object"; home: User; name: string; parent: CalendarNode & { kind: "calendar" }; object: CalendarObject };

const SPECIAL = new Set(["inbox", "outbox", "trashbin"]);
const ALLOW_EXISTING = "OPTIONS, GET, HEAD, DELETE, PROPFIND, PUT, PROPPATCH, COPY, MOVE, REPORT";
const syncUrl = (calendar: Calendar) => `http://sabre.io/ns/sync/${calendar.syncToken}`;

/** The calendars in a home, in Nextcloud's order: own, then shared with the owner. */
function homeCalendars(state: State, home: User): (CalendarNode & { kind: "calendar" })[] {
  const own = state.calendars
    .filter((c) => c.owner === home.id)
    .map((calendar) => ({ kind: "calendar" as const, home, name: calendar.uri, calendar, shared: false, readWrite: true, listed: true }));
  const shared = state
    .sharedWith(home.id)
    .map(({ calendar, readWrite }) => ({ kind: "calendar" as const, home, name: `${calendar.uri}_shared_by_${calendar.owner}`, calendar, shared: true, readWrite, listed: true }));
  return [...own, ...shared];
}

/** Walks /calendars/<home>/<calendar>/<object>; a missing node is Sabre's own 404. */
function resolveCalendarPath(state: State, segments: string[]): CalendarNode | FakeResponse {
  const [homeName, calendarName, objectName] = segments;
  const home = state.users.get(homeName!);
  if (!home) return notFound(`Principal with name ${homeName} not found`);
  if (calendarName === undefined) return { kind: "home", home, name: home.id };
  if (SPECIAL.has(calendarName)) {
    if (objectName !== undefined) return nodeNotFound(objectName);
    return { kind: "special", home, name: calendarName as "inbox" };
  }
  // Own calendars come from getCalendarByUri, without owner-principal (as recorded).
  const own = state.ownCalendar(home.id, calendarName);
  const calendar: (CalendarNode & { kind: "calendar" }) | undefined = own
    ? { kind: "calendar", home, name: calendarName, calendar: own, shared: false, readWrite: true, listed: false }
    : homeCalendars(state, home).find((c) => c.shared && c.name === calendarName);
  if (!calendar) return nodeNotFound(calendarName);
  if (objectName === undefined) return calendar;
  const object = calendar.calendar.objects.get(objectName);
  if (!object) return notFound("Calendar object not found");
  return { kind: "object", home, name: objectName, parent: calendar, object };
}

/**
 * Nextcloud's DavAclPlugin: a node the user has no right to is reported as not found,
 * by its name ("Calendar with name …" for calendars, "Node with name …" otherwise).
 */
function canAccess(node: CalendarNode, user: User, write: boolean): boolean {
  if (node.home.id !== user.id) return false;
  if (node.kind === "calendar") return !write || node.readWrite;
  if (node.kind === "object") return !write || node.parent.readWrite;
  return true;
}

const aclNotFound = (node: CalendarNode) => notFound(`${node.kind === "calendar" ? "Calendar" : "Node"} with name '${node.name}' could not be found`);

function calendarProps(state: State, node: CalendarNode & { kind: "calendar" }): (name: string) => PropValue {
  const c = node.calendar;
  return (name) => {
    switch (name) {
      case clark(NS.dav, "resourcetype"):
        return (w) => w.element(clark(NS.dav, "collection"), null) + w.element(clark(NS.caldav, "calendar"), null);
      case clark(NS.dav, "displayname"): {
        const owner = state.users.get(c.owner)?.displayName ?? c.owner;
        return text(node.shared ? `${c.displayName} (${owner})` : c.displayName);
      }
      case clark(NS.apple, "calendar-color"):
        return c.color === null ? undefined : text(c.color);
      case clark(NS.caldav, "calendar-description"):
        return c.description === null ? undefined : text(c.description);
      case clark(NS.caldav, "supported-calendar-component-set"):
        return (w) => c.components.map((comp) => w.element(clark(NS.caldav, "comp"), null, ` name="${comp}"`)).join("");
      case clark(NS.cs, "getctag"):
      case clark(NS.dav, "sync-token"):
        return text(syncUrl(c));
      case clark(NS.oc, "owner-principal"):
        return node.listed || node.shared ? text(`principals/users/${c.owner}`) : undefined;
      case clark(NS.oc, "read-only"):
        return node.shared ? () => (node.readWrite ? "" : "1") : undefined;
      case clark(NS.oc, "invite"):
        return (w) => {
          const users = [...c.shares].map(([principal, readWrite]) => {
            const [, kind, id] = /^principals\/(users|groups)\/(.+)$/.exec(principal)!;
            const commonName = kind === "groups" ? state.groups.get(id!)?.displayName : state.users.get(id!)?.displayName;
            return w.element(
              clark(NS.oc, "user"),
              w.element(clark(NS.dav, "href"), escapeXml(`principal:${principal}`)) +
                w.element(clark(NS.oc, "common-name"), escapeXml(commonName ?? id!)) +
                w.element(clark(NS.oc, "invite-accepted"), null) +
                w.element(clark(NS.oc, "access"), w.element(clark(NS.oc, readWrite ? "read-write" : "read"), null)),
            );
          });
          return users.length === 0 ? null : users.join("");
        };
      default:
        return undefined;
    }
  };
}

const CALENDAR_ALLPROPS = [
  clark(NS.dav, "resourcetype"),
  clark(NS.dav, "displayname"),
  clark(NS.apple, "calendar-color"),
  clark(NS.caldav, "supported-calendar-component-set"),
  clark(NS.cs, "getctag"),
  clark(NS.dav, "sync-token"),
];

function objectContentType(object: CalendarObject): string {
  return `text/calendar; charset=utf-8; component=${object.component.toLowerCase()}`;
}

function resourceOf(state: State, node: CalendarNode, href: string): DavResource {
  switch (node.kind) {
    case "home":
      return {
        href,
        prop: (name) => (name === clark(NS.dav, "resourcetype") ? (w) => w.element(clark(NS.dav, "collection"), null) : undefined),
        allprops: [clark(NS.dav, "resourcetype")],
      };
    case "special": {
      const type =
        node.name === "inbox" ? clark(NS.caldav, "schedule-inbox") : node.name === "outbox" ? clark(NS.caldav, "schedule-outbox") : clark(NS.ncCom, "trash-bin");
      return {
        href,
        prop: (name) => (name === clark(NS.dav, "resourcetype") ? (w) => w.element(clark(NS.dav, "collection"), null) + w.element(type, null) : undefined),
        allprops: [clark(NS.dav, "resourcetype")],
      };
    }
    case "calendar":
      return { href, prop: calendarProps(state, node), allprops: CALENDAR_ALLPROPS };
    case "object": {
      const o = node.object;
      const props: Record<string, PropValue> = {
        [clark(NS.dav, "getetag")]: text(o.etag),
        [clark(NS.dav, "getcontenttype")]: text(objectContentType(o)),
        [clark(NS.dav, "getcontentlength")]: text(String(Buffer.byteLength(o.data))),
        [clark(NS.dav, "getlastmodified")]: text(new Date(o.modified * 1000).toUTCString()),
        [clark(NS.dav, "resourcetype")]: () => null,
        [clark(NS.caldav, "calendar-data")]: text(o.data),
      };
      return { href, prop: (name) => props[name], allprops: Object.keys(props).filter((n) => n !== clark(NS.caldav, "calendar-data")) };
    }
  }
}

function calendarPropfind(state: State, req: FakeRequest, node: CalendarNode, href: string): FakeResponse {
  const requested = requestedProps(req);
  if (!Array.isArray(requested) && requested !== "allprop") return requested;
  const depth = String(req.headers.depth ?? "1") === "0" ? 0 : 1;
  const resources = [resourceOf(state, node, href)];
  if (depth === 1 && node.kind === "home") {
    for (const child of homeCalendars(state, node.home)) resources.push(resourceOf(state, child, `${href}${child.name}/`));
    for (const name of ["inbox", "outbox", "trashbin"] as const) resources.push(resourceOf(state, { kind: "special", home: node.home, name }, `${href}${name}/`));
  }
  if (depth === 1 && node.kind === "calendar") {
    for (const object of node.calendar.objects.values()) {
      resources.push(resourceOf(state, { kind: "object", home: node.home, name: object.name, parent: node, object }, `${href}${object.name}`));
    }
  }
  return multistatus(new DavWriter(CALDAV_PREFIXES), resources, requested);
}

function mkcalendar(state: State, req: FakeRequest, user: User, segments: string[]): FakeResponse {
  if (segments.length !== 2) return notModelled(req);
  const home = state.users.get(segments[0]!);
  if (!home) return davError(409, "Sabre\\DAV\\Exception\\Conflict", "Parent node does not exist");
  const uri = segments[1]!;
  if (SPECIAL.has(uri) || state.ownCalendar(home.id, uri) || homeCalendars(state, home).some((c) => c.name === uri)) {
    return davError(405, "Sabre\\DAV\\Exception\\MethodNotAllowed", "The resource you tried to create already exists", undefined, { Allow: ALLOW_EXISTING });
  }
  if (home.id !== user.id) return nodeNotFound(home.id);
  const body = parseBody(req);
  if (body === "invalid") return badXml();
  const props = new Map<string, XmlElement>();
  for (const set of body ? elements(body).filter((e) => nameOf(e) === clark(NS.dav, "set")) : []) {
    for (const prop of elements(set).filter((e) => nameOf(e) === clark(NS.dav, "prop"))) for (const p of elements(prop)) props.set(nameOf(p), p);
  }
  const compSet = props.get(clark(NS.caldav, "supported-calendar-component-set"));
  const components = compSet ? elements(compSet).map((c) => c.attributes.name ?? "").filter(Boolean) : undefined;
  const value = (name: string) => {
    const p = props.get(name);
    return p ? textContent(p) : undefined;
  };
  state.addCalendar(home.id, uri, {
    displayName: value(clark(NS.dav, "displayname")) ?? uri,
    color: value(clark(NS.apple, "calendar-color")) ?? null,
    description: value(clark(NS.caldav, "calendar-description")) ?? null,
    components,
  });
  return { status: 201, headers: EMPTY_OK, body: "" };
}

/** POST o:share (Nextcloud's sharing plugin); anything else has no handler (501). */
function sharePost(state: State, req: FakeRequest, user: User, node: CalendarNode): FakeResponse {
  const noHandler = () => davError(501, "Sabre\\DAV\\Exception\\NotImplemented", "There was no plugin in the system that was willing to handle this POST method.");
  const type = String(req.headers["content-type"] ?? "");
  if (!type.includes("application/xml") && !type.includes("text/xml")) return noHandler();
  const body = parseBody(req);
  if (body === "invalid") return badXml();
  if (!body || nameOf(body) !== clark(NS.oc, "share") || node.kind !== "calendar") return noHandler();
  if (!canAccess(node, user, true)) return aclNotFound(node);
  // Not recorded: a sharee cannot reshare (Calendar::updateShares throws Forbidden).
  if (node.shared) return davError(403, "Sabre\\DAV\\Exception\\Forbidden", "");
  const principalOf = (e: XmlElement) => {
    const href = elements(e).find((c) => nameOf(c) === clark(NS.dav, "href"));
    const m = href ? /^principal:principals\/(users|groups)\/(.+)$/.exec(textContent(href).trim()) : null;
    return m ? { kind: m[1]!, id: decodeURIComponent(m[2]!) } : undefined;
  };
  const calendar = node.calendar;
  for (const change of elements(body)) {
    const principal = principalOf(change);
    if (!principal) continue;
    const key = `principals/${principal.kind}/${principal.id}`;
    if (nameOf(change) === clark(NS.oc, "set")) {
      // A sharee that does not exist is ignored (recorded), as is the owner.
      const exists = principal.kind === "groups" ? state.groups.has(principal.id) : state.users.has(principal.id) && principal.id !== calendar.owner;
      if (exists) calendar.shares.set(key, elements(change).some((c) => nameOf(c) === clark(NS.oc, "read-write")));
    } else if (nameOf(change) === clark(NS.oc, "remove")) calendar.shares.delete(key);
  }
  return { status: 200, headers: { ...EMPTY_OK, "X-Sabre-Status": "everything-went-well" }, body: "" };
}

const COMPONENTS = ["VEVENT", "VTODO", "VJOURNAL"];

/** What sabre/vobject needs to accept an iCalendar object: its component and UID. */
function parseICalendar(data: string): { component: string; uid: string } | { error: FakeResponse } {
  const lines = data.replace(/\r?\n[ \t]/g, "").split(/\r?\n/);
  if (lines[0]?.trim().toUpperCase() !== "BEGIN:VCALENDAR") {
    return {
      error: davError(
        415,
        "Sabre\\DAV\\Exception\\UnsupportedMediaType",
        "This resource only supports valid iCalendar 2.0 data. Parse error: This parser only supports VCARD and VCALENDAR files",
      ),
    };
  }
  let component: string | undefined;
  let uid: string | undefined;
  let depth = 0;
  for (const line of lines) {
    const begin = /^BEGIN:(.+)$/i.exec(line.trim());
    if (begin) {
      depth++;
      if (depth === 2 && COMPONENTS.includes(begin[1]!.toUpperCase())) component ??= begin[1]!.toUpperCase();
    } else if (/^END:/i.test(line.trim())) depth--;
    else if (depth === 2 && /^UID[;:]/i.test(line)) uid ??= line.slice(line.indexOf(":") + 1).trim();
  }
  // Not recorded: sabre's messages for these.
  if (!component) {
    return { error: davError(403, "Sabre\\CalDAV\\Exception\\InvalidComponentType", "Calendar objects must have a VJOURNAL, VEVENT or VTODO component") };
  }
  return { component, uid: uid ?? md5(data) };
}

function putObject(state: State, req: FakeRequest, user: User, segments: string[]): FakeResponse {
  if (segments.length !== 3) return notModelled(req);
  const parent = resolveCalendarPath(state, segments.slice(0, 2));
  if ("status" in parent) return parent;
  if (parent.kind !== "calendar") return notModelled(req);
  const name = segments[2]!;
  const existing = parent.calendar.objects.get(name);
  if (existing && !canAccess({ kind: "object", home: parent.home, name, parent, object: existing }, user, true)) return nodeNotFound(name);
  const ifNoneMatch = String(req.headers["if-none-match"] ?? "");
  const ifMatch = String(req.headers["if-match"] ?? "");
  if (existing && ifNoneMatch && (ifNoneMatch === "*" || ifNoneMatch.split(",").map((t) => t.trim()).includes(existing.etag))) {
    return davError(412, "Sabre\\DAV\\Exception\\PreconditionFailed", "An If-None-Match header was specified, but the ETag matched (or * was specified).", "If-None-Match");
  }
  if (ifMatch) {
    if (!existing) return davError(412, "Sabre\\DAV\\Exception\\PreconditionFailed", "An If-Match header was specified and the resource did not exist", "If-Match");
    if (ifMatch !== "*" && !ifMatch.split(",").map((t) => t.trim()).includes(existing.etag)) {
      return davError(412, "Sabre\\DAV\\Exception\\PreconditionFailed", "An If-Match header was specified, but none of the specified ETags matched.", "If-Match");
    }
  }
  if (!existing && !canAccess(parent, user, true)) return aclNotFound(parent);
  const parsed = parseICalendar(req.body);
  if ("error" in parsed) return parsed.error;
  if (!parent.calendar.components.includes(parsed.component)) {
    return davError(403, "Sabre\\CalDAV\\Exception\\InvalidComponentType", `Components of type ${parsed.component} are not supported by this calendar.`);
  }
  for (const other of parent.calendar.objects.values()) {
    if (other.name !== name && other.uid === parsed.uid) {
      return davError(400, "Sabre\\DAV\\Exception\\BadRequest", "Calendar object with uid already exists in this calendar collection.");
    }
  }
  const etag = `"${md5(req.body)}"`;
  parent.calendar.objects.set(name, { name, data: req.body, etag, uid: parsed.uid, component: parsed.component, modified: now() });
  parent.calendar.syncToken++;
  return { status: existing ? 204 : 201, headers: { ...EMPTY_OK, ETag: etag, "OC-ETag": etag }, body: "" };
}

const PROPPATCHABLE: Record<string, "displayName" | "color" | "description"> = {
  [clark(NS.dav, "displayname")]: "displayName",
  [clark(NS.apple, "calendar-color")]: "color",
  [clark(NS.caldav, "calendar-description")]: "description",
};

/** Not recorded: PROPPATCH of a calendar's display name, color or description. */
function proppatch(req: FakeRequest, node: CalendarNode, href: string): FakeResponse {
  if (node.kind !== "calendar" || node.shared) return notModelled(req);
  const body = parseBody(req);
  if (body === "invalid" || !body) return badXml();
  const changes: [string, string | null][] = [];
  for (const action of elements(body)) {
    const set = nameOf(action) === clark(NS.dav, "set");
    for (const prop of elements(action).filter((e) => nameOf(e) === clark(NS.dav, "prop"))) for (const p of elements(prop)) changes.push([nameOf(p), set ? textContent(p) : null]);
  }
  const writer = new DavWriter(CALDAV_PREFIXES);
  const ok = changes.every(([name]) => name in PROPPATCHABLE);
  for (const [name, value] of ok ? changes : []) {
    const field = PROPPATCHABLE[name]!;
    if (field === "displayName") node.calendar.displayName = value ?? node.calendar.uri;
    else node.calendar[field] = value;
  }
  const status = ok ? "HTTP/1.1 200 OK" : "HTTP/1.1 403 Forbidden";
  const props = changes.map(([name]) => writer.element(name, null)).join("");
  const body207 = `<?xml version="1.0"?>\n<d:multistatus${writer.root()}><d:response><d:href>${escapeXml(encodePath(href))}</d:href><d:propstat><d:prop>${props}</d:prop><d:status>${status}</d:status></d:propstat></d:response></d:multistatus>\n`;
  return { status: 207, headers: { "Content-Type": "application/xml; charset=utf-8" }, body: body207 };
}

function handleCalendars(state: State, req: FakeRequest, segments: string[]): FakeResponse {
  const user = davAuth(state, req);
  if ("status" in user) return user;
  if (segments.length === 0) return notModelled(req);
  if (req.method === "MKCALENDAR") return mkcalendar(state, req, user, segments);
  if (req.method === "PUT") return putObject(state, req, user, segments);
  const node = resolveCalendarPath(state, segments);
  if ("status" in node) return node;
  const href = `/remote.php/dav/calendars/${segments.join("/")}${node.kind === "object" ? "" : "/"}`;
  switch (req.method) {
    case "PROPFIND":
      return canAccess(node, user, false) ? calendarPropfind(state, req, node, href) : aclNotFound(node);
    case "POST":
      return sharePost(state, req, user, node);
    case "GET":
    case "HEAD": {
      if (!canAccess(node, user, false)) return aclNotFound(node);
      if (node.kind !== "object") return notModelled(req);
      const o = node.object;
      return { status: 200, headers: { "Content-Type": objectContentType(o), ETag: o.etag, "OC-ETag": o.etag }, body: req.method === "HEAD" ? "" : o.data };
    }
    case "DELETE": {
      // Not recorded: deleting an event or an own calendar.
      if (!canAccess(node, user, true)) return aclNotFound(node);
      if (node.kind === "object") {
        node.parent.calendar.objects.delete(node.name);
        node.parent.calendar.syncToken++;
      } else if (node.kind === "calendar" && !node.shared) {
        state.calendars.splice(state.calendars.indexOf(node.calendar), 1);
      } else return notModelled(req);
      return { status: 204, headers: EMPTY_OK, body: "" };
    }
    case "PROPPATCH":
      return canAccess(node, user, true) ? proppatch(req, node, href) : aclNotFound(node);
    default:
      return notModelled(req);
  }
}

// ---------------------------------------------------------------------------------------
// System tags (WebDAV)

function tagResource(tag: SystemTag, admin: boolean): DavResource {
  const props: Record<string, PropValue> = {
    [clark(NS.oc, "id")]: text(String(tag.id)),
    [clark(NS.oc, "display-name")]: text(tag.name),
    [clark(NS.oc, "user-visible")]: text(String(tag.userVisible)),
    [clark(NS.oc, "user-assignable")]: text(String(tag.userAssignable)),
    [clark(NS.oc, "can-assign")]: text(String(admin || (tag.userVisible && tag.userAssignable))),
  };
  return { href: `/remote.php/dav/systemtags/${tag.id}/`, prop: (name) => props[name], allprops: Object.keys(props) };
}

function handleSystemTags(state: State, req: FakeRequest, segments: string[]): FakeResponse {
  const user = davAuth(state, req);
  if ("status" in user) return user;
  const admin = state.isAdmin(user.id);
  const visible = [...state.tags.values()].filter((t) => admin || t.userVisible).sort((a, b) => byCodeUnit(a.name, b.name) || a.id - b.id);
  if (segments.length === 0 && req.method === "POST") {
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(req.body) as Record<string, unknown>;
    } catch {
      return davError(400, "Sabre\\DAV\\Exception\\BadRequest", "Invalid JSON");
    }
    const name = typeof input.name === "string" ? input.name : "";
    if (name === "") return davError(400, "Sabre\\DAV\\Exception\\BadRequest", 'Missing "name" attribute');
    const userVisible = input.userVisible !== false;
    const userAssignable = input.userAssignable !== false;
    // Not recorded: only admins create invisible or restricted tags.
    if (!admin && (!userVisible || !userAssignable)) return davError(400, "Sabre\\DAV\\Exception\\BadRequest", "Not sufficient permissions");
    if ([...state.tags.values()].some((t) => t.name === name)) return davError(409, "Sabre\\DAV\\Exception\\Conflict", "Tag already exists");
    const tag: SystemTag = { id: state.nextTagId++, name, userVisible, userAssignable };
    state.tags.set(tag.id, tag);
    return { status: 201, headers: { ...EMPTY_OK, "Content-Location": `/remote.php/dav/systemtags/${tag.id}` }, body: "" };
  }
  const tag = segments.length === 1 ? visible.find((t) => String(t.id) === segments[0]) : undefined;
  if (segments.length === 1 && !tag) return notFound(`Tag with id ${segments[0]} not found`);
  if (req.method === "PROPFIND" && segments.length <= 1) {
    const requested = requestedProps(req);
    if (!Array.isArray(requested) && requested !== "allprop") return requested;
    const depth = String(req.headers.depth ?? "1") === "0" ? 0 : 1;
    const resources: DavResource[] = tag
      ? [tagResource(tag, admin)]
      : [{ href: "/remote.php/dav/systemtags/", prop: () => undefined, allprops: [] }, ...(depth === 1 ? visible.map((t) => tagResource(t, admin)) : [])];
    return multistatus(new DavWriter(SYSTEMTAGS_PREFIXES), resources, requested);
  }
  if (req.method === "DELETE" && tag) {
    // Not recorded: deleting a tag (admins only) also drops its retention rules.
    if (!admin) return davError(403, "Sabre\\DAV\\Exception\\Forbidden", "No permission to delete tag " + tag.id);
    state.tags.delete(tag.id);
    for (const rule of [...state.rules.values()]) if (rule.tagid === tag.id) state.rules.delete(rule.id);
    return { status: 204, headers: EMPTY_OK, body: "" };
  }
  return notModelled(req);
}

// ---------------------------------------------------------------------------------------
// Entry point

const STATUS = {
  installed: true,
  maintenance: false,
  needsDbUpgrade: false,
  version: "32.0.1.2",
  versionstring: "32.0.1",
  edition: "",
  productname: "Nextcloud",
  extendedSupport: false,
};

function route(state: State, req: FakeRequest): FakeResponse {
  const path = req.url.pathname;
  if (path === "/status.php" && req.method === "GET") {
    return { status: 200, headers: { "Content-Type": "application/json" }, body: JSON.stringify(STATUS) };
  }
  const ocs = /^\/ocs\/v([12])\.php\/(.*)$/.exec(path);
  if (ocs) {
    const response = handleOcs(state, req, ocs[1] === "1" ? 1 : 2, ocs[2]!);
    if (/^cloud\/capabilities$/.test(ocs[2]!) && response.status === 200) response.headers!.ETag = `"${md5(response.body ?? "")}"`;
    return response;
  }
  const dav = /^\/remote\.php\/dav\/(calendars|systemtags)(?:\/(.*))?$/.exec(path);
  if (dav) {
    const segments = (dav[2] ?? "").split("/").filter(Boolean).map((s) => decodeURIComponent(s));
    return dav[1] === "calendars" ? handleCalendars(state, req, segments) : handleSystemTags(state, req, segments);
  }
  // The polls app's pre-OCS REST routes are gone in 9.x (recorded 405, empty body).
  if (path.startsWith("/index.php/apps/polls/api/")) return { status: 405, headers: EMPTY_OK, body: "" };
  return notModelled(req);
}

function shareViews(calendar: Calendar): ShareView[] {
  return [...calendar.shares].map(([principal, readWrite]) => {
    const [, kind, id] = /^principals\/(users|groups)\/(.+)$/.exec(principal)!;
    return { principal, kind: kind === "users" ? "user" : "group", id: id!, readWrite };
  });
}

function calendarView(calendar: Calendar): CalendarView {
  return {
    owner: calendar.owner,
    uri: calendar.uri,
    displayName: calendar.displayName,
    color: calendar.color,
    description: calendar.description,
    components: [...calendar.components],
    syncToken: calendar.syncToken,
    shares: shareViews(calendar),
    events: [...calendar.objects.values()].map(({ name, uid, etag, data }) => ({ name, uid, etag, data })),
  };
}

function userView(state: State, user: User): UserView {
  return {
    id: user.id,
    displayName: user.displayName,
    email: user.email,
    enabled: user.enabled,
    groups: state.groupsOf(user.id),
    quota: user.quota,
    language: user.language,
    hasPassword: user.password !== null,
    passwordSets: user.passwordSets,
  };
}

/** Starts a fake Nextcloud on 127.0.0.1 (random port). */
export async function createFakeNextcloud(options: FakeNextcloudOptions): Promise<FakeNextcloud> {
  const state = new State(options);
  const server = new FakeServer((req) => route(state, req));
  const url = await server.start();
  const calendarOf = (owner: string, uri: string) => {
    const calendar = state.ownCalendar(owner, uri);
    if (!calendar) throw new Error(`no calendar ${owner}/${uri}`);
    return calendar;
  };
  return {
    server,
    url,
    stop: () => server.stop(),
    users: () => [...state.users.values()].sort((a, b) => byLowerCase(a.id, b.id)).map((u) => userView(state, u)),
    user: (id) => {
      const user = state.users.get(id);
      return user ? userView(state, user) : undefined;
    },
    groups: () => [...state.groups.values()].sort((a, b) => byCodeUnit(a.id, b.id)).map((g) => ({ id: g.id, displayName: g.displayName, members: [...g.members].sort(byLowerCase) })),
    calendars: (owner) => state.calendars.filter((c) => owner === undefined || c.owner === owner).map(calendarView),
    calendar: (owner, uri) => {
      const calendar = state.ownCalendar(owner, uri);
      return calendar ? calendarView(calendar) : undefined;
    },
    shares: (owner, uri) => shareViews(calendarOf(owner, uri)),
    systemTags: () => [...state.tags.values()].map((t) => ({ ...t })),
    retentionRules: () => [...state.rules.values()].map((r) => ({ ...r })),
    mails: () => state.mails.map((m) => ({ ...m })),
    addUser: (id, seed = {}) => {
      if (state.users.has(id)) throw new Error(`user ${id} exists`);
      const user = state.addUser(id, seed.password ?? null);
      user.displayName = seed.displayName ?? id;
      user.email = seed.email ?? null;
      user.enabled = seed.enabled ?? true;
      user.quota = seed.quota ?? "none";
      for (const group of seed.groups ?? []) (state.groups.get(group) ?? state.addGroup(group)).members.add(id);
    },
    addGroup: (id, displayName) => {
      if (state.groups.has(id)) throw new Error(`group ${id} exists`);
      state.addGroup(id, displayName);
    },
    addCalendar: (owner, uri, seed = {}) => {
      if (!state.users.has(owner)) throw new Error(`no user ${owner}`);
      if (state.ownCalendar(owner, uri)) throw new Error(`calendar ${owner}/${uri} exists`);
      state.addCalendar(owner, uri, { displayName: seed.displayName, color: seed.color, components: seed.components });
    },
    shareCalendar: (owner, uri, principal, readWrite) => {
      if (!/^principals\/(users|groups)\/.+$/.test(principal)) throw new Error(`not a principal: ${principal}`);
      calendarOf(owner, uri).shares.set(principal, readWrite);
    },
    failNextUserCreation: (userid) => {
      state.failingCreations.add(userid);
    },
  };
}

// ---------------------------------------------------------------------------------------
// Capabilities, as the recorded instance listed them ({origin} is the fake's own).

function capabilities(origin: string): unknown {
  return JSON.parse(JSON.stringify(CAPABILITIES).split("{origin}").join(origin));
}

const CAPABILITIES = {
  version: { major: 32, minor: 0, micro: 1, string: "32.0.1", edition: "", extendedSupport: false },
  capabilities: {
    core: {
      pollinterval: 60,
      "webdav-root": "remote.php/webdav",
      "reference-api": true,
      "reference-regex": "(\\s|\\n|^)(https?:\\/\\/)([-A-Z0-9+_.]+(?::[0-9]+)?(?:\\/[-A-Z0-9+&@#%?=~_|!:,.;()]*)*)(\\s|\\n|$)",
      "mod-rewrite-working": false,
      user: { language: "", locale: "", timezone: "UTC" },
    },
    bruteforce: { delay: 0, "allow-listed": false },
    files: {
      $comment: "\"blacklisted_files\" is deprecated as of Nextcloud 30, use \"forbidden_filenames\" instead",
      blacklisted_files: [".htaccess"],
      forbidden_filenames: [".htaccess"],
      forbidden_filename_basenames: [],
      forbidden_filename_characters: ["\\", "/"],
      forbidden_filename_extensions: [".filepart", ".part"],
      bigfilechunking: true,
      chunked_upload: { max_size: 104857600, max_parallel_count: 5 },
      file_conversions: [],
      windows_compatible_filenames: false,
      directEditing: {
        url: "{origin}/ocs/v2.php/apps/files/api/v1/directEditing",
        etag: "5b2f367cfe076ab42b79601036409c2e",
        supportsFileId: true,
      },
      comments: true,
      undelete: true,
      delete_from_trash: true,
      versioning: true,
      version_labeling: true,
      version_deletion: true,
    },
    activity: { apiv2: ["filters", "filters-api", "previews", "rich-strings"] },
    app_api: { loglevel: 2, version: "32.0.0" },
    calendar: { webui: true },
    circles: {
      version: "32.0.0",
      status: { globalScale: false },
      settings: { frontendEnabled: true, allowedCircles: 262143, allowedUserTypes: 31, membersLimit: -1 },
      circle: {
        constants: {
          flags: {
            "1": "Single",
            "2": "Personal",
            "4": "System",
            "8": "Visible",
            "16": "Open",
            "32": "Invite",
            "64": "Join request",
            "128": "Friends",
            "256": "Password protected",
            "512": "No Owner",
            "1024": "Hidden",
            "2048": "Backend",
            "4096": "Local",
            "8192": "Root",
            "16384": "Team invite",
            "32768": "Federated",
            "65536": "Mount point",
          },
          source: {
            core: {
              "1": "Nextcloud Account",
              "2": "Nextcloud Group",
              "4": "Email address",
              "8": "Contact",
              "16": "Team",
              "10000": "Nextcloud App",
            },
            extra: { "10001": "Teams App", "10002": "Admin Command Line" },
          },
        },
        config: { coreFlags: [1, 2, 4], systemFlags: [512, 1024, 2048] },
      },
      member: {
        constants: { level: { "1": "Member", "4": "Moderator", "8": "Admin", "9": "Owner" } },
        type: {
          "0": "single",
          "1": "user",
          "2": "group",
          "4": "mail",
          "8": "contact",
          "16": "circle",
          "10000": "app",
        },
      },
      teamResourceProviders: ["files"],
    },
    ocm: {
      enabled: true,
      apiVersion: "1.0-proposal1",
      version: "1.1.0",
      endPoint: "{origin}/index.php/ocm",
      publicKey: null,
      resourceTypes: [{"name": "file", "shareTypes": ["user", "group"], "protocols": {"webdav": "/public.php/webdav/"}}],
      capabilities: ["/invite-accepted", "/notifications", "/shares"],
    },
    dav: {
      chunking: "1.0",
      public_shares_chunking: false,
      bulkupload: "1.0",
      "absence-supported": true,
      "absence-replacement": true,
    },
    downloadlimit: { enabled: true, "default-limit": -1 },
    files_sharing: {
      api_enabled: true,
      public: {
        enabled: true,
        password: { enforced: false, askForOptionalPassword: false },
        expire_date: { enabled: false },
        multiple_links: true,
        expire_date_internal: { enabled: false },
        expire_date_remote: { enabled: false },
        send_mail: false,
        upload: true,
        upload_files_drop: true,
        custom_tokens: false,
      },
      resharing: true,
      user: { send_mail: false, expire_date: { enabled: true } },
      group_sharing: true,
      group: { enabled: true, expire_date: { enabled: true } },
      default_permissions: 31,
      federation: {
        outgoing: true,
        incoming: true,
        expire_date: { enabled: true },
        expire_date_supported: { enabled: true },
      },
      sharee: { query_lookup_default: false, always_show_unique: true },
      sharebymail: {
        enabled: true,
        send_password_by_mail: true,
        upload_files_drop: { enabled: true },
        password: { enabled: true, enforced: false },
        expire_date: { enabled: true, enforced: false },
      },
    },
    notifications: {
      "ocs-endpoints": [
        "list",
        "get",
        "delete",
        "delete-all",
        "icons",
        "rich-strings",
        "action-web",
        "user-status",
        "exists",
        "test-push",
      ],
      push: ["devices", "object-data", "delete"],
      "admin-notifications": ["ocs", "cli"],
    },
    password_policy: {
      api: {
        generate: "{origin}/ocs/v2.php/apps/password_policy/api/v1/generate",
        validate: "{origin}/ocs/v2.php/apps/password_policy/api/v1/validate",
      },
      policies: {
        account: {
          minLength: 10,
          enforceHaveIBeenPwned: true,
          enforceNonCommonPassword: true,
          enforceNumericCharacters: false,
          enforceSpecialCharacters: false,
          enforceUpperLowerCase: false,
        },
      },
      minLength: 10,
      enforceNonCommonPassword: true,
      enforceNumericCharacters: false,
      enforceSpecialCharacters: false,
      enforceUpperLowerCase: false,
    },
    polls: {
      pollType: ["datePoll", "textPoll"],
      voteVariant: ["simple"],
      access: ["private", "open"],
      showResults: ["always", "closed", "never"],
    },
    provisioning_api: {
      version: "1.22.0",
      AccountPropertyScopesVersion: 2,
      AccountPropertyScopesFederatedEnabled: true,
      AccountPropertyScopesPublishedEnabled: false,
    },
    recommendations: { enabled: true },
    systemtags: { enabled: true },
    theming: {
      name: "Nextcloud",
      productName: "Nextcloud",
      url: "https://nextcloud.com",
      slogan: "a safe home for all your data",
      color: "#00679e",
      "color-text": "#ffffff",
      "color-element": "#00679e",
      "color-element-bright": "#00679e",
      "color-element-dark": "#00679e",
      logo: "{origin}/core/img/logo/logo.svg?v=0",
      background: "{origin}/apps/theming/img/background/jo-myoung-hee-fluid.webp",
      "background-text": "#ffffff",
      "background-plain": false,
      "background-default": true,
      logoheader: "{origin}/core/img/logo/logo.svg?v=0",
      favicon: "{origin}/core/img/logo/logo.svg?v=0",
    },
    user_status: { enabled: true, restore: true, supports_emoji: true, supports_busy: true },
    weather_status: { enabled: true },
  },
};
