// A stateful fake of Synapse 1.163.2, for the tests that inject faults (the others run
// against the real Synapse: test/support/synapse.ts). It answers as the project's own
// recordings of the real server do (test/contracts/recordings/synapse-1.163, made by
// scripts/record-synapse.ts with Bastide's homeserver.yaml): same statuses, errcodes,
// messages, body shapes and key order; test/contracts/synapse.test.ts replays every
// recorded exchange against it. Endpoints the recordings do not cover follow Synapse's
// source (listed in UNRECORDED_ENDPOINTS).
import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from "node:crypto";
import { FakeServer, type FakeRequest, type FakeResponse } from "./fake-server.ts";

export interface FakeSynapseOptions {
  serverName: string;
  registrationSharedSecret: string;
  /** Milliseconds since the epoch; tests may drive time (rate limits, nonce expiry). */
  clock?: () => number;
  /**
   * rc_login.address: every login attempt from one address takes a token (synapse/rest/client/login.py);
   * Synapse 1.163.2's default is 0.003/s with a burst of 5 (synapse/config/ratelimiting.py). Tests that
   * log in many times in a row raise it, as test/provisioners/matrix-synapse.test.ts does on the real server.
   */
  loginsPerAddress?: { perSecond: number; burst: number };
}

type Json = Record<string, unknown>;

export interface FakeUser {
  id: string;
  passwordHash: string | null;
  admin: boolean;
  deactivated: boolean;
  /** Set by deactivation with `erase: true`, cleared by re-activation. */
  erased: boolean;
  displayname: string | null;
  avatarUrl: string | null;
  /** Seconds, as Synapse stores it. */
  creationTs: number;
  /** Milliseconds: the last request made with one of the user's tokens, or null. */
  lastSeenTs: number | null;
}

export interface FakeEvent {
  event_id: string;
  type: string;
  room_id: string;
  sender: string;
  content: Json;
  state_key?: string;
  origin_server_ts: number;
  /** The state event this one replaced, if any. */
  replaces_state?: string;
}

export interface FakeRoom {
  id: string;
  version: string;
  creator: string;
  /** Current state, keyed `type\u0000state_key`. */
  state: Map<string, FakeEvent>;
  events: FakeEvent[];
  public: boolean;
}

interface Device {
  userId: string;
  deviceId: string;
  token: string;
}

/** Endpoints served here that the recordings do not cover, and where their behaviour comes from. */
export const UNRECORDED_ENDPOINTS = [
  "GET/POST/DELETE /_synapse/admin/v1/users/{userId}/override_ratelimit — synapse/rest/admin/users.py RateLimitRestServlet ({} when none; non-negative ints, else 400 M_INVALID_PARAM)",
  "GET /_synapse/admin/v1/rooms — synapse/rest/admin/rooms.py ListRoomRestServlet (offset, rooms, total_rooms, next_batch, prev_batch)",
  "GET /_synapse/admin/v1/rooms/{roomId}/members — synapse/rest/admin/rooms.py RoomMembersRestServlet ({members, total}, joined users)",
  "GET /_matrix/client/v3/rooms/{roomId}/members — synapse/rest/client/room.py RoomMemberListRestServlet ({chunk: member events}, membership / not_membership filters)",
  "PUT /_matrix/client/v3/rooms/{roomId}/state/{type}/{stateKey} with a non-empty state key — same servlet as the recorded m.space.child/m.space.parent PUTs; event auth per synapse/event_auth.py",
  "POST /_matrix/client/v3/rooms/{roomId}/join — synapse/rest/client/room.py RoomMembershipRestServlet (as the recorded /join/{roomIdOrAlias})",
  "PUT /_synapse/admin/v2/users/{userId} re-activation without a password — 400 'Must provide a password to re-activate an account.' (synapse/rest/admin/users.py)",
  "invite errors (banned target, target already joined, inviter not joined, insufficient power) — synapse/handlers/room_member.py and synapse/event_auth.py",
  "PUT state by a user who is not joined: 403 'User … not in room … (<repr>)' — synapse/event_auth.py _check_joined_room; identical state is deduplicated first (handlers/message.py deduplicate_state_event)",
  "GET state with ?format=event — synapse/rest/client/room.py RoomStateEventRestServlet",
  "POST /_synapse/admin/v1/register with device_id / inhibit_login — RegisterRestServlet._create_registration_details",
  "POST /login with device_id, and for a deactivated account (403 M_USER_DEACTIVATED) — synapse/handlers/auth.py",
  "GET /_synapse/admin/v2/users with user_id / name filters — synapse/rest/admin/users.py UsersRestServletV2",
  "POST /_synapse/admin/v1/join/{roomIdOrAlias} into a public room, a banned user, an unknown room — synapse/rest/admin/rooms.py JoinRoomAliasServlet (recorded: the join, an already joined member, an unknown user, a missing user_id, a non-admin)",
] as const;

const JSON_TYPE = { "Content-Type": "application/json" };
const FAILED_LOGIN_RATE_HZ = 0.17; // rc_login.failed_attempts defaults (homeserver.example.yaml)
const FAILED_LOGIN_BURST = 3;
const NONCE_TIMEOUT_S = 60;
const MAX_DISPLAYNAME_LEN = 256;
/** Synapse 1.163.2: synapse/config/server.py DEFAULT_ROOM_VERSION. */
const DEFAULT_ROOM_VERSION = "12";
const KNOWN_ROOM_VERSIONS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"];
/** Room version 12 (MSC4289): creators are above every power level, and not listed in `users`. */
const creatorsRule = (version: string) => version === "12";
const INVALID_MXID_CHARS = /[^a-z0-9=_\-./+]/;

class MatrixError extends Error {
  readonly status: number;
  readonly errcode: string;
  readonly extra: Json;
  constructor(status: number, errcode: string, message: string, extra: Json = {}) {
    super(message);
    this.status = status;
    this.errcode = errcode;
    this.extra = extra;
  }
}

const ok = (body: unknown, status = 200): FakeResponse => ({ status, headers: JSON_TYPE, body: JSON.stringify(body) });
/** Synapse 1.163.2 (synapse/http/server.py): 404 for an unknown path, 405 for a known path with another method. */
const unrecognized = (status: 404 | 405 = 404) => new MatrixError(status, "M_UNRECOGNIZED", "Unrecognized request");
const notFound = (message: string) => new MatrixError(404, "M_NOT_FOUND", message);
const forbidden = (message: string, errcode = "M_FORBIDDEN") => new MatrixError(403, errcode, message);
const badRequest = (message: string, errcode = "M_UNKNOWN") => new MatrixError(400, errcode, message);

const PRESETS: Record<string, { join_rule: string; history_visibility: string; guest_can_join: boolean; original_invitees_have_ops: boolean; power_override: Json }> = {
  private_chat: { join_rule: "invite", history_visibility: "shared", guest_can_join: true, original_invitees_have_ops: false, power_override: { invite: 0 } },
  trusted_private_chat: { join_rule: "invite", history_visibility: "shared", guest_can_join: true, original_invitees_have_ops: true, power_override: { invite: 0 } },
  public_chat: { join_rule: "public", history_visibility: "shared", guest_can_join: false, original_invitees_have_ops: false, power_override: {} },
};

const VERSIONS_BODY = {
  versions: ["r0.0.1", "r0.1.0", "r0.2.0", "r0.3.0", "r0.4.0", "r0.5.0", "r0.6.0", "r0.6.1", "v1.1", "v1.2"],
  unstable_features: {
    "org.matrix.label_based_filtering": true,
    "org.matrix.e2e_cross_signing": true,
    "org.matrix.msc2432": true,
    "uk.half-shot.msc2666.mutual_rooms": true,
    "io.element.e2ee_forced.public": false,
    "io.element.e2ee_forced.private": false,
    "io.element.e2ee_forced.trusted_private": false,
    "org.matrix.msc3026.busy_presence": false,
    "org.matrix.msc2285.stable": true,
    "org.matrix.msc3827.stable": true,
    "org.matrix.msc2716": false,
    "org.matrix.msc3030": false,
    "org.matrix.msc3440.stable": true,
    "fi.mau.msc2815": false,
  },
};

