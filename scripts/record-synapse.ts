// Records the answers of a real Synapse (the version test/support/synapse.ts runs, with the
// homeserver.yaml Bastide renders) for the exchanges the Synapse fake serves, into
// test/contracts/recordings/synapse-<major.minor>/<scenario>.json. The contract test
// (test/contracts/synapse.test.ts) replays them against the fake.
//
//   node --import tsx scripts/record-synapse.ts
//
// Format (one file per scenario, replayed in SCENARIOS' order, state carried over):
// {scenario, server, recorded, description, exchanges: [{note, request: {method, path,
// headers, body}, response: {status, headers, body}}]}. Volatile values are placeholders:
// <token>, <device_id>, <nonce>, <mac>, <timestamp>, <age>; Authorization is shown as
// `Bearer <localpart_token>` (a real token of that user, obtained earlier in the recording)
// or `Bearer <invalid token>`. Passwords are the recording's own throw-away values; the
// shared secret never appears (only MACs, as <mac>). JSON bodies are pretty-printed, key order kept.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { registrationMac } from "../provisioners/matrix/client.ts";
import { startSynapse, stopPostgres, SYNAPSE_VERSION, REPOSITORY } from "../test/support/synapse.ts";

type Json = Record<string, any>;
interface Exchange {
  note: string;
  request: { method: string; path: string; headers: Record<string, string>; body: string | null };
  response: { status: number; headers: Record<string, string>; body: string };
}

const OUT = join(REPOSITORY, `test/contracts/recordings/synapse-${SYNAPSE_VERSION.split(".").slice(0, 2).join(".")}`);
const MEANINGFUL_HEADERS = ["location", "retry-after", "www-authenticate", "allow"];
const TIMESTAMP_KEYS = new Set(["creation_ts", "origin_server_ts", "last_seen_ts", "ts", "created_ts", "last_access_ts"]);
const pretty = (value: unknown) => JSON.stringify(value, null, 2);

/** Replaces volatile values by the README's placeholders, everywhere in a JSON value. */
function scrub(value: unknown, key?: string): unknown {
  if (Array.isArray(value)) return value.map((v) => scrub(v));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, k)]));
  if (value === null || value === undefined) return value;
  if (key === "access_token") return "<token>";
  if (key === "device_id") return "<device_id>";
  if (key === "nonce") return "<nonce>";
  if (key === "mac") return "<mac>";
  if (key === "age" && typeof value === "number") return "<age>";
  if (key && TIMESTAMP_KEYS.has(key) && typeof value === "number") return "<timestamp>";
  return value;
}

