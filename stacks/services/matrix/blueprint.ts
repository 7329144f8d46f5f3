// Matrix chat: Synapse (the homeserver) on PostgreSQL, and Element (the web client).
// Registration is closed and there are no guests: accounts come from the member list
// through the admin API. Federation is off unless the config turns it on, with a reason.
// Messages and media expire after the configured number of days.
import { stringify } from "yaml";
import type { Association } from "../../config/schema.ts";
import {
  containerName,
  type ContainerBlueprint,
  type Hostnames,
  type Profile,
  type ProxyRoute,
  type ServiceModule,
} from "../blueprint.ts";
import { IMAGES } from "../images.ts";
import { identityIssuer } from "../identity/blueprint.ts";
import { json, render } from "../../platform/templates.ts";
import { noticeAddress } from "../proxy/notices.ts";

export const SYNAPSE_PORT = 8008;
const ELEMENT_PORT = 80;

/** Outside the data volume: Bastide rewrites these files at each deployment. */
const CONFIG_DIR = "/etc/synapse";
export const SYNAPSE_CONFIG_PATH = `${CONFIG_DIR}/homeserver.yaml`;
const LOG_CONFIG_PATH = `${CONFIG_DIR}/log.config`;
const DATA_DIR = "/data";
/** The element-web image serves this file (its entrypoint copies it for nginx). */
const ELEMENT_CONFIG_PATH = "/app/config.json";
const POSTGRES_DATA = "/var/lib/postgresql/data";

/** The user the image's start.py switches to when started as root; Synapse runs as it. */
const SYNAPSE_USER = "991:991";

export const DATABASE = { name: "synapse", user: "synapse", host: containerName("matrix", "db"), port: 5432 } as const;

/** Generated secrets, by role. The provisioner registers the first admin with `registrationSharedSecret`. */
export const MATRIX_SECRETS = {
  registrationSharedSecret: "registration-shared-secret",
  macaroonSecretKey: "macaroon-secret-key",
  formSecret: "form-secret",
  databasePassword: "db-password",
  /** Synapse's client secret at the identity provider (client `matrix`), when services.identity is enabled. */
  oidcClient: "oidc-client",
} as const;

type SecretValues = Record<Exclude<keyof typeof MATRIX_SECRETS, "oidcClient">, string> & { oidcClient?: string };

/**
 * Synapse as a client of the identity provider: its client id there, and the resources
 * Keycloak calls back (synapse/rest/synapse/client/oidc/__init__.py: the OIDC callback and
 * back-channel logout), which the identity provisioner registers with the client.
 */
export const MATRIX_OIDC = {
  clientId: "matrix",
  callbackPath: "/_synapse/client/oidc/callback",
  backChannelLogoutPath: "/_synapse/client/oidc/backchannel_logout",
} as const;

/** Synapse's name for the provider: it prefixes "oidc-" (synapse/config/oidc.py, _parse_oidc_config_dict), so clients ask for "oidc-bastide". */
export const OIDC_IDP_ID = "bastide";

/** Synapse (via PyYAML) reads YAML 1.1: quoting every string keeps `yes`, `0755` or `=` from changing type. */
const YAML_OPTIONS = { version: "1.1", lineWidth: 0, defaultStringType: "QUOTE_DOUBLE", defaultKeyType: "PLAIN" } as const;

const days = (n: number) => `${n}d`;

const baseUrl = (hostnames: Hostnames) => `https://${hostnames.matrix}`;

/**
 * The settings that make the homeserver private and bounded in time, from the config alone.
 * The homeserver.yaml embeds them as they are; the DPO's audit compares them with the live server.
 */
export function homeserverSettings(config: Association) {
  const { federation, retention } = config.services.matrix;
  return {
    enable_registration: false,
    allow_guest_access: false,
    ...(federation.enabled
      ? // Keys of remote servers are checked through matrix.org, Synapse's default notary.
        { trusted_key_servers: [{ server_name: "matrix.org" }] }
      : // An empty whitelist refuses every remote server; no key server is ever asked.
        { federation_domain_whitelist: [] as string[], trusted_key_servers: [] as { server_name: string }[] }),
    suppress_key_server_warning: true,
    allow_public_rooms_over_federation: false,
    allow_public_rooms_without_auth: false,
    require_auth_for_profile_requests: true,
    encryption_enabled_by_default_for_room_type: "all",
    // Previews make the server fetch every link posted, from its own address.
    url_preview_enabled: false,
    report_stats: false,
    enable_metrics: false,
    // Online status is personal data nobody asked for, and costs memory on a small server.
    presence: { enabled: false },
    // Members find each other by name: everyone on this server belongs to the association.
    user_directory: { enabled: true, search_all_users: true },
    retention: {
      enabled: true,
      default_policy: { min_lifetime: "1d", max_lifetime: days(retention.messagesDays) },
      allowed_lifetime_min: "1d",
      allowed_lifetime_max: days(retention.messagesDays),
      purge_jobs: [{ interval: "12h" }],
    },
    media_retention: {
      local_media_lifetime: days(retention.mediaDays),
      remote_media_lifetime: days(retention.mediaDays),
    },
    // Synapse's defaults, written out so that the retention schedule can quote them.
    redaction_retention_period: "7d",
    user_ips_max_age: "28d",
    max_upload_size: "50M",
    // A federated small server must not join rooms too big for it.
    limit_remote_rooms: { enabled: true, complexity: 1.0, admins_can_join: true },
  };
}

