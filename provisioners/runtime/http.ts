// The one HTTP client of the provisioners. It retries what is transient (5xx,
// timeouts, dropped connections, 429 after the server's Retry-After or Matrix's
// retry_after_ms), counts every call it sends, and never puts a credential in an error.
import type { Dispatcher } from "undici";

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
  timeoutMs?: number;
  retry?: RetryPolicy;
  counter?: CallCounter;
  /** undici dispatcher, e.g. to trust Caddy's local CA or to reach *.localhost on 127.0.0.1. */
  dispatcher?: Dispatcher;
  /** Injected in tests; real runs wait for real. */
  sleep?: (ms: number) => Promise<void>;
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
    const { service, retry = DEFAULT_RETRY, sleep = sleepFor } = this.options;
    let lastProblem = "";
    for (let attempt = 0; attempt < retry.attempts; attempt++) {
      let response: HttpResponse;
      try {
        response = await this.send(method, path, options);
      } catch (error) {
        this.options.counter?.record(service, method, path, "error");
        lastProblem = describeNetworkError(error);
        if (attempt + 1 < retry.attempts) await sleep(backoffMs(attempt, retry));
        continue;
      }
      this.options.counter?.record(service, method, path, response.status);
      if (!isTransientStatus(response.status)) return response;
      lastProblem = `HTTP ${response.status}`;
      if (attempt + 1 < retry.attempts) {
        const asked = response.status === 429 ? retryAfterMs(response) : undefined;
        // The server's own wait is honoured, up to a minute; otherwise back off.
        await sleep(asked !== undefined ? Math.min(asked, MAX_SERVER_WAIT_MS) : backoffMs(attempt, retry));
      }
    }
    throw new HttpError(service, `${service}: ${method} ${path} still failing after ${retry.attempts} attempts (${lastProblem})`);
  }

  private async send(method: string, path: string, options: RequestOptions): Promise<HttpResponse> {
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
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
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

function describeNetworkError(error: unknown): string {
  const e = error as { name?: string; cause?: { code?: string }; code?: string };
  if (e?.name === "TimeoutError" || e?.name === "AbortError") return "timed out";
  return e?.cause?.code ?? e?.code ?? e?.name ?? "network error";
}
