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
import { render } from "../../platform/templates.ts";
import { EDGE_NETWORK } from "../../platform/network.ts";

/**
 * The install-time admin account, used by automation only; staff admins get their own
 * accounts in the `admin` group. The leading underscore keeps it out of the member ids'
 * alphabet, so no member can collide with it.
 */
export const NEXTCLOUD_ADMIN_USER = "_bastide";

/**
 * The group two-factor login is enforced for: the association's admins, never the service
 * account. Not `admin` itself: the service account is in `admin`, and an enforced group
 * overrules an excluded one (lib/private/Authentication/TwoFactorAuth/MandatoryTwoFactor.php,
 * 34.0.1, isEnforcedFor, lines 53-82; recorded in two-factor-enforcement.json), so enforcing
 * for `admin` locks provisioning out whatever is excluded. The leading underscore keeps it
 * out of the team ids' alphabet.
 */
export const NEXTCLOUD_TWO_FACTOR_GROUP = "_admins-2fa";

/** Where and as whom `occ` runs: the app container, as Apache's user, in Nextcloud's folder. */
export const NEXTCLOUD_OCC = { container: "app", user: "www-data", workingDir: "/var/www/html" } as const;

export const NEXTCLOUD_SECRETS = { db: "db-password", admin: "admin-password", redis: "redis-password" } as const;

export const NEXTCLOUD_MEMORY = {
  app: { small: 512, standard: 1024 },
  cron: { small: 192, standard: 384 },
  db: { small: 256, standard: 512 },
  redis: { small: 64, standard: 128 },
} as const satisfies Record<string, MemoryMb>;

const HTML = "/var/www/html";
const DB = { name: "nextcloud", user: "nextcloud" } as const;
/** Uploaded outside the html volume and copied in by the hook below (see the hook's template for why). */
export const CONFIG_SOURCE = "/opt/bastide/bastide.config.php";
export const CONFIG_TARGET = `${HTML}/config/bastide.config.php`;
/** The official image runs executable before-starting hooks as www-data, after install or upgrade. */
export const CONFIG_HOOK = "/docker-entrypoint-hooks.d/before-starting/50-bastide-config.sh";
export const REDIS_CONF = "/usr/local/etc/redis/redis.conf";

/** Admin pages: reachable from the VPN only. Personal settings (/settings/user/…, where 2FA is set up) stay open. */
export const ADMIN_PATHS = ["/settings/admin*", "/settings/users*", "/settings/apps*"].flatMap((p) => [p, `/index.php${p}`]);

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

const shellQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

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

/** memory_limit per PHP process: a share of the container, in 32 MiB steps. */
const phpMemoryLimit = (containerMb: number, share: number) => `${Math.floor((containerMb * share) / 32) * 32}M`;

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
            PHP_MEMORY_LIMIT: phpMemoryLimit(memory("app"), 1 / 2),
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
          files: [CONFIG_SOURCE, CONFIG_HOOK],
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
          env: { ...runtimeEnv, PHP_MEMORY_LIMIT: phpMemoryLimit(memory("cron"), 2 / 3) },
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
      secrets: Object.values(NEXTCLOUD_SECRETS).map((name) => ({ name, length: 32 })),
      providedSecrets: config.mail?.username ? [SMTP_PASSWORD_SECRET] : [],
      routes: [{ host, upstream: `${containerName("nextcloud", "app")}:80`, vpnOnlyPaths: ADMIN_PATHS } satisfies ProxyRoute],
      files: (secrets) => [
        { container: "app", path: CONFIG_SOURCE, content: bastideConfigPhp(config, host), holdsSecrets: false, mode: "0644" },
        { container: "app", path: CONFIG_HOOK, content: configHookScript(CONFIG_SOURCE, CONFIG_TARGET), holdsSecrets: false, mode: "0755" },
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
