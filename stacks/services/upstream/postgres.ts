// PostgreSQL's official image (Synapse's and Nextcloud's database), postgres:17.11-alpine.
// Bastide stays on major 17: a new major needs pg_upgrade or a dump and restore of the data
// volume, which is a migration of its own, not a pin change.
//
// The built image (its Dockerfile as run, with user, PGDATA, volume, port and entrypoint)
// is recorded by docker-library/repo-info for this very tag and digest; the entrypoint's
// behaviour is read in docker-library/postgres at the newest commit that could be read here
// (it builds 17.9; the 17.x entrypoint is shared by every 17 patch release).
import type { ImageContract, Source } from "../image-contract.ts";

const RECORD: Source = { repo: "docker-library/repo-info", ref: "14ad5cc17dd0e9a01079feefc7a59c24536f5291", file: "repos/postgres/remote/17.11-alpine.md" };
const SOURCE = { repo: "docker-library/postgres", ref: "6edb0a8c4def40c371514b34aef9037ec82d9110" } as const;
const dockerfile = (line: Source["line"]): Source => ({ ...SOURCE, file: "17/alpine3.23/Dockerfile", line });
const entrypoint = (line: Source["line"]): Source => ({ ...SOURCE, file: "17/alpine3.23/docker-entrypoint.sh", line });

export const contract: ImageContract = {
  image: "postgres",
  tag: "17.11-alpine",
  digest: {
    value: "sha256:b0f9560a2de083e2cc7382e75f808c7381a32852a7ec49117deedb300e552b24",
    source: { ...RECORD, line: 4 },
    note: "The image index `docker pull postgres@sha256:…` line of the 17.11-alpine record (16 platforms).",
  },
  user: {
    value: { name: "postgres", uid: 70, startsAsRoot: true },
    source: entrypoint("336-339"),
    note: "adduser -u 70 (Dockerfile line 13); started as root, the entrypoint fixes ownership then re-execs itself through gosu postgres.",
  },
  init: { value: "docker-entrypoint.sh (bash), which execs postgres", source: dockerfile(200) },
  worksWithNoNewPrivileges: {
    value: true,
    source: entrypoint("336-339"),
    note: "gosu drops from root with setuid calls; no setuid binary is needed.",
  },
  capabilities: { value: [], source: entrypoint("37-60"), note: "chown and gosu use Docker's default CHOWN, FOWNER, SETUID and SETGID." },
  writablePaths: { value: [{ path: "/var/lib/postgresql/data", provide: "volume" }], source: dockerfile("193-196") },
  dataPaths: { value: ["/var/lib/postgresql/data"], source: dockerfile("193-196"), note: "PGDATA, and VOLUME /var/lib/postgresql/data." },
  configPaths: { value: [], source: entrypoint("261-280"), note: "Settings come as `-c` arguments; the entrypoint writes pg_hba.conf itself." },
  env: {
    value: [
      "POSTGRES_PASSWORD",
      "POSTGRES_PASSWORD_FILE",
      "POSTGRES_USER",
      "POSTGRES_USER_FILE",
      "POSTGRES_DB",
      "POSTGRES_DB_FILE",
      "POSTGRES_INITDB_ARGS",
      "POSTGRES_INITDB_ARGS_FILE",
      "POSTGRES_INITDB_WALDIR",
      "POSTGRES_HOST_AUTH_METHOD",
      "PGDATA",
      "PGPORT",
    ],
    source: entrypoint("235-240"),
    note: "file_env reads VAR and VAR_FILE (lines 5-30); POSTGRES_INITDB_WALDIR at 48, PGPORT at 292.",
  },
  allowsUserOverride: { value: true, source: entrypoint("66-83"), note: "initdb under an arbitrary uid goes through nss_wrapper." },
  ports: { value: [{ port: 5432, protocol: "tcp", purpose: "PostgreSQL" }], source: dockerfile(226) },
  health: {
    value: "pg_isready",
    source: dockerfile(153),
    note: "The image defines no HEALTHCHECK; pg_isready, PostgreSQL's readiness probe, is installed with the server (make install-world-bin).",
  },
};
