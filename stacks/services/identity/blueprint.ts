// The identity provider: Keycloak on its own PostgreSQL, behind the proxy at
// <subdomain>.<domain>. Members log in here once for Nextcloud, Matrix and Jitsi; the realm,
// its clients and its users are the identity provisioner's (provisioners/identity/).
// Keycloak's admin console and its master realm (where the bootstrap admin logs in) are
// reachable from the VPN only, like every other admin page.
import { containerName, type ContainerBlueprint, type MemoryMb, type Profile, type ProxyRoute, type ServiceModule } from "../blueprint.ts";
import { IMAGES } from "../images.ts";
import { hostnames } from "../hosts.ts";
import type { Association } from "../../config/schema.ts";
import { SMTP_PASSWORD_SECRET } from "../../config/mail.ts";
import { contract, KEYCLOAK_HEALTH_COMMAND, KEYCLOAK_HTTP_PORT } from "../upstream/keycloak.ts";

/** The realm the provisioner creates; the issuer is `https://<identity host>/realms/bastide`. */
export const IDENTITY_REALM = "bastide";

/**
 * Keycloak's bootstrap admin of the master realm: the provisioner's way in, never a member's
 * account (members live in IDENTITY_REALM). The leading underscore keeps it out of the member
 * ids' alphabet, as for Nextcloud's service account.
 */
export const IDENTITY_ADMIN_USER = "_bastide";

export const IDENTITY_SECRETS = { admin: "admin-password", databasePassword: "db-password" } as const;

export const DATABASE = { name: "keycloak", user: "keycloak", host: containerName("identity", "db"), port: 5432 } as const;
const POSTGRES_DATA = "/var/lib/postgresql/data";

/**
 * Keycloak at the memory its sizing guide documents in both profiles: 1250 MB for the realm
 * caches and 10,000 cached sessions, so a limit of (1250 - 300) / 0.7 = 1360 MB
 * (contract.documentedMemoryMb, upstream/keycloak.ts). A few dozen members use a fraction of
 * those caches (the test server idles at about 440 MB), but nothing upstream documents a
 * smaller figure. Its database holds a few rows per member: PostgreSQL's 256 MB as for Matrix
 * on small.
 */
export const IDENTITY_MEMORY = {
  keycloak: { small: contract.documentedMemoryMb!.value, standard: contract.documentedMemoryMb!.value },
  db: { small: 256, standard: 256 },
} as const satisfies Record<string, MemoryMb>;

/**
 * The heap as upstream sizes it in a container (70% of the limit, kc.sh 96-108 at 26.7.3),
 * set here rather than left to the image's KC_RUN_IN_CONTAINER, which the pinned tag's
 * Dockerfile could not be read to confirm: without it kc.sh would cap the heap at 512 MB.
 */
export const KEYCLOAK_HEAP = "-XX:MaxRAMPercentage=70 -XX:MinRAMPercentage=70 -XX:InitialRAMPercentage=50";

/** Paths of the admin console and of the master realm, whose login page would let anyone try the admin password. */
export const ADMIN_PATHS = ["/admin", "/admin/*", "/realms/master", "/realms/master/*"];

export const issuerOf = (identityHost: string) => `https://${identityHost}/realms/${IDENTITY_REALM}`;

/** The issuer every relying party trusts: https://<services.identity.subdomain>.<domain>/realms/bastide. */
export const identityIssuer = (config: Association) => issuerOf(hostnames(config).identity);

export function keycloakEnv(identityHost: string): Record<string, string> {
  return {
    // Build options: `kc.sh start` rebuilds for them at each start (the image is not pre-built).
    KC_DB: "postgres",
    KC_HEALTH_ENABLED: "true",
    // One server: no cluster to discover, the caches stay in this process.
    KC_CACHE: "local",
    KC_DB_URL: `jdbc:postgresql://${DATABASE.host}:${DATABASE.port}/${DATABASE.name}`,
    KC_DB_USERNAME: DATABASE.user,
    // Links, redirects and the issuer all use the public name, whatever Host the request had.
    KC_HOSTNAME: `https://${identityHost}`,
    // Caddy terminates TLS and sets X-Forwarded-For/-Proto/-Host, overwriting any a client sent.
    KC_PROXY_HEADERS: "xforwarded",
    KC_HTTP_ENABLED: "true",
    KC_HTTP_PORT: String(KEYCLOAK_HTTP_PORT),
    KC_BOOTSTRAP_ADMIN_USERNAME: IDENTITY_ADMIN_USER,
    JAVA_OPTS_KC_HEAP: KEYCLOAK_HEAP,
  };
}

function databaseContainer(profile: Profile): ContainerBlueprint {
  const memory = IDENTITY_MEMORY.db[profile];
  return {
    name: "db",
    image: IMAGES.postgres,
    memoryMb: IDENTITY_MEMORY.db,
    env: { POSTGRES_USER: DATABASE.user, POSTGRES_DB: DATABASE.name },
    secretEnv: { POSTGRES_PASSWORD: IDENTITY_SECRETS.databasePassword },
    // PostgreSQL's default 128 MB of shared buffers would be half the container.
    command: ["postgres", "-c", `shared_buffers=${memory / 4}MB`],
    volumes: [{ volume: "db", path: POSTGRES_DATA }],
    networks: ["internal"],
    // Over TCP: while initialising, the entrypoint's temporary server listens on the socket only.
    healthcheck: { test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", DATABASE.user, "-d", DATABASE.name], intervalSeconds: 10, retries: 6 },
  };
}

function keycloakContainer(identityHost: string): ContainerBlueprint {
  return {
    name: "keycloak",
    image: IMAGES.keycloak,
    memoryMb: IDENTITY_MEMORY.keycloak,
    command: ["start"],
    env: keycloakEnv(identityHost),
    secretEnv: { KC_DB_PASSWORD: IDENTITY_SECRETS.databasePassword, KC_BOOTSTRAP_ADMIN_PASSWORD: IDENTITY_SECRETS.admin },
    networks: ["edge", "internal"],
    dependsOn: ["db"],
    healthcheck: {
      // bash, not Docker's /bin/sh: /dev/tcp is bash's own.
      test: ["CMD", "bash", "-c", KEYCLOAK_HEALTH_COMMAND],
      intervalSeconds: 15,
      retries: 5,
      // The first start builds the server for its options and creates the schema.
      startPeriodSeconds: 180,
    },
  };
}

export function routes(identityHost: string): ProxyRoute[] {
  return [{ host: identityHost, upstream: `${containerName("identity", "keycloak")}:${KEYCLOAK_HTTP_PORT}`, vpnOnlyPaths: ADMIN_PATHS }];
}

export const identity: ServiceModule = {
  name: "identity",
  enabled: (config) => config.services.identity.enabled,
  blueprint: (config, { profile, hostnames }) => ({
    service: "identity",
    title: "Connexion unique (Keycloak)",
    containers: [databaseContainer(profile), keycloakContainer(hostnames.identity)],
    volumes: [
      {
        name: "db",
        path: POSTGRES_DATA,
        holds: "Members' identities (id, name, e-mail, teams, language, role), password hashes and second factors, sessions and login events (PostgreSQL)",
      },
    ],
    secrets: [
      { name: IDENTITY_SECRETS.admin, length: 32 },
      { name: IDENTITY_SECRETS.databasePassword, length: 32 },
    ],
    // The realm sends enrollment and reset mails through the relay: the provisioner sets its login.
    providedSecrets: config.mail?.username ? [SMTP_PASSWORD_SECRET] : [],
    routes: routes(hostnames.identity),
    files: () => [],
  }),
};
