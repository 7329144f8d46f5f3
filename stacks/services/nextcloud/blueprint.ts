// Nextcloud: files and shared calendars. The official Apache image, PostgreSQL, an
// authenticated Redis for locks and sessions, and a cron container that runs the
// background jobs (trash, versions and activity expiry depend on them).
//
// RGPD settings that live in config.php are rendered into bastide.config.php, which
// Nextcloud merges over its own config.php on every request, so they cannot drift.
// The rest (sharing policy, quota, two-factor) are app settings, applied with `occ`
// by the provisioning step from nextcloudOccSettings(), the list the audit reads too.
import type { Association } from "../../config/schema.ts";
import { containerName, type MemoryMb, type ProxyRoute, type ServiceBlueprint, type ServiceModule } from "../blueprint.ts";
import { IMAGES } from "../images.ts";
import { phpLiteral, type PhpValue } from "../../platform/php.ts";
import { SMTP_PASSWORD_SECRET, type MailSettings } from "../../config/mail.ts";
import { render, shellQuote } from "../../platform/templates.ts";
import { EDGE_NETWORK } from "../../platform/network.ts";
import { oidcSystemConfig } from "./oidc.ts";
import { hostnames } from "../hosts.ts";
import { noticeAddress } from "../proxy/notices.ts";

// Names Bastide takes in Nextcloud: defined with every other reserved name (a module that imports nothing).
import { NEXTCLOUD_ADMIN_USER, NEXTCLOUD_SERVICE_GROUP, NEXTCLOUD_TWO_FACTOR_GROUP } from "../reserved-names.ts";
export { NEXTCLOUD_ADMIN_USER, NEXTCLOUD_SERVICE_GROUP, NEXTCLOUD_TWO_FACTOR_GROUP };

/** Where and as whom `occ` runs: the app container, as Apache's user, in Nextcloud's folder. */
export const NEXTCLOUD_OCC = { container: "app", user: "www-data", workingDir: "/var/www/html" } as const;

/**
 * `oidcClient` is the client secret Nextcloud shares with the identity provider: Nextcloud, the
 * relying party, owns it; the stack hands it to the identity provisioner (which registers the
 * client) and to the settings provisioning (which gives it to user_oidc). Generated only when
 * the identity provider is enabled.
 */
export const NEXTCLOUD_SECRETS = { db: "db-password", admin: "admin-password", redis: "redis-password", oidcClient: "oidc-client" } as const;

/** The secrets Nextcloud's stack generates for this config. */
export function nextcloudSecretNames(config: Association): string[] {
  return Object.values(NEXTCLOUD_SECRETS).filter((name) => name !== NEXTCLOUD_SECRETS.oidcClient || config.services.identity.enabled);
}

// ---------------------------------------------------------------------------------------
// Memory, as upstream documents it. The image gives every PHP process memory_limit 512M and
// shares a 128M opcache with an 8M JIT buffer between Apache's workers (nextcloud/docker
// 34/apache/Dockerfile 22-24 and 103-111 at 4de1eed; the same lines build 34.0.4 in
// docker-library/repo-info repos/nextcloud/remote/34.0.4-apache.md). Nextcloud recommends
// 512M and warns on every occ below it (lib/private/MemoryInfo.php 18, 34.0.1). APCu keeps the
// image's default segment, apc.shm_size 32M (php.net, APCu runtime configuration), one for Apache and
// one per CLI process (apc.enable_cli=1 in the image). Apache's prefork MPM would start up to
// 150 workers (Debian's mpm_prefork.conf): Bastide caps them so that every worker at its limit,
// plus one occ, fits the container.

/** memory_limit of every Nextcloud PHP process, in MiB: the image's default. */
export const PHP_MEMORY_LIMIT_MB = 512;
const OPCACHE_MB = 128 + 8;
const APCU_MB = 32;
/** Apache's parent process, the entrypoint's shell, crond: measured in tens of MiB; rounded up. */
const BASE_MB = 64;

/** Apache workers Nextcloud's container runs at once (each a PHP interpreter). */
export const APACHE_WORKERS = { small: 4, standard: 8 } as const satisfies MemoryMb;

/** Every worker at memory_limit, the shared caches, and one occ (its own APCu) run by provisioning or an admin. */
const appMemoryMb = (workers: number) => OPCACHE_MB + APCU_MB + workers * PHP_MEMORY_LIMIT_MB + (PHP_MEMORY_LIMIT_MB + APCU_MB) + BASE_MB;
/** cron.php is one CLI process at a time (busybox crond, every 5 minutes). */
const CRON_MB = PHP_MEMORY_LIMIT_MB + APCU_MB + BASE_MB;