async function main(): Promise<void> {
  const synapse = await startSynapse({ settled: true });
  const S = synapse.serverName;
  const tokens = new Map<string, string>();
  const rooms = new Map<string, string>();
  const nonces: string[] = [];
  const enc = encodeURIComponent;
  const room = (name: string) => enc(rooms.get(name)!);
  let exchanges: Exchange[] = [];
  const files: { scenario: string; description: string; exchanges: Exchange[] }[] = [];

  /** One exchange: `auth` is a user's localpart (their token), "invalid", or undefined. */
  async function ex(note: string, method: string, path: string, options: { auth?: string; body?: Json | string; capture?: string } = {}): Promise<Json | undefined> {
    const headers: Record<string, string> = {};
    const shown: Record<string, string> = {};
    let body: string | undefined;
    let shownBody: string | null = null;
    if (options.body !== undefined) {
      body = typeof options.body === "string" ? options.body : pretty(options.body);
      shownBody = typeof options.body === "string" ? options.body : pretty(scrub(options.body));
      headers["Content-Type"] = shown["Content-Type"] = "application/json";
    }
    if (options.auth) {
      const token = options.auth === "invalid" ? "syt_bm90aGluZw_NotARealTokenAtAll_000000" : tokens.get(options.auth);
      if (!token) throw new Error(`no token for ${options.auth}; last answers: ${exchanges.slice(-3).map((e) => `${e.note}: ${e.response.status} ${e.response.body}`).join("\n")}`);
      headers.Authorization = `Bearer ${token}`;
      shown.Authorization = options.auth === "invalid" ? "Bearer <invalid token>" : `Bearer <${options.auth}_token>`;
    }
    const response = await fetch(`${synapse.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await response.text();
    let json: Json | undefined;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (json?.access_token && json.user_id) tokens.set(String(json.user_id).slice(1).split(":")[0]!, json.access_token);
    if (json?.nonce) nonces.push(json.nonce);
    if (options.capture && json?.room_id) rooms.set(options.capture, json.room_id);
    const responseHeaders: Record<string, string> = {};
    const type = response.headers.get("content-type");
    if (type) responseHeaders["Content-Type"] = type;
    for (const name of MEANINGFUL_HEADERS) {
      const value = response.headers.get(name);
      if (value) responseHeaders[name.replace(/(^|-)([a-z])/g, (_m, d, c) => d + c.toUpperCase())] = value;
    }
    exchanges.push({
      note,
      request: { method, path, headers: shown, body: shownBody },
      response: { status: response.status, headers: responseHeaders, body: json !== undefined ? pretty(scrub(json)) : text },
    });
    return json;
  }

  function scenario(name: string, description: string, steps: () => Promise<void>) {
    return async () => {
      exchanges = [];
      await steps();
      files.push({ scenario: name, description, exchanges });
    };
  }

  const register = (note: string, username: string, password: string, admin: boolean, extra: Json = {}, options: { nonce?: string; mac?: string } = {}) => {
    const nonce = options.nonce ?? nonces[nonces.length - 1]!;
    const mac = options.mac ?? registrationMac(synapse.registrationSharedSecret, nonce, username, password, admin);
    return ex(note, "POST", "/_synapse/admin/v1/register", { body: { nonce, username, password, ...extra, admin, mac } });
  };
  const nonce = (note = "fresh nonce") => ex(note, "GET", "/_synapse/admin/v1/register");
  const login = (note: string, identifier: Json, password: string) => ex(note, "POST", "/_matrix/client/v3/login", { body: { type: "m.login.password", ...identifier, password } });
  const byName = (user: string) => ({ identifier: { type: "m.id.user", user } });
  const userPath = (id: string) => `/_synapse/admin/v2/users/${enc(id)}`;

  const scenarios = [
    scenario("register-shared-secret", "Shared-secret registration (/_synapse/admin/v1/register): nonce, HMAC-SHA1 over nonce\\0user\\0password\\0admin|notadmin.", async () => {
      await nonce("get a nonce (no auth needed)");
      await register("register admin with a correct HMAC", "admin", "Admin-Pw-12345", true);
      await nonce();
      await register("bad mac", "mallory", "Mallory-Pw-1", false, {}, { mac: "0".repeat(40) });
      await register("correct mac but the nonce was consumed by the failed attempt?", "mallory", "Mallory-Pw-1", false);
      await register("reuse the first (already used) nonce", "eve", "Eve-Pw-12345", false, {}, { nonce: nonces[0]! });
      await nonce();
      await register("existing username with a valid mac", "admin", "Other-Pw-123", false);
      await nonce();
      await register("invalid username with a valid mac", "Bad Name!", "Other-Pw-123", false);
      await nonce();
      await register("upper-case username with displayname, not admin (is it lower-cased?)", "Frank", "Frank-Pw-123", false, { displayname: "Frank F" });
      await ex("no nonce, no mac", "POST", "/_synapse/admin/v1/register", { body: { username: "x", password: "y" } });
    }),
    scenario("admin-users", "Synapse admin API v2 users: create/modify (PUT), read, list, deactivate with erase, non-admin access; the bot's rate-limit override.", async () => {
      const bob = `@bob:${S}`;
      await ex("create bob", "PUT", userPath(bob), { auth: "admin", body: { password: "Bob-Pw-12345", displayname: "Bob", admin: false } });
      await ex("same user again with a changed displayname", "PUT", userPath(bob), { auth: "admin", body: { displayname: "Bobby" } });
      await ex("read bob", "GET", userPath(bob), { auth: "admin" });
      await ex("missing user", "GET", userPath(`@nobody:${S}`), { auth: "admin" });
      await ex("user on another server", "GET", userPath("@someone:elsewhere.org"), { auth: "admin" });
      await ex("invalid localpart", "PUT", userPath(`@bad name:${S}`), { auth: "admin", body: { password: "x" } });
      await ex("list users", "GET", "/_synapse/admin/v2/users?from=0&limit=10", { auth: "admin" });
      await ex("list users, page size 1 (next_token)", "GET", "/_synapse/admin/v2/users?from=0&limit=1&guests=false", { auth: "admin" });
      await login("setup: bob logs in to get a non-admin token", byName("bob"), "Bob-Pw-12345");
      await ex("non-admin token on an admin endpoint", "GET", "/_synapse/admin/v2/users?from=0&limit=10", { auth: "bob" });
      await ex("no rate-limit override yet", "GET", `/_synapse/admin/v1/users/${enc(`@admin:${S}`)}/override_ratelimit`, { auth: "admin" });
      await ex("lift the rate limits", "POST", `/_synapse/admin/v1/users/${enc(`@admin:${S}`)}/override_ratelimit`, { auth: "admin", body: { messages_per_second: 0, burst_count: 0 } });
      await ex("read the override back", "GET", `/_synapse/admin/v1/users/${enc(`@admin:${S}`)}/override_ratelimit`, { auth: "admin" });
      await ex("deactivate with erase", "POST", `/_synapse/admin/v1/deactivate/${enc(bob)}`, { auth: "admin", body: { erase: true } });
      await ex("read bob after deactivation", "GET", userPath(bob), { auth: "admin" });
      await ex("bob's old token after deactivation", "GET", "/_matrix/client/v3/account/whoami", { auth: "bob" });
      await ex("deactivate again", "POST", `/_synapse/admin/v1/deactivate/${enc(bob)}`, { auth: "admin", body: { erase: true } });
      await ex("deactivate a missing user", "POST", `/_synapse/admin/v1/deactivate/${enc(`@nobody:${S}`)}`, { auth: "admin", body: { erase: true } });
      await ex("list including deactivated users", "GET", "/_synapse/admin/v2/users?from=0&limit=10&deactivated=true", { auth: "admin" });
      await ex("re-activate bob (password required on re-activation)", "PUT", userPath(bob), { auth: "admin", body: { deactivated: false, password: "Bob-Pw-67890" } });
    }),
    scenario("login", "Client-server login with m.login.password, whoami, failures, logout (Bastide's homeserver.yaml: Synapse's rc_login defaults).", async () => {
      await ex("setup: create carol", "PUT", userPath(`@carol:${S}`), { auth: "admin", body: { password: "Carol-Pw-12345", displayname: "Carol" } });
      await ex("supported login flows", "GET", "/_matrix/client/v3/login");
      await ex("successful login on a chosen device", "POST", "/_matrix/client/v3/login", { body: { type: "m.login.password", ...byName("carol"), password: "Carol-Pw-12345", device_id: "BASTIDE_AUDIT", initial_device_display_name: "contracts recorder" } });
      await ex("whoami with the new token", "GET", "/_matrix/client/v3/account/whoami", { auth: "carol" });
      await login("full user id as identifier", byName(`@carol:${S}`), "Carol-Pw-12345");
      await login("wrong password (1st failure)", byName("carol"), "wrong");
      await login("unknown user", byName("nobody"), "wrong");
      await ex("unknown login type", "POST", "/_matrix/client/v3/login", { body: { type: "m.login.fancy", user: "carol" } });
      await login("wrong password (failure #2)", byName("carol"), "wrong");
      await login("wrong password (failure #3)", byName("carol"), "wrong");
      await login("wrong password (failure #4)", byName("carol"), "wrong");
      await login("correct password while rate limited", byName("carol"), "Carol-Pw-12345");
      await ex("logout", "POST", "/_matrix/client/v3/logout", { auth: "carol", body: {} });
      await ex("whoami after logout", "GET", "/_matrix/client/v3/account/whoami", { auth: "carol" });
    }),
    scenario("rooms", "Rooms: createRoom with retention, power levels, invites; room state; spaces; aliases; kick; admin room details and deletion.", async () => {
      const dave = `@dave:${S}`;
      // Registered rather than logged in: the login scenario used up this address's logins (rc_login.address).
      await nonce("setup: a nonce for dave");
      await register("setup: register dave", "dave", "Dave-Pw-12345", false, { displayname: "Dave" });
      await ex("create a private room with retention, invite and power levels", "POST", "/_matrix/client/v3/createRoom", {
        auth: "admin",
        capture: "team",
        body: {
          preset: "private_chat",
          name: "Team room",
          topic: "Daily chatter",
          initial_state: [{ type: "m.room.retention", state_key: "", content: { max_lifetime: 86400000 } }],
          invite: [dave],
          power_level_content_override: { users: { [dave]: 50 }, events: { "m.room.retention": 100 }, users_default: 0, invite: 100 },
        },
      });
      const team = () => `/_matrix/client/v3/rooms/${room("team")}`;
      await ex("read retention state", "GET", `${team()}/state/m.room.retention`, { auth: "admin" });
      await ex("same with trailing slash (empty state_key)", "GET", `${team()}/state/m.room.retention/`, { auth: "admin" });
      await ex("replace retention", "PUT", `${team()}/state/m.room.retention/`, { auth: "admin", body: { min_lifetime: 3600000, max_lifetime: 604800000 } });
      await ex("read retention back", "GET", `${team()}/state/m.room.retention`, { auth: "admin" });
      await ex("invalid retention content (string)", "PUT", `${team()}/state/m.room.retention/`, { auth: "admin", body: { max_lifetime: "1 week" } });
      await ex("power levels after the override", "GET", `${team()}/state/m.room.power_levels`, { auth: "admin" });
      await ex("topic", "GET", `${team()}/state/m.room.topic`, { auth: "admin" });
      await ex("state event that does not exist", "GET", `${team()}/state/m.room.pinned_events`, { auth: "admin" });
      await ex("dave (invited, not joined) reads state", "GET", `${team()}/state/m.room.retention`, { auth: "dave" });
      await ex("dave accepts the invite", "POST", `/_matrix/client/v3/join/${room("team")}`, { auth: "dave", body: {} });
      await ex("dave (power 50) tries to change retention (needs 100)", "PUT", `${team()}/state/m.room.retention/`, { auth: "dave", body: { max_lifetime: 86400000 } });
      await ex("dave (power 50) tries to invite (needs 100)", "POST", `${team()}/invite`, { auth: "dave", body: { user_id: `@carol:${S}` } });
      await ex("members", "GET", `${team()}/members`, { auth: "admin" });
      await ex("create a space", "POST", "/_matrix/client/v3/createRoom", { auth: "admin", capture: "space", body: { preset: "private_chat", name: "Team space", creation_content: { type: "m.space" }, power_level_content_override: { events_default: 100, invite: 100 } } });
      const space = () => `/_matrix/client/v3/rooms/${room("space")}`;
      await ex("space create event content", "GET", `${space()}/state/m.room.create`, { auth: "admin" });
      await ex("add the room as a child of the space", "PUT", `${space()}/state/m.space.child/${room("team")}`, { auth: "admin", body: { via: [S], suggested: true } });
      await ex("and the space as canonical parent of the room", "PUT", `${team()}/state/m.space.parent/${room("space")}`, { auth: "admin", body: { via: [S], canonical: true } });
      await ex("invite dave to the space", "POST", `${space()}/invite`, { auth: "admin", body: { user_id: dave } });
      await ex("invite dave again", "POST", `${space()}/invite`, { auth: "admin", body: { user_id: dave } });
      await ex("invite a user that does not exist", "POST", `${space()}/invite`, { auth: "admin", body: { user_id: `@ghost:${S}` } });
      await ex("revoke dave's invitation (kick while invited)", "POST", `${space()}/kick`, { auth: "admin", body: { user_id: dave, reason: "no longer in this team" } });
      await ex("kick someone who is not in the room", "POST", `${space()}/kick`, { auth: "admin", body: { user_id: dave } });
      await ex("another private room, dave not invited", "POST", "/_matrix/client/v3/createRoom", { auth: "admin", capture: "secret", body: { preset: "private_chat", name: "Secret" } });
      await ex("dave joins a private room without an invite", "POST", `/_matrix/client/v3/join/${room("secret")}`, { auth: "dave", body: {} });
      await ex("joined members", "GET", `${team()}/joined_members`, { auth: "admin" });
      await ex("create alias", "PUT", `/_matrix/client/v3/directory/room/${enc(`#team:${S}`)}`, { auth: "admin", body: { room_id: rooms.get("team") } });
      await ex("alias already taken", "PUT", `/_matrix/client/v3/directory/room/${enc(`#team:${S}`)}`, { auth: "admin", body: { room_id: rooms.get("space") } });
      await ex("resolve alias (no auth needed?)", "GET", `/_matrix/client/v3/directory/room/${enc(`#team:${S}`)}`);
      await ex("resolve alias", "GET", `/_matrix/client/v3/directory/room/${enc(`#team:${S}`)}`, { auth: "admin" });
      await ex("resolve missing alias", "GET", `/_matrix/client/v3/directory/room/${enc(`#nope:${S}`)}`, { auth: "admin" });
      await ex("createRoom with an alias name that is taken", "POST", "/_matrix/client/v3/createRoom", { auth: "admin", body: { preset: "private_chat", room_alias_name: "team" } });
      await ex("admin room details", "GET", `/_synapse/admin/v1/rooms/${room("team")}`, { auth: "admin" });
      await ex("admin deletes a room, purged", "DELETE", `/_synapse/admin/v1/rooms/${room("secret")}`, { auth: "admin", body: { purge: true, block: false } });
      await ex("admin room details of the deleted room", "GET", `/_synapse/admin/v1/rooms/${room("secret")}`, { auth: "admin" });
      // The admin join (synapse/rest/admin/rooms.py JoinRoomAliasServlet) puts members in their rooms.
      const adminJoin = (target: string) => `/_synapse/admin/v1/join/${target}`;
      await ex("admin joins dave to the space (invite-only: invited by the admin, then joined)", "POST", adminJoin(room("space")), { auth: "admin", body: { user_id: dave } });
      await ex("admin joins dave again (already joined)", "POST", adminJoin(room("space")), { auth: "admin", body: { user_id: dave } });
      await ex("admin joins a user that does not exist", "POST", adminJoin(room("space")), { auth: "admin", body: { user_id: `@ghost:${S}` } });
      await ex("admin join without user_id", "POST", adminJoin(room("space")), { auth: "admin", body: {} });
      await ex("admin join by a user who is not a server admin", "POST", adminJoin(room("space")), { auth: "dave", body: { user_id: dave } });
    }),
    scenario("errors", "Error shapes: unknown endpoint, malformed JSON, missing/bad token, wrong method.", async () => {
      await ex("unknown endpoint", "GET", "/_matrix/client/v3/nonexistent", { auth: "admin" });
      await ex("unknown admin endpoint", "GET", "/_synapse/admin/v1/nonexistent", { auth: "admin" });
      await ex("malformed JSON", "POST", "/_matrix/client/v3/createRoom", { auth: "admin", body: '{"name": "broken",' });
      await ex("JSON array instead of object", "POST", "/_matrix/client/v3/createRoom", { auth: "admin", body: '["not", "an", "object"]' });
      await ex("invalid preset", "POST", "/_matrix/client/v3/createRoom", { auth: "admin", body: { preset: "no_such_preset" } });
      await ex("missing auth", "GET", "/_matrix/client/v3/account/whoami");
      await ex("bad token", "GET", "/_matrix/client/v3/account/whoami", { auth: "invalid" });
      await ex("admin endpoint without auth", "GET", userPath(`@admin:${S}`));
      await ex("wrong method", "DELETE", "/_matrix/client/versions");
      await ex("state on a room that does not exist", "PUT", `/_matrix/client/v3/rooms/${enc(`!doesnotexist:${S}`)}/state/m.room.topic/`, { auth: "admin", body: { topic: "x" } });
    }),
  ];

  try {
    for (const run of scenarios) await run();
  } finally {
    await synapse.stop();
    await stopPostgres();
  }
  mkdirSync(OUT, { recursive: true });
  const recorded = new Date().toISOString().slice(0, 10);
  for (const file of files) {
    writeFileSync(join(OUT, `${file.scenario}.json`), `${pretty({ scenario: file.scenario, server: `Synapse ${SYNAPSE_VERSION}`, recorded, description: file.description, exchanges: file.exchanges })}\n`);
  }
  console.log(`${files.length} scenarios, ${files.reduce((n, f) => n + f.exchanges.length, 0)} exchanges → ${OUT}`);
}

await main();
