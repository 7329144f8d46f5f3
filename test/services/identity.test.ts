// The identity provider's blueprint: Keycloak on its own PostgreSQL behind the proxy, its
// admin console and master realm for the VPN only, its secrets never in plain settings, its
// memory from upstream's sizing guide. Then the real programs: the 26.7.3 distribution reads
// every KC_ variable the blueprint sets, and a real Keycloak started with the blueprint's
// proxy settings, behind the real Caddy with the blueprint's route, answers as it must.
import test from "ava";
import { spawnSync } from "node:child_process";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { caddyfile, PROVISIONING_TOKEN } from "../../stacks/services/proxy/blueprint.ts";
import { blueprintContext, blueprints, hostnames } from "../../stacks/services/catalog.ts";
import type { Profile, ServiceBlueprint } from "../../stacks/services/blueprint.ts";
import { EDGE_ADDRESSES } from "../../stacks/platform/network.ts";
import { IMAGES } from "../../stacks/services/images.ts";
import { PROFILES, type Association } from "../../stacks/config/schema.ts";
import { memoryUse } from "../../stacks/config/sizing.ts";
import {
  DATABASE,
  IDENTITY_ADMIN_USER,
  IDENTITY_MEMORY,
  IDENTITY_SECRETS,
  identity,
  issuerOf,
  keycloakEnv,
} from "../../stacks/services/identity/blueprint.ts";
import { contract, KEYCLOAK_HEALTH_COMMAND, KEYCLOAK_MANAGEMENT_PORT } from "../../stacks/services/upstream/keycloak.ts";
import { exampleAssociation } from "../support/association.ts";
import { runCaddyfileOnLoopback, TEST_PROVISIONING_TOKEN as TOKEN } from "../support/caddy.ts";
import { KEYCLOAK_VERSION, startKeycloak } from "../support/keycloak.ts";

const onServer = exampleAssociation((input) => {
  input.domain = "asso-exemple.fr";
  input.host = { target: "ssh", address: "203.0.113.5", country: "FR", size: { cpus: 4, memoryGb: 16 } };
  input.services.proxy = { acmeCa: "production", acmeEmail: "admin@asso-exemple.fr" };
});

const blueprintOf = (config: Association, profile: Profile = config.profile): ServiceBlueprint => identity.blueprint(config, blueprintContext(config, profile));

const container = (b: ServiceBlueprint, name: string) => {
  const found = b.containers.find((c) => c.name === name);
  if (!found) throw new Error(`no container ${name}`);
  return found;
};

// --- the blueprint -----------------------------------------------------------------------------

test("Keycloak runs the pinned image with `start`, on PostgreSQL, behind the proxy at the identity host", (t) => {
  const b = blueprintOf(onServer);
  const keycloak = container(b, "keycloak");
  t.is(keycloak.image, IMAGES.keycloak);
  t.deepEqual(keycloak.command, ["start"]);
  t.deepEqual(keycloak.networks, ["edge", "internal"]);
  t.deepEqual(keycloak.dependsOn, ["db"]);
  const env = keycloak.env!;
  t.is(env.KC_DB, "postgres");
  t.is(env.KC_DB_URL, "jdbc:postgresql://bastide-identity-db:5432/keycloak");
  t.is(env.KC_DB_USERNAME, DATABASE.user);
  t.is(env.KC_HOSTNAME, "https://connexion.asso-exemple.fr");
  t.is(env.KC_PROXY_HEADERS, "xforwarded");
  t.is(env.KC_HTTP_ENABLED, "true");
  t.is(env.KC_HEALTH_ENABLED, "true");
  t.is(env.KC_BOOTSTRAP_ADMIN_USERNAME, IDENTITY_ADMIN_USER);
  t.is(issuerOf(hostnames(onServer).identity), "https://connexion.asso-exemple.fr/realms/bastide");

  const db = container(b, "db");
  t.is(db.image, IMAGES.postgres);
  t.deepEqual(db.networks, ["internal"], "the database is not on the proxy's network");
  t.deepEqual(db.volumes, [{ volume: "db", path: "/var/lib/postgresql/data" }]);
  t.is(db.env!.POSTGRES_DB, DATABASE.name);
});

