// Nextcloud's login through the identity provider (issue 10): the user_oidc app, one provider
// named after Bastide, members' logins mapped onto the accounts Bastide already provisions.
//
// Every fact below is user_oidc's own, read at the pinned tag (github.com/nextcloud/user_oidc,
// v8.10.1) and recorded from a real Nextcloud 34.0.1 running it
// (test/contracts/recordings/nextcloud-34/user-oidc.json):
// - `occ user_oidc:provider ID --clientid=… --discoveryuri=… [--option=value…]` creates or updates
//   the provider; without options it prints it (`--output=json`: id, identifier, clientId,
//   discoveryEndpoint, endSessionEndpoint, postLogoutUri, scope, settings), exit 255 and
//   "Provider not found" when there is none (lib/Command/UpsertProvider.php 228-250);
// - the client secret is stored encrypted (ICrypto, a fresh IV each time: 332, 339, 349), so it cannot
//   be read back and compared: Bastide keeps a SHA-256 fingerprint beside it (OIDC_SECRET_FINGERPRINT);
// - `--clientsecret-file=php://stdin` reads it from standard input (UpsertProvider.php 333-343,
//   file_get_contents, trimmed): the secret never is on a command line. `/dev/stdin` is refused when
//   occ runs as another user than the one that opened the pipe (recorded: "could not be read or is empty").
import type { Association } from "../../config/schema.ts";
import type { PhpValue } from "../../platform/php.ts";
import { identityIssuer } from "../identity/blueprint.ts";

/**
 * The app, pinned. Nextcloud installs app-store apps at their newest release compatible with the
 * server, verified against the store's signature (lib/private/Installer.php 239-243, 34.0.1;
 * AppFetcher.php 53: "Only returns the latest compatible app release"): `occ app:enable` cannot
 * choose a version. The pin is the release Bastide was read and recorded against; the
 * provisioning refuses another major (its occ options could differ).
 */
export const USER_OIDC = {
  app: "user_oidc",
  version: "8.10.1",
  /** appinfo/info.xml at v8.10.1: <nextcloud min-version="29" max-version="34"/>. */
  nextcloud: { min: 29, max: 34 },
} as const;

/** The provider's identifier in Nextcloud: its login URL is /apps/user_oidc/login/<its id>. */
export const OIDC_PROVIDER = "bastide";
/** The client Keycloak knows Nextcloud as (the identity provisioner registers it). */
export const OIDC_CLIENT_ID = "nextcloud";

/**
 * Where the fingerprint of the client secret is kept: an app setting in user_oidc's namespace, so
 * that removing the app removes it too (and the next run sets the secret again).
 */
export const OIDC_SECRET_FINGERPRINT = { app: USER_OIDC.app, key: "bastide_client_secret_sha256" } as const;


/** Nextcloud's redirect URI, the one the Keycloak client allows (appinfo/routes.php 16: login#code at /code). */
export const oidcRedirectPath = "/apps/user_oidc/code";
/**
 * Both forms of it: Nextcloud writes /index.php/... into links unless its front controller is
 * active (the apache image's pretty URLs, lib/private/URLGenerator.php), and Keycloak matches
 * redirect URIs exactly. The recorded login (oidc-login.json) sent the /index.php form.
 */
export const oidcRedirectPaths = [oidcRedirectPath, `/index.php${oidcRedirectPath}`];
/** Keycloak's back-channel logout URL for the client (appinfo/routes.php 18: login#backChannelLogout, POST). */
export const oidcBackChannelLogoutPath = `/index.php/apps/user_oidc/backchannel-logout/${OIDC_PROVIDER}`;

/**
 * The provider, as `occ user_oidc:provider` options (lib/Command/UpsertProvider.php, EXTRA_OPTIONS),
 * each with the key its JSON output names it by and whether that value is a boolean there.
 */
export const OIDC_PROVIDER_OPTIONS = {
  // uid = preferred_username = member id, as is (not hashed with the provider id).
  "unique-uid": { setting: "uniqueUid", boolean: true },
  "mapping-uid": { setting: "mappingUid", boolean: false },
  "mapping-display-name": { setting: "mappingDisplayName", boolean: false },
  "mapping-email": { setting: "mappingEmail", boolean: false },
  // Teams are Nextcloud groups Bastide provisions; the token's groups are not synced over them.
  "group-provisioning": { setting: "groupProvisioning", boolean: true },
  // Clients log in with app passwords from login flow v2, never with the provider's bearer tokens.
  "check-bearer": { setting: "checkBearer", boolean: true },
  "bearer-provisioning": { setting: "bearerProvisioning", boolean: true },
  // Logging out of Nextcloud ends the Keycloak session without a confirmation page.
  "send-id-token-hint": { setting: "sendIdTokenHint", boolean: true },
} as const;

export type OidcProviderOption = keyof typeof OIDC_PROVIDER_OPTIONS;

const PROVIDER_VALUES: Record<OidcProviderOption, string> = {
  "unique-uid": "0",
  "mapping-uid": "preferred_username",
  "mapping-display-name": "name",
  "mapping-email": "email",
  "group-provisioning": "0",
  "check-bearer": "0",
  "bearer-provisioning": "0",
  "send-id-token-hint": "1",
};

/** The scopes asked for (user_oidc's default for a new provider, stated so a changed one is set back). */
export const OIDC_SCOPE = "openid email profile";

/** Nextcloud reads the secret from its standard input (the provisioner writes it there). */
export const SECRET_FROM_STDIN = "--clientsecret-file=php://stdin";

export function oidcProviderCommand(config: Association): string[] {
  return [
    "php",
    "occ",
    "user_oidc:provider",
    OIDC_PROVIDER,
    `--clientid=${OIDC_CLIENT_ID}`,
    SECRET_FROM_STDIN,
    `--discoveryuri=${identityIssuer(config)}/.well-known/openid-configuration`,
    `--scope=${OIDC_SCOPE}`,
    ...Object.entries(PROVIDER_VALUES).map(([option, value]) => `--${option}=${value}`),
  ];
}

/**
 * System config for user_oidc (LoginController.php 633-634 and ProvisioningService.php 243-259 at
 * v8.10.1): with auto_provision and soft_auto_provision (both default true), a login whose uid
 * names an account of another backend logs into that account, the one Bastide provisioned, with
 * its files, shares and calendars; disable_account_creation refuses a login for which Bastide made
 * no account (someone added in Keycloak by hand). lost_password_link "disabled" closes Nextcloud's
 * own password reset (core/Controller/LostController.php 152, 34.0.1): members' Nextcloud
 * passwords are random and never shown, and must stay so.
 */
export function oidcSystemConfig(): Record<string, PhpValue> {
  return {
    user_oidc: { auto_provision: true, soft_auto_provision: true, disable_account_creation: true },
    lost_password_link: "disabled",
  };
}