export const NEXTCLOUD_MEMORY = {
  app: { small: appMemoryMb(APACHE_WORKERS.small), standard: appMemoryMb(APACHE_WORKERS.standard) },
  cron: { small: CRON_MB, standard: CRON_MB },
  db: { small: 256, standard: 512 },
  redis: { small: 64, standard: 128 },
} as const satisfies Record<string, MemoryMb>;

/** Caps Apache's prefork workers; read after Debian's mpm_prefork.conf (conf-enabled/ comes after mods-enabled/ in apache2.conf). */
export const APACHE_WORKERS_CONF = "/etc/apache2/conf-enabled/zz-bastide-workers.conf";

const HTML = "/var/www/html";
const DB = { name: "nextcloud", user: "nextcloud" } as const;
/**
 * Uploaded outside the html volume and copied in by the hook below (see the hook's template for why).
 * It sits beside the hook: the entrypoint runs only `*.sh` files of a hook folder
 * (nextcloud/docker docker-entrypoint.sh, run_path, `find … -iname '*.sh'`), so it is read by the hook alone.
 */
export const CONFIG_SOURCE = "/docker-entrypoint-hooks.d/before-starting/bastide.config.php";
export const CONFIG_TARGET = `${HTML}/config/bastide.config.php`;
/** The official image runs executable before-starting hooks as www-data, after install or upgrade. */
export const CONFIG_HOOK = "/docker-entrypoint-hooks.d/before-starting/50-bastide-config.sh";
export const REDIS_CONF = "/usr/local/etc/redis/redis.conf";

// ---------------------------------------------------------------------------------------
// What the proxy keeps to the VPN, read from Nextcloud 34's routes (nextcloud/server 34.0.1, as
// in nareshbaburoddam/nextcloud-latest, folder nextcloud/). Caddy matches paths lowercased and
// cleaned (dot segments resolved, slashes merged: caddyserver/caddy v2.11.4,
// modules/caddyhttp/matchers.go 429-475), so /OCS/v2.php//cloud/./users is caught too.

const OCS = ["/ocs/v1.php", "/ocs/v2.php"];
/** A page or API that Nextcloud serves both with and without its front controller in the URL. */
const withFrontController = (paths: string[]) => paths.flatMap((p) => [p, `/index.php${p}`]);

/**
 * Admin settings pages and their APIs (apps/settings/appinfo/routes.php 12-46): server settings,
 * account management (including other accounts' passwords), apps, setup checks and presets.
 * Personal settings (/settings/user/…, /settings/personal/…, where members set up 2FA) stay open.
 */
const SETTINGS_ADMIN = withFrontController([
  "/settings/admin*",
  "/settings/users*",
  "/settings/apps*",
  "/settings/api/admin/*",
  "/settings/authorizedgroups*",
  "/settings/ajax/checksetup*",
  "/settings/setupcheck*",
  "/settings/integrity/*",
  "/settings/preset*",
]);

/**
 * The provisioning API: every OCS route under cloud/ is closed by default (accounts, groups, apps:
 * apps/provisioning_api/appinfo/routes.php 13-56), so that a route a later major adds there starts
 * closed; NEXTCLOUD_PUBLIC_OCS lists the calls members' clients make. App config is admin-only too
 * (routes.php 59-63); a member's own preferences (routes.php 66-69) are not.
 */
const PROVISIONING_API = OCS.flatMap((ocs) => [`${ocs}/cloud/*`, `${ocs}/apps/provisioning_api/api/v1/config/apps*`]);

/** Apps whose every route is for admins (apps/<app>/appinfo/routes.php or their controllers' attributes). */
const ADMIN_APPS = ["logreader", "serverinfo", "updatenotification", "app_api", "appstore", "webhook_listeners", "user_ldap"];
const ADMIN_APP_PATHS = ADMIN_APPS.flatMap((app) => [...withFrontController([`/apps/${app}*`]), ...OCS.map((ocs) => `${ocs}/apps/${app}*`)]);

/** Admin surfaces: reachable from the VPN, or with the provisioning token, only. */
export const ADMIN_PATHS = [...SETTINGS_ADMIN, ...PROVISIONING_API, ...ADMIN_APP_PATHS];