/**
 * Single sign-on through the association's identity provider (services.identity), read from
 * Synapse 1.163.2 (synapse/config/oidc.py OIDC_PROVIDER_CONFIG_SCHEMA and
 * _parse_oidc_config_dict; synapse/handlers/oidc.py):
 * - pkce_method "always": PKCE S256 on every login, as the client at the provider requires;
 * - allow_existing_users: the mapped localpart logs into the account Bastide provisioned
 *   (handlers/oidc.py grandfather_existing_users); enable_registration false: a login for
 *   anyone not on the member list creates nothing (handlers/sso.py registration_enabled);
 * - localpart_template: the provider's preferred_username is the member id, the localpart;
 *   display name and e-mail only fill a new account (Synapse does not update existing
 *   profiles unless sso.update_profile_information is set), so the provisioner's stay;
 * - backchannel_logout_enabled: the provider's logout of a member ends their Synapse sessions
 *   (/_synapse/client/oidc/backchannel_logout, handlers/oidc.py handle_backchannel_logout).
 * Members get no Synapse password (provisioners/matrix creates accounts without one), so
 * password login stays on for the provisioner's bot only: password_config.enabled false
 * would lock the bot out (handlers/auth.py validate_login: "Password login has been disabled.").
 */
function singleSignOn(config: Association, hostnames: Hostnames, clientSecret: string) {
  return {
    oidc_providers: [
      {
        idp_id: OIDC_IDP_ID,
        idp_name: config.organisation.name,
        issuer: identityIssuer(config),
        client_id: MATRIX_OIDC.clientId,
        client_secret: clientSecret,
        client_auth_method: "client_secret_basic",
        pkce_method: "always",
        scopes: ["openid", "profile", "email"],
        allow_existing_users: true,
        enable_registration: false,
        backchannel_logout_enabled: true,
        user_mapping_provider: {
          config: {
            localpart_template: "{{ user.preferred_username }}",
            display_name_template: "{{ user.name }}",
            email_template: "{{ user.email }}",
            confirm_localpart: false,
          },
        },
      },
    ],
    // Element is the only client sent back without Synapse's "continue to this site?" page
    // (synapse/config/sso.py client_whitelist: a prefix of the redirect URL).
    sso: { client_whitelist: [`https://${hostnames.element}/`] },
  };
}

/** The whole homeserver.yaml document, secrets included. */
export function homeserverConfig(config: Association, hostnames: Hostnames, secrets: SecretValues) {
  const federation = config.services.matrix.federation.enabled;
  return {
    server_name: hostnames.matrix,
    public_baseurl: `${baseUrl(hostnames)}/`,
    admin_contact: `mailto:${config.organisation.contact}`,
    listeners: [
      {
        port: SYNAPSE_PORT,
        type: "http",
        tls: false,
        // Only the proxy reaches this port (it is never published): trust its X-Forwarded-For.
        x_forwarded: true,
        bind_addresses: ["0.0.0.0"],
        resources: [{ names: federation ? ["client", "federation"] : ["client"], compress: false }],
      },
    ],
    database: {
      name: "psycopg2",
      args: {
        user: DATABASE.user,
        password: secrets.databasePassword,
        dbname: DATABASE.name,
        host: DATABASE.host,
        port: DATABASE.port,
        cp_min: 2,
        cp_max: 10,
      },
    },
    log_config: LOG_CONFIG_PATH,
    media_store_path: `${DATA_DIR}/media_store`,
    signing_key_path: `${DATA_DIR}/signing.key`,
    registration_shared_secret: secrets.registrationSharedSecret,
    macaroon_secret_key: secrets.macaroonSecretKey,
    form_secret: secrets.formSecret,
    ...homeserverSettings(config),
    ...(config.services.identity.enabled ? singleSignOn(config, hostnames, secrets.oidcClient ?? missing("matrix: no value for the secret \"oidc-client\" (services.identity is enabled)")) : {}),
  };
}

export function homeserverYaml(config: Association, hostnames: Hostnames, secrets: SecretValues): string {
  return render("matrix/homeserver.yaml", { body: stringify(homeserverConfig(config, hostnames, secrets), YAML_OPTIONS).trimEnd() });
}