const CAPABILITIES_BODY = {
  capabilities: {
    "m.room_versions": {
      default: DEFAULT_ROOM_VERSION,
      available: {
        "1": "stable",
        "2": "stable",
        "3": "stable",
        "4": "stable",
        "5": "stable",
        "6": "stable",
        "org.matrix.msc2176": "unstable",
        "7": "stable",
        "8": "stable",
        "9": "stable",
        "org.matrix.msc3787": "unstable",
        "10": "stable",
        "org.matrix.msc2716v4": "unstable",
      },
      "org.matrix.msc3244.room_capabilities": {
        knock: { preferred: "7", support: ["7", "8", "9", "org.matrix.msc3787", "10", "org.matrix.msc2716v4"] },
        restricted: { preferred: "9", support: ["8", "9", "org.matrix.msc3787", "10"] },
      },
    },
    "m.change_password": { enabled: true },
    "m.set_displayname": { enabled: true },
    "m.set_avatar_url": { enabled: true },
    "m.3pid_changes": { enabled: true },
  },
};

const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const randomLetters = (n: number, alphabet = LETTERS) => Array.from({ length: n }, () => alphabet[randomInt(alphabet.length)]).join("");
const hashPassword = (password: string) => createHash("sha256").update(password).digest("hex");
const stateKeyOf = (type: string, stateKey: string) => `${type}\u0000${stateKey}`;

/** Synapse's repr() of an event, as it appears in some of its auth errors. */
const reprEvent = (e: FakeEvent | undefined) =>
  e ? `<FrozenEventV3 event_id=${e.event_id}, type=${e.type}, state_key=${e.state_key}, outlier=False>` : "None";

function parseUserId(s: string): { localpart: string; domain: string } {
  if (!s.startsWith("@")) throw badRequest("Expected UserID string to start with '@'", "M_INVALID_PARAM");
  const colon = s.indexOf(":");
  if (colon < 0) throw badRequest("Expected UserID of the form '@localname:domain'", "M_INVALID_PARAM");
  return { localpart: s.slice(1, colon), domain: s.slice(colon + 1) };
}

/** With a server name (room versions up to 11), or 43 url-safe base64 characters (version 12). */
const isRoomId = (s: string) => /^![^:]+:.+$/.test(s) || /^![A-Za-z0-9_-]{43}$/.test(s);
/** Events are stored as canonical JSON, so Synapse 1.163 answers their content with sorted keys. */
const sortedKeys = (value: unknown): any =>
  Array.isArray(value)
    ? value.map(sortedKeys)
    : value && typeof value === "object"
      ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortedKeys((value as Json)[k])]))
      : value;
const isRoomAlias = (s: string) => /^#[^:]+:.+$/.test(s);

export class FakeSynapse {
  readonly serverName: string;
  readonly server: FakeServer;
  readonly users = new Map<string, FakeUser>();
  readonly rooms = new Map<string, FakeRoom>();
  readonly aliases = new Map<string, { roomId: string; servers: string[]; creator: string }>();
  private readonly devices = new Map<string, Device>();
  private readonly nonces = new Map<string, number>();
  private readonly failedLogins = new Map<string, { count: number; start: number }>();
  private readonly loginsPerAddress: { perSecond: number; burst: number };
  private addressLogins: { count: number; start: number } | undefined;
  private readonly secret: string;
  private readonly clock: () => number;
  /** Requests answered with an error after they took effect, like a proxy timing out on a slow write. */
  private readonly lostAnswers: { match: (r: FakeRequest) => boolean; times: number; status: number }[] = [];

  constructor(options: FakeSynapseOptions) {
    this.serverName = options.serverName;
    this.secret = options.registrationSharedSecret;
    this.clock = options.clock ?? Date.now;
    this.loginsPerAddress = options.loginsPerAddress ?? { perSecond: 0.003, burst: 5 };
    this.server = new FakeServer((request) => this.handle(request));
  }

  get url(): string {
    return this.server.url;
  }

  // --- state helpers for tests -------------------------------------------------------

  /** Creates a user directly (no HTTP) and returns a fresh access token for them. */
  seedUser(localpart: string, options: { password?: string; admin?: boolean; displayname?: string } = {}): string {
    const id = `@${localpart}:${this.serverName}`;
    this.users.set(id, this.newUser(id, options.password ? hashPassword(options.password) : null, options.admin ?? false, options.displayname ?? localpart));
    return this.newDevice(id).token;
  }

  user(id: string): FakeUser | undefined {
    return this.users.get(id);
  }

  roomIdFor(alias: string): string | undefined {
    return this.aliases.get(alias)?.roomId;
  }

  stateContent(roomId: string, type: string, stateKey = ""): Json | undefined {
    return this.rooms.get(roomId)?.state.get(stateKeyOf(type, stateKey))?.content;
  }

  membership(roomId: string, userId: string): string | undefined {
    return this.stateContent(roomId, "m.room.member", userId)?.membership as string | undefined;
  }

  /** Members of a room with the given membership (`join`, `invite`...). */
  members(roomId: string, membership: string): string[] {
    const room = this.rooms.get(roomId);
    if (!room) return [];
    return [...room.state.values()].filter((e) => e.type === "m.room.member" && e.content.membership === membership).map((e) => e.state_key!);
  }

  /** Tokens currently valid for a user (one per device). */
  tokensOf(userId: string): string[] {
    return [...this.devices.values()].filter((d) => d.userId === userId).map((d) => d.token);
  }

  /** Device ids a user has tokens on. */
  devicesOf(userId: string): string[] {
    return [...new Set([...this.devices.values()].filter((d) => d.userId === userId).map((d) => d.deviceId))];
  }

  /** Sets state by hand, as if a room member had sent it (no auth checks). */
  setState(roomId: string, sender: string, type: string, stateKey: string, content: Json): void {
    const room = this.rooms.get(roomId);
    if (!room) throw new Error(`no room ${roomId}`);
    this.sendEvent(room, sender, type, stateKey, content);
  }

  /** Sets a membership by hand, e.g. a ban, as if a room moderator had done it. */
  setMembership(roomId: string, userId: string, membership: string, sender: string): void {
    const room = this.rooms.get(roomId);
    if (!room) throw new Error(`no room ${roomId}`);
    this.sendEvent(room, sender, "m.room.member", userId, { membership });
  }

  /**
   * The next `times` requests that match take effect and are then answered with
   * `status` (default 502), as when a proxy gives up on a slow upstream write.
   */
  loseAnswers(match: (request: FakeRequest) => boolean, times: number, status = 502): void {
    this.lostAnswers.push({ match, times, status });
  }

  private cutShort = 0;

  /**
   * The next `times` room creations stop after the room and its alias exist, before the
   * creator joins, and are answered 429 M_LIMIT_EXCEEDED: synapse/handlers/room.py
   * create_room binds the alias (create_association) before _send_events_for_new_room.
   */
  cutShortRoomCreations(times: number): void {
    this.cutShort = times;
  }

  /** A valid registration MAC, as `synapse.register_new_matrix_user` computes it. */
  registrationMac(nonce: string, username: string, password: string, admin: boolean, userType?: string): string {
    const mac = createHmac("sha1", this.secret);
    mac.update(nonce).update("\0").update(username).update("\0").update(password).update("\0").update(admin ? "admin" : "notadmin");
    if (userType) mac.update("\0").update(userType);
    return mac.digest("hex");
  }

  // --- dispatch ------------------------------------------------------------------------

  private async handle(request: FakeRequest): Promise<FakeResponse> {
    let response: FakeResponse;
    try {
      response = this.route(request);
    } catch (error) {
      if (!(error instanceof MatrixError)) throw error;
      response = ok({ errcode: error.errcode, error: error.message, ...error.extra }, error.status);
      // LimitExceededError also sets Retry-After, in whole seconds (Synapse 1.163.2, synapse/api/errors.py).
      if (typeof error.extra.retry_after_ms === "number") response.headers = { ...response.headers, "Retry-After": String(Math.ceil(error.extra.retry_after_ms / 1000)) };
    }
    const lost = this.lostAnswers.find((l) => l.times > 0 && l.match(request));
    if (lost) {
      lost.times--;
      return { status: lost.status, headers: { "Content-Type": "text/html" }, body: "<html><body>Bad Gateway</body></html>" };
    }
    return response;
  }