/**
 * OCS calls under cloud/ that members' clients make, left open: the server's capabilities
 * (core/Controller/OCSController.php 63), the signed-in account and its fields
 * (provisioning_api routes.php 37-40) and federated shares between servers (cloud/shares…,
 * federatedfilesharing's OCS API).
 */
export const NEXTCLOUD_PUBLIC_OCS = OCS.flatMap((ocs) => [`${ocs}/cloud/capabilities`, `${ocs}/cloud/user`, `${ocs}/cloud/user/*`, `${ocs}/cloud/shares*`]);

/**
 * CalDAV/CardDAV discovery (RFC 6764): the proxy answers, as Nextcloud's reverse-proxy documentation
 * asks (nextcloud/documentation, admin_manual/configuration_server/reverse_proxy_configuration.rst,
 * "Service discovery"); the image's Apache would redirect to http:// (its .htaccess 117-126 in 34.0.1
 * builds the URL from the scheme it sees, and the proxy speaks plain HTTP to it).
 */
export const DAV_DISCOVERY = [
  { path: "/.well-known/caldav", to: "/remote.php/dav/" },
  { path: "/.well-known/carddav", to: "/remote.php/dav/" },
];

// ---------------------------------------------------------------------------------------
// config.php

/** Nextcloud locales exist for these language/country pairs; other countries get the language's default. */
const LOCALES: Record<Association["organisation"]["language"], { countries: string[]; fallback: string }> = {
  fr: { countries: ["FR", "BE", "LU"], fallback: "FR" },
  en: { countries: ["IE", "MT"], fallback: "GB" },
};

export function nextcloudLocale(config: Association): string {
  const { language, country } = config.organisation;
  const known = LOCALES[language];
  return `${language}_${known.countries.includes(country) ? country : known.fallback}`;
}

const MIB = 1024 * 1024;

/** Everything bastide.config.php sets, as Nextcloud reads it back (`occ config:system:get`). */
export function nextcloudSystemConfig(config: Association, host: string): Record<string, PhpValue> {
  const s = config.services.nextcloud;
  return {
    // The container's health check asks http://localhost/.
    trusted_domains: [host, "localhost"],
    overwritehost: host,
    overwriteprotocol: "https",
    "overwrite.cli.url": `https://${host}`,
    // The proxy is on the edge network; Nextcloud takes the client address from it,
    // which brute-force protection needs.
    trusted_proxies: [EDGE_NETWORK.subnet],
    forwarded_for_headers: ["HTTP_X_FORWARDED_FOR"],
    default_language: config.organisation.language,
    default_locale: nextcloudLocale(config),
    default_phone_region: config.organisation.country,
    // "auto, N": deleted at the latest after N days, earlier if space runs out.
    trashbin_retention_obligation: `auto, ${s.trashbinDays}`,
    versions_retention_obligation: `auto, ${s.versionsDays}`,
    // The activity app reads this system value, not an app setting, when it expires records.
    activity_expire_days: s.activityExpireDays,
    // Heavy daily jobs (expiry included) run from 01:00 UTC, outside working hours.
    maintenance_window_start: 1,
    log_type: "file",
    loglevel: 2,
    // One rotated copy is kept: the log stays under twice this size.
    log_rotate_size: 10 * MIB,
    "auth.bruteforce.protection.enabled": true,
    // New accounts start empty: no demo files or templates.
    skeletondirectory: "",
    templatedirectory: "",
    // No link to a third-party sign-up page on public share pages.
    "simpleSignUpLink.shown": false,
    // Updates come with a new pinned image, never from the web updater or its phone-home check.
    updatechecker: false,
    "upgrade.disable-web": true,
    // Members log in through the identity provider only (oidc.ts).
    ...(config.services.identity.enabled ? oidcSystemConfig() : {}),
  };
}

export function bastideConfigPhp(config: Association, host: string): string {
  const entries = Object.entries(nextcloudSystemConfig(config, host)).map(([key, value]) => ({
    key: phpLiteral(key),
    value: phpLiteral(value, "  "),
  }));
  return render("nextcloud/bastide.config.php", { entries });
}

export function configHookScript(source: string, target: string): string {
  return render("nextcloud/config-hook.sh", { source: shellQuote(source), target: shellQuote(target) });
}

// ---------------------------------------------------------------------------------------
// Redis

/** Redis keeps locks, sessions and cache only: bounded below the container's limit, never saved. */
export function redisConf(password: string, maxmemoryMb: number): string {
  return render("nextcloud/redis.conf", { password: redisQuote(password), maxmemoryMb });
}

