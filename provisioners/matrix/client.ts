// How Bastide talks to Synapse: the admin API through HttpClient, the client-server API
// through matrix-js-sdk whose every request also goes through HttpClient (retried and
// counted). It acts as the bot account MATRIX_BOT, a server admin.
//
// The bot's password is never stored: it is derived from the registration shared secret
// (HMAC-SHA256 over the bot's user id), so any run that knows the secret can log in, and
// the first run registers the bot with it through shared-secret registration. Rotating
// the shared secret therefore locks the bot out until its password is reset by hand.
// Each tool has its own device (TOOL_DEVICES): the provisioner's session, kept between
// runs in the Pulumi state, is never touched by the audit, the data-subject commands or
// first-password, which each log in on their own device and close() only that one.
// close() logs out, which removes the device and all its tokens, including any left by a
// killed run of the same tool.
import { createHmac } from "node:crypto";
import { createClient, MatrixError, type MatrixClient as SdkClient } from "matrix-js-sdk";
import type { Dispatcher } from "undici";
import { MATRIX_BOT, matrixUserId } from "../desired.ts";
import { HttpClient, HttpError, type CallCounter, type HttpResponse, type RetryPolicy } from "../runtime/http.ts";

export interface MatrixClientOptions {
  /** Synapse's client API, e.g. https://matrix.example.org or http://127.0.0.1:8008. */
  baseUrl: string;
  registrationSharedSecret: string;
  serverName: string;
  counter?: CallCounter;
  dispatcher?: Dispatcher;
  /** Sent with every request (e.g. a Host header); never a credential of the bot. */
  headers?: Record<string, string>;
  timeoutMs?: number;
  retry?: RetryPolicy;
  /** Injected in tests; real runs wait for real. */
  sleep?: (ms: number) => Promise<void>;
  /**
   * A token kept from an earlier run (a Pulumi secret). It is checked with whoami, a read,
   * and used if still valid, so an unchanged run makes no write at all, not even a login.
   */
  accessToken?: string;
  /** The tool's own device (TOOL_DEVICES); the provisioner's by default. */
  deviceId?: string;
}

/**
 * One device per tool, so that no tool ends another's session. Logging out deletes the
 * device with every token on it (Synapse 1.163.2, synapse/rest/client/logout.py →
 * DeviceHandler.delete_devices → delete_access_tokens_for_devices), so with one shared
 * device the audit or an export, run during `pulumi up`, cut the provisioner off
 * (M_UNKNOWN_TOKEN), and the next run had to log in again.
 */
export const TOOL_DEVICES = {
  provisioner: "BASTIDE",
  audit: "BASTIDE_AUDIT",
  dataSubject: "BASTIDE_DSR",
  firstPassword: "BASTIDE_FIRST_PASSWORD",
} as const;
/** The provisioner's device: one per server, however many runs. */
export const BOT_DEVICE_ID = TOOL_DEVICES.provisioner;
const BOT_DISPLAY_NAME = "Bastide";
/** Service name the bot's own login and logout are counted under: they change nothing provisioned. */
export const SESSION_SERVICE = "matrix-session";
const USERS_PAGE = 100;

/** An error answer from Synapse, with its errcode; never carries a request body. */
export class MatrixApiError extends Error {
  readonly status: number;
  readonly errcode: string | undefined;
  constructor(status: number, errcode: string | undefined, message: string) {
    super(`${errcode ?? `HTTP ${status}`}: ${message}`);
    this.name = "MatrixApiError";
    this.status = status;
    this.errcode = errcode;
  }
}

/** The bot's password: a function of the shared secret, so that nothing has to be stored. */
export function botPassword(registrationSharedSecret: string, botUserId: string): string {
  return createHmac("sha256", registrationSharedSecret).update(`bastide/matrix-bot-password/v1\0${botUserId}`).digest("base64url");
}

/** Shared-secret registration's MAC (synapse.rest.admin.users.UserRegisterServlet). */
export function registrationMac(secret: string, nonce: string, username: string, password: string, admin: boolean): string {
  return createHmac("sha1", secret)
    .update(nonce)
    .update("\0")
    .update(username)
    .update("\0")
    .update(password)
    .update("\0")
    .update(admin ? "admin" : "notadmin")
    .digest("hex");
}

/** Synapse's error code, whatever layer the error came through. */
export function errcodeOf(error: unknown): string | undefined {
  if (error instanceof MatrixApiError) return error.errcode;
  if (error instanceof MatrixError) return error.errcode;
  return undefined;
}

/** A short, credential-free account of a failure, for ProvisionError. */
export function describeError(error: unknown): string {
  if (error instanceof MatrixApiError) return error.message;
  if (error instanceof MatrixError) return `${error.errcode ?? `HTTP ${error.httpStatus}`}: ${error.data?.error ?? error.message}`;
  const cause = (error as { cause?: unknown })?.cause;
  if (cause instanceof HttpError) return cause.message;
  return (error as Error)?.message ?? String(error);
}