/** Element's config.json: our homeserver only, no guests, no third-party services. */
export function elementConfig(config: Association, hostnames: Hostnames) {
  const jitsi = config.services.jitsi.enabled;
  const homeserver = baseUrl(hostnames);
  return {
    default_server_config: { "m.homeserver": { base_url: homeserver, server_name: hostnames.matrix } },
    disable_custom_urls: true,
    disable_guests: true,
    disable_3pid_login: true,
    brand: config.organisation.name,
    default_country_code: config.organisation.country,
    // Rooms created while federation is off stay local even if it is turned on later.
    default_federate: config.services.matrix.federation.enabled,
    // Links to rooms and messages point here rather than at matrix.to.
    permalink_prefix: `https://${hostnames.element}`,
    room_directory: { servers: [hostnames.matrix] },
    show_labs_settings: false,
    // Empty values turn off the integration manager, which Element otherwise loads from scalar.vector.im.
    integrations_ui_url: "",
    integrations_rest_url: "",
    integrations_widgets_urls: [] as string[],
    enable_presence_by_hs_url: { [homeserver]: false },
    setting_defaults: {
      // Accounts and their e-mail addresses follow the member list in the config.
      "UIFeature.registration": false,
      "UIFeature.passwordReset": false,
      "UIFeature.deactivate": false,
      "UIFeature.thirdPartyId": false,
      "UIFeature.identityServer": false,
      "UIFeature.shareSocial": false,
      "UIFeature.feedback": false,
      "UIFeature.urlPreviews": false,
      urlPreviewsEnabled: false,
      // Without the stack's Jitsi, Element would place calls on meet.element.io.
      "UIFeature.voip": jitsi,
      language: config.organisation.language,
    },
    // Settings > Help & About > Legal lists these links (element-web
    // src/components/views/settings/tabs/user/HelpUserSettingsTab.tsx renderLegal, read at 730018f):
    // the members' information notice, served by the proxy on Element's own name, in both languages.
    terms_and_conditions_links: [
      { text: "Vos données (notice d'information)", url: noticeAddress(hostnames.element, "notice-members", "fr") },
      { text: "Your data (privacy notice)", url: noticeAddress(hostnames.element, "notice-members", "en") },
    ],
    ...(jitsi ? { jitsi: { preferred_domain: hostnames.meet } } : {}),
    ...(config.services.identity.enabled ? elementSingleSignOn(config) : {}),
  };
}

/**
 * Element with single sign-on only (element-web docs/config.md and src/IConfigOptions.ts;
 * the element-web repository is too large to bring here whole, so read from its stored
 * files): `sso_redirect_options.immediate` sends every signed-out visitor straight to
 * Synapse's SSO redirect, which with one provider goes on to the identity provider, so
 * Element's password form is never shown. `logout_redirect_url` ends the session at the
 * provider too: without it, signing out of Element would bounce back through SSO and
 * straight in again while the provider's session lives.
 */
function elementSingleSignOn(config: Association) {
  return {
    sso_redirect_options: { immediate: true },
    logout_redirect_url: `${identityIssuer(config)}/protocol/openid-connect/logout`,
  };
}

export function routes(config: Association, hostnames: Hostnames): ProxyRoute[] {
  const federation = config.services.matrix.federation.enabled;
  return [
    {
      host: hostnames.matrix,
      upstream: `${containerName("matrix", "synapse")}:${SYNAPSE_PORT}`,
      vpnOnlyPaths: ["/_synapse/admin/*"],
      staticJson: [
        { path: "/.well-known/matrix/client", body: { "m.homeserver": { base_url: baseUrl(hostnames) } } },
        // Other servers look here to find ours: only published when they may talk to it.
        ...(federation ? [{ path: "/.well-known/matrix/server", body: { "m.server": `${hostnames.matrix}:443` } }] : []),
      ],
    },
    {
      host: hostnames.element,
      upstream: `${containerName("matrix", "element")}:${ELEMENT_PORT}`,
      headers: { "X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": "frame-ancestors 'self'" },
    },
  ];
}

function secretValues(secrets: Record<string, string>): SecretValues {
  const value = (name: string) => secrets[name] ?? missing(`matrix: no value for the secret "${name}"`);
  return {
    registrationSharedSecret: value(MATRIX_SECRETS.registrationSharedSecret),
    macaroonSecretKey: value(MATRIX_SECRETS.macaroonSecretKey),
    formSecret: value(MATRIX_SECRETS.formSecret),
    databasePassword: value(MATRIX_SECRETS.databasePassword),
    ...(secrets[MATRIX_SECRETS.oidcClient] !== undefined ? { oidcClient: value(MATRIX_SECRETS.oidcClient) } : {}),
  };
}

function missing(message: string): never {
  throw new Error(message);
}