const redisQuote = (text: string) => `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

// ---------------------------------------------------------------------------------------
// occ settings

export interface OccSetting {
  /** Full argv, run in NEXTCLOUD_OCC's container, as its user, in its folder. */
  command: string[];
  /** Why: quoted in the provisioning plan and the audit. */
  reason: string;
}

const occ = (...args: string[]): string[] => ["php", "occ", ...args];
const appSetting = (app: string, key: string, value: string | number) => occ("config:app:set", app, key, `--value=${value}`);
const yesNo = (on: boolean) => (on ? "yes" : "no");

/** The occ commands that enforce the settings config.php cannot hold. Each is idempotent. */
/**
 * Calendar shares one account may request in an hour. Nextcloud 34 allows 20, then answers
 * 429 "Too many addressbook or calendar share requests" (nextcloud/server v34.0.1,
 * apps/dav/lib/DAV/Security/RateLimiting.php: app config dav
 * rateLimitShareAddressbookOrCalendar, default 20, per rateLimitPeriodShareAddressbookOrCalendar,
 * default 3600 s). Bastide's service account shares every calendar it makes once, so an
 * association with more than 20 calendars could never finish its first run (seen on a real
 * Nextcloud 34.0.1: the third provisioning of 6 calendars within the hour got 429 on its share).
 * Room for two runs that share every calendar, and upstream's 20 on top for the members' own shares.
 */
const UPSTREAM_SHARES_PER_HOUR = 20;

/** Bastide's own share requests in two runs: every team calendar and the association's, twice. */
const bastideSharesPerHour = (config: Association) => 2 * (config.teams.filter((team) => team.calendar).length + 1);

export const calendarSharesPerHour = (config: Association) => bastideSharesPerHour(config) + UPSTREAM_SHARES_PER_HOUR;

export function nextcloudOccSettings(config: Association): OccSetting[] {
  const s = config.services.nextcloud;
  const links = s.shareLinks;
  const days = links.expireAfterDays;
  return [
    {
      command: occ("background:cron"),
      reason: "Background jobs run every 5 minutes from the cron container, so trash, versions and activity expire on time",
    },
    {
      command: appSetting("files", "default_quota", s.defaultQuota),
      reason: `Each account gets ${s.defaultQuota} of storage unless its member has a quota of their own`,
    },
    {
      command: appSetting("core", "shareapi_enforce_links_password", yesNo(links.requirePassword)),
      reason: links.requirePassword
        ? "Public share links require a password"
        : `Public share links may have no password: ${links.relaxedBecause ?? ""}`.trim(),
    },
    {
      command: appSetting("core", "shareapi_default_expire_date", "yes"),
      reason: `Public share links get an expiry date, ${days} days ahead by default`,
    },
    {
      command: appSetting("core", "shareapi_enforce_expire_date", "yes"),
      reason: "A public share link cannot be created without an expiry date",
    },
    {
      command: appSetting("core", "shareapi_expire_after_n_days", days),
      reason: `A public share link expires at most ${days} days after it is created`,
    },
    {
      command: appSetting("dav", "rateLimitShareAddressbookOrCalendar", calendarSharesPerHour(config)),
      reason: `Bastide's account may share the association's calendars (${bastideSharesPerHour(config)} share requests for two runs) within Nextcloud's hourly limit on calendar shares, ${UPSTREAM_SHARES_PER_HOUR} more than that for each member`,
    },
    {
      // Shown in the login page's and every page's footer, and in the clients' capabilities
      // (nextcloud/server v34.0.1 apps/theming: ThemingDefaults::getPrivacyUrl, getShortFooter;
      // lib/ConfigLexicon.php declares privacyUrl a string).
      command: occ("config:app:set", "theming", "privacyUrl", `--value=${noticeAddress(hostnames(config).cloud, "notice-members", config.organisation.language)}`, "--type=string"),
      reason: "Every page links the members' information notice (GDPR art. 13), which the proxy serves",
    },
    ...(s.adminTwoFactor
      ? [
          { command: occ("app:enable", "twofactor_totp"), reason: "Admins need an authenticator app (TOTP) as second factor" },
          {
            // Enforced 2FA refuses password logins to the API, and provisioning logs in with
            // the service account's password (an app password cannot confirm one): the
            // enforced group holds the admins only. The group need not exist yet (occ does
            // not check, core/Command/TwoFactorAuth/Enforce.php): accounts create it.
            command: occ("twofactorauth:enforce", "--on", "--group", NEXTCLOUD_TWO_FACTOR_GROUP),
            reason: `Admins must log in with two factors (group ${NEXTCLOUD_TWO_FACTOR_GROUP}, which ${NEXTCLOUD_ADMIN_USER}, the account provisioning uses, is not in)`,
          },
        ]
      : [{ command: occ("twofactorauth:enforce", "--off"), reason: "Two-factor login is not enforced for admins (services.nextcloud.adminTwoFactor: false)" }]),
  ];
}

