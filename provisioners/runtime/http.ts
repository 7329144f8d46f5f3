// The one HTTP client of the provisioners. It retries what is transient (5xx,
// timeouts, dropped connections, 429 after the server's Retry-After or Matrix's
// retry_after_ms), counts every call it sends, and never puts a credential in an error.
// Every attempt waits for a slot of its server's adaptive limiter, and tells it how the
// server answered. A creation (POST...) that gets no answer is never sent again blind:
// the server may still be running it (a real Nextcloud raced a re-sent user creation
// into a duplicate key); the caller's `verify` reads back whether it exists.
import type { Dispatcher } from "undici";
import { requestKind, serverLimiter, type AdaptiveLimiter } from "./concurrency.ts";

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 250, maxDelayMs: 15_000 };

/** The longest a Retry-After is obeyed for; a longer one is treated as a minute. */
export const MAX_SERVER_WAIT_MS = 60_000;

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS", "PROPFIND", "REPORT"]);

/** Whether a call only reads: a run with nothing to change sends none but these. */
export const isReadMethod = (method: string) => READ_METHODS.has(method.toUpperCase());

/**
 * Methods that may create something each time they are sent (RFC 9110 §9.2.2 makes PUT,
 * DELETE and the safe methods idempotent, not POST or PATCH; WebDAV's MKCOL and CalDAV's
 * MKCALENDAR create a collection). PROPPATCH only sets properties.
 */
const CREATING_METHODS = new Set(["POST", "PATCH", "MKCOL", "MKCALENDAR"]);

export const isIdempotentMethod = (method: string) => !CREATING_METHODS.has(method.toUpperCase());

/** How long a creation is awaited: a slow server is waited for rather than sent the creation twice. */
export const CREATION_TIMEOUT_MS = 300_000;

/** Counts the calls sent to each service: a run with nothing to change must make no write. */
export class CallCounter {
  readonly calls: { service: string; method: string; path: string; status: number | "error" }[] = [];

  record(service: string, method: string, path: string, status: number | "error"): void {
    this.calls.push({ service, method: method.toUpperCase(), path, status });
  }

  writes(service?: string): number {
    return this.calls.filter((c) => (!service || c.service === service) && !isReadMethod(c.method)).length;
  }

  reads(service?: string): number {
    return this.calls.filter((c) => (!service || c.service === service) && isReadMethod(c.method)).length;
  }
}

export interface HttpClientOptions {
  /** Service name, for counters and messages. */
  service: string;
  baseUrl: string;
  /** Sent with every request (authentication goes here and is never echoed). */
  headers?: Record<string, string>;
  /** Per attempt, for requests that may be sent again; 30 s when absent. */
  timeoutMs?: number;
  /** Per attempt, for creations; when absent, `timeoutMs` if given, else CREATION_TIMEOUT_MS. */
  creationTimeoutMs?: number;
  retry?: RetryPolicy;
  counter?: CallCounter;
  /** Requests in flight to this server; its origin's shared limiter when absent. */
  limiter?: AdaptiveLimiter;
  /** undici dispatcher, e.g. to trust Caddy's local CA or to reach *.localhost on 127.0.0.1. */
  dispatcher?: Dispatcher;
  /** Injected in tests; real runs wait for real. */
  sleep?: (ms: number) => Promise<void>;
  /** Milliseconds, for latencies; performance.now when absent. */
  now?: () => number;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any;
}

export interface RequestOptions {
  body?: string | Record<string, unknown> | unknown[];
  headers?: Record<string, string>;
  /** Form-encode `body` instead of sending JSON. */
  form?: boolean;
  /**
   * Whether sending this request twice does no more than sending it once; by method
   * when absent (isIdempotentMethod). A request that is not is never sent again after
   * it got no answer (a timeout, a dropped connection, a gateway timeout).
   */
  idempotent?: boolean;
  /**
   * For a creation that got no answer: reads back whether it exists, and returns the
   * answer to use in its place, or undefined when it is not there.
   */
  verify?: () => Promise<HttpResponse | undefined>;
}

export class HttpError extends Error {
  readonly status: number | undefined;
  readonly service: string;
  constructor(service: string, message: string, status?: number) {
    super(message);
    this.name = "HttpError";
    this.service = service;
    this.status = status;
  }
}

/** A creation that got no answer, so may or may not have happened, and was not sent again. */
export class UncertainWriteError extends HttpError {
  constructor(service: string, message: string) {
    super(service, message);
    this.name = "UncertainWriteError";
  }
}

/** HTTP Basic credentials, as Nextcloud's OCS and DAV take them. */
export const basicAuth = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** A base URL that relative paths extend rather than replace. */
export const withSlash = (url: string) => (url.endsWith("/") ? url : `${url}/`);

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** How long a 429 asks to wait: Retry-After (seconds or a date), else Matrix's retry_after_ms. */
export function retryAfterMs(response: HttpResponse, now = Date.now()): number | undefined {
  const header = response.headers.get("retry-after");
  if (header) {
    const seconds = Number(header);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const date = Date.parse(header);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const ms = response.json?.retry_after_ms;
  return typeof ms === "number" && ms >= 0 ? ms : undefined;
}

export const isTransientStatus = (status: number) => status === 429 || status >= 500;

/** A gateway gave up waiting (504): the server behind it may still be working on the request. */
const GATEWAY_TIMEOUT = 504;

/** Network errors that prove the request never reached the server. */
const NEVER_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT"]);

/** Exponential backoff with full jitter, capped. */
export function backoffMs(attempt: number, policy: RetryPolicy, random = Math.random): number {
  return Math.round(random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt));
}