/**
 * Synapse's image runs an existing config but never prepares the data volume: a new
 * Docker volume belongs to root, so Synapse (user 991) could not write its signing key
 * or media there. Hand it the volume and its config, then start as the image would;
 * Synapse creates the missing signing key itself on first start.
 */
export const SYNAPSE_ENTRYPOINT = [
  "/bin/sh",
  "-c",
  `chown ${SYNAPSE_USER} ${DATA_DIR} ${SYNAPSE_CONFIG_PATH} && exec /start.py run`,
];

function databaseContainer(profile: Profile): ContainerBlueprint {
  return {
    name: "db",
    image: IMAGES.postgres,
    memoryMb: { small: 256, standard: 512 },
    env: {
      POSTGRES_USER: DATABASE.user,
      POSTGRES_DB: DATABASE.name,
      // Synapse refuses a database whose collation could reorder its keys.
      POSTGRES_INITDB_ARGS: "--encoding=UTF-8 --lc-collate=C --lc-ctype=C",
    },
    secretEnv: { POSTGRES_PASSWORD: MATRIX_SECRETS.databasePassword },
    // Buffers sized to the memory limit; Synapse's pool needs at most cp_max connections.
    command: ["postgres", "-c", `shared_buffers=${profile === "small" ? 64 : 128}MB`, "-c", "max_connections=50"],
    volumes: [{ volume: "db", path: POSTGRES_DATA }],
    networks: ["internal"],
    // Over TCP: while initialising, the entrypoint's temporary server listens on the socket only.
    healthcheck: {
      test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", DATABASE.user, "-d", DATABASE.name],
      intervalSeconds: 10,
      retries: 6,
    },
  };
}

function synapseContainer(): ContainerBlueprint {
  return {
    name: "synapse",
    image: IMAGES.synapse,
    memoryMb: { small: 512, standard: 1024 },
    entrypoint: SYNAPSE_ENTRYPOINT,
    env: { SYNAPSE_CONFIG_PATH },
    volumes: [{ volume: "data", path: DATA_DIR }],
    files: [SYNAPSE_CONFIG_PATH, LOG_CONFIG_PATH],
    networks: ["edge", "internal"],
    dependsOn: ["db"],
    healthcheck: {
      test: ["CMD", "curl", "-fSs", `http://localhost:${SYNAPSE_PORT}/health`],
      intervalSeconds: 15,
      retries: 5,
      // The first start creates the database schema.
      startPeriodSeconds: 120,
    },
  };
}

function elementContainer(): ContainerBlueprint {
  return {
    name: "element",
    image: IMAGES.element,
    memoryMb: { small: 64, standard: 128 },
    env: { ELEMENT_WEB_PORT: String(ELEMENT_PORT) },
    files: [ELEMENT_CONFIG_PATH],
    networks: ["edge"],
    // The image is nginx on Alpine: busybox wget, no curl.
    healthcheck: {
      test: ["CMD", "wget", "-q", "--spider", `http://127.0.0.1:${ELEMENT_PORT}/config.json`],
      intervalSeconds: 30,
      retries: 3,
    },
  };
}

export const matrix: ServiceModule = {
  name: "matrix",
  enabled: (config) => config.services.matrix.enabled,
  blueprint: (config, { profile, hostnames }) => ({
    service: "matrix",
    title: "Messagerie (Matrix / Element)",
    containers: [databaseContainer(profile), synapseContainer(), elementContainer()],
    volumes: [
      { name: "data", path: DATA_DIR, holds: "Files and images sent in chat (with thumbnails); the server's signing key" },
      { name: "db", path: POSTGRES_DATA, holds: "Chat messages, rooms, accounts, devices and the addresses they connected from (PostgreSQL)" },
    ],
    secrets: [
      { name: MATRIX_SECRETS.registrationSharedSecret, length: 48 },
      { name: MATRIX_SECRETS.macaroonSecretKey, length: 64 },
      { name: MATRIX_SECRETS.formSecret, length: 48 },
      { name: MATRIX_SECRETS.databasePassword, length: 32 },
      ...(config.services.identity.enabled ? [{ name: MATRIX_SECRETS.oidcClient, length: 48 }] : []),
    ],
    routes: routes(config, hostnames),
    files: (secrets) => [
      {
        container: "synapse",
        path: SYNAPSE_CONFIG_PATH,
        content: homeserverYaml(config, hostnames, secretValues(secrets)),
        holdsSecrets: true,
        // Handed to Synapse's user by the entrypoint.
        mode: "0600",
      },
      { container: "synapse", path: LOG_CONFIG_PATH, content: render("matrix/log.config", {}), holdsSecrets: false, mode: "0644" },
      { container: "element", path: ELEMENT_CONFIG_PATH, content: json(elementConfig(config, hostnames)), holdsSecrets: false, mode: "0644" },
    ],
  }),
};