  private route(request: FakeRequest): FakeResponse {
    const { method } = request;
    const segments = request.url.pathname.split("/").slice(1).map((s) => decodeURIComponent(s));
    const [root, area, version, ...rest] = segments;
    const p = rest.join("/");

    if (request.url.pathname === "/.well-known/matrix/client" && method === "GET")
      return { status: 404, headers: { "Content-Type": "text/plain" }, body: ".well-known not available" };

    if (root === "_matrix" && area === "client" && version === "versions" && rest.length === 0) {
      if (method === "GET") return ok(VERSIONS_BODY);
      throw unrecognized(405);
    }

    if (root === "_synapse" && area === "admin") return this.routeAdmin(request, version ?? "", rest);

    if (root === "_matrix" && area === "client") {
      if (version === "v1" && rest[0] === "rooms" && rest[2] === "hierarchy" && rest.length === 3 && method === "GET")
        return this.hierarchy(request, rest[1]!);
      if (version !== "r0" && version !== "v3") throw unrecognized();
      return this.routeClient(request, rest, p);
    }
    throw unrecognized();
  }

  private routeAdmin(request: FakeRequest, version: string, rest: string[]): FakeResponse {
    const { method } = request;
    const [a, b, c] = rest;
    if (version === "v1" && a === "server_version" && rest.length === 1 && method === "GET")
      // Synapse 1.163.2 no longer reports python_version (seen on the real server).
      return ok({ server_version: "1.163.2" });
    if (version === "v1" && a === "register" && rest.length === 1) {
      if (method === "GET") return this.registerNonce();
      if (method === "POST") return this.register(request);
    }
    if (version === "v2" && a === "users" && rest.length === 1 && method === "GET") return this.listUsers(request);
    if (version === "v2" && a === "users" && rest.length === 2) {
      if (method === "GET") return this.getUser(request, b!);
      if (method === "PUT") return this.putUser(request, b!);
    }
    if (version === "v1" && a === "deactivate" && rest.length === 2 && method === "POST") return this.deactivate(request, b!);
    if (version === "v1" && a === "join" && rest.length === 2 && method === "POST") return this.adminJoin(request, b!);
    if (version === "v1" && a === "users" && c === "override_ratelimit" && rest.length === 3) {
      if (method === "GET" || method === "POST" || method === "DELETE") return this.overrideRatelimit(request, b!);
    }
    if (version === "v1" && a === "rooms" && rest.length === 1 && method === "GET") return this.listRooms(request);
    if (version === "v1" && a === "rooms" && rest.length === 2 && method === "GET") return this.roomDetails(request, b!);
    if (version === "v1" && a === "rooms" && rest.length === 2 && method === "DELETE") return this.deleteRoom(request, b!);
    if (version === "v1" && a === "rooms" && c === "members" && rest.length === 3 && method === "GET") return this.adminRoomMembers(request, b!);
    throw unrecognized();
  }

  private routeClient(request: FakeRequest, rest: string[], p: string): FakeResponse {
    const { method } = request;
    if (p === "login") {
      if (method === "GET") return ok({ flows: [{ type: "m.login.password" }, { type: "m.login.application_service" }] });
      if (method === "POST") return this.login(request);
    }
    if (p === "logout" && method === "POST") return this.logout(request);
    if (p === "account/whoami" && method === "GET") {
      const device = this.requester(request);
      return ok({ user_id: device.userId, is_guest: false, device_id: device.deviceId });
    }
    if (p === "capabilities" && method === "GET") {
      this.requester(request);
      return ok(CAPABILITIES_BODY);
    }
    if (p === "createRoom" && method === "POST") return this.createRoom(request);
    if (rest[0] === "join" && rest.length === 2 && method === "POST") return this.join(request, rest[1]!);
    if (rest[0] === "directory" && rest[1] === "room" && rest.length === 3) {
      if (method === "GET") return this.resolveAlias(rest[2]!);
      if (method === "PUT") return this.createAlias(request, rest[2]!);
    }
    if (rest[0] === "rooms" && rest.length >= 3) {
      const roomId = rest[1]!;
      const action = rest[2];
      if (action === "state" && (rest.length === 4 || rest.length === 5)) {
        const type = rest[3]!;
        const stateKey = rest[4] ?? "";
        if (method === "GET") return this.getState(request, roomId, type, stateKey);
        if (method === "PUT") return this.putState(request, roomId, type, stateKey);
      }
      if (rest.length === 3) {
        if (action === "joined_members" && method === "GET") return this.joinedMembers(request, roomId);
        if (action === "members" && method === "GET") return this.roomMembers(request, roomId);
        if (action === "invite" && method === "POST") return this.invite(request, roomId);
        if (action === "kick" && method === "POST") return this.kick(request, roomId);
        if (action === "join" && method === "POST") return this.join(request, roomId);
      }
    }
    throw unrecognized();
  }

  // --- authentication ------------------------------------------------------------------

  private requester(request: FakeRequest): Device {
    const header = request.headers.authorization;
    let token: string | null = null;
    if (header) {
      const parts = header.split(" ");
      if (parts.length !== 2 || parts[0] !== "Bearer") throw new MatrixError(401, "M_MISSING_TOKEN", "Missing access token");
      token = parts[1]!;
    } else token = request.url.searchParams.get("access_token");
    if (!token) throw new MatrixError(401, "M_MISSING_TOKEN", "Missing access token");
    const device = this.devices.get(token);
    if (!device) throw new MatrixError(401, "M_UNKNOWN_TOKEN", "Invalid access token passed.", { soft_logout: false });
    const user = this.users.get(device.userId);
    if (user) user.lastSeenTs = this.clock();
    return device;
  }

  private admin(request: FakeRequest): Device {
    const device = this.requester(request);
    if (!this.users.get(device.userId)?.admin) throw forbidden("You are not a server admin");
    return device;
  }

  private body(request: FakeRequest, allowEmpty = false): Json {
    if (allowEmpty && request.body.trim() === "") return {};
    let value: unknown;
    try {
      value = JSON.parse(request.body);
    } catch {
      throw badRequest("Content not JSON.", "M_NOT_JSON");
    }
    if (!value || typeof value !== "object" || Array.isArray(value)) throw badRequest("Content must be a JSON object.", "M_BAD_JSON");
    return value as Json;
  }