test("the sub-domain follows services.identity.subdomain", (t) => {
  const config = exampleAssociation((input) => (input.services.identity = { subdomain: "sso" }));
  const b = blueprintOf(config);
  t.is(b.routes[0]!.host, `sso.${config.domain}`);
  t.is(container(b, "keycloak").env!.KC_HOSTNAME, `https://sso.${config.domain}`);
});

test("the admin password and the database password are generated secrets, never plain settings", (t) => {
  const b = blueprintOf(onServer);
  t.deepEqual(b.secrets.map((s) => s.name).sort(), [IDENTITY_SECRETS.admin, IDENTITY_SECRETS.databasePassword].sort());
  t.true(b.secrets.every((s) => s.length >= 32));
  const keycloak = container(b, "keycloak");
  t.deepEqual(keycloak.secretEnv, { KC_DB_PASSWORD: IDENTITY_SECRETS.databasePassword, KC_BOOTSTRAP_ADMIN_PASSWORD: IDENTITY_SECRETS.admin });
  t.deepEqual(container(b, "db").secretEnv, { POSTGRES_PASSWORD: IDENTITY_SECRETS.databasePassword });
  for (const c of b.containers) {
    const plain = Object.keys(c.env ?? {});
    t.false(plain.some((k) => /PASSWORD|SECRET/.test(k)), `${c.name} has a password in its plain env: ${plain.join(", ")}`);
  }
  // Nothing rendered, so no file can carry a secret.
  t.deepEqual(b.files(Object.fromEntries(b.secrets.map((s) => [s.name, "x"]))), []);
});

test("memory: Keycloak at the limit its sizing guide computes, in both profiles, and each profile still holds every service", (t) => {
  t.is(contract.documentedMemoryMb!.value, 1360);
  for (const profile of ["small", "standard"] as const) {
    const config = exampleAssociation((input) => {
      input.profile = profile;
      input.host.size = { ...PROFILES[profile].minimum };
    });
    const keycloak = container(blueprintOf(config), "keycloak");
    t.is(keycloak.memoryMb[profile], contract.documentedMemoryMb!.value, profile);
    const total = memoryUse(config).reduce((sum, c) => sum + c.memoryMb, 0);
    t.true(total <= PROFILES[profile].containerBudgetMb, `${profile}: ${total} MiB of ${PROFILES[profile].containerBudgetMb}`);
    // The host keeps its share: the budget leaves at least 1 GB of the profile's minimum.
    t.true(PROFILES[profile].minimum.memoryGb * 1024 - PROFILES[profile].containerBudgetMb >= 1024, profile);
  }
  // The heap is upstream's share of the container (70%), leaving the ~300 MB upstream documents outside it.
  t.regex(container(blueprintOf(onServer), "keycloak").env!.JAVA_OPTS_KC_HEAP!, /MaxRAMPercentage=70\b/);
  t.true(IDENTITY_MEMORY.keycloak.small * 0.3 >= 300);
});

test("8 GB can no longer hold the example: the identity provider is why small grew", (t) => {
  const services = (config: Association) => memoryUse(config).reduce((sum, c) => sum + c.memoryMb, 0);
  const withIdentity = services(exampleAssociation());
  const withoutIdentity = services(exampleAssociation((input) => (input.services.identity = { enabled: false })));
  t.true(withoutIdentity <= 8 * 1024 - 1024, `${withoutIdentity} MiB fit 8 GB less the host's 1 GB`);
  t.true(withIdentity > 8 * 1024 - 1024, `${withIdentity} MiB do not`);
  t.is(withIdentity - withoutIdentity, IDENTITY_MEMORY.keycloak.small + IDENTITY_MEMORY.db.small);
});

