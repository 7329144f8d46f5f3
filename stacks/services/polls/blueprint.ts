// Polls (Framadate 1.1): date and opinion polls anyone with the link can answer,
// without an account. Every poll has an end date, at most defaultDurationDays away,
// and is deleted with its answers purgeDelayDays after it, by a daily purge that
// calls Framadate's own code (Framadate alone purges only when a poll is created).
import type { Association } from "../../config/schema.ts";
import { containerName, type MemoryMb, type Profile, type ServiceBlueprint, type ServiceModule } from "../blueprint.ts";
import { BUILT_IMAGES, IMAGES } from "../images.ts";
import { phpLiteral } from "../../platform/php.ts";
import { render } from "../../platform/templates.ts";
import { noticeAddress } from "../proxy/notices.ts";

/** The Framadate release the image is built from: docker/framadate/Dockerfile pins the same. */
export const FRAMADATE_VERSION = "1.1.19";
export const FRAMADATE_IMAGE = `${BUILT_IMAGES.framadate.name}:${FRAMADATE_VERSION}`;

/** Where the image installs Framadate, and so where its config goes. */
export const FRAMADATE_ROOT = "/var/www/html";
export const CONFIG_PATH = `${FRAMADATE_ROOT}/app/inc/config.php`;

export const DATABASE = { name: "framadate", user: "framadate", port: 3306 } as const;
export const SECRETS = { dbPassword: "db-password", dbRootPassword: "db-root-password" } as const;

/**
 * Framadate appends to ROOT_DIR . LOG_FILE, ROOT_DIR being the install folder:
 * three levels up from /var/www/html is /, so this lands on /dev/null.
 */
export const DISCARDED_LOG = "../../../dev/null";

const MEMORY = {
  app: { small: 128, standard: 256 },
  db: { small: 160, standard: 320 },
  purge: { small: 32, standard: 64 },
} as const satisfies Record<string, MemoryMb>;

/** Apache workers each hold a PHP interpreter (about 20 MiB): as many as the memory allows. */
const APACHE_WORKERS: MemoryMb = { small: 4, standard: 8 };

/** MariaDB's caches, sized to its container: the defaults assume a dedicated server. */
const MARIADB_TUNING: Record<Profile, string[]> = {
  small: ["--innodb-buffer-pool-size=32M", "--innodb-log-buffer-size=4M", "--aria-pagecache-buffer-size=8M", "--key-buffer-size=4M", "--max-connections=20"],
  standard: ["--innodb-buffer-pool-size=96M", "--innodb-log-buffer-size=8M", "--aria-pagecache-buffer-size=16M", "--key-buffer-size=8M", "--max-connections=40"],
};

export interface FramadateSettings {
  appUrl: string;
  appName: string;
  adminEmail: string;
  noReplyEmail: string;
  dbPassword: string;
  language: string;
  purgeDelayDays: number;
  defaultDurationDays: number;
  /** HTML printed at the end of every page: the link to the respondents' information notice. */
  footerHtml: string;
}

/**
 * Framadate has no setting for a legal link. `tracking_code` is the one piece of HTML it prints,
 * unescaped, at the end of every page (framasoft/framadate 1.1.19, app/inc/smarty.php 37-39 and
 * tpl/page.tpl 49-51): Bastide puts there the link to the respondents' notice, in both languages,
 * and never a script.
 */
export function noticeFooter(host: string): string {
  const fr = noticeAddress(host, "notice-respondents", "fr");
  const en = noticeAddress(host, "notice-respondents", "en");
  return `<p class="text-center small"><a href="${fr}" lang="fr">Vos données : notice d'information</a> · <a href="${en}" lang="en">Your data: privacy notice</a></p>`;
}

export function framadateSettings(config: Association, host: string, dbPassword: string): FramadateSettings {
  return {
    appUrl: host,
    appName: config.organisation.name,
    adminEmail: config.organisation.contact,
    noReplyEmail: `no-reply@${config.domain}`,
    dbPassword,
    language: config.organisation.language,
    purgeDelayDays: config.services.polls.purgeDelayDays,
    defaultDurationDays: config.services.polls.defaultDurationDays,
    footerHtml: noticeFooter(host),
  };
}

