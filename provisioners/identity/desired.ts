// What the identity provider should hold, as plain data: the realm's settings, one user
// per member, one group per team, and one OpenID client per service that logs in through
// it. Pure: the provisioner compares it with Keycloak, the register and the audit read it.
import type { Association, Member } from "../../stacks/config/schema.ts";
import type { Hostnames } from "../../stacks/services/blueprint.ts";
import { IDENTITY_REALM } from "../../stacks/services/identity/blueprint.ts";
import { IDENTITY_RETENTION } from "../../stacks/services/identity/register.ts";
import { MATRIX_OIDC } from "../../stacks/services/matrix/blueprint.ts";
import { OIDC_CLIENT_ID, oidcBackChannelLogoutPath, oidcRedirectPaths } from "../../stacks/services/nextcloud/oidc.ts";
import { hostsMeetings, MEETING_LOGIN, meetingLoginRedirect } from "../../stacks/services/jitsi/login.ts";

/** The browser flow Bastide installs in the realm and binds as its browser flow. */
export const BROWSER_FLOW = "bastide browser";

/** The user attribute that carries the member's role; the browser flow reads it. */
export const ROLE_ATTRIBUTE = "bastide_role";


/** Remembered passwords a new one may not repeat (Keycloak's passwordHistory policy). */
export const PASSWORD_HISTORY = 5;

/**
 * Brute-force detection (Keycloak's defaults for the waits, the lock-out threshold from the
 * file): after `failureFactor` failures the account is locked for waitIncrementSeconds,
 * doubling up to maxFailureWaitSeconds; never permanently, so nobody is locked out for good
 * by a stranger typing their id.
 */
export const BRUTE_FORCE_WAITS = { waitIncrementSeconds: 60, maxFailureWaitSeconds: 900, maxDeltaTimeSeconds: 43_200, permanentLockout: false } as const;

/** TOTP as every authenticator app reads it: HMAC-SHA1, 6 digits, 30 s (RFC 6238's defaults, what Google Authenticator accepts). */
export const OTP_POLICY = { otpPolicyType: "totp", otpPolicyAlgorithm: "HmacSHA1", otpPolicyDigits: 6, otpPolicyPeriod: 30 } as const;

/**
 * The realm's password policy, in Keycloak's own notation (stored and read back as written).
 * The policies a 26.7.3 server offers (GET /admin/serverinfo, passwordPolicies): length,
 * maxLength, notUsername, notContainsUsername, notEmail, passwordHistory, passwordAge,
 * forceExpiredPasswordChange, upperCase, lowerCase, digits, specialChars, regexPattern,
 * passwordBlacklist, hashAlgorithm (argon2 by default), hashIterations, maxAuthAge,
 * recoveryCodesWarningThreshold. What none can check: a password's presence in breach
 * corpora (passwordBlacklist reads a fixed file on the server's disk, not a live list such as
 * Have I Been Pwned), nor the member's name or the association's name inside the password;
 * composition rules (upperCase, digits...) are left off, as NIST SP 800-63B §3.1.1.2 advises.
 */
export function passwordPolicy(minimumLength: number): string {
  return `length(${minimumLength}) and notUsername(undefined) and notContainsUsername(undefined) and notEmail(undefined) and passwordHistory(${PASSWORD_HISTORY})`;
}

export interface DesiredRealmSettings {
  displayName: string;
  enabled: true;
  registrationAllowed: false;
  /** Only with a mail relay: the link goes by mail. */
  resetPasswordAllowed: boolean;
  rememberMe: false;
  loginWithEmailAllowed: true;
  duplicateEmailsAllowed: false;
  passwordPolicy: string;
  bruteForceProtected: true;
  failureFactor: number;
  permanentLockout: false;
  waitIncrementSeconds: number;
  maxFailureWaitSeconds: number;
  maxDeltaTimeSeconds: number;
  otpPolicyType: string;
  otpPolicyAlgorithm: string;
  otpPolicyDigits: number;
  otpPolicyPeriod: number;
  eventsEnabled: true;
  /** Seconds. */
  eventsExpiration: number;
  ssoSessionIdleTimeout: number;
  ssoSessionMaxLifespan: number;
  internationalizationEnabled: true;
  supportedLocales: string[];
  defaultLocale: string;
  browserFlow: string;
  /** Keycloak's smtpServer map, without the password (it comes from the connection); {} without a relay. */
  smtpServer: Record<string, string>;
}

export interface DesiredIdentityUser {
  /** Keycloak's username: the member id. */
  username: string;
  email: string;
  firstName: string;
  lastName: string;
  locale: string;
  role: Member["role"];
  /** Team ids: the groups the user is in. */
  groups: string[];
  /** Must enrol a second factor before the first login ends, and can never log in without it. */
  twoFactorRequired: boolean;
  /** The rooms the member may open as a host ("*"), the meeting token's room claim; absent for members who do not host. */
  meetingRooms?: string;
}

export interface DesiredClient {
  clientId: string;
  name: string;
  /** The relying party's home, where Keycloak's account pages link back to. */
  baseUrl: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  /** Where Keycloak posts a logout token when a session ends; absent where the service has none. */
  backchannelLogoutUrl?: string;
  /**
   * A client that runs in the member's browser (the meeting page): public, no secret, its
   * token endpoint open to these origins, its access tokens signed with the meeting key.
   */
  browser?: { webOrigins: string[]; accessTokenAlgorithm: "HS256"; accessTokenLifespanSeconds: number };
}

export interface DesiredIdentity {
  realm: string;
  /** e.g. connexion.asso-exemple.fr */
  host: string;
  settings: DesiredRealmSettings;
  /** Roles whose members must use a second factor (admin always). */
  twoFactorRoles: Member["role"][];
  users: DesiredIdentityUser[];
  groups: { name: string }[];
  clients: DesiredClient[];
  /** The realm key that signs meeting tokens, when Jitsi takes them: its secret is Jitsi's (connection.clientSecrets.jitsi). */
  meetingKey?: { name: string; clientId: string };
}