test("the proxy route: the admin console and the master realm are VPN-only, the members' realm is public", (t) => {
  const [route, ...others] = blueprintOf(onServer).routes;
  t.deepEqual(others, []);
  t.is(route!.host, "connexion.asso-exemple.fr");
  t.is(route!.upstream, "bastide-identity-keycloak:8080");
  t.deepEqual(route!.vpnOnlyPaths, ["/admin", "/admin/*", "/realms/master", "/realms/master/*"]);
  t.false(route!.vpnOnlyPaths!.some((p) => p.startsWith("/realms/bastide") || p === "/realms/*"));
});

test("the health check is upstream's bash probe of the management port's readiness endpoint", (t) => {
  const keycloak = container(blueprintOf(onServer), "keycloak");
  t.deepEqual(keycloak.healthcheck!.test, ["CMD", "bash", "-c", KEYCLOAK_HEALTH_COMMAND]);
  t.true(KEYCLOAK_HEALTH_COMMAND.includes(`/dev/tcp/localhost/${KEYCLOAK_MANAGEMENT_PORT}`));
  t.true(KEYCLOAK_HEALTH_COMMAND.includes("HEAD /health/ready HTTP/1.0"));
  t.true((keycloak.healthcheck!.startPeriodSeconds ?? 0) >= 120, "the first start builds the server and its schema");
});

test("turned off, the identity provider deploys nothing and takes no name", (t) => {
  const config = exampleAssociation((input) => (input.services.identity = { enabled: false }));
  const all = blueprints(config);
  t.false(all.some((b) => b.service === "identity"));
  const caddy = all.find((b) => b.service === "proxy")!.files({})[0]!.content;
  t.false(caddy.includes(`connexion.${config.domain}`));
});

// --- the real distribution reads what the blueprint sets ----------------------------------------

function keycloakHome(): string {
  return process.env.BASTIDE_KEYCLOAK_HOME ?? new URL(`../../.cache/keycloak-${KEYCLOAK_VERSION}`, import.meta.url).pathname;
}
function javaHome(): string {
  return process.env.BASTIDE_KEYCLOAK_JAVA ?? new URL("../../.cache/keycloak-java", import.meta.url).pathname;
}

test("Keycloak 26.7.3 reads every KC_ variable of the blueprint from its environment (kc.sh show-config)", (t) => {
  const keycloak = container(blueprintOf(onServer), "keycloak");
  const secrets = Object.fromEntries(Object.keys(keycloak.secretEnv!).map((k) => [k, "placeholder"]));
  const env = { ...keycloak.env, ...secrets };
  const shown = spawnSync(join(keycloakHome(), "bin/kc.sh"), ["--profile=prod", "show-config"], {
    env: { PATH: process.env.PATH, JAVA_HOME: javaHome(), ...env },
    encoding: "utf8",
    timeout: 120_000,
  });
  t.is(shown.status, 0, shown.stderr);
  const fromEnv = new Set([...shown.stdout.matchAll(/^\s*kc\.([a-z0-9-]+) = .*\(ENV\)\s*$/gm)].map((m) => `KC_${m[1]!.toUpperCase().replace(/-/g, "_")}`));
  // KC_CACHE is a build option show-config leaves out in every mode; `kc.sh start --help-all` lists --cache (ispn, local).
  const expected = Object.keys(env).filter((k) => k.startsWith("KC_") && k !== "KC_CACHE");
  t.true(expected.length >= 10);
  t.deepEqual(expected.filter((k) => !fromEnv.has(k)), [], `read from ENV: ${[...fromEnv].join(", ")}`);
  t.false(shown.stdout.includes("placeholder"), "show-config masks the passwords");
});

// --- the real Keycloak behind the real Caddy ----------------------------------------------------

const VPN_STAND_IN = "127.0.0.2";

