// Keycloak's image, quay.io/keycloak/keycloak: the server distribution in /opt/keycloak on
// UBI 9 micro, started by bin/kc.sh.
//
// keycloak/keycloak cannot be brought here whole at tag 26.7.3 (its snapshot is 871 MB, over
// the 500 MB that `fetch` brings), so the facts come from two places, each named below:
// - what the distribution itself does (bin/kc.sh, the options and their KC_ variables) is read
//   in, and run from, the 26.7.3 server distribution on Maven Central
//   (org.keycloak:keycloak-quarkus-dist:26.7.3), which is the image's /opt/keycloak: cited at
//   the file's path in the repository, quarkus/dist/src/main/content/;
// - what only the image adds (base, user, entrypoint, exposed ports) and the guides are read
//   from the public index, which keeps files at the commits named below, not at tags. Re-read
//   quarkus/container/Dockerfile at the tag on the next update.
import type { ImageContract, Source } from "../image-contract.ts";

const REPO = "keycloak/keycloak";
/** The distribution of the pinned release: read here, and run by the tests. */
const DIST = (file: string, line?: Source["line"]): Source => ({ repo: REPO, ref: "26.7.3", file: `quarkus/dist/src/main/content/${file}`, ...(line ? { line } : {}) });
/** The newest ubi9-micro Dockerfile the index holds (it builds 22.0.11; the user, base and entrypoint lines are unchanged since). */
const DOCKERFILE = (line: Source["line"]): Source => ({ repo: REPO, ref: "0463815bc93acbe22cf0b347af7cbd11e5a56d65", file: "quarkus/container/Dockerfile", line });
const HEALTH_GUIDE = (line: Source["line"]): Source => ({ repo: REPO, ref: "00ee7505fa5f7a56d29e2a3d2f0e992d354a3e82", file: "docs/guides/observability/health.adoc", line });
const SIZING_GUIDE = (line: Source["line"]): Source => ({
  repo: REPO,
  ref: "1274cb8b29d8ffa8e5771787584621a712916ad6",
  file: "docs/guides/high-availability/concepts-memory-and-cpu-sizing.adoc",
  line,
});

/** Where the image installs Keycloak; `kc.sh start` writes its build (lib/quarkus) and data/ beside it. */
export const KEYCLOAK_HOME = "/opt/keycloak";
/** The management interface, where the health endpoints are (`http-management-port`, default 9000). */
export const KEYCLOAK_MANAGEMENT_PORT = 9000;
export const KEYCLOAK_HTTP_PORT = 8080;

/**
 * Upstream's container health check: the image has bash but no HTTP client, so bash's own
 * /dev/tcp sends a HEAD to the readiness endpoint of the management port.
 */
export const KEYCLOAK_HEALTH_COMMAND = `{ printf 'HEAD /health/ready HTTP/1.0\\r\\n\\r\\n' >&0; grep 'HTTP/1.0 200'; } 0<>/dev/tcp/localhost/${KEYCLOAK_MANAGEMENT_PORT}`;

