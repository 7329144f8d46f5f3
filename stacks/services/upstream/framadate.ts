// The Framadate image Bastide builds itself (docker/framadate) on PHP's official
// php:8.2.34-apache image. Its facts are read in this repository's Dockerfile and scripts,
// and, for the base, in docker-library/repo-info's record of the pinned tag and digest.
import type { ImageContract, Source } from "../image-contract.ts";

/** Facts about the image Bastide builds are read in this repository, at the same commit. */
const own = (file: string, line: Source["line"]): Source => ({ repo: "bastide", ref: "this commit", file: `docker/framadate/${file}`, line });
const BASE_RECORD: Source = { repo: "docker-library/repo-info", ref: "720356a405b4a59bd4a90a07a8d2d51c8cf49cf9", file: "repos/php/remote/8.2.34-apache.md" };

export const contract: ImageContract = {
  image: "framadate",
  tag: "1.1.19",
  digest: {
    value: "sha256:72210a02e2e7bb1ad4db65ba0cf4bd70024768396c3d35634c42495b3513e3eb",
    source: { ...BASE_RECORD, line: 4 },
    note: "Digest of the base, php:8.2.34-apache (FRAMADATE_BASE): the image index line of its record (12 platforms).",
  },
  user: {
    value: { name: "www-data", uid: 33, startsAsRoot: true },
    source: own("entrypoint.sh", "11-28"),
    note: "Starts as root to secure the uploaded config and bind port 80; migrations and the purge run through setpriv as www-data, Apache serves from www-data workers.",
  },
  init: { value: "bastide-entrypoint (sh), which execs docker-php-entrypoint apache2-foreground", source: own("Dockerfile", "90-91") },
  worksWithNoNewPrivileges: {
    value: true,
    source: own("entrypoint.sh", "14-28"),
    note: "setpriv and Apache's own switch to www-data are setuid calls made as root; no setuid binary is executed.",
  },
  capabilities: { value: [], source: own("entrypoint.sh", "36-39"), note: "chown and the switch to www-data use Docker's default capabilities." },
  writablePaths: {
    value: [],
    source: own("Dockerfile", "60-68"),
    note: "Only Smarty's tpl_c is written, inside the image's own file system; polls live in MariaDB.",
  },
  dataPaths: { value: [], source: own("Dockerfile", "60-68") },
  configPaths: { value: ["/var/www/html/app/inc/config.php"], source: own("entrypoint.sh", "8-10") },
  env: {
    value: [
      "FRAMADATE_MAX_WORKERS",
      "FRAMADATE_ROOT",
      "BASTIDE_LIB",
      "BASTIDE_RUN_AS",
      "BASTIDE_PURGE_SCRIPT",
      "BASTIDE_PURGE_STAMP",
      "BASTIDE_PURGE_INTERVAL_SECONDS",
      "BASTIDE_PURGE_RETRY_SECONDS",
      "BASTIDE_PURGE_TIMEOUT_SECONDS",
      "BASTIDE_PURGE_RUNS",
      "BASTIDE_PURGE_MEMORY_LIMIT",
    ],
    source: own("entrypoint.sh", "8-11"),
    note: "FRAMADATE_MAX_WORKERS is read by apache-bastide.conf (lines 8-9); BASTIDE_PURGE_* by purge-loop.sh (lines 8-16).",
  },
  allowsUserOverride: { value: false, source: own("entrypoint.sh", "36-39"), note: "Only root can make the uploaded config root:www-data 0640." },
  ports: { value: [{ port: 80, protocol: "tcp", purpose: "Apache serving Framadate" }], source: BASE_RECORD, note: "EXPOSE 80/tcp of php:8.2.34-apache." },
  health: {
    value: "curl -fsS http://127.0.0.1/",
    source: BASE_RECORD,
    note: "The base defines no HEALTHCHECK; it installs curl. Framadate answers its poll page at /.",
  },
  healthByCommand: {
    value: { "bastide-purge-loop": "bastide-purge-loop --check" },
    source: own("purge-loop.sh", "18-22"),
    note: "--check is true while the last successful purge is younger than one interval, one run and an hour.",
  },
};