// ---------------------------------------------------------------------------------------
// The blueprint

export function apacheWorkersConf(workers: number): string {
  return render("nextcloud/apache-workers.conf", { workers, spare: Math.max(1, Math.floor(workers / 2)) });
}

/** Uploads stream to disk, not memory, and clients send big files in chunks: Apache's own 1 GiB body limit. */
const PHP_UPLOAD_LIMIT = "1G";

/** The official image's mail variables (its smtp.config.php reads them). */
export function smtpEnv(mail: MailSettings): Record<string, string> {
  const [local, domain] = mail.from.split("@") as [string, string];
  return {
    SMTP_HOST: mail.host,
    // The image's words: `ssl` is implicit TLS, `tls` is STARTTLS.
    SMTP_SECURE: mail.security === "tls" ? "ssl" : "tls",
    SMTP_PORT: String(mail.port),
    SMTP_AUTHTYPE: mail.username ? "LOGIN" : "PLAIN",
    ...(mail.username ? { SMTP_NAME: mail.username } : {}),
    MAIL_FROM_ADDRESS: local,
    MAIL_DOMAIN: domain,
  };
}

const smtpSecretEnv = (mail: MailSettings | undefined): Record<string, string> =>
  mail?.username ? { SMTP_PASSWORD: SMTP_PASSWORD_SECRET } : {};