  private newDevice(userId: string, deviceId?: string): Device {
    const token = `syt_${Buffer.from(userId.slice(1).split(":")[0]!).toString("base64url")}_${randomLetters(20)}_${randomLetters(6)}`;
    const device = { userId, deviceId: deviceId ?? randomLetters(10, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"), token };
    this.devices.set(token, device);
    return device;
  }

  private dropDevices(userId: string, deviceId?: string): void {
    for (const [token, d] of this.devices) if (d.userId === userId && (!deviceId || d.deviceId === deviceId)) this.devices.delete(token);
  }

  // --- registration and users ----------------------------------------------------------

  private newUser(id: string, passwordHash: string | null, admin: boolean, displayname: string): FakeUser {
    return { id, passwordHash, admin, deactivated: false, erased: false, displayname, avatarUrl: null, creationTs: Math.floor(this.clock() / 1000), lastSeenTs: null };
  }

  /** Synapse's RegistrationHandler.check_username, then the user row. */
  private registerUser(localpart: string, passwordHash: string | null, admin: boolean, displayname: string | null): FakeUser {
    if (INVALID_MXID_CHARS.test(localpart))
      throw badRequest("User ID can only contain characters a-z, 0-9, or '=_-./+'", "M_INVALID_USERNAME");
    if (!localpart) throw badRequest("User ID cannot be empty", "M_INVALID_USERNAME");
    if (localpart.startsWith("_")) throw badRequest("User ID may not begin with _", "M_INVALID_USERNAME");
    const id = `@${localpart}:${this.serverName}`;
    if (id.length > 255) throw badRequest("User ID may not be longer than 255 characters", "M_INVALID_USERNAME");
    if ([...this.users.keys()].some((u) => u.toLowerCase() === id.toLowerCase())) throw badRequest("User ID already taken.", "M_USER_IN_USE");
    if (/^\d+$/.test(localpart)) throw badRequest("Numeric user IDs are reserved for guest users.", "M_INVALID_USERNAME");
    const user = this.newUser(id, passwordHash, admin, displayname ?? localpart);
    this.users.set(id, user);
    return user;
  }

  private clearOldNonces(): void {
    const now = Math.floor(this.clock() / 1000);
    for (const [nonce, at] of this.nonces) if (now - at > NONCE_TIMEOUT_S) this.nonces.delete(nonce);
  }

  private registerNonce(): FakeResponse {
    this.clearOldNonces();
    const nonce = randomBytes(64).toString("hex");
    this.nonces.set(nonce, Math.floor(this.clock() / 1000));
    return ok({ nonce });
  }

  private register(request: FakeRequest): FakeResponse {
    this.clearOldNonces();
    const body = this.body(request);
    if (!("nonce" in body)) throw badRequest("nonce must be specified", "M_BAD_JSON");
    const nonce = body.nonce as string;
    if (!this.nonces.has(nonce)) throw badRequest("unrecognised nonce");
    // Burnt even when what follows fails.
    this.nonces.delete(nonce);
    if (!("username" in body)) throw badRequest("username must be specified", "M_BAD_JSON");
    const username = body.username;
    if (typeof username !== "string" || username.length > 512 || username.includes("\0")) throw badRequest("Invalid username");
    if (!("password" in body)) throw badRequest("password must be specified", "M_BAD_JSON");
    const password = body.password;
    if (typeof password !== "string" || password.length > 512 || password.includes("\0")) throw badRequest("Invalid password");
    const userType = body.user_type;
    if (userType !== undefined && userType !== null && !["support", "bot"].includes(userType as string)) throw badRequest("Invalid user type");
    if (!("mac" in body)) throw badRequest("mac must be specified", "M_BAD_JSON");
    const want = Buffer.from(this.registrationMac(nonce, username, password, Boolean(body.admin), (userType as string | undefined) ?? undefined));
    const got = Buffer.from(String(body.mac));
    if (want.length !== got.length || !timingSafeEqual(want, got)) throw forbidden("HMAC incorrect", "M_UNKNOWN");
    const user = this.registerUser(username.toLowerCase(), hashPassword(password), Boolean(body.admin), (body.displayname as string | undefined) ?? null);
    // RegisterRestServlet._create_registration_details: the body's device_id and inhibit_login apply.
    if (body.inhibit_login) return ok({ user_id: user.id, home_server: this.serverName });
    const device = this.newDevice(user.id, typeof body.device_id === "string" ? body.device_id : undefined);
    return ok({ user_id: user.id, home_server: this.serverName, access_token: device.token, device_id: device.deviceId });
  }

  /** Synapse 1.163.2, synapse/handlers/admin.py get_user (recorded: admin-users.json). */
  private userDetails(user: FakeUser): Json {
    return {
      name: user.id,
      admin: user.admin,
      deactivated: user.deactivated,
      locked: false,
      shadow_banned: false,
      creation_ts: user.creationTs,
      appservice_id: null,
      consent_server_notice_sent: null,
      consent_version: null,
      consent_ts: null,
      user_type: null,
      is_guest: false,
      suspended: false,
      displayname: user.displayname,
      avatar_url: user.avatarUrl,
      threepids: [],
      external_ids: [],
      erased: user.erased,
      last_seen_ts: user.lastSeenTs,
    };
  }

  private listUsers(request: FakeRequest): FakeResponse {
    this.admin(request);
    const q = request.url.searchParams;
    const start = integerParam(q, "from", 0);
    const limit = integerParam(q, "limit", 100);
    if (start < 0) throw badRequest("Query parameter from must be a string representing a positive integer.", "M_INVALID_PARAM");
    if (limit < 0) throw badRequest("Query parameter limit must be a string representing a positive integer.", "M_INVALID_PARAM");
    const includeDeactivated = booleanParam(q, "deactivated", false);
    booleanParam(q, "guests", true); // no guests here; validated as Synapse does
    const userIdFilter = q.get("user_id");
    const nameFilter = q.get("name");
    const matching = [...this.users.values()]
      .filter((u) => includeDeactivated || !u.deactivated)
      .filter((u) => !userIdFilter || u.id.includes(userIdFilter))
      .filter((u) => !nameFilter || u.id.includes(nameFilter) || (u.displayname ?? "").includes(nameFilter))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    // Synapse 1.163.2, synapse/storage/databases/main/__init__.py get_users_paginate (creation_ts in ms there).
    const page = matching.slice(start, start + limit).map((u) => ({
      name: u.id,
      user_type: null,
      is_guest: false,
      admin: u.admin,
      deactivated: u.deactivated,
      shadow_banned: false,
      displayname: u.displayname,
      avatar_url: u.avatarUrl,
      creation_ts: u.creationTs * 1000,
      erased: u.erased,
      last_seen_ts: u.lastSeenTs,
      locked: false,
    }));
    const body: Json = { users: page, total: matching.length };
    if (start + limit < matching.length) body.next_token = String(start + page.length);
    return ok(body);
  }

  /** Per-user rate-limit overrides, by user id (synapse/rest/admin/users.py RateLimitRestServlet). */
  readonly ratelimitOverrides = new Map<string, { messages_per_second: number; burst_count: number }>();

  private overrideRatelimit(request: FakeRequest, userId: string): FakeResponse {
    this.admin(request);
    const { domain } = parseUserId(userId);
    if (domain !== this.serverName)
      throw badRequest(request.method === "GET" ? "Can only look up local users" : "Only local users can be ratelimited");
    if (!this.users.get(userId)) throw notFound("User not found");
    if (request.method === "GET") return ok(this.ratelimitOverrides.get(userId) ?? {});
    if (request.method === "DELETE") {
      this.ratelimitOverrides.delete(userId);
      return ok({});
    }
    const body = request.body ? this.body(request) : {};
    const messages = body.messages_per_second ?? 0;
    const burst = body.burst_count ?? 0;
    for (const value of [messages, burst])
      if (!Number.isInteger(value) || (value as number) < 0) throw badRequest(`${JSON.stringify(value)} parameter must be a positive int`, "M_INVALID_PARAM");
    const override = { messages_per_second: messages as number, burst_count: burst as number };
    this.ratelimitOverrides.set(userId, override);
    return ok(override);
  }

  private getUser(request: FakeRequest, userId: string): FakeResponse {
    this.admin(request);
    const { domain } = parseUserId(userId);
    if (domain !== this.serverName) throw badRequest("Can only look up local users");
    const user = this.users.get(userId);
    if (!user) throw notFound("User not found");
    return ok(this.userDetails(user));
  }

  private putUser(request: FakeRequest, userId: string): FakeResponse {
    const requester = this.admin(request);
    const { localpart, domain } = parseUserId(userId);
    const body = this.body(request);
    if (domain !== this.serverName) throw badRequest("This endpoint can only be used with local users");
    const setAdmin = body.admin ?? false;
    if (typeof setAdmin !== "boolean") throw badRequest("Param 'admin' must be a boolean, if given", "M_BAD_JSON");
    const password = body.password;
    if (password !== undefined && password !== null && (typeof password !== "string" || password.length > 512)) throw badRequest("Invalid password");
    const deactivate = body.deactivated ?? false;
    if (typeof deactivate !== "boolean") throw badRequest("'deactivated' parameter is not of type boolean");

    const existing = this.users.get(userId);
    if (existing) {
      if ("displayname" in body) this.setDisplayname(existing, body.displayname);
      if ("admin" in body && setAdmin !== existing.admin) {
        if (existing.id === requester.userId && !setAdmin) throw badRequest("You may not demote yourself.");
        existing.admin = setAdmin;
      }
      if (typeof password === "string") {
        existing.passwordHash = hashPassword(password);
        if (body.logout_devices ?? true) this.dropDevices(existing.id);
      }
      if ("deactivated" in body) {
        if (deactivate && !existing.deactivated) this.deactivateUser(existing, false);
        else if (!deactivate && existing.deactivated) {
          if (!("password" in body)) throw badRequest("Must provide a password to re-activate an account.");
          existing.deactivated = false;
          existing.erased = false;
        }
      }
      return ok(this.userDetails(existing));
    }
    const created = this.registerUser(localpart, typeof password === "string" ? hashPassword(password) : null, setAdmin, (body.displayname as string | undefined) ?? null);
    return ok(this.userDetails(created), 201);
  }

  private setDisplayname(user: FakeUser, value: unknown): void {
    if (typeof value !== "string") throw badRequest("'displayname' must be a string", "M_INVALID_PARAM");
    if (value.length > MAX_DISPLAYNAME_LEN) throw badRequest(`Displayname is too long (max ${MAX_DISPLAYNAME_LEN})`);
    user.displayname = value === "" ? null : value;
    // Synapse updates the member event of every room the user is joined to.
    for (const room of this.rooms.values()) {
      const member = room.state.get(stateKeyOf("m.room.member", user.id));
      if (member?.content.membership !== "join") continue;
      const content: Json = { membership: "join" };
      if (user.displayname !== null) content.displayname = user.displayname;
      this.sendEvent(room, user.id, "m.room.member", user.id, content);
    }
  }

  private deactivate(request: FakeRequest, userId: string): FakeResponse {
    this.admin(request);
    if (parseUserId(userId).domain !== this.serverName) throw badRequest("Can only deactivate local users");
    const user = this.users.get(userId);
    if (!user) throw notFound("User not found");
    const body = this.body(request, true);
    const erase = body.erase ?? false;
    if (typeof erase !== "boolean") throw badRequest("Param 'erase' must be a boolean, if given", "M_BAD_JSON");
    this.deactivateUser(user, erase);
    return ok({ id_server_unbind_result: "success" });
  }

  /** DeactivateAccountHandler: tokens, password, rooms and invites go; erasure blanks the profile. */
  private deactivateUser(user: FakeUser, erase: boolean): void {
    this.dropDevices(user.id);
    user.passwordHash = null;
    for (const room of this.rooms.values()) {
      const membership = room.state.get(stateKeyOf("m.room.member", user.id))?.content.membership;
      if (membership === "join" || membership === "invite") this.sendEvent(room, user.id, "m.room.member", user.id, { membership: "leave" });
    }
    // Its devices are gone, and with them what the admin API shows as last seen.
    user.lastSeenTs = null;
    if (erase) {
      user.displayname = null;
      user.avatarUrl = null;
      user.erased = true;
    }
    user.deactivated = true;
  }

  // --- login ---------------------------------------------------------------------------

  /** Synapse's Ratelimiter.can_do_action for rc_login.failed_attempts. */
  private failedLoginCheck(key: string, update: boolean): { allowed: boolean; retryAfterMs: number } {
    const now = this.clock() / 1000;
    let { count, start } = this.failedLogins.get(key) ?? { count: 0, start: now };
    const performed = count - (now - start) * FAILED_LOGIN_RATE_HZ;
    if (performed < 0) {
      count = 0;
      start = now;
    }
    const allowed = !(Math.max(performed, 0) > FAILED_LOGIN_BURST - 1);
    if (allowed) count += 1;
    if (update) this.failedLogins.set(key, { count, start });
    const timeAllowed = Math.max(start + (count - FAILED_LOGIN_BURST + 1) / FAILED_LOGIN_RATE_HZ, now);
    return { allowed, retryAfterMs: Math.floor(1000 * (timeAllowed - now)) };
  }

  /** rc_login.address, for the one address every test request comes from; takes a token when allowed. */
  private addressLoginCheck(): void {
    const { perSecond, burst } = this.loginsPerAddress;
    const now = this.clock() / 1000;
    let { count, start } = this.addressLogins ?? { count: 0, start: now };
    const performed = count - (now - start) * perSecond;
    if (performed < 0) {
      count = 0;
      start = now;
    }
    const allowed = !(Math.max(performed, 0) > burst - 1);
    if (allowed) count += 1;
    this.addressLogins = { count, start };
    const timeAllowed = Math.max(start + (count - burst + 1) / perSecond, now);
    if (!allowed) throw new MatrixError(429, "M_LIMIT_EXCEEDED", "Too Many Requests", { retry_after_ms: Math.floor(1000 * (timeAllowed - now)) });
  }

  private login(request: FakeRequest): FakeResponse {
    const body = this.body(request);
    // LoginRestServlet.on_POST: the address limit comes before the login type is looked at.
    this.addressLoginCheck();
    const type = body.type;
    if (typeof type !== "string") throw badRequest("Bad parameter: type", "M_INVALID_PARAM");
    if (type === "m.login.password" && typeof body.password !== "string") throw badRequest("Bad parameter: password", "M_INVALID_PARAM");
    // The deprecated top-level `user` wins over `identifier`, as in convert_client_dict_legacy_fields_to_identifier.
    const identifier = body.user !== undefined ? { type: "m.id.user", user: body.user } : ((body.identifier as Json | undefined) ?? {});
    if (!("type" in identifier)) throw badRequest("'identifier' dict has no key 'type'", "M_MISSING_PARAM");
    if (identifier.type !== "m.id.user") throw badRequest("Unknown login identifier type");
    const username = identifier.user;
    if (typeof username !== "string" || !username) throw badRequest("User identifier is missing 'user' key");
    const qualified = username.startsWith("@") ? username : `@${username}:${this.serverName}`;
    const key = qualified.toLowerCase();
    const check = this.failedLoginCheck(key, false);
    if (!check.allowed) throw new MatrixError(429, "M_LIMIT_EXCEEDED", "Too Many Requests", { retry_after_ms: check.retryAfterMs });
    if (type !== "m.login.password") throw badRequest(`Unknown login type ${type}`);
    const user = [...this.users.values()].find((u) => u.id.toLowerCase() === key);
    if (user && !user.passwordHash && user.deactivated) throw forbidden("This account has been deactivated", "M_USER_DEACTIVATED");
    if (!user || !user.passwordHash || typeof body.password !== "string" || hashPassword(body.password) !== user.passwordHash) {
      this.failedLoginCheck(key, true);
      throw forbidden("Invalid username or password");
    }
    const requestedDevice = typeof body.device_id === "string" ? body.device_id : undefined;
    const device = this.newDevice(user.id, requestedDevice);
    // public_baseurl is set (Bastide's homeserver.yaml): the answer tells where the server is.
    return ok({ user_id: user.id, access_token: device.token, home_server: this.serverName, device_id: device.deviceId, well_known: { "m.homeserver": { base_url: `https://${this.serverName}/` } } });
  }

  private logout(request: FakeRequest): FakeResponse {
    const device = this.requester(request);
    this.dropDevices(device.userId, device.deviceId);
    return ok({});
  }

  // --- rooms ---------------------------------------------------------------------------

  private newEventId(): string {
    return `$${randomBytes(32).toString("base64url")}`;
  }

  private sendEvent(room: FakeRoom, sender: string, type: string, stateKey: string | undefined, content: Json): FakeEvent {
    const event: FakeEvent = { event_id: this.newEventId(), type, room_id: room.id, sender, content: sortedKeys(content), origin_server_ts: this.clock() };
    if (stateKey !== undefined) {
      event.state_key = stateKey;
      const replaced = room.state.get(stateKeyOf(type, stateKey));
      if (replaced) event.replaces_state = replaced.event_id;
      room.state.set(stateKeyOf(type, stateKey), event);
    }
    room.events.push(event);
    return event;
  }

  private memberContent(userId: string, membership: string): Json {
    const content: Json = { membership };
    const displayname = this.users.get(userId)?.displayname;
    if ((membership === "join" || membership === "invite") && displayname) content.displayname = displayname;
    return content;
  }

  private powerLevels(room: FakeRoom): Json {
    return room.state.get(stateKeyOf("m.room.power_levels", ""))?.content ?? {};
  }

  private userLevel(room: FakeRoom, userId: string): number {
    if (creatorsRule(room.version) && room.creator === userId) return Number.POSITIVE_INFINITY;
    const pl = room.state.get(stateKeyOf("m.room.power_levels", ""));
    if (!pl) return room.creator === userId ? 100 : 0;
    const users = (pl.content.users as Record<string, number> | undefined) ?? {};
    return Number(users[userId] ?? pl.content.users_default ?? 0);
  }

  private namedLevel(room: FakeRoom, name: string, fallback: number): number {
    return Number(this.powerLevels(room)[name] ?? fallback);
  }

  /** synapse/events/validator.py: the only content check the recordings exercise. */
  private validateContent(type: string, content: Json): void {
    if (type !== "m.room.retention") return;
    const min = content.min_lifetime;
    const max = content.max_lifetime;
    if (min !== undefined && min !== null && !Number.isInteger(min)) throw badRequest("'min_lifetime' must be an integer", "M_BAD_JSON");
    if (max !== undefined && max !== null && !Number.isInteger(max)) throw badRequest("'max_lifetime' must be an integer", "M_BAD_JSON");
    if (typeof min === "number" && typeof max === "number" && min > max) throw badRequest("'min_lifetime' can't be greater than 'max_lifetime", "M_BAD_JSON");
  }

  private createRoom(request: FakeRequest): FakeResponse {
    const requester = this.requester(request);
    const config = this.body(request);
    const creator = requester.userId;
    const roomVersion = config.room_version ?? DEFAULT_ROOM_VERSION;
    if (typeof roomVersion !== "string") throw badRequest("room_version must be a string", "M_BAD_JSON");
    if (!KNOWN_ROOM_VERSIONS.includes(roomVersion)) throw badRequest("Your homeserver does not support this room version", "M_UNSUPPORTED_ROOM_VERSION");
    const visibility = config.visibility ?? "private";
    const presetName = (config.preset as string | undefined) ?? (visibility === "private" ? "private_chat" : "public_chat");
    // Synapse checks the preset a little later (after the alias is reserved); checked first here so that no half-made room remains.
    const preset = PRESETS[presetName];
    if (!preset) throw badRequest(`'${presetName}' is not a valid preset`, "M_BAD_JSON");
    let alias: string | undefined;
    if ("room_alias_name" in config) {
      const name = String(config.room_alias_name);
      if (/\s/.test(name)) throw badRequest("Invalid characters in room alias");
      alias = `#${name}:${this.serverName}`;
      if (this.aliases.has(alias)) throw badRequest("Room alias already taken", "M_ROOM_IN_USE");
    }
    const invites = (config.invite as string[] | undefined) ?? [];
    for (const invitee of invites) {
      try {
        parseUserId(invitee);
      } catch {
        throw badRequest(`Invalid user_id: ${invitee}`);
      }
    }
    const override = config.power_level_content_override as Json | undefined;
    if (override && !creatorsRule(roomVersion) && "users" in override && !(creator in (override.users as Json)))
      throw badRequest(`Not a valid power_level_content_override: 'users' did not contain ${creator}`);
    const initialState = new Map<string, { type: string; stateKey: string; content: Json }>();
    for (const item of (config.initial_state as Json[] | undefined) ?? []) {
      const entry = { type: String(item.type), stateKey: String(item.state_key ?? ""), content: (item.content as Json) ?? {} };
      this.validateContent(entry.type, entry.content);
      initialState.set(stateKeyOf(entry.type, entry.stateKey), entry);
    }

    // Room version 12: the id is the create event's reference hash, 43 url-safe base64 characters, no server name.
    const id = creatorsRule(roomVersion) ? `!${randomBytes(32).toString("base64url")}` : `!${randomLetters(18)}:${this.serverName}`;
    const room: FakeRoom = { id, version: roomVersion, creator, state: new Map(), events: [], public: visibility === "public" };
    this.rooms.set(room.id, room);
    if (alias) this.aliases.set(alias, { roomId: room.id, servers: [this.serverName], creator });
    const send = (type: string, content: Json, stateKey = "") => this.sendEvent(room, creator, type, stateKey, content);
    const taken = (type: string) => initialState.has(stateKeyOf(type, ""));

    // Room version 12's create event names no creator in its content: its sender is the creator.
    send("m.room.create", { ...((config.creation_content as Json | undefined) ?? {}), room_version: roomVersion, ...(creatorsRule(roomVersion) ? {} : { creator }) });
    if (this.cutShort > 0) {
      this.cutShort--;
      throw new MatrixError(429, "M_LIMIT_EXCEEDED", "Too Many Requests", { retry_after_ms: 10 });
    }
    send("m.room.member", this.memberContent(creator, "join"), creator);
    const initialPowerLevels = initialState.get(stateKeyOf("m.room.power_levels", ""));
    if (initialPowerLevels) {
      initialState.delete(stateKeyOf("m.room.power_levels", ""));
      send("m.room.power_levels", initialPowerLevels.content);
    } else {
      const content: Json = {
        users: creatorsRule(roomVersion) ? {} : { [creator]: 100 },
        users_default: 0,
        events: {
          "m.room.name": 50,
          "m.room.power_levels": 100,
          "m.room.history_visibility": 100,
          "m.room.canonical_alias": 50,
          "m.room.avatar": 50,
          "m.room.tombstone": creatorsRule(roomVersion) ? 150 : 100,
          "m.room.server_acl": 100,
          "m.room.encryption": 100,
        },
        events_default: 0,
        state_default: 50,
        ban: 50,
        kick: 50,
        redact: 50,
        invite: 50,
        historical: 100,
      };
      if (preset.original_invitees_have_ops) for (const invitee of invites) (content.users as Json)[invitee] = 100;
      Object.assign(content, preset.power_override, override ?? {});
      send("m.room.power_levels", content);
    }
    if (alias && !taken("m.room.canonical_alias")) send("m.room.canonical_alias", { alias });
    if (!taken("m.room.join_rules")) send("m.room.join_rules", { join_rule: preset.join_rule });
    if (!taken("m.room.history_visibility")) send("m.room.history_visibility", { history_visibility: preset.history_visibility });
    if (preset.guest_can_join && !taken("m.room.guest_access")) send("m.room.guest_access", { guest_access: "can_join" });
    for (const { type, stateKey, content } of initialState.values()) send(type, content, stateKey);
    if ("name" in config) send("m.room.name", { name: config.name });
    // MSC3765 rich topic alongside the plain one (Synapse 1.163.2, synapse/handlers/room.py).
    if ("topic" in config) send("m.room.topic", { topic: config.topic, "m.topic": { "m.text": [{ body: config.topic }] } });
    // encryption_enabled_by_default_for_room_type: all, in Bastide's homeserver.yaml.
    if (!taken("m.room.encryption") && !initialState.has(stateKeyOf("m.room.encryption", ""))) send("m.room.encryption", { algorithm: "m.megolm.v1.aes-sha2" });
    for (const invitee of invites) send("m.room.member", this.memberContent(invitee, "invite"), invitee);

    const result: Json = { room_id: room.id };
    if (alias) result.room_alias = alias;
    return ok(result);
  }

  /** Auth.check_user_in_room_or_world_readable (departed users read current state here). */
  private assertCanRead(room: FakeRoom | undefined, roomId: string, userId: string): FakeRoom {
    const membership = room?.state.get(stateKeyOf("m.room.member", userId))?.content.membership;
    const worldReadable = room?.state.get(stateKeyOf("m.room.history_visibility", ""))?.content.history_visibility === "world_readable";
    if (room && (membership === "join" || membership === "leave" || worldReadable)) return room;
    throw forbidden(`User ${userId} not in room ${roomId}, and room previews are disabled`);
  }

  private getState(request: FakeRequest, roomId: string, type: string, stateKey: string): FakeResponse {
    const requester = this.requester(request);
    const room = this.assertCanRead(this.rooms.get(roomId), roomId, requester.userId);
    const format = request.url.searchParams.get("format") ?? "content";
    const event = room.state.get(stateKeyOf(type, stateKey));
    if (!event) throw notFound("Event not found.");
    return ok(format === "event" ? this.clientEvent(event) : event.content);
  }

  private putState(request: FakeRequest, roomId: string, type: string, stateKey: string): FakeResponse {
    const requester = this.requester(request);
    const content = this.body(request);
    const room = this.rooms.get(roomId);
    // Synapse 1.163.2 checks membership first, whether or not the room exists.
    if (!room) throw forbidden(`User ${requester.userId} not in room ${roomId}`);
    if (type === "m.room.member") throw new Error("membership through PUT /state is not implemented by the fake");
    this.validateContent(type, content);
    // Identical state is not sent again: Synapse answers with the current event.
    const current = room.state.get(stateKeyOf(type, stateKey));
    if (current && current.sender === requester.userId && canonicalJson(current.content) === canonicalJson(content))
      return ok({ event_id: current.event_id });
    const member = room.state.get(stateKeyOf("m.room.member", requester.userId));
    if (member?.content.membership !== "join") throw forbidden(`User ${requester.userId} not in room ${roomId} (${reprEvent(member)})`);
    const events = (this.powerLevels(room).events as Record<string, number> | undefined) ?? {};
    const sendLevel = Number(events[type] ?? this.namedLevel(room, "state_default", 50));
    const userLevel = this.userLevel(room, requester.userId);
    if (userLevel < sendLevel)
      throw forbidden(`You don't have permission to post that to the room. user_level (${userLevel}) < send_level (${sendLevel})`);
    if (stateKey.startsWith("@") && stateKey !== requester.userId) throw forbidden("You are not allowed to set others state");
    return ok({ event_id: this.sendEvent(room, requester.userId, type, stateKey, content).event_id });
  }

  /** Synapse 1.163.2's client format: sorted keys, with the legacy top-level age, replaces_state and user_id. */
  private clientEvent(event: FakeEvent): Json {
    const { event_id, type, room_id, sender, content, state_key, origin_server_ts, replaces_state } = event;
    const age = this.clock() - origin_server_ts;
    const unsigned = { age, ...(replaces_state ? { replaces_state } : {}) };
    return sortedKeys({ age, content, event_id, origin_server_ts, ...(replaces_state ? { replaces_state } : {}), room_id, sender, state_key, type, unsigned, user_id: sender });
  }

  /** RoomMembershipRestServlet "kick": also revokes an invitation (recorded: rooms.json). */
  private kick(request: FakeRequest, roomId: string): FakeResponse {
    const requester = this.requester(request);
    const body = this.body(request, true);
    if (!("user_id" in body)) throw badRequest("Missing params: ['user_id']", "M_MISSING_PARAM");
    const target = String(body.user_id);
    const room = this.rooms.get(roomId);
    if (!room || this.membership(roomId, requester.userId) !== "join") throw forbidden(`User ${requester.userId} not in room ${roomId}`);
    const membership = this.membership(roomId, target);
    if (membership !== "join" && membership !== "invite") throw forbidden("The target user is not in the room");
    if (this.userLevel(room, requester.userId) < this.namedLevel(room, "kick", 50)) throw forbidden("You don't have permission to kick users");
    this.sendEvent(room, requester.userId, "m.room.member", target, { membership: "leave", ...(typeof body.reason === "string" ? { reason: body.reason } : {}) });
    return ok({});
  }

  private joinedMembers(request: FakeRequest, roomId: string): FakeResponse {
    const requester = this.requester(request);
    const room = this.assertCanRead(this.rooms.get(roomId), roomId, requester.userId);
    if (this.membership(roomId, requester.userId) !== "join")
      throw forbidden("Getting joined members while not being a current member of the room is forbidden.");
    const joined: Json = {};
    for (const e of room.state.values())
      if (e.type === "m.room.member" && e.content.membership === "join")
        joined[e.state_key!] = { avatar_url: e.content.avatar_url ?? null, display_name: e.content.displayname ?? null };
    return ok({ joined });
  }

  private roomMembers(request: FakeRequest, roomId: string): FakeResponse {
    const requester = this.requester(request);
    const room = this.assertCanRead(this.rooms.get(roomId), roomId, requester.userId);
    const include = request.url.searchParams.get("membership");
    const exclude = request.url.searchParams.get("not_membership");
    const chunk = [...room.state.values()]
      .filter((e) => e.type === "m.room.member")
      .filter((e) => (!include || e.content.membership === include) && (!exclude || e.content.membership !== exclude))
      .map((e) => this.clientEvent(e));
    return ok({ chunk });
  }

  private invite(request: FakeRequest, roomId: string): FakeResponse {
    const requester = this.requester(request);
    const body = this.body(request, true);
    if (!("user_id" in body)) throw badRequest("Missing params: ['user_id']", "M_MISSING_PARAM");
    const target = String(body.user_id);
    parseUserId(target);
    const room = this.rooms.get(roomId);
    if (!room) throw forbidden("Unknown room");
    const old = room.state.get(stateKeyOf("m.room.member", target));
    if (old?.content.membership === "ban") throw forbidden("Cannot invite user who was banned", "M_BAD_STATE");
    if (old?.content.membership === "invite" && old.sender === requester.userId) return ok({});
    if (this.membership(roomId, requester.userId) !== "join") throw forbidden(`${requester.userId} not in room ${roomId}.`);
    if (old?.content.membership === "join") throw forbidden(`${target} is already in the room.`);
    if (this.userLevel(room, requester.userId) < this.namedLevel(room, "invite", 0)) throw forbidden("You don't have permission to invite users");
    this.sendEvent(room, requester.userId, "m.room.member", target, this.memberContent(target, "invite"));
    return ok({});
  }

  private adminJoin(request: FakeRequest, roomIdOrAlias: string): FakeResponse {
    const admin = this.admin(request);
    const body = this.body(request);
    if (!("user_id" in body)) throw badRequest("Missing params: ['user_id']", "M_MISSING_PARAM");
    const target = String(body.user_id);
    if (parseUserId(target).domain !== this.serverName) throw badRequest("This endpoint can only be used with local users");
    if (!this.users.get(target)) throw notFound("User not found");
    const roomId = isRoomAlias(roomIdOrAlias) ? this.aliases.get(roomIdOrAlias)?.roomId : roomIdOrAlias;
    const room = roomId ? this.rooms.get(roomId) : undefined;
    if (!room) throw notFound(`Room ${roomIdOrAlias} not found`);
    const membership = this.membership(room.id, target);
    const joinRule = room.state.get(stateKeyOf("m.room.join_rules", ""))?.content.join_rule ?? "invite";
    // Not public: the admin invites first, with an invite's own checks (recorded: a member
    // already joined is refused, "… is already in the room.").
    if (joinRule !== "public") {
      if (membership === "ban") throw forbidden("Cannot invite user who was banned", "M_BAD_STATE");
      if (this.membership(room.id, admin.userId) !== "join") throw forbidden(`${admin.userId} not in room ${room.id}.`);
      if (membership === "join") throw forbidden(`${target} is already in the room.`);
      if (this.userLevel(room, admin.userId) < this.namedLevel(room, "invite", 0)) throw forbidden("You don't have permission to invite users");
      this.sendEvent(room, admin.userId, "m.room.member", target, this.memberContent(target, "invite"));
    } else if (membership === "ban") throw forbidden("You are banned from this room");
    if (membership !== "join") this.sendEvent(room, target, "m.room.member", target, this.memberContent(target, "join"));
    return ok({ room_id: room.id });
  }

  private join(request: FakeRequest, roomIdOrAlias: string): FakeResponse {
    const requester = this.requester(request);
    this.body(request, true);
    let roomId = roomIdOrAlias;
    if (isRoomAlias(roomIdOrAlias)) {
      const mapping = this.aliases.get(roomIdOrAlias);
      if (!mapping) throw notFound(`Room alias ${roomIdOrAlias} not found`);
      roomId = mapping.roomId;
    } else if (!isRoomId(roomIdOrAlias)) throw badRequest(`${roomIdOrAlias} was not legal room ID or room alias`);
    const room = this.rooms.get(roomId);
    if (!room) throw notFound("No known servers");
    const membership = this.membership(roomId, requester.userId);
    if (membership === "ban") throw forbidden("You are banned from this room");
    const joinRule = room.state.get(stateKeyOf("m.room.join_rules", ""))?.content.join_rule ?? "invite";
    if (joinRule !== "public" && membership !== "join" && membership !== "invite") throw forbidden("You are not invited to this room.");
    if (membership !== "join") this.sendEvent(room, requester.userId, "m.room.member", requester.userId, this.memberContent(requester.userId, "join"));
    return ok({ room_id: roomId });
  }

  // --- directory -----------------------------------------------------------------------

  private resolveAlias(alias: string): FakeResponse {
    if (!isRoomAlias(alias)) throw badRequest("Room alias invalid", "M_INVALID_PARAM");
    const mapping = this.aliases.get(alias);
    if (!mapping) throw notFound(`Room alias ${alias} not found`);
    const servers = new Set([...this.members(mapping.roomId, "join").map((u) => u.split(":").slice(1).join(":")), ...mapping.servers]);
    const ordered = servers.has(this.serverName) ? [this.serverName, ...[...servers].filter((s) => s !== this.serverName)] : [...servers];
    return ok({ room_id: mapping.roomId, servers: ordered });
  }

  private createAlias(request: FakeRequest, alias: string): FakeResponse {
    if (!isRoomAlias(alias)) throw badRequest("Room alias invalid", "M_INVALID_PARAM");
    const body = this.body(request);
    if (!("room_id" in body)) throw badRequest('Missing params: ["room_id"]', "M_BAD_JSON");
    const roomId = String(body.room_id);
    // Synapse looks the room up before it authenticates the request.
    if (!this.rooms.has(roomId)) throw badRequest("Room does not exist");
    const requester = this.requester(request);
    if (alias.slice(alias.indexOf(":") + 1) !== this.serverName) throw badRequest("Room alias must be local");
    if (!this.users.get(requester.userId)?.admin && this.membership(roomId, requester.userId) !== "join")
      throw forbidden("You must be in the room to create an alias for it");
    if (this.aliases.has(alias)) throw new MatrixError(409, "M_UNKNOWN", `Room alias ${alias} already exists`);
    this.aliases.set(alias, { roomId, servers: (body.servers as string[] | undefined) ?? [this.serverName], creator: requester.userId });
    return ok({});
  }

  // --- spaces --------------------------------------------------------------------------

  private canSee(room: FakeRoom, userId: string): boolean {
    const membership = room.state.get(stateKeyOf("m.room.member", userId))?.content.membership;
    const joinRule = room.state.get(stateKeyOf("m.room.join_rules", ""))?.content.join_rule;
    const worldReadable = room.state.get(stateKeyOf("m.room.history_visibility", ""))?.content.history_visibility === "world_readable";
    return membership === "join" || membership === "invite" || joinRule === "public" || worldReadable;
  }

  private summary(room: FakeRoom): Json {
    const get = (type: string) => room.state.get(stateKeyOf(type, ""))?.content;
    const entry: Json = {
      room_id: room.id,
      name: get("m.room.name")?.name,
      topic: get("m.room.topic")?.topic,
      canonical_alias: get("m.room.canonical_alias")?.alias,
      num_joined_members: this.members(room.id, "join").length,
      avatar_url: get("m.room.avatar")?.url,
      join_rule: get("m.room.join_rules")?.join_rule,
      world_readable: get("m.room.history_visibility")?.history_visibility === "world_readable",
      guest_can_join: get("m.room.guest_access")?.guest_access === "can_join",
      room_type: get("m.room.create")?.type,
    };
    return Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== undefined && v !== null));
  }