function send(port: number, host: string, method: string, path: string, options: { from?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = httpRequest(
      { host: "127.0.0.1", port, method, path, localAddress: options.from ?? "127.0.0.1", headers: { Host: host, ...options.headers }, timeout: 30_000 },
      (response) => {
        let body = "";
        response.on("data", (chunk) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode!, body }));
      },
    );
    request.on("timeout", () => request.destroy(new Error(`${method} ${path} timed out`)));
    request.on("error", reject);
    request.end(options.body);
  });
}

test("through the real Caddy to a real Keycloak: admin console and master realm for the VPN and the provisioning token only; issuer from KC_HOSTNAME; the health probe answers", async (t) => {
  t.timeout(300_000);
  const [route] = blueprintOf(onServer).routes;
  const env = keycloakEnv(route!.host);
  // The blueprint's proxy settings; the database and the build options stay the test server's (dev mode, in memory).
  const keycloak = await startKeycloak({ env: { KC_HOSTNAME: env.KC_HOSTNAME!, KC_PROXY_HEADERS: env.KC_PROXY_HEADERS!, KC_HTTP_ENABLED: env.KC_HTTP_ENABLED! } });
  const upstreamPort = Number(new URL(keycloak.url).port);
  const caddy = await runCaddyfileOnLoopback(caddyfile(onServer, [route!]), {
    upstreams: { [route!.upstream]: upstreamPort },
    addresses: { [`${EDGE_ADDRESSES.vpn}/32`]: `${VPN_STAND_IN}/32` },
  });
  t.teardown(async () => {
    await caddy.stop();
    await keycloak.stop();
  });
  const ask = (method: string, path: string, options?: { from?: string; headers?: Record<string, string>; body?: string }) => send(caddy.port, route!.host, method, path, options);

  const adminRequests = ["/admin/", "/admin/master/console/", "/realms/master/.well-known/openid-configuration", "/realms/master/protocol/openid-connect/auth", "/Realms/Master/account", "//admin/"];
  for (const path of adminRequests) t.is((await ask("GET", path)).status, 403, `${path} from the Internet`);

  const fromVpn = await ask("GET", "/realms/master/.well-known/openid-configuration", { from: VPN_STAND_IN });
  t.is(fromVpn.status, 200, fromVpn.body);
  t.is(JSON.parse(fromVpn.body).issuer, "https://connexion.asso-exemple.fr/realms/master", "links and the issuer follow KC_HOSTNAME, not the request's Host");
  t.not((await ask("GET", "/admin/", { from: VPN_STAND_IN })).status, 403);

  // The provisioner's way in: the master realm's token endpoint, through the proxy, with the token.
  const login = new URLSearchParams({ grant_type: "password", client_id: "admin-cli", username: keycloak.admin.username, password: keycloak.admin.password }).toString();
  const form = { "Content-Type": "application/x-www-form-urlencoded" };
  t.is((await ask("POST", "/realms/master/protocol/openid-connect/token", { headers: form, body: login })).status, 403);
  const token = await ask("POST", "/realms/master/protocol/openid-connect/token", { headers: { ...form, [PROVISIONING_TOKEN.header]: TOKEN }, body: login });
  t.is(token.status, 200, token.body);
  t.truthy(JSON.parse(token.body).access_token);

  // Members' pages are public: a realm that does not exist is Keycloak's own 404, not the proxy's 403.
  const members = await ask("GET", "/realms/bastide/.well-known/openid-configuration");
  t.is(members.status, 404);
  t.is((await ask("GET", "/resources/")).status === 403, false);

  // The blueprint's health command, on the test server's management port instead of 9000.
  const probe = (command: string) => spawnSync("bash", ["-c", command], { timeout: 15_000 }).status;
  t.is(probe(KEYCLOAK_HEALTH_COMMAND.replace(`/${KEYCLOAK_MANAGEMENT_PORT}`, `/${keycloak.managementPort}`)), 0);
  t.not(probe(KEYCLOAK_HEALTH_COMMAND.replace("/health/ready", "/health/nothing").replace(`/${KEYCLOAK_MANAGEMENT_PORT}`, `/${keycloak.managementPort}`)), 0, "the probe fails on a non-200 answer");
});