function apiError(response: HttpResponse): MatrixApiError {
  return new MatrixApiError(response.status, response.json?.errcode, response.json?.error ?? (response.text.slice(0, 200) || "no message"));
}

const SILENT_LOGGER = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  getChild: () => SILENT_LOGGER,
};

interface Session {
  userId: string;
  accessToken: string;
  sdk: SdkClient;
}

export class MatrixClient {
  readonly serverName: string;
  readonly botUserId: string;
  private readonly http: HttpClient;
  private readonly sessionHttp: HttpClient;
  private readonly secret: string;
  private readonly keptToken: string | undefined;
  readonly deviceId: string;
  private session: Promise<Session> | undefined;
  /** Full alias → room id, learnt from lookups and creations. */
  private readonly roomIds = new Map<string, string>();

  constructor(options: MatrixClientOptions) {
    this.serverName = options.serverName;
    this.botUserId = matrixUserId(MATRIX_BOT, options.serverName);
    this.secret = options.registrationSharedSecret;
    this.keptToken = options.accessToken;
    this.deviceId = options.deviceId ?? BOT_DEVICE_ID;
    const common = {
      baseUrl: options.baseUrl,
      headers: options.headers,
      counter: options.counter,
      dispatcher: options.dispatcher,
      timeoutMs: options.timeoutMs,
      retry: options.retry,
      sleep: options.sleep,
    };
    this.http = new HttpClient({ ...common, service: "matrix" });
    this.sessionHttp = new HttpClient({ ...common, service: SESSION_SERVICE });
  }

  /** A call to Synapse's admin API as the bot; returns the answer, error statuses included. */
  async admin(method: string, path: string, body?: Record<string, unknown>): Promise<HttpResponse> {
    const { accessToken } = await this.open();
    return this.http.request(method, path, { body, headers: { Authorization: `Bearer ${accessToken}` } });
  }

  /** Like admin(), but any status other than 2xx throws a MatrixApiError. */
  async adminJson(method: string, path: string, body?: Record<string, unknown>): Promise<any> {
    const response = await this.admin(method, path, body);
    if (response.status < 200 || response.status > 299) throw apiError(response);
    return response.json;
  }

  /** Every user, deactivated ones included. */
  async listUsers(): Promise<{ name: string; displayname: string | null; deactivated: number; erased?: boolean }[]> {
    const users: { name: string; displayname: string | null; deactivated: number; erased?: boolean }[] = [];
    let from = 0;
    for (let page = 0; page < 100_000; page++) {
      const body = await this.adminJson("GET", `/_synapse/admin/v2/users?from=${from}&limit=${USERS_PAGE}&guests=false&deactivated=true`);
      users.push(...body.users);
      if (body.next_token === undefined) break;
      from = Number(body.next_token);
    }
    return users;
  }

  /** The session's Authorization header, opening the session if needed: for requests made outside HttpClient (media bytes). */
  async authorization(): Promise<Record<string, string>> {
    return { Authorization: `Bearer ${(await this.open()).accessToken}` };
  }

  /** matrix-js-sdk, logged in as the bot, its requests going through HttpClient. */
  async sdk(): Promise<SdkClient> {
    return (await this.open()).sdk;
  }

  rememberRoom(alias: string, roomId: string): void {
    this.roomIds.set(alias, roomId);
  }

  forgetRoom(alias: string): void {
    this.roomIds.delete(alias);
  }

  /** The room an alias points to, or undefined when it points nowhere. */
  async roomIdFor(alias: string): Promise<string | undefined> {
    const known = this.roomIds.get(alias);
    if (known) return known;
    try {
      const { room_id } = await (await this.sdk()).getRoomIdForAlias(alias);
      this.roomIds.set(alias, room_id);
      return room_id;
    } catch (error) {
      if (errcodeOf(error) === "M_NOT_FOUND") return undefined;
      throw error;
    }
  }