  private hierarchy(request: FakeRequest, roomId: string): FakeResponse {
    const requester = this.requester(request);
    const root = this.rooms.get(roomId);
    if (!root || !this.canSee(root, requester.userId)) throw forbidden(`User ${requester.userId} not in room ${roomId}, and room previews are disabled`);
    const rooms: Json[] = [];
    const seen = new Set<string>();
    const queue = [root.id];
    for (let guard = 0; queue.length > 0 && guard < 1000; guard++) {
      const id = queue.shift()!;
      const room = this.rooms.get(id);
      if (!room || seen.has(id) || !this.canSee(room, requester.userId)) continue;
      seen.add(id);
      const children = [...room.state.values()].filter((e) => e.type === "m.space.child" && Array.isArray(e.content.via) && (e.content.via as unknown[]).length > 0);
      rooms.push({
        ...this.summary(room),
        children_state: children.map((e) => ({ type: e.type, state_key: e.state_key, content: e.content, room_id: e.room_id, sender: e.sender, origin_server_ts: e.origin_server_ts })),
      });
      queue.unshift(...children.map((e) => e.state_key!));
    }
    return ok({ rooms });
  }

  // --- admin rooms ---------------------------------------------------------------------

  private roomStats(room: FakeRoom): Json {
    const get = (type: string) => room.state.get(stateKeyOf(type, ""))?.content;
    const joined = this.members(room.id, "join");
    const local = joined.filter((u) => u.endsWith(`:${this.serverName}`));
    // Synapse 1.163.2's order (recorded: rooms.json, admin room details).
    return {
      room_id: room.id,
      name: get("m.room.name")?.name ?? null,
      canonical_alias: get("m.room.canonical_alias")?.alias ?? null,
      joined_members: joined.length,
      join_rules: get("m.room.join_rules")?.join_rule ?? null,
      guest_access: get("m.room.guest_access")?.guest_access ?? null,
      history_visibility: get("m.room.history_visibility")?.history_visibility ?? null,
      state_events: room.state.size,
      avatar: get("m.room.avatar")?.url ?? null,
      topic: get("m.room.topic")?.topic ?? null,
      room_type: get("m.room.create")?.type ?? null,
      joined_local_members: local.length,
      version: room.version,
      creator: room.creator,
      encryption: get("m.room.encryption")?.algorithm ?? null,
      federatable: get("m.room.create")?.["m.federate"] ?? true,
      public: room.public,
    };
  }

