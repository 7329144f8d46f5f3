// A browser, over plain HTTP, for Keycloak 26.7.3's login pages: what a member does with a
// web browser, so that tests can enroll and log in through the real server.
//
//   const browser = new LoginBrowser();
//   const member = { username: "alice", password: "temporary", newPassword: "her own one" };
//   const result = await browser.login(authorizationUrl, member, { until: (url) => url.startsWith(redirectUri) });
//   // result.outcome === "redirected": result.url carries ?code=... (or ?error=...);
//   // result.outcome === "refused": result.message is what the page said (e.g. "Invalid username or password.").
//   // member.totpSecret now holds the secret read from the TOTP set-up page, for the next login.
//
// - A cookie jar (host and path matched, ports ignored as browsers do; expiry by Max-Age/Expires).
// - Redirects are followed by hand, at most MAX_STEPS requests per login, until `until(url)` says
//   the redirect is the relying party's (that URL is returned, not fetched).
// - Pages are recognised by the comment every keycloak.v2 login template starts with,
//   `<!-- template: login.ftl -->` (theme keycloak.v2, keycloak-themes-26.7.3.jar, e.g.
//   theme/keycloak.v2/login/login.ftl line 7); error.ftl and info.ftl are inherited from the
//   base theme, which has no such comment, and are recognised by #kc-error-message / #kc-info-message.
// - Forms are read with node-html-parser and submitted like a browser does: every named input
//   (checkboxes only when checked) and the named submit button, never the "cancel" one.
// - Required actions: UPDATE_PASSWORD (login-update-password.ftl: password-new and
//   password-confirm) sets `newPassword`; CONFIGURE_TOTP (login-config-totp.ftl) reads the
//   secret the page shows to a member who cannot scan the QR code: the "Unable to scan?" link
//   (#mode-manual, line 46) leads to the manual mode, which prints the key in Base32
//   (#kc-totp-secret-key, line 24) and the policy (#kc-totp-algorithm, #kc-totp-digits,
//   #kc-totp-period, lines 32-35); the code is computed with otpauth and sent as `totp`
//   (line 63), with the form's own hidden totpSecret and mode (lines 75-76).
// - On later logins login-otp.ftl asks for a code (field `otp`, line 30). Keycloak refuses a
//   code already used in the same period (OTP policy "code reusability" off by default), so a
//   second login within the same 30 s waits for the next code, as a person would.
import { createHash, randomBytes } from "node:crypto";
import { parse, type HTMLElement } from "node-html-parser";
import { Secret, TOTP } from "otpauth";

const MAX_STEPS = 30;
const REQUEST_TIMEOUT_MS = 30_000;

/** A member at the login page: what they know, and what the enrollment gives them. */
export interface LoginMember {
  username: string;
  /** The password they have now (the temporary one before enrollment). */
  password: string;
  /** The password they choose when Keycloak asks for a new one (UPDATE_PASSWORD); becomes `password`. */
  newPassword?: string;
  /** Their TOTP key (Base32), set by the driver when it configures TOTP; needed on later logins. */
  totpSecret?: string;
  /** The TOTP policy the set-up page stated (defaults: SHA1, 6 digits, 30 s: Keycloak's realm defaults). */
  totpPolicy?: TotpPolicy;
}

export interface TotpPolicy {
  algorithm: string;
  digits: number;
  period: number;
}

export type LoginResult =
  | {
      outcome: "redirected";
      /** The redirect that `until` recognised (not fetched), e.g. the client's redirect_uri with ?code=&state=. */
      url: string;
      /** The pages the member went through, by template name: ["login.ftl", "login-update-password.ftl", ...]. */
      pages: string[];
    }
  | {
      outcome: "refused";
      /** The page that refused (a template name, "error.ftl", or "http <status>" for a non-page answer). */
      page: string;
      /** What the page said, as a member reads it. */
      message: string;
      pages: string[];
    };

export interface LoginOptions {
  /** True for the first URL the member should not fetch: the relying party's redirect with its code or error. */
  until: (url: string) => boolean;
}

interface Cookie {
  name: string;
  value: string;
  host: string;
  path: string;
  secure: boolean;
  expires: number;
}