  /** Ends the bot's session, if one was opened: its device and tokens are removed. */
  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    const { accessToken } = await session.catch(() => ({ accessToken: undefined }));
    if (!accessToken) return;
    await this.sessionHttp.request("POST", "/_matrix/client/v3/logout", { body: {}, headers: { Authorization: `Bearer ${accessToken}` } });
  }

  private open(): Promise<Session> {
    this.session ??= this.login().then(({ userId, accessToken }) => ({ userId, accessToken, sdk: this.makeSdk(userId, accessToken) }));
    const session = this.session;
    // A failed login is not kept: the next call tries again.
    session.catch(() => {
      if (this.session === session) this.session = undefined;
    });
    return session;
  }

  private makeSdk(userId: string, accessToken: string): SdkClient {
    const http = this.http;
    const fetchFn = async (resource: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const url = new URL(resource instanceof Request ? resource.url : String(resource));
      const headers: Record<string, string> = {};
      new Headers(init?.headers).forEach((value, name) => (headers[name] = value));
      const answer = await http.request(init?.method ?? "GET", url.pathname + url.search, {
        body: typeof init?.body === "string" ? init.body : undefined,
        headers,
      });
      const bodiless = [101, 204, 205, 304].includes(answer.status);
      return new Response(bodiless ? null : answer.text, {
        status: answer.status,
        headers: { "Content-Type": answer.headers.get("content-type") ?? "application/octet-stream" },
      });
    };
    return createClient({
      baseUrl: http.options.baseUrl,
      accessToken,
      userId,
      deviceId: this.deviceId,
      fetchFn: fetchFn as typeof globalThis.fetch,
      logger: SILENT_LOGGER,
    });
  }

  /** The session's token, to keep for the next run; undefined when none was opened. */
  async sessionToken(): Promise<string | undefined> {
    return (await this.session?.catch(() => undefined))?.accessToken;
  }

  /** Forgets the session without logging out, so its token stays valid for the next run. */
  detach(): void {
    this.session = undefined;
  }

  /** Reuses the kept token when it is still the bot's; else logs in, registering the bot first if needed. */
  private async login(): Promise<{ userId: string; accessToken: string }> {
    const kept = this.keptToken;
    if (kept) {
      const whoami = await this.sessionHttp.request("GET", "/_matrix/client/v3/account/whoami", { headers: { Authorization: `Bearer ${kept}` } });
      if (whoami.status === 200 && whoami.json?.user_id === this.botUserId && whoami.json?.device_id === this.deviceId) return { userId: this.botUserId, accessToken: kept };
    }
    const password = botPassword(this.secret, this.botUserId);
    const first = await this.tryLogin(password);
    if (first.ok) return first;
    if (first.errcode !== "M_FORBIDDEN") throw new MatrixApiError(first.status, first.errcode, `the bot ${this.botUserId} cannot log in: ${first.message}`);
    const registered = await this.register(password);
    if (registered) return registered;
    // Taken: either a registration whose answer was lost, or a bot made some other way.
    const again = await this.tryLogin(password);
    if (again.ok) return again;
    throw new MatrixApiError(
      again.status,
      again.errcode,
      `the bot ${this.botUserId} exists but does not accept the password derived from the registration shared secret (was the secret changed?)`,
    );
  }

  private async tryLogin(password: string): Promise<({ ok: true } & { userId: string; accessToken: string }) | { ok: false; status: number; errcode?: string; message: string }> {
    const response = await this.sessionHttp.request("POST", "/_matrix/client/v3/login", {
      body: {
        type: "m.login.password",
        identifier: { type: "m.id.user", user: MATRIX_BOT },
        password,
        device_id: this.deviceId,
        initial_device_display_name: `Bastide (${this.deviceId})`,
      },
    });
    if (response.status === 200) return { ok: true, userId: response.json.user_id, accessToken: response.json.access_token };
    return { ok: false, status: response.status, errcode: response.json?.errcode, message: response.json?.error ?? `HTTP ${response.status}` };
  }

  /** Shared-secret registration of the bot as a server admin; undefined when the name is taken. */
  private async register(password: string): Promise<{ userId: string; accessToken: string } | undefined> {
    // A nonce is single-use: one consumed by an attempt whose answer was lost is replaced.
    for (let attempt = 0; attempt < 3; attempt++) {
      const nonceAnswer = await this.sessionHttp.request("GET", "/_synapse/admin/v1/register");
      if (nonceAnswer.status !== 200) throw apiError(nonceAnswer);
      const nonce = nonceAnswer.json.nonce as string;
      const response = await this.sessionHttp.request("POST", "/_synapse/admin/v1/register", {
        body: {
          nonce,
          username: MATRIX_BOT,
          password,
          displayname: BOT_DISPLAY_NAME,
          admin: true,
          mac: registrationMac(this.secret, nonce, MATRIX_BOT, password, true),
          // Outside the MAC; Synapse logs the new account in on this device.
          device_id: this.deviceId,
        },
      });
      if (response.status === 200) return { userId: response.json.user_id, accessToken: response.json.access_token };
      if (response.json?.errcode === "M_USER_IN_USE") return undefined;
      if (response.status === 400 && response.json?.error === "unrecognised nonce") continue;
      if (response.status === 403) throw new MatrixApiError(403, response.json?.errcode, "Synapse refused the registration shared secret (HMAC incorrect)");
      throw apiError(response);
    }
    throw new MatrixApiError(400, "M_UNKNOWN", `could not register the bot ${this.botUserId}: every nonce was refused`);
  }
}

export function createMatrixClient(options: MatrixClientOptions): MatrixClient {
  return new MatrixClient(options);
}