  private roomDetails(request: FakeRequest, roomId: string): FakeResponse {
    this.admin(request);
    const room = this.rooms.get(roomId);
    if (!room) throw notFound("Room not found");
    const local = new Set(this.members(roomId, "join"));
    const devices = [...this.devices.values()].filter((d) => local.has(d.userId)).length;
    return ok({ ...this.roomStats(room), joined_local_devices: devices, forgotten: false, tombstoned: false, replacement_room: null });
  }

  /** synapse/rest/admin/rooms.py RoomRestServlet.on_DELETE with purge: the room and its aliases are gone. */
  private deleteRoom(request: FakeRequest, roomId: string): FakeResponse {
    this.admin(request);
    const room = this.rooms.get(roomId);
    if (!room) throw notFound("Room not found");
    const kicked = this.members(roomId, "join");
    const aliases = [...this.aliases].filter(([, mapping]) => mapping.roomId === roomId).map(([alias]) => alias);
    for (const alias of aliases) this.aliases.delete(alias);
    this.rooms.delete(roomId);
    return ok({ kicked_users: kicked, failed_to_kick_users: [], local_aliases: aliases, new_room_id: null });
  }

  private listRooms(request: FakeRequest): FakeResponse {
    this.admin(request);
    const q = request.url.searchParams;
    const start = integerParam(q, "from", 0);
    const limit = integerParam(q, "limit", 100);
    const direction = q.get("dir") ?? "f";
    if (direction !== "f" && direction !== "b") throw badRequest(`Unknown direction: ${direction}`, "M_INVALID_PARAM");
    const term = q.get("search_term");
    if (term === "") throw badRequest("search_term cannot be an empty string", "M_INVALID_PARAM");
    const all = [...this.rooms.values()]
      .map((r) => this.roomStats(r))
      .filter((r) => !term || String(r.name ?? "").toLowerCase().includes(term.toLowerCase()) || String(r.canonical_alias ?? "").includes(term) || String(r.room_id).includes(term))
      .sort((a, b) => String(a.name ?? "").localeCompare(String(b.name ?? "")));
    if (direction === "b") all.reverse();
    const body: Json = { offset: start, rooms: all.slice(start, start + limit), total_rooms: all.length };
    if (start + limit < all.length) body.next_batch = start + limit;
    if (start > 0) body.prev_batch = start > limit ? start - limit : 0;
    return ok(body);
  }