export const nextcloud: ServiceModule = {
  name: "nextcloud",
  enabled: (config) => config.services.nextcloud.enabled,
  blueprint: (config, { profile, hostnames }): ServiceBlueprint => {
    const host = hostnames.cloud;
    const redisHost = containerName("nextcloud", "redis");
    const memory = (c: keyof typeof NEXTCLOUD_MEMORY) => NEXTCLOUD_MEMORY[c][profile];
    // Read by the image's reverse-proxy.config.php and redis.config.php, in the app and in cron.
    const mail = config.mail;
    const runtimeEnv = {
      ...(mail ? smtpEnv(mail) : {}),
      REDIS_HOST: redisHost,
      OVERWRITEPROTOCOL: "https",
      OVERWRITEHOST: host,
      OVERWRITECLIURL: `https://${host}`,
      TRUSTED_PROXIES: EDGE_NETWORK.subnet,
      FORWARDED_FOR_HEADERS: "HTTP_X_FORWARDED_FOR",
      PHP_UPLOAD_LIMIT,
    };
    const html = { volume: "html", path: HTML };

    return {
      service: "nextcloud",
      title: "Fichiers et agendas (Nextcloud)",
      containers: [
        {
          name: "db",
          image: IMAGES.postgres,
          memoryMb: NEXTCLOUD_MEMORY.db,
          env: { POSTGRES_DB: DB.name, POSTGRES_USER: DB.user },
          secretEnv: { POSTGRES_PASSWORD: NEXTCLOUD_SECRETS.db },
          // PostgreSQL's default 128 MB of shared buffers would be half the small container.
          command: ["postgres", "-c", `shared_buffers=${memory("db") / 4}MB`],
          volumes: [{ volume: "db", path: "/var/lib/postgresql/data" }],
          networks: ["internal"],
          // Over TCP: during first initialisation the server listens on its socket only.
          healthcheck: { test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", DB.user, "-d", DB.name], intervalSeconds: 10, startPeriodSeconds: 60 },
        },
        {
          name: "redis",
          image: IMAGES.redis,
          memoryMb: NEXTCLOUD_MEMORY.redis,
          // The password is in the rendered file, never on the command line (Pulumi keeps commands in clear).
          command: ["redis-server", REDIS_CONF],
          files: [REDIS_CONF],
          // redis-cli reads REDISCLI_AUTH, so the health check carries no password either.
          secretEnv: { REDISCLI_AUTH: NEXTCLOUD_SECRETS.redis },
          networks: ["internal"],
          healthcheck: { test: ["CMD-SHELL", "redis-cli ping | grep -q PONG"], intervalSeconds: 10 },
        },
        {
          name: "app",
          image: IMAGES.nextcloud,
          memoryMb: NEXTCLOUD_MEMORY.app,
          env: {
            ...runtimeEnv,
            PHP_MEMORY_LIMIT: `${PHP_MEMORY_LIMIT_MB}M`,
            POSTGRES_HOST: containerName("nextcloud", "db"),
            POSTGRES_DB: DB.name,
            POSTGRES_USER: DB.user,
            NEXTCLOUD_ADMIN_USER,
            NEXTCLOUD_TRUSTED_DOMAINS: host,
            // Apache keeps the proxy's address; Nextcloud reads the client's from X-Forwarded-For (trusted_proxies).
            APACHE_DISABLE_REWRITE_IP: "1",
          },
          secretEnv: {
            POSTGRES_PASSWORD: NEXTCLOUD_SECRETS.db,
            NEXTCLOUD_ADMIN_PASSWORD: NEXTCLOUD_SECRETS.admin,
            REDIS_HOST_PASSWORD: NEXTCLOUD_SECRETS.redis,
            ...smtpSecretEnv(mail),
          },
          volumes: [html],
          files: [CONFIG_SOURCE, CONFIG_HOOK, APACHE_WORKERS_CONF],
          networks: ["edge", "internal"],
          dependsOn: ["db", "redis"],
          // Healthy once installed: provisioning runs right after `pulumi up` waits for this.
          healthcheck: {
            test: ["CMD-SHELL", `curl -fsS http://localhost/status.php | grep -q '"installed":true'`],
            intervalSeconds: 30,
            startPeriodSeconds: 300,
          },
        },
        {
          name: "cron",
          image: IMAGES.nextcloud,
          memoryMb: NEXTCLOUD_MEMORY.cron,
          env: { ...runtimeEnv, PHP_MEMORY_LIMIT: `${PHP_MEMORY_LIMIT_MB}M` },
          // Background jobs send the notification mails.
          secretEnv: { REDIS_HOST_PASSWORD: NEXTCLOUD_SECRETS.redis, ...smtpSecretEnv(mail) },
          // The image's crond runs cron.php as www-data every 5 minutes.
          command: ["/cron.sh"],
          volumes: [html],
          // The edge network gives background jobs their way out (calendar subscriptions, app updates).
          networks: ["edge", "internal"],
          dependsOn: ["app"],
          healthcheck: { test: ["CMD-SHELL", "grep -qa crond /proc/1/cmdline"], intervalSeconds: 60 },
        },
      ],
      volumes: [
        {
          name: "html",
          path: HTML,
          holds:
            "Members' files, their trash and old versions; Nextcloud's log; config.php with the database password and instance keys; the program files",
        },
        {
          name: "db",
          path: "/var/lib/postgresql/data",
          holds: "Nextcloud's database: accounts, groups, shares, calendars and contacts, activity records, file metadata and settings",
        },
      ],
      secrets: nextcloudSecretNames(config).map((name) => ({ name, length: 32 })),
      providedSecrets: config.mail?.username ? [SMTP_PASSWORD_SECRET] : [],
      routes: [
        {
          host,
          upstream: `${containerName("nextcloud", "app")}:80`,
          vpnOnlyPaths: ADMIN_PATHS,
          vpnOnlyExceptions: NEXTCLOUD_PUBLIC_OCS,
          redirects: DAV_DISCOVERY,
        } satisfies ProxyRoute,
      ],
      files: (secrets) => [
        { container: "app", path: CONFIG_SOURCE, content: bastideConfigPhp(config, host), holdsSecrets: false, mode: "0644" },
        { container: "app", path: CONFIG_HOOK, content: configHookScript(CONFIG_SOURCE, CONFIG_TARGET), holdsSecrets: false, mode: "0755" },
        { container: "app", path: APACHE_WORKERS_CONF, content: apacheWorkersConf(APACHE_WORKERS[profile]), holdsSecrets: false, mode: "0644" },
        {
          container: "redis",
          path: REDIS_CONF,
          content: redisConf(secretValue(secrets, NEXTCLOUD_SECRETS.redis), (memory("redis") * 3) / 4),
          holdsSecrets: true,
          // redis-server reads it after dropping to the redis user; only Redis runs in that container.
          mode: "0644",
        },
      ],
    };
  },
};

function secretValue(secrets: Record<string, string>, name: string): string {
  const value = secrets[name];
  if (value === undefined) throw new Error(`nextcloud: no value for secret "${name}"`);
  return value;
}