/** firstName and lastName from the one name the file has: split at the first space, so `name` rejoins them exactly. */
export function splitName(name: string): { firstName: string; lastName: string } {
  const trimmed = name.trim();
  const space = trimmed.search(/\s/);
  if (space < 0) return { firstName: trimmed, lastName: "" };
  return { firstName: trimmed.slice(0, space), lastName: trimmed.slice(space + 1).trim() };
}

function clientsFor(config: Association, hostnames: Hostnames): DesiredClient[] {
  const clients: DesiredClient[] = [];
  if (config.services.nextcloud.enabled) {
    const cloud = `https://${hostnames.cloud}`;
    clients.push({
      clientId: OIDC_CLIENT_ID,
      name: "Nextcloud",
      baseUrl: `${cloud}/`,
      // user_oidc's routes (appinfo/routes.php): login#code at /code, login#backChannelLogout at /backchannel-logout/{providerIdentifier}.
      redirectUris: oidcRedirectPaths.map((path) => `${cloud}${path}`),
      postLogoutRedirectUris: [`${cloud}/`],
      backchannelLogoutUrl: `${cloud}${oidcBackChannelLogoutPath}`,
    });
  }
  if (config.services.matrix.enabled) {
    const matrix = `https://${hostnames.matrix}`;
    clients.push({
      clientId: MATRIX_OIDC.clientId,
      name: "Matrix (Element)",
      baseUrl: `https://${hostnames.element}/`,
      redirectUris: [`${matrix}${MATRIX_OIDC.callbackPath}`],
      postLogoutRedirectUris: [`https://${hostnames.element}/`],
      backchannelLogoutUrl: `${matrix}${MATRIX_OIDC.backChannelLogoutPath}`,
    });
  }
  if (config.services.jitsi.enabled) {
    const meet = `https://${hostnames.meet}`;
    clients.push({
      clientId: MEETING_LOGIN.clientId,
      name: "Jitsi Meet",
      baseUrl: `${meet}/`,
      redirectUris: [meetingLoginRedirect(hostnames.meet)],
      postLogoutRedirectUris: [`${meet}/`],
      browser: { webOrigins: [meet], accessTokenAlgorithm: "HS256", accessTokenLifespanSeconds: MEETING_LOGIN.tokenLifetimeSeconds },
    });
  }
  return clients;
}

/** Sorted by its key: Pulumi keeps the slice keyed and gives the lists back in key order (slices.ts). */
const byKey = <T>(items: T[], key: (item: T) => string): T[] => items.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));

export function desiredIdentity(config: Association, hostnames: Hostnames): DesiredIdentity | undefined {
  const identity = config.services.identity;
  if (!identity.enabled) return undefined;
  const language = config.organisation.language;
  const mail = config.mail;
  const twoFactorRoles = (["admin", "staff", "volunteer"] as const).filter((role) => identity.twoFactor[role].required);
  return {
    realm: IDENTITY_REALM,
    host: hostnames.identity,
    settings: {
      displayName: config.organisation.name,
      enabled: true,
      registrationAllowed: false,
      resetPasswordAllowed: mail !== undefined,
      rememberMe: false,
      loginWithEmailAllowed: true,
      duplicateEmailsAllowed: false,
      passwordPolicy: passwordPolicy(identity.passwords.minimumLength),
      bruteForceProtected: true,
      failureFactor: identity.lockoutAfterFailures,
      ...BRUTE_FORCE_WAITS,
      ...OTP_POLICY,
      eventsEnabled: true,
      // As the register states them (IDENTITY_RETENTION, with its reasons). Each service keeps
      // its own session after the login: the SSO session only decides when Keycloak asks for
      // the password (and code) again.
      eventsExpiration: IDENTITY_RETENTION.loginEventsDays * 86_400,
      ssoSessionIdleTimeout: IDENTITY_RETENTION.ssoSessionIdleMinutes * 60,
      ssoSessionMaxLifespan: IDENTITY_RETENTION.ssoSessionMaxHours * 3600,
      internationalizationEnabled: true,
      supportedLocales: ["en", "fr"],
      defaultLocale: language,
      browserFlow: BROWSER_FLOW,
      smtpServer: mail
        ? {
            host: mail.host,
            port: String(mail.port),
            from: mail.from,
            fromDisplayName: config.organisation.name,
            starttls: String(mail.security === "starttls"),
            ssl: String(mail.security === "tls"),
            auth: String(mail.username !== undefined),
            ...(mail.username ? { user: mail.username } : {}),
          }
        : {},
    },
    twoFactorRoles,
    users: byKey(
      config.members.map((m) => ({
      username: m.id.toLowerCase(),
      // Keycloak keeps e-mails in lower case (KeycloakModelUtils.toLowerCaseSafe on set).
      email: m.email.toLowerCase(),
      ...splitName(m.name),
      locale: m.language ?? language,
      role: m.role,
      groups: [...m.teams].sort(),
      twoFactorRequired: twoFactorRoles.includes(m.role),
      ...(config.services.jitsi.enabled && hostsMeetings(m) ? { meetingRooms: MEETING_LOGIN.allRooms } : {}),
      })),
      (u) => u.username,
    ),
    groups: byKey(config.teams.map((t) => ({ name: t.id })), (g) => g.name),
    clients: byKey(clientsFor(config, hostnames), (c) => c.clientId),
    ...(config.services.jitsi.enabled ? { meetingKey: { name: MEETING_LOGIN.keyName, clientId: MEETING_LOGIN.clientId } } : {}),
  };
}