  private adminRoomMembers(request: FakeRequest, roomId: string): FakeResponse {
    this.admin(request);
    if (!this.rooms.has(roomId)) throw notFound("Room not found");
    const members = this.members(roomId, "join");
    return ok({ members, total: members.length });
  }
}

/** Key-sorted JSON, as Synapse's encode_canonical_json compares state contents. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object")
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Json)[k])}`)
      .join(",")}}`;
  return JSON.stringify(value);
}

function integerParam(q: URLSearchParams, name: string, fallback: number): number {
  const raw = q.get(name);
  if (raw === null) return fallback;
  if (!/^-?\d+$/.test(raw)) throw badRequest(`Query parameter ${JSON.stringify(name)} must be an integer`, "M_INVALID_PARAM");
  return Number(raw);
}

function booleanParam(q: URLSearchParams, name: string, fallback: boolean): boolean {
  const raw = q.get(name);
  if (raw === null) return fallback;
  if (raw !== "true" && raw !== "false") throw badRequest(`Boolean query parameter ${JSON.stringify(name)} must be one of ['true', 'false']`, "M_INVALID_PARAM");
  return raw === "true";
}

/** Starts a fake Synapse on 127.0.0.1; stop it with `fake.server.stop()`. */
export async function createFakeSynapse(options: FakeSynapseOptions): Promise<FakeSynapse> {
  const fake = new FakeSynapse(options);
  await fake.server.start();
  return fake;
}