/** Keycloak's realm defaults for OTP (RealmModel's OTPPolicy.DEFAULT_POLICY: totp, HmacSHA1, 6 digits, 30 s). */
const DEFAULT_TOTP: TotpPolicy = { algorithm: "SHA1", digits: 6, period: 30 };

/** The last TOTP period a key was used in, so that no code is sent twice (Keycloak refuses a reused code). */
const lastUsedPeriod = new Map<string, number>();

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The current TOTP code of `member`, waiting for the next period if this one's code was already sent (at most one period). */
export async function nextTotpCode(secret: string, policy: TotpPolicy = DEFAULT_TOTP): Promise<string> {
  const period = () => Math.floor(Date.now() / 1000 / policy.period);
  if (lastUsedPeriod.get(secret) === period()) await sleep((policy.period - ((Date.now() / 1000) % policy.period)) * 1000 + 200);
  const totp = new TOTP({ secret: Secret.fromBase32(secret.replace(/\s+/g, "")), algorithm: policy.algorithm, digits: policy.digits, period: policy.period });
  const now = Date.now();
  lastUsedPeriod.set(secret, Math.floor(now / 1000 / policy.period));
  return totp.generate({ timestamp: now });
}

/** A cookie jar and a hand-driven redirect loop: one per member, like one browser profile. */
export class LoginBrowser {
  private cookies: Cookie[] = [];

  /** GET `url` and follow redirects (bounded) until `until` matches or a page is reached. */
  async open(url: string, until: (url: string) => boolean = () => false): Promise<{ url: string; status: number; body: string; stopped: boolean }> {
    return this.request(url, { method: "GET" }, until);
  }

  /** Starts at `startUrl` (an authorization request, or a relying party's SSO start) and goes through Keycloak's pages. */
  async login(startUrl: string, member: LoginMember, { until }: LoginOptions): Promise<LoginResult> {
    const pages: string[] = [];
    let answer = await this.open(startUrl, until);
    for (let step = 0; step < MAX_STEPS; step++) {
      if (answer.stopped) return { outcome: "redirected", url: answer.url, pages };
      const document = parse(answer.body);
      const page = pageName(answer.body, document);
      if (!page) return { outcome: "refused", page: `http ${answer.status}`, message: visibleText(document).slice(0, 500) || `HTTP ${answer.status} from ${answer.url}`, pages };
      const repeated = pages.at(-1) === page;
      pages.push(page);
      const error = errorMessage(document);
      if (page === "error.ftl" || page === "info.ftl") return { outcome: "refused", page, message: pageMessage(document), pages };
      // The same form again: the member's answer was refused (wrong password, wrong code, disabled account).
      if (repeated) return { outcome: "refused", page, message: error ?? "the page came back without saying why", pages };
      answer = await this.answer(page, document, answer.url, member, until);
    }
    throw new Error(`no end to the login of ${member.username} after ${MAX_STEPS} pages: ${pages.join(" → ")}`);
  }

  /** Fills and submits the page's form as the member would. */
  private async answer(page: string, document: HTMLElement, pageUrl: string, member: LoginMember, until: (url: string) => boolean) {
    switch (page) {
      case "login.ftl":
      case "login-password.ftl":
        return this.submit(form(document, "#kc-form-login"), pageUrl, { username: member.username, password: member.password }, until);
      case "login-update-password.ftl": {
        if (!member.newPassword) throw new Error(`Keycloak asks ${member.username} for a new password (UPDATE_PASSWORD) and the test gave none (newPassword)`);
        const chosen = member.newPassword;
        const answer = await this.submit(form(document, "#kc-passwd-update-form"), pageUrl, { "password-new": chosen, "password-confirm": chosen }, until);
        member.password = chosen;
        return answer;
      }
      case "login-config-totp.ftl":
        return this.configureTotp(document, pageUrl, member, until);
      case "login-otp.ftl": {
        if (!member.totpSecret) throw new Error(`Keycloak asks ${member.username} for a one-time code and the test has no TOTP secret for them (totpSecret)`);
        return this.submit(form(document, "#kc-otp-login-form"), pageUrl, { otp: await nextTotpCode(member.totpSecret, member.totpPolicy) }, until);
      }
      default:
        throw new Error(`the login driver does not know Keycloak's page ${page} (at ${pageUrl}): ${errorMessage(document) ?? pageMessage(document)}`);
    }
  }

