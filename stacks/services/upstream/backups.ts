// The backup job's image Bastide builds itself (docker/backups) on PostgreSQL's official
// postgres:17.11-bookworm image. Its facts are read in this repository's Dockerfile and in the
// program the stack uploads (templates/backups/bastide-backup.sh.hbs), and, for the base, in
// docker-library/repo-info's record of the pinned tag and digest.
import type { ImageContract, Source } from "../image-contract.ts";

/** Facts about the image Bastide builds are read in this repository, at the same commit. */
const own = (file: string, line?: Source["line"]): Source => ({ repo: "bastide", ref: "this commit", file, ...(line ? { line } : {}) });
const dockerfile = (line: Source["line"]) => own("docker/backups/Dockerfile", line);
const script = (line: Source["line"]) => own("templates/backups/bastide-backup.sh.hbs", line);
const BASE_RECORD: Source = { repo: "docker-library/repo-info", ref: "0b63eeca29bdd695a0db3d3249137b9929da650d", file: "repos/postgres/remote/17.11-bookworm.md" };

export const contract: ImageContract = {
  image: "backups",
  tag: "17.11-restic0.14.0",
  digest: {
    value: "sha256:639ab7ceb90e13123085b741fb31ef493fba25463002f6da665352e7b534b652",
    source: { ...BASE_RECORD, line: 4 },
    note: "Digest of the base, postgres:17.11-bookworm (BACKUPS_BASE): the image index line of its record (10 platforms).",
  },
  user: {
    value: { name: "root", uid: 0, startsAsRoot: true },
    source: BASE_RECORD,
    note: "The base sets no USER; the job stays root to read every service's files, whoever owns them, from read-only mounts.",
  },
  init: { value: "bastide-backup schedule (bash): the base's entrypoint is cleared", source: dockerfile("28-29") },
  worksWithNoNewPrivileges: { value: true, source: dockerfile("28-29"), note: "No setuid program runs: no gosu, no su; ssh, restic and the dump tools run as root." },
  capabilities: { value: [], source: dockerfile("24-27"), note: "Reading files, TCP to the databases and the destination: Docker's default set." },
  writablePaths: {
    value: [
      { path: "/var/lib/bastide-backups", provide: "volume" },
      { path: "/backup", provide: "volume" },
    ],
    source: own("stacks/backups/layout.ts"),
    note: "STATE_DIR (status, restic's cache, the lock) and SNAPSHOT_ROOT (the dumps and the manifest of the running backup); mktemp's scratch in /tmp.",
  },
  dataPaths: { value: ["/var/lib/bastide-backups"], source: own("stacks/backups/layout.ts"), note: "STATE_VOLUME: the status and the drill records, which the audit reads." },
  configPaths: {
    value: ["/usr/local/bin/bastide-backup", "/run/bastide-backups/"],
    source: own("stacks/backups/layout.ts"),
    note: "JOB_COMMAND (the program, rendered by the stack) and SECRET_DIR (repository password, SSH key, known host, msmtp's configuration).",
  },
  env: {
    value: ["BASTIDE_DB_PASSWORD_NEXTCLOUD_DB", "BASTIDE_DB_PASSWORD_MATRIX_DB", "BASTIDE_DB_PASSWORD_IDENTITY_DB", "BASTIDE_DB_PASSWORD_POLLS_DB", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "BASTIDE_SMTP_PASSWORD"],
    source: script(134),
    note: "One database password per dump (stacks/backups/job.ts, passwordVariable), handed to pg_dump as PGPASSWORD and to mariadb-dump as MYSQL_PWD; restic reads the S3 keys (restic.ts, S3_KEY_ENV), msmtp's passwordeval the relay's password (templates/backups/msmtprc.hbs).",
  },
  allowsUserOverride: { value: false, source: BASE_RECORD, note: "Another user could not read the services' volumes." },
  ports: { value: [], source: dockerfile("28-29"), note: "Listens on nothing: it only connects out. The base's EXPOSE 5432 has no server behind it." },
  healthByCommand: {
    value: {},
    source: script("1-8"),
    note: "No health check: a failed run is in the status file, which the audit reads (last good backup younger than N hours).",
  },
};