export const contract: ImageContract = {
  image: "keycloak",
  tag: "26.7.3",
  unverifiedDigest:
    "quay.io publishes no digest list and Keycloak's release notes record none: pinned by the exact release tag, " +
    "whose server distribution (Maven Central, org.keycloak:keycloak-quarkus-dist:26.7.3) the tests run.",
  user: {
    value: { name: "keycloak", uid: 1000, startsAsRoot: false },
    source: DOCKERFILE("28-31"),
    note: "`keycloak:x:1000:0` is added to /etc/passwd and the image ends with `USER 1000`; /opt/keycloak is copied --chown=1000:0 (line 26).",
  },
  init: {
    value: "/opt/keycloak/bin/kc.sh (bash), which execs java",
    source: DOCKERFILE(36),
    note: "ENTRYPOINT [\"/opt/keycloak/bin/kc.sh\"]: the container's command is kc.sh's (start, start-dev, build...). kc.sh ends with `eval exec java` (kc.sh 177 at 26.7.3).",
  },
  worksWithNoNewPrivileges: {
    value: true,
    source: DOCKERFILE("28-31"),
    note: "Runs as uid 1000 from the first instruction to the last: no privilege change, no setuid binary.",
  },
  capabilities: { value: [], source: DOCKERFILE("33-34"), note: "Listens on 8080/8443 (and 9000) only: no privileged port, no capability." },
  writablePaths: {
    value: [],
    source: DIST("bin/kc.sh", "96-108"),
    note:
      "`kc.sh start` without --optimized first re-builds the server for the build options it is given (KC_DB, KC_HEALTH_ENABLED, KC_CACHE) " +
      "into /opt/keycloak/lib/quarkus, and keeps transaction logs and temporary files in /opt/keycloak/data: both in the container's own " +
      "layer, which /opt/keycloak's ownership (1000:0) lets it write. Nothing there outlives the container: with KC_DB=postgres every " +
      "realm, user and session is in the database.",
  },
  dataPaths: {
    value: [],
    source: DIST("conf/keycloak.conf", "3-15"),
    note: "With an external database (KC_DB=postgres, the conf's first settings, \"for running in production\") Keycloak keeps no state in the image: the database container's volume holds it.",
  },
  configPaths: {
    value: [`${KEYCLOAK_HOME}/conf/`],
    source: DIST("conf/keycloak.conf", 1),
    note: "Bastide uploads nothing: every option is a KC_ variable, which `kc.sh show-config` reports as read from ENV (test/services/identity.test.ts).",
  },
  env: {
    value: [
      "KC_DB",
      "KC_DB_URL",
      "KC_DB_USERNAME",
      "KC_DB_PASSWORD",
      "KC_HOSTNAME",
      "KC_PROXY_HEADERS",
      "KC_HTTP_ENABLED",
      "KC_HTTP_PORT",
      "KC_HEALTH_ENABLED",
      "KC_CACHE",
      "KC_BOOTSTRAP_ADMIN_USERNAME",
      "KC_BOOTSTRAP_ADMIN_PASSWORD",
      "KC_RUN_IN_CONTAINER",
      "JAVA_OPTS",
      "JAVA_OPTS_KC_HEAP",
      "JAVA_OPTS_APPEND",
    ],
    source: DIST("bin/kc.sh", "89-134"),
    note:
      "Every option `--name` is read from KC_NAME (upper case, - as _): the options are those `kc.sh start --help-all` lists at 26.7.3 " +
      "(db, db-url, db-username, db-password, hostname, proxy-headers, http-enabled, http-port, health-enabled, cache, bootstrap-admin-username, " +
      "bootstrap-admin-password); kc.sh itself reads KC_RUN_IN_CONTAINER and the JAVA_OPTS variables (lines 89-134).",
  },
  allowsUserOverride: {
    value: true,
    source: DOCKERFILE("16-17"),
    note: "`chmod -R g+rwX /opt/keycloak` and group 0: any uid in group root can write what Keycloak writes (the OpenShift convention).",
  },
  ports: {
    value: [
      { port: KEYCLOAK_HTTP_PORT, protocol: "tcp", purpose: "HTTP (with KC_HTTP_ENABLED=true, behind a TLS-terminating proxy)", configuredBy: { env: "KC_HTTP_PORT" } },
      { port: 8443, protocol: "tcp", purpose: "HTTPS (unused: the proxy terminates TLS)" },
      { port: KEYCLOAK_MANAGEMENT_PORT, protocol: "tcp", purpose: "management interface: health endpoints (KC_HEALTH_ENABLED=true)" },
    ],
    source: HEALTH_GUIDE("11-12"),
    note:
      "8080 and 8443 are `--http-port` and `--https-port` defaults, 9000 the `--http-management-port` default (`kc.sh start --help-all`, 26.7.3); " +
      "\"The Keycloak health checks are exposed on the management port 9000 by default\" (the guide).",
  },
  health: {
    value: KEYCLOAK_HEALTH_COMMAND,
    source: HEALTH_GUIDE("89-96"),
    note:
      "\"While the Keycloak container does not have any CLI HTTP clients installed, it is possible to leverage BASH support for redirects to TCP sockets\" " +
      "(line 91); no curl in the image: \"security measures that remove curl and other packages\" (line 66).",
  },
  documentedMemoryMb: {
    value: 1360,
    source: SIZING_GUIDE("31-34"),
    note:
      "\"The base memory usage for a Pod including caches of Realm data and 10,000 cached sessions is 1250 MB of RAM\"; \"Keycloak allocates 70% of " +
      "the memory limit for heap-based memory. It will also use approximately 300 MB of non-heap-based memory\": the limit is (1250 - 300) / 0.7 = " +
      "1360 MB, the guide's own calculation example (\"Memory limit per Pod: 1360 MB\").",
  },
};