  /** CONFIGURE_TOTP: switch to the manual mode, read the Base32 key and the policy, answer with the current code. */
  private async configureTotp(document: HTMLElement, pageUrl: string, member: LoginMember, until: (url: string) => boolean) {
    let manual = document;
    let manualUrl = pageUrl;
    if (!document.querySelector("#kc-totp-secret-key")) {
      const link = document.querySelector("#mode-manual")?.getAttribute("href");
      if (!link) throw new Error(`login-config-totp.ftl without the "Unable to scan?" link (#mode-manual) at ${pageUrl}`);
      const shown = await this.open(new URL(link, pageUrl).href, until);
      manual = parse(shown.body);
      manualUrl = shown.url;
    }
    const key = manual.querySelector("#kc-totp-secret-key")?.textContent.trim();
    if (!key) throw new Error(`the TOTP set-up page shows no key (#kc-totp-secret-key) at ${manualUrl}`);
    const stated = (id: string) => manual.querySelector(id)?.textContent.split(":").at(-1)?.trim();
    const policy: TotpPolicy = {
      algorithm: stated("#kc-totp-algorithm") ?? DEFAULT_TOTP.algorithm,
      digits: Number(stated("#kc-totp-digits") ?? DEFAULT_TOTP.digits),
      period: Number(stated("#kc-totp-period") ?? DEFAULT_TOTP.period),
    };
    const secret = key.replace(/\s+/g, "");
    member.totpSecret = secret;
    member.totpPolicy = policy;
    return this.submit(form(manual, "#kc-totp-settings-form"), manualUrl, { totp: await nextTotpCode(secret, policy), userLabel: "test phone" }, until);
  }

  /** Posts a form with the browser's fields plus `values`, then follows the redirects. */
  private async submit(element: HTMLElement, pageUrl: string, values: Record<string, string>, until: (url: string) => boolean) {
    const action = new URL(element.getAttribute("action") ?? pageUrl, pageUrl).href;
    const fields = new URLSearchParams();
    for (const input of element.querySelectorAll("input, button")) {
      const name = input.getAttribute("name");
      const type = (input.getAttribute("type") ?? (input.tagName === "BUTTON" ? "submit" : "text")).toLowerCase();
      if (!name || name === "cancel-aia" || name in values) continue;
      if ((type === "checkbox" || type === "radio") && !input.hasAttribute("checked")) continue;
      if (type === "submit" && fields.has(name)) continue;
      fields.append(name, input.getAttribute("value") ?? (type === "checkbox" ? "on" : ""));
    }
    for (const [name, value] of Object.entries(values)) fields.set(name, value);
    return this.request(action, { method: "POST", body: fields, headers: { "content-type": "application/x-www-form-urlencoded" } }, until);
  }

