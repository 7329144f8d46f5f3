// MariaDB's official image (Framadate's database), mariadb:11.8.9: the newest release of
// the 11.8 long-term series (docker-library/repo-info has no 11.8.10).
//
// The built image is recorded by docker-library/repo-info for this tag and digest; the
// entrypoint and health check are read in MariaDB/mariadb-docker's 11.8 folder at the newest
// commit that could be read here (it builds 11.8.8; the folder serves every 11.8 release).
import type { ImageContract, Source } from "../image-contract.ts";

const RECORD: Source = { repo: "docker-library/repo-info", ref: "28b7129f06fb1aa51ff238e2fe58f8c05fda7147", file: "repos/mariadb/remote/11.8.9.md" };
const SOURCE = { repo: "MariaDB/mariadb-docker", ref: "1b6429ba3544e134715c15f8c56cc6f665f827c9" } as const;
const dockerfile = (line: Source["line"]): Source => ({ ...SOURCE, file: "11.8/Dockerfile", line });
const entrypoint = (line: Source["line"]): Source => ({ ...SOURCE, file: "11.8/docker-entrypoint.sh", line });

export const contract: ImageContract = {
  image: "mariadb",
  tag: "11.8.9",
  digest: {
    value: "sha256:2d2f4095530294735a857cfe22bb101e19b0849b416911c796ec4aa81b164a62",
    source: { ...RECORD, line: 4 },
    note: "The image index `docker pull mariadb@sha256:…` line of the 11.8.9 record (8 platforms).",
  },
  user: {
    value: { name: "mysql", uid: 999, startsAsRoot: true },
    source: entrypoint("696-700"),
    note:
      "Created by `useradd -r` (Dockerfile line 5), which takes the highest free system id, 999 on Ubuntu 24.04; " +
      "started as root, the entrypoint re-execs itself through gosu mysql.",
  },
  init: { value: "docker-entrypoint.sh (bash), which execs mariadbd", source: dockerfile(141) },
  worksWithNoNewPrivileges: {
    value: true,
    source: entrypoint("696-700"),
    note: "gosu drops from root with setuid calls; no setuid binary is needed.",
  },
  capabilities: { value: [], source: entrypoint("202-215"), note: "chown and gosu use Docker's default capabilities." },
  writablePaths: { value: [{ path: "/var/lib/mysql", provide: "volume" }], source: dockerfile(137) },
  dataPaths: { value: ["/var/lib/mysql"], source: dockerfile(137), note: "VOLUME /var/lib/mysql." },
  configPaths: {
    value: ["/etc/mysql/conf.d/"],
    source: dockerfile("130-134"),
    note: "/etc/mysql/conf.d is read after mariadb.conf.d, the \"mount-point per documentation\"; Bastide passes its settings as mariadbd arguments and uploads no file.",
  },
  env: {
    value: [
      "MARIADB_ROOT_PASSWORD",
      "MARIADB_ROOT_PASSWORD_HASH",
      "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD",
      "MARIADB_RANDOM_ROOT_PASSWORD",
      "MARIADB_ROOT_HOST",
      "MARIADB_DATABASE",
      "MARIADB_USER",
      "MARIADB_PASSWORD",
      "MARIADB_PASSWORD_HASH",
      "MARIADB_USER_HOST",
      "MARIADB_INITDB_SKIP_TZINFO",
      "MARIADB_AUTO_UPGRADE",
      "MARIADB_DISABLE_UPGRADE_BACKUP",
      "MARIADB_HEALTHCHECK_GRANTS",
      "MARIADB_MYSQL_LOCALHOST_USER",
      "MARIADB_MYSQL_LOCALHOST_GRANTS",
      "MARIADB_REPLICATION_USER",
      "MARIADB_REPLICATION_PASSWORD",
      "MARIADB_REPLICATION_PASSWORD_HASH",
      "MARIADB_MASTER_HOST",
      "MARIADB_MASTER_PORT",
    ],
    source: entrypoint("260-295"),
    note: "docker_setup_env; MARIADB_AUTO_UPGRADE at 595, MARIADB_INITDB_SKIP_TZINFO at 370. MYSQL_* aliases are also read.",
  },
  allowsUserOverride: { value: true, source: entrypoint("696-700"), note: "The switch to mysql happens only when started as root." },
  ports: { value: [{ port: 3306, protocol: "tcp", purpose: "MariaDB" }], source: dockerfile(143) },
  health: {
    value: "healthcheck.sh --connect --innodb_initialized",
    source: { ...SOURCE, file: "11.8/healthcheck.sh", line: "58-130" },
    note: "Installed as /usr/local/bin/healthcheck.sh (Dockerfile line 139); --connect and --innodb_initialized are its tests.",
  },
};
