// Reads the identity provider back through Keycloak's admin REST API, as the master realm's
// bootstrap admin: the realm's settings (registration, brute-force detection, password
// policy, events, session lifespans), the steps of its browser flow, and every account with
// its role, pending actions and the kinds of credentials it holds (never their values).
import type { Dispatcher } from "undici";
import { HttpClient, type HttpResponse } from "../../provisioners/runtime/http.ts";
import { IDENTITY_REALM } from "../../stacks/services/identity/blueprint.ts";
import type { HttpTuning } from "./nextcloud.ts";
import type { FlowStep, IdentityRealmFacts, IdentityUserFacts } from "./observed.ts";

export interface IdentityAuditConnection {
  /** Keycloak's public address, e.g. https://connexion.example.org. */
  baseUrl: string;
  dispatcher?: Dispatcher;
  /** The master realm's bootstrap admin (IDENTITY_SECRETS.admin). */
  admin: { username: string; password: string };
  /** The proxy's provisioning header: /admin is otherwise reachable from the VPN only. */
  headers?: Record<string, string>;
}

/** Keycloak's attribute for the member's role (the contract of issue 10). */
export const ROLE_ATTRIBUTE = "bastide_role";

/** Credential types that are a second factor: Keycloak's OTP and WebAuthn credential providers. */
export const SECOND_FACTOR_CREDENTIALS = ["otp", "webauthn", "webauthn-passwordless"] as const;

/** Required actions that make a member enrol a second factor at their next login. */
export const ENROLMENT_ACTIONS = ["CONFIGURE_TOTP", "webauthn-register", "webauthn-register-passwordless"] as const;

const PAGE = 100;
/** A bound on the accounts read: far above what one association's server holds. */
const MAX_PAGES = 200;
const CONCURRENT_READS = 8;

function expectOk(response: HttpResponse, what: string): any {
  if (response.status !== 200) throw new Error(`${what}: HTTP ${response.status}${response.text ? ` ${response.text.slice(0, 200)}` : ""}`);
  return response.json;
}

const orNull = <T>(value: unknown, type: "boolean" | "number" | "string"): T | null => (typeof value === type ? (value as T) : null);

async function token(http: HttpClient, connection: IdentityAuditConnection): Promise<{ access: string; refresh: string | null }> {
  const answer = await http.request("POST", "realms/master/protocol/openid-connect/token", {
    form: true,
    // Asks for a token and creates nothing else: safe to send again after a timeout.
    idempotent: true,
    body: { grant_type: "password", client_id: "admin-cli", username: connection.admin.username, password: connection.admin.password },
  });
  if (answer.status !== 200) throw new Error(`logging in as Keycloak's admin ${connection.admin.username}: HTTP ${answer.status}`);
  return { access: String(answer.json?.access_token ?? ""), refresh: typeof answer.json?.refresh_token === "string" ? answer.json.refresh_token : null };
}

export async function readIdentityRealm(connection: IdentityAuditConnection, tuning: HttpTuning = {}): Promise<IdentityRealmFacts> {
  const common = { service: "identity", baseUrl: connection.baseUrl.replace(/\/?$/, "/"), dispatcher: connection.dispatcher, ...tuning };
  const login = new HttpClient({ ...common, headers: connection.headers });
  const session = await token(login, connection);
  const http = new HttpClient({ ...common, headers: { ...connection.headers, authorization: `Bearer ${session.access}` } });
  const realmPath = `admin/realms/${IDENTITY_REALM}`;
  try {
    const realm = expectOk(await http.request("GET", realmPath), `reading realm ${IDENTITY_REALM}`) ?? {};
    const browserFlow = orNull<string>(realm.browserFlow, "string");
    const steps = browserFlow
      ? (expectOk(await http.request("GET", `${realmPath}/authentication/flows/${encodeURIComponent(browserFlow)}/executions`), `reading flow ${browserFlow}`) as any[])
      : [];

    const users: any[] = [];
    for (let page = 0; page < MAX_PAGES; page++) {
      const batch = expectOk(await http.request("GET", `${realmPath}/users?briefRepresentation=false&first=${page * PAGE}&max=${PAGE}`), "listing accounts") as any[];
      users.push(...batch);
      if (batch.length < PAGE) break;
    }
    const facts: IdentityUserFacts[] = [];
    for (let i = 0; i < users.length; i += CONCURRENT_READS) {
      const chunk = users.slice(i, i + CONCURRENT_READS);
      facts.push(
        ...(await Promise.all(
          chunk.map(async (user): Promise<IdentityUserFacts> => {
            const credentials = expectOk(await http.request("GET", `${realmPath}/users/${encodeURIComponent(user.id)}/credentials`), `reading ${user.username}'s credentials`) as any[];
            const role = user.attributes?.[ROLE_ATTRIBUTE];
            return {
              username: String(user.username),
              enabled: user.enabled === true,
              role: Array.isArray(role) && typeof role[0] === "string" ? role[0] : null,
              createdTimestamp: orNull<number>(user.createdTimestamp, "number"),
              requiredActions: Array.isArray(user.requiredActions) ? user.requiredActions.map(String) : [],
              // The kinds only: a credential's value never leaves Keycloak's answer.
              credentials: credentials.map((c) => String(c.type)).sort(),
            };
          }),
        )),
      );
    }
    return {
      realm: {
        registrationAllowed: orNull(realm.registrationAllowed, "boolean"),
        bruteForceProtected: orNull(realm.bruteForceProtected, "boolean"),
        failureFactor: orNull(realm.failureFactor, "number"),
        eventsEnabled: orNull(realm.eventsEnabled, "boolean"),
        eventsExpiration: orNull(realm.eventsExpiration, "number"),
        passwordPolicy: orNull(realm.passwordPolicy, "string"),
        ssoSessionIdleTimeout: orNull(realm.ssoSessionIdleTimeout, "number"),
        ssoSessionMaxLifespan: orNull(realm.ssoSessionMaxLifespan, "number"),
        browserFlow,
      },
      browserFlow: steps.map(
        (s): FlowStep => ({
          level: Number(s.level ?? 0),
          requirement: String(s.requirement ?? "DISABLED"),
          providerId: typeof s.providerId === "string" ? s.providerId : null,
          subflow: s.authenticationFlow === true,
          name: String(s.displayName ?? s.providerId ?? "?"),
        }),
      ),
      users: facts.sort((a, b) => a.username.localeCompare(b.username)),
    };
  } finally {
    // Ends the audit's admin session rather than leaving it until it expires.
    if (session.refresh)
      await login
        .request("POST", "realms/master/protocol/openid-connect/logout", { form: true, idempotent: true, body: { client_id: "admin-cli", refresh_token: session.refresh } })
        .catch(() => undefined);
  }
}

