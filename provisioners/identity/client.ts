// How Bastide talks to Keycloak: its admin REST API (the paths @keycloak/keycloak-admin-client
// 26.7.3 calls, lib/resources/*.js), sent through HttpClient so that every call is retried,
// counted and bounded like the other services'. The official client calls the global fetch
// with no way to pass another (lib/utils/fetchWithError.js), so it cannot go through
// HttpClient; its types describe the representations here.
//
// It acts as Keycloak's bootstrap administrator of the master realm (IDENTITY_SECRETS.admin).
// Its tokens live 60 s (the master realm's accessTokenLifespan, read from the test server),
// so a new one is asked for shortly before the last one ends; those token requests are
// counted under SESSION_SERVICE: they change nothing the provisioner manages.
import type { Dispatcher } from "undici";
import { HttpClient, HttpError, type CallCounter, type HttpResponse, type RequestOptions, type RetryPolicy } from "../runtime/http.ts";
import { IDENTITY_REALM } from "../../stacks/services/identity/blueprint.ts";

export interface IdentityClientOptions {
  /** Keycloak's base URL, e.g. https://connexion.example.org or http://127.0.0.1:8080. */
  baseUrl: string;
  admin: { username: string; password: string };
  /** By clientId: the secret each relying party holds. */
  clientSecrets?: Record<string, string>;
  /** The mail relay's password, written with the realm's smtpServer. */
  smtpPassword?: string;
  realm?: string;
  counter?: CallCounter;
  dispatcher?: Dispatcher;
  /** Sent with every request (e.g. the proxy's provisioning header). */
  headers?: Record<string, string>;
  timeoutMs?: number;
  retry?: RetryPolicy;
  sleep?: (ms: number) => Promise<void>;
}

/** Service name the administrator's token requests are counted under. */
export const SESSION_SERVICE = "identity-session";
/** A token is renewed when it has less than this left. */
const TOKEN_MARGIN_MS = 15_000;
export const PAGE = 100;

/** An error answer from Keycloak; never carries a request body. */
export class IdentityApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(`HTTP ${status}: ${message}`);
    this.name = "IdentityApiError";
    this.status = status;
  }
}

/** Keycloak's own message: `errorMessage` (admin API) or `error_description`/`error` (OAuth endpoints). */
export function apiError(response: HttpResponse): IdentityApiError {
  const json = response.json;
  const message = json?.errorMessage ?? json?.error_description ?? json?.error ?? (response.text.slice(0, 200) || "no message");
  return new IdentityApiError(response.status, String(message));
}

/** A short, credential-free account of a failure, for ProvisionError. */
export function describeError(error: unknown): string {
  if (error instanceof IdentityApiError || error instanceof HttpError) return error.message;
  return (error as Error)?.message ?? String(error);
}

export class IdentityClient {
  readonly realm: string;
  private readonly http: HttpClient;
  private readonly sessionHttp: HttpClient;
  private readonly admin: { username: string; password: string };
  private readonly secrets: Record<string, string>;
  private readonly smtp: string | undefined;
  private token: Promise<{ value: string; until: number }> | undefined;

  constructor(options: IdentityClientOptions) {
    this.realm = options.realm ?? IDENTITY_REALM;
    this.admin = options.admin;
    this.secrets = options.clientSecrets ?? {};
    this.smtp = options.smtpPassword;
    const common = {
      baseUrl: options.baseUrl,
      counter: options.counter,
      dispatcher: options.dispatcher,
      headers: options.headers,
      timeoutMs: options.timeoutMs,
      retry: options.retry,
      sleep: options.sleep,
    };
    this.http = new HttpClient({ ...common, service: "identity" });
    this.sessionHttp = new HttpClient({ ...common, service: SESSION_SERVICE });
  }

  /** The secret the relying party `clientId` holds; an error naming the missing one. */
  clientSecret(clientId: string): string {
    const secret = this.secrets[clientId];
    if (!secret) throw new Error(`no client secret for ${clientId} in the connection's clientSecrets (the ${clientId} blueprint generates it)`);
    return secret;
  }

  hasClientSecret(clientId: string): boolean {
    return Boolean(this.secrets[clientId]);
  }

  get smtpPassword(): string | undefined {
    return this.smtp;
  }

  /** A call to the admin API (path under /admin/realms/...); returns the answer, error statuses included. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<HttpResponse> {
    const token = await this.accessToken();
    return this.http.request(method, path, { ...options, headers: { ...options.headers, Authorization: `Bearer ${token}` } });
  }

  /** Like request(), but a status outside `accepted` (2xx by default) throws an IdentityApiError. */
  async json(method: string, path: string, options: RequestOptions & { accepted?: number[] } = {}): Promise<any> {
    const response = await this.request(method, path, options);
    const ok = options.accepted ? options.accepted.includes(response.status) : response.status >= 200 && response.status < 300;
    if (!ok) throw apiError(response);
    return response.json;
  }

  /** Path of something inside the realm. */
  path(rest = ""): string {
    return `/admin/realms/${encodeURIComponent(this.realm)}${rest}`;
  }

  /** Every item of a paged listing (`first`/`max`). */
  async paged<T>(path: string, query: Record<string, string> = {}): Promise<T[]> {
    const items: T[] = [];
    for (let first = 0; first < 10_000_000; first += PAGE) {
      const search = new URLSearchParams({ ...query, first: String(first), max: String(PAGE) });
      const page = (await this.json("GET", `${path}?${search}`)) as T[];
      items.push(...page);
      if (page.length < PAGE) break;
    }
    return items;
  }

  private accessToken(): Promise<string> {
    const current = this.token;
    if (current) {
      return current.then(
        (t) => (t.until - Date.now() > TOKEN_MARGIN_MS ? t.value : this.renew(current)),
        () => this.renew(current),
      );
    }
    return this.renew(undefined);
  }

  /** One token request at a time: concurrent callers share it. */
  private renew(stale: Promise<{ value: string; until: number }> | undefined): Promise<string> {
    if (this.token === stale) this.token = this.login();
    return this.token!.then((t) => t.value);
  }

  private async login(): Promise<{ value: string; until: number }> {
    const response = await this.sessionHttp.request("POST", "/realms/master/protocol/openid-connect/token", {
      form: true,
      body: { grant_type: "password", client_id: "admin-cli", username: this.admin.username, password: this.admin.password },
      // Asking for a token twice creates nothing to clean up.
      idempotent: true,
    });
    if (response.status !== 200) throw new IdentityApiError(response.status, `Keycloak's administrator cannot log in: ${apiError(response).message}`);
    return { value: response.json.access_token, until: Date.now() + Number(response.json.expires_in ?? 60) * 1000 };
  }
}

export function createIdentityClient(options: IdentityClientOptions): IdentityClient {
  return new IdentityClient(options);
}