/** Framadate's app/inc/config.php. */
export function framadateConfig(settings: FramadateSettings): string {
  const dsn = `mysql:host=${containerName("polls", "db")};port=${DATABASE.port};dbname=${DATABASE.name};charset=utf8mb4`;
  return render("polls/config.php", {
    appUrl: phpLiteral(settings.appUrl),
    appName: phpLiteral(settings.appName),
    adminEmail: phpLiteral(settings.adminEmail),
    noReplyEmail: phpLiteral(settings.noReplyEmail),
    dbUser: phpLiteral(DATABASE.user),
    dbPassword: phpLiteral(settings.dbPassword),
    dbConnectionString: phpLiteral(dsn),
    migrationTable: phpLiteral("framadate_migration"),
    tablePrefix: phpLiteral("fd_"),
    defaultLanguage: phpLiteral(settings.language),
    logFile: phpLiteral(DISCARDED_LOG),
    purgeDelayDays: wholeDays(settings.purgeDelayDays),
    defaultDurationDays: wholeDays(settings.defaultDurationDays),
    footerHtml: phpLiteral(settings.footerHtml),
  });
}

/** Numbers go into PHP code unquoted: only a positive whole number may. */
function wholeDays(days: number): string {
  if (!Number.isSafeInteger(days) || days < 1) throw new Error(`expected a whole number of days, got ${days}`);
  return String(days);
}

export const polls: ServiceModule = {
  name: "polls",
  enabled: (config) => config.services.polls.enabled,
  blueprint: (config, { profile, hostnames }): ServiceBlueprint => {
    const host = hostnames.polls;
    const app = containerName("polls", "app");
    return {
      service: "polls",
      title: "Sondages (Framadate)",
      containers: [
        {
          name: "db",
          image: IMAGES.mariadb,
          memoryMb: MEMORY.db,
          env: {
            MARIADB_DATABASE: DATABASE.name,
            MARIADB_USER: DATABASE.user,
            // Upgrades the system tables when a newer pinned image starts on old data.
            MARIADB_AUTO_UPGRADE: "1",
            MARIADB_INITDB_SKIP_TZINFO: "1",
          },
          secretEnv: { MARIADB_PASSWORD: SECRETS.dbPassword, MARIADB_ROOT_PASSWORD: SECRETS.dbRootPassword },
          command: [
            "mariadbd",
            ...MARIADB_TUNING[profile],
            // Framadate declares its tables `utf8`; without this MariaDB reads that as
            // 3-byte utf8mb3 and refuses names and answers with emoji.
            "--old-mode=",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            "--skip-name-resolve",
          ],
          volumes: [{ volume: "db", path: "/var/lib/mysql" }],
          networks: ["internal"],
          healthcheck: {
            test: ["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"],
            intervalSeconds: 10,
            retries: 6,
            startPeriodSeconds: 30,
          },
        },
        {
          name: "app",
          image: FRAMADATE_IMAGE,
          build: "framadate",
          memoryMb: MEMORY.app,
          env: { FRAMADATE_MAX_WORKERS: String(APACHE_WORKERS[profile]) },
          files: [CONFIG_PATH],
          networks: ["edge", "internal"],
          dependsOn: ["db"],
          // Without the database Framadate redirects to maintenance.php: a redirect is a failure.
          healthcheck: {
            test: ["CMD", "curl", "-fsS", "-o", "/dev/null", "--max-time", "5", "-L", "--max-redirs", "0", "http://127.0.0.1/"],
            intervalSeconds: 30,
            retries: 3,
            startPeriodSeconds: 60,
          },
        },
        {
          name: "purge",
          image: FRAMADATE_IMAGE,
          build: "framadate",
          memoryMb: MEMORY.purge,
          command: ["bastide-purge-loop"],
          files: [CONFIG_PATH],
          networks: ["internal"],
          // After the app, whose start created the schema the purge reads.
          dependsOn: ["app"],
          healthcheck: { test: ["CMD", "bastide-purge-loop", "--check"], intervalSeconds: 30, retries: 3, startPeriodSeconds: 60 },
        },
      ],
      volumes: [
        {
          name: "db",
          path: "/var/lib/mysql",
          holds:
            "Polls (title, description, creator's name), their dates and choices, participants' names, answers and comments; each poll deleted " +
            `${config.services.polls.purgeDelayDays} days after its end date`,
        },
      ],
      secrets: [
        { name: SECRETS.dbPassword, length: 32 },
        { name: SECRETS.dbRootPassword, length: 32 },
      ],
      routes: [
        {
          host,
          upstream: `${app}:80`,
          vpnOnlyPaths: ["/admin", "/admin/*"],
          // Poll links are shared by hand; search engines have no business with them.
          headers: { "X-Robots-Tag": "noindex, nofollow" },
        },
      ],
      files: (secrets) => {
        const dbPassword = secrets[SECRETS.dbPassword];
        if (dbPassword === undefined) throw new Error(`polls: secret "${SECRETS.dbPassword}" is missing`);
        const content = framadateConfig(framadateSettings(config, host, dbPassword));
        // The app and the purge both read it; their entrypoint makes it root:www-data 0640.
        return ["app", "purge"].map((container) => ({ container, path: CONFIG_PATH, content, holdsSecrets: true, mode: "0640" }));
      },
    };
  },
};