  /** One request and its redirects, by hand, with the jar's cookies; stops before fetching a URL `until` accepts. */
  private async request(url: string, init: { method: string; body?: URLSearchParams; headers?: Record<string, string> }, until: (url: string) => boolean) {
    let current = url;
    let next: typeof init = init;
    for (let hop = 0; hop < MAX_STEPS; hop++) {
      if (until(current)) return { url: current, status: 0, body: "", stopped: true };
      const response = await fetch(current, {
        method: next.method,
        body: next.body,
        redirect: "manual",
        headers: { ...next.headers, cookie: this.cookieHeader(current), accept: "text/html" },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      this.store(current, response.headers.getSetCookie());
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && location) {
        await response.body?.cancel();
        current = new URL(location, current).href;
        next = { method: "GET" };
        continue;
      }
      return { url: current, status: response.status, body: await response.text(), stopped: false };
    }
    throw new Error(`more than ${MAX_STEPS} redirects from ${url}`);
  }

  private store(url: string, setCookies: string[]) {
    const { hostname, pathname } = new URL(url);
    for (const line of setCookies) {
      const [pair = "", ...attributes] = line.split(";").map((part) => part.trim());
      const equals = pair.indexOf("=");
      if (equals < 1) continue;
      const cookie: Cookie = { name: pair.slice(0, equals), value: pair.slice(equals + 1), host: hostname, path: pathname.replace(/\/[^/]*$/, "") || "/", secure: false, expires: Infinity };
      for (const attribute of attributes) {
        const [key = "", ...rest] = attribute.split("=");
        const value = rest.join("=");
        switch (key.toLowerCase()) {
          case "path":
            cookie.path = value || "/";
            break;
          case "domain":
            cookie.host = value.replace(/^\./, "") || hostname;
            break;
          case "secure":
            cookie.secure = true;
            break;
          case "max-age":
            cookie.expires = Number(value) <= 0 ? 0 : Date.now() + Number(value) * 1000;
            break;
          case "expires":
            if (cookie.expires === Infinity) cookie.expires = Date.parse(value);
            break;
        }
      }
      this.cookies = this.cookies.filter((kept) => !(kept.name === cookie.name && kept.host === cookie.host && kept.path === cookie.path));
      if (cookie.expires > Date.now()) this.cookies.push(cookie);
    }
  }

  private cookieHeader(url: string): string {
    const { hostname, pathname, protocol } = new URL(url);
    // Browsers treat loopback as a secure context, so a Secure cookie goes back to http://127.0.0.1 too.
    const secureContext = protocol === "https:" || hostname === "127.0.0.1" || hostname === "localhost";
    return this.cookies
      .filter((cookie) => cookie.expires > Date.now())
      .filter((cookie) => hostname === cookie.host || hostname.endsWith(`.${cookie.host}`))
      .filter((cookie) => pathname === cookie.path || pathname.startsWith(cookie.path.endsWith("/") ? cookie.path : `${cookie.path}/`))
      .filter((cookie) => !cookie.secure || secureContext)
      .map((cookie) => `${cookie.name}=${cookie.value}`)
      .join("; ");
  }
}

/** The keycloak.v2 template that rendered the page, or error.ftl/info.ftl (base theme), or undefined for a non-Keycloak page. */
function pageName(body: string, document: HTMLElement): string | undefined {
  const template = /<!-- template: ([\w.-]+\.ftl) -->/.exec(body)?.[1];
  if (template) return template;
  if (document.querySelector("#kc-error-message")) return "error.ftl";
  if (document.querySelector("#kc-info-message")) return "info.ftl";
  return undefined;
}

/** What a person reads on a page that is not Keycloak's (e.g. a relying party's error page): text without styles or scripts. */
function visibleText(document: HTMLElement): string {
  for (const hidden of document.querySelectorAll("style, script, head title")) hidden.remove();
  return document.textContent.replace(/\s+/g, " ").trim();
}

function form(document: HTMLElement, selector: string): HTMLElement {
  const found = document.querySelector(selector);
  if (!found) throw new Error(`no form ${selector} on Keycloak's page`);
  return found;
}

/**
 * The page's error: the alert of template.ftl (class pf-m-danger) or a field's error, which
 * field.ftl puts in #input-error-container-<field> (empty when the field is fine; a page
 * can hold several, e.g. login-otp.ftl's empty one for the username it shows).
 */
function errorMessage(document: HTMLElement): string | undefined {
  const alert = document.querySelector(".pf-m-danger .kc-feedback-text")?.textContent.trim();
  const field = document.querySelectorAll("[id^=input-error]").map((element) => element.textContent.trim()).find(Boolean);
  return alert || field || undefined;
}

function pageMessage(document: HTMLElement): string {
  return (document.querySelector("#kc-error-message .instruction") ?? document.querySelector("#kc-info-message .instruction") ?? document.querySelector(".kc-feedback-text"))?.textContent.trim() ?? "";
}

/** An authorization-code request with PKCE S256, as a relying party would start it; `verifier` redeems the code. */
export function authorizationRequest(issuer: string, client: { clientId: string; redirectUri: string; scope?: string }): { url: string; verifier: string; state: string } {
  const verifier = randomBytes(32).toString("base64url");
  const state = randomBytes(12).toString("base64url");
  const url = new URL(`${issuer}/protocol/openid-connect/auth`);
  url.search = new URLSearchParams({
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    response_type: "code",
    scope: client.scope ?? "openid profile email",
    state,
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
  }).toString();
  return { url: url.href, verifier, state };
}