/** Authenticators that ask for a second factor. */
const SECOND_FACTOR_STEPS = new Set(["auth-otp-form", "webauthn-authenticator", "webauthn-authenticator-passwordless"]);
/**
 * Keycloak's "Condition - user configured": the sub-flow runs only for a member who already has
 * one of its credentials. Conditions are all required, so with it the second factor is optional.
 */
const USER_CONFIGURED = "conditional-user-configured";

export interface FlowSecondFactor {
  kind: "always" | "by-condition" | "if-configured" | "never";
  /** The conditions gating the second-factor step, when it is conditional. */
  conditions: string[];
}

/**
 * How the browser flow asks for a second factor:
 * - `always`: an enabled second-factor step on a path of REQUIRED or ALTERNATIVE steps, no condition;
 * - `by-condition`: under a CONDITIONAL sub-flow gated by other conditions (a role or an attribute:
 *   the flow decides who must, not the member);
 * - `if-configured`: under "Condition - user configured", as in Keycloak 26.7.3's own browser flow
 *   ("Browser - Conditional 2FA": conditional-user-configured and conditional-credential, then OTP
 *   Form ALTERNATIVE, read from the real server in test/audit/identity-live.test.ts): a member who
 *   deletes their second factor logs in with a password alone;
 * - `never`: no enabled second-factor step.
 * Keycloak lists a flow's executions depth-first with their `level`, so a step's parents are the
 * nearest sub-flows above it, one level up each.
 */
export function flowSecondFactor(steps: readonly FlowStep[]): FlowSecondFactor {
  const enabled = (step: FlowStep) => step.requirement === "REQUIRED" || step.requirement === "ALTERNATIVE";
  const outcomes = steps.flatMap((step, index): FlowSecondFactor[] => {
    if (!step.providerId || !SECOND_FACTOR_STEPS.has(step.providerId) || !enabled(step)) return [];
    const parents: { step: FlowStep; index: number }[] = [];
    let level = step.level;
    for (let i = index - 1; i >= 0 && level > 0; i--) {
      if (steps[i]!.level === level - 1) {
        parents.push({ step: steps[i]!, index: i });
        level--;
      }
    }
    if (parents.some((p) => p.step.requirement === "DISABLED")) return [];
    const conditional = parents.filter((p) => p.step.requirement === "CONDITIONAL");
    if (conditional.length === 0) return [{ kind: "always", conditions: [] }];
    const conditions = conditional.flatMap((p) => {
      const children: string[] = [];
      for (let i = p.index + 1; i < steps.length && steps[i]!.level > p.step.level; i++) {
        const child = steps[i]!;
        if (child.level === p.step.level + 1 && child.providerId?.startsWith("conditional-") && child.requirement !== "DISABLED") children.push(child.providerId);
      }
      return children;
    });
    const unique = [...new Set(conditions)].sort();
    return [{ kind: unique.includes(USER_CONFIGURED) ? "if-configured" : "by-condition", conditions: unique }];
  });
  for (const kind of ["always", "by-condition", "if-configured"] as const) {
    const found = outcomes.find((o) => o.kind === kind);
    if (found) return found;
  }
  return { kind: "never", conditions: [] };
}