export class HttpClient {
  readonly options: HttpClientOptions;

  constructor(options: HttpClientOptions) {
    this.options = options;
  }

  /**
   * Sends a request and returns any non-transient answer, 4xx included: callers
   * read the service's own error codes. Throws HttpError once retries are spent.
   */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<HttpResponse> {
    const { service, retry = DEFAULT_RETRY, sleep = sleepFor, now = () => performance.now() } = this.options;
    const limiter = this.options.limiter ?? serverLimiter(this.options.baseUrl);
    const idempotent = options.idempotent ?? isIdempotentMethod(method);
    const { timeoutMs: given, creationTimeoutMs } = this.options;
    const timeoutMs = idempotent ? (given ?? 30_000) : (creationTimeoutMs ?? given ?? CREATION_TIMEOUT_MS);
    const kind = requestKind(method, path);
    let lastProblem = "";
    for (let attempt = 0; attempt < retry.attempts; attempt++) {
      let response: HttpResponse;
      const permit = await limiter.acquire(kind);
      const started = now();
      try {
        response = await this.send(method, path, options, timeoutMs);
      } catch (error) {
        permit.release({ kind: "overload" });
        this.options.counter?.record(service, method, path, "error");
        lastProblem = describeNetworkError(error, timeoutMs);
        if (!idempotent && !NEVER_SENT.has(lastProblem)) return this.unanswered(method, path, options, lastProblem);
        if (attempt + 1 < retry.attempts) await sleep(backoffMs(attempt, retry));
        continue;
      }
      const transient = isTransientStatus(response.status);
      permit.release(transient ? { kind: "overload" } : { kind: "answer", latencyMs: now() - started });
      this.options.counter?.record(service, method, path, response.status);
      if (!transient) return response;
      lastProblem = `HTTP ${response.status}`;
      if (!idempotent && response.status === GATEWAY_TIMEOUT) return this.unanswered(method, path, options, "gateway timeout (HTTP 504)");
      if (attempt + 1 < retry.attempts) {
        const asked = response.status === 429 ? retryAfterMs(response) : undefined;
        // The server's own wait is honoured, up to a minute; otherwise back off.
        await sleep(asked !== undefined ? Math.min(asked, MAX_SERVER_WAIT_MS) : backoffMs(attempt, retry));
      }
    }
    throw new HttpError(service, `${service}: ${method} ${path} still failing after ${retry.attempts} attempts (${lastProblem})`);
  }

  /** A creation without an answer: what the caller reads back, or an error; never a second send. */
  private async unanswered(method: string, path: string, options: RequestOptions, problem: string): Promise<HttpResponse> {
    const { service } = this.options;
    const found = await options.verify?.();
    if (found) return found;
    const readBack = options.verify ? " it was not there when read back, but" : "";
    throw new UncertainWriteError(
      service,
      `${service}: ${method} ${path} got no answer (${problem});${readBack} the server may still be running it, so it was not sent again. ` +
        "The next run reads back what exists and creates what is missing.",
    );
  }

  private async send(method: string, path: string, options: RequestOptions, timeoutMs: number): Promise<HttpResponse> {
    const headers: Record<string, string> = { Accept: "application/json", ...this.options.headers, ...options.headers };
    let body: string | undefined;
    if (typeof options.body === "string") body = options.body;
    else if (options.body !== undefined && options.form) {
      body = new URLSearchParams(flattenForm(options.body as Record<string, unknown>)).toString();
      headers["Content-Type"] ??= "application/x-www-form-urlencoded";
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["Content-Type"] ??= "application/json";
    }
    const response = await fetch(new URL(path, this.options.baseUrl), {
      method,
      headers,
      body,
      signal: AbortSignal.timeout(timeoutMs),
      // @ts-expect-error undici's extension to RequestInit, honoured by Node's fetch
      dispatcher: this.options.dispatcher,
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json };
  }
}

/** PHP-style form fields: arrays become `key[]` repeated. */
function flattenForm(body: Record<string, unknown>): [string, string][] {
  return Object.entries(body).flatMap(([key, value]) =>
    Array.isArray(value) ? value.map((v) => [`${key}[]`, String(v)] as [string, string]) : value === undefined ? [] : [[key, String(value)] as [string, string]],
  );
}

function describeNetworkError(error: unknown, timeoutMs: number): string {
  const e = error as { name?: string; cause?: { code?: string }; code?: string };
  if (e?.name === "TimeoutError" || e?.name === "AbortError") return `timed out after ${timeoutMs / 1000} s`;
  return e?.cause?.code ?? e?.code ?? e?.name ?? "network error";
}
