// The official Nextcloud image, nextcloud:34.0.4-apache, used for the app and its cron. Its
// files are nextcloud/docker's 34/apache/ (read at 4de1eed, which built 34.0.2; 34.0.4 runs the
// same Dockerfile lines, as docker-library/repo-info's record of the tag shows), on
// php:8.5-apache-trixie. Nextcloud's own behaviour is read in a complete 34.0.1 tree
// (nareshbaburoddam/nextcloud-latest, folder nextcloud/).
import type { ImageContract, Source } from "../image-contract.ts";

const DOCKER = (file: string, line: Source["line"]): Source => ({ repo: "nextcloud/docker", ref: "4de1eed", file: `34/apache/${file}`, line });
const SERVER = (file: string, line: Source["line"]): Source => ({ repo: "nareshbaburoddam/nextcloud-latest", ref: "fc9e833", file: `nextcloud/${file}`, line });
const RECORD: Source = { repo: "docker-library/repo-info", ref: "00eae81e8aa3e78e568cb03253ceda7977658581", file: "repos/nextcloud/remote/34.0.4-apache.md" };

const facts = {
  image: "nextcloud",
  tag: "34.0.4-apache",
  digest: { value: "sha256:63c1924fe431909541a7f4320a693d8502768998b5bd113284be922acf645d75", source: { ...RECORD, line: 4 } },
  user: {
    value: { name: "www-data", uid: 33, startsAsRoot: true },
    source: DOCKER("entrypoint.sh", "14-21"),
    note: "The entrypoint starts as root and runs occ as www-data (run_as, su); Apache drops to APACHE_RUN_USER www-data (lines 143-161).",
  },
  init: {
    value: "/entrypoint.sh (install or upgrade, hooks of /docker-entrypoint-hooks.d/), then exec apache2-foreground; /cron.sh execs busybox crond",
    source: DOCKER("Dockerfile", "183-184"),
  },
  worksWithNoNewPrivileges: {
    value: true,
    source: DOCKER("entrypoint.sh", "14-21"),
    note: "Only root dropping to www-data (su, Apache's User): no setuid or file capability is needed to gain anything.",
  },
  capabilities: {
    value: [],
    source: DOCKER("entrypoint.sh", "200-206"),
    note: "rsync --chown, su and Apache's bind to 80 use CHOWN, SETUID, SETGID and NET_BIND_SERVICE, all in Docker's default set.",
  },
  writablePaths: { value: [{ path: "/var/www/html", provide: "volume" as const }], source: DOCKER("Dockerfile", 135) },
  dataPaths: {
    value: ["/var/www/html"],
    source: DOCKER("entrypoint.sh", "206-212"),
    note: "The program, config/config.php (instance secrets) and data/ (members' files) all live under the html volume.",
  },
  configPaths: {
    value: ["/var/www/html/config/", "/docker-entrypoint-hooks.d/", "/etc/apache2/conf-enabled/"],
    source: DOCKER("entrypoint.sh", "23-50"),
    note:
      "Nextcloud merges every config/*.config.php over config.php (lib/private/Config.php); the entrypoint runs the executable " +
      "hooks of each folder (run_path, before-starting at line 327); Debian's apache2.conf includes conf-enabled/*.conf last.",
  },
  env: {
    value: [
      "PHP_MEMORY_LIMIT",
      "PHP_UPLOAD_LIMIT",
      "PHP_OPCACHE_MEMORY_CONSUMPTION",
      "APACHE_BODY_LIMIT",
      "APACHE_DISABLE_REWRITE_IP",
      "POSTGRES_HOST",
      "POSTGRES_DB",
      "POSTGRES_USER",
      "POSTGRES_PASSWORD",
      "NEXTCLOUD_ADMIN_USER",
      "NEXTCLOUD_ADMIN_PASSWORD",
      "NEXTCLOUD_TRUSTED_DOMAINS",
      "REDIS_HOST",
      "REDIS_HOST_PASSWORD",
      "OVERWRITEPROTOCOL",
      "OVERWRITEHOST",
      "OVERWRITECLIURL",
      "TRUSTED_PROXIES",
      "FORWARDED_FOR_HEADERS",
      "SMTP_HOST",
      "SMTP_SECURE",
      "SMTP_PORT",
      "SMTP_AUTHTYPE",
      "SMTP_NAME",
      "SMTP_PASSWORD",
      "MAIL_FROM_ADDRESS",
      "MAIL_DOMAIN",
    ],
    source: DOCKER("entrypoint.sh", "137-274"),
    note:
      "PHP_* and APACHE_BODY_LIMIT: Dockerfile 22-24, 147; POSTGRES_*: config/autoconfig.php 23-28; REDIS_*: config/redis.config.php 2-8; " +
      "OVERWRITE*, TRUSTED_PROXIES, FORWARDED_FOR_HEADERS: config/reverse-proxy.config.php 2-32; SMTP_*, MAIL_*: config/smtp.config.php 2-15.",
  },
  ports: { value: [{ port: 80, protocol: "tcp" as const, purpose: "Apache with mod_php" }], source: DOCKER("Dockerfile", 1), note: "EXPOSE 80 of the php:8.5-apache base." },
  health: {
    value: "curl -fsS http://localhost/status.php",
    source: SERVER("status.php", "25-46"),
    note: 'Upstream\'s image has no HEALTHCHECK; status.php answers JSON with "installed": true once the install is done.',
  },
  healthByCommand: {
    value: { "/cron.sh": "grep -qa crond /proc/1/cmdline" },
    source: DOCKER("cron.sh", 4),
    note: "cron.sh execs busybox crond as PID 1; upstream documents no check, this one asks whether PID 1 is still crond.",
  },
  documentedMemoryMb: {
    value: 512,
    source: SERVER("lib/private/MemoryInfo.php", 18),
    note:
      "Per PHP process: RECOMMENDED_MEMORY_LIMIT, also the image's PHP_MEMORY_LIMIT (Dockerfile 22); below it every occ warns. " +
      "Apache's workers share a 128M opcache and an 8M JIT buffer (Dockerfile 24, 103-111).",
  },
};

// Through a variable, so that healthByCommand, a field the image-contract work adds to the type,
// is accepted before and after both are merged.
export const contract: ImageContract = facts;
