// The whole program under Pulumi's mocks: what `pulumi up` would register.
import test from "ava";
import { PROFILES } from "../stacks/config/schema.ts";
import { IMAGES, isPinned } from "../stacks/services/images.ts";
import { LOG_ROTATION } from "../stacks/platform/component.ts";
import { PROVISIONING_TOKEN } from "../stacks/services/proxy/blueprint.ts";
import { exampleAssociation } from "./support/association.ts";
import { hostnames } from "../stacks/services/catalog.ts";
import { deployUnderMocks, ofType, CONTAINER, VOLUME, type Registered } from "./support/program.ts";

const example = exampleAssociation();
// Pulumi's runtime is process-wide: register once per configuration, serially.
let resources: Registered[];
test.before(async () => {
  resources = await deployUnderMocks(example);
});

const containers = () => ofType(resources, CONTAINER);
const containerNames = () => containers().map((c) => c.inputs.name as string).sort();

test.serial("every service, its databases and the proxy get containers", (t) => {
  t.deepEqual(containerNames(), [
    "bastide-identity-db",
    "bastide-identity-keycloak",
    "bastide-jitsi-jicofo",
    "bastide-jitsi-jvb",
    "bastide-jitsi-prosody",
    "bastide-jitsi-web",
    "bastide-matrix-db",
    "bastide-matrix-element",
    "bastide-matrix-synapse",
    "bastide-nextcloud-app",
    "bastide-nextcloud-cron",
    "bastide-nextcloud-db",
    "bastide-nextcloud-redis",
    "bastide-polls-app",
    "bastide-polls-db",
    "bastide-polls-purge",
    "bastide-proxy-caddy",
    "bastide-vpn-wireguard",
  ]);
});

test.serial("every image is pinned and comes from images.ts or is built from this repository", (t) => {
  const pinned = new Set<string>(Object.values(IMAGES));
  const built = ofType(resources, "docker:index/image:Image").map((i) => i.inputs.imageName as string);
  for (const c of containers()) {
    const image = c.inputs.image as string;
    t.true(pinned.has(image) || built.includes(image), `${c.inputs.name}: ${image} is not in images.ts`);
    t.true(isPinned(image), `${c.inputs.name}: ${image} is not pinned`);
  }
  for (const remote of ofType(resources, "docker:index/remoteImage:RemoteImage")) t.true(isPinned(remote.inputs.name));
});

test.serial("only 80/tcp, 443/tcp, 10000/udp and the VPN port are published, each once", (t) => {
  const published = containers().flatMap((c) =>
    (c.inputs.ports ?? []).map((p: any) => `${p.external}/${p.protocol} ${c.inputs.name}`),
  );
  t.deepEqual(published.sort(), [
    "10000/udp bastide-jitsi-jvb",
    "443/tcp bastide-proxy-caddy",
    "51820/udp bastide-vpn-wireguard",
    "80/tcp bastide-proxy-caddy",
  ]);
});

test.serial("every data volume is protected from destroy and kept even when forced", (t) => {
  const volumes = ofType(resources, VOLUME);
  t.true(volumes.length >= 8);
  for (const v of volumes) {
    t.true(v.protect, `${v.name} is not protected`);
    t.true(v.retainOnDelete, `${v.name} is not retained on delete`);
  }
  const mounted = containers().flatMap((c) => (c.inputs.volumes ?? []).map((v: any) => v.volumeName));
  for (const name of mounted) t.true(volumes.some((v) => v.inputs.name === name), `${name} is mounted but not a declared volume`);
});

test.serial("memory limits fit the profile and every container has one", (t) => {
  const total = containers().reduce((sum, c) => sum + (c.inputs.memory as number), 0);
  t.true(total <= PROFILES.small.containerBudgetMb, `${total} MiB`);
  for (const c of containers()) {
    t.true(c.inputs.memory > 0, `${c.inputs.name} has no memory limit`);
    t.is(c.inputs.memorySwap, c.inputs.memory, `${c.inputs.name} may swap`);
  }
});

test.serial("containers run unprivileged, with rotated logs and a restart policy", (t) => {
  for (const c of containers()) {
    const name = c.inputs.name as string;
    t.false(c.inputs.privileged, name);
    t.deepEqual(c.inputs.securityOpts, ["no-new-privileges:true"], name);
    t.is(c.inputs.logDriver, "json-file", name);
    t.deepEqual(c.inputs.logOpts, { ...LOG_ROTATION }, name);
    t.is(c.inputs.restart, "unless-stopped", name);
    const adds = c.inputs.capabilities?.adds ?? [];
    t.deepEqual(adds, name === "bastide-vpn-wireguard" ? ["NET_ADMIN"] : [], name);
  }
});

test.serial("every long-running container has a health check that pulumi up waits for", (t) => {
  for (const c of containers()) {
    t.true(Array.isArray(c.inputs.healthcheck?.tests) && c.inputs.healthcheck.tests.length > 0, `${c.inputs.name} has no health check`);
    t.true(c.inputs.wait, `${c.inputs.name} is not waited for`);
  }
});

test.serial("generated secrets never appear in inputs that Pulumi would store in clear", (t) => {
  const passwords = ofType(resources, "random:index/randomPassword:RandomPassword");
  t.true(passwords.length > 5);
  for (const r of resources) {
    for (const [key, value] of Object.entries(r.inputs)) {
      if (JSON.stringify(value).includes("<secret:"))
        t.true(r.secretInputs.includes(key), `${r.name}.${key} holds a secret but is not a Pulumi secret`);
    }
  }
});

test.serial("the proxy starts after every other service's containers", (t) => {
  const caddy = containers().find((c) => c.inputs.name === "bastide-proxy-caddy")!;
  const others = containers().filter((c) => c !== caddy);
  t.is(others.length, 17);
  // Pulumi expands a dependency on a component into its resources: each container is listed.
  for (const other of others) t.true(caddy.dependencies.includes(other.urn), `caddy does not wait for ${other.inputs.name}`);
  t.true(others.every((c) => !c.dependencies.includes(caddy.urn)));
});

test.serial("database containers are on internal networks only", (t) => {
  const edge = "bastide-edge";
  for (const name of ["bastide-nextcloud-db", "bastide-nextcloud-redis", "bastide-matrix-db", "bastide-polls-db", "bastide-identity-db"]) {
    const db = containers().find((c) => c.inputs.name === name)!;
    const networks = db.inputs.networksAdvanced.map((n: any) => n.name);
    t.false(networks.includes(edge), `${name} is on the edge network`);
    t.true(networks.length > 0);
  }
  const internal = ofType(resources, "docker:index/network:Network").filter((n) => n.inputs.internal);
  t.true(internal.length >= 3);
});

test.serial("on the edge network every public name is the proxy's, so Synapse and Nextcloud reach the identity provider through Caddy", (t) => {
  const edge = "bastide-edge";
  const onEdge = (name: string) => containers().find((c) => c.inputs.name === name)!.inputs.networksAdvanced.find((n: any) => n.name === edge);
  const hosts = hostnames(exampleAssociation());
  t.deepEqual(onEdge("bastide-proxy-caddy").aliases, [hosts.element, hosts.identity, hosts.matrix, hosts.meet, hosts.cloud, hosts.polls].sort());
  // The relying parties that fetch https://connexion.<domain>/realms/bastide/... sit on that network.
  for (const name of ["bastide-matrix-synapse", "bastide-nextcloud-app"]) t.truthy(onEdge(name), `${name} is not on the edge network`);
  for (const container of containers().filter((c) => c.inputs.name !== "bastide-proxy-caddy")) {
    const aliases = container.inputs.networksAdvanced.flatMap((n: any) => n.aliases ?? []);
    t.deepEqual(aliases.filter((alias: string) => Object.values(hosts).includes(alias)), [], `${container.inputs.name} claims a public name`);
  }
});

test.serial("provisioning runs per service after its containers and the proxy, with credentials kept secret", (t) => {
  const dynamic = resources.filter((r) => r.type.startsWith("pulumi-nodejs:"));
  const byName = Object.fromEntries(dynamic.map((r) => [r.name, r]));
  // No Jitsi run: with the identity provider, hosts come with its token and Prosody holds no
  // account of theirs (stacks/services/jitsi/login.ts; stack-variants.test.ts has the run without it).
  t.deepEqual(Object.keys(byName).sort(), [
    "calendars-provisioning",
    "handover-provisioning",
    "identity-provisioning",
    "matrix-provisioning",
    "nextcloud-provisioning",
    "nextcloud-settings-provisioning",
    "vpn-provisioning",
  ]);
  const caddy = containers().find((c) => c.inputs.name === "bastide-proxy-caddy")!;
  for (const r of dynamic) {
    t.true(r.secretInputs.includes("connection"), `${r.name}: connection is not secret`);
    t.false(r.secretInputs.includes("desired"), `${r.name}: the desired state stays readable in previews`);
    // The hand-over writes local files only; every service run waits for the proxy.
    if (r.name !== "handover-provisioning") t.true(r.dependencies.includes(caddy.urn), `${r.name} does not wait for the proxy`);
  }
  // Nextcloud's and Synapse's admin APIs are VPN-only at the proxy: both runs carry its token.
  for (const name of ["nextcloud-provisioning", "nextcloud-settings-provisioning", "matrix-provisioning", "identity-provisioning"])
    t.is(typeof byName[name]!.inputs.connection.provisioningHeader?.[PROVISIONING_TOKEN.header], "string", `${name} sends the provisioning token`);
  const nextcloudApp = containers().find((c) => c.inputs.name === "bastide-nextcloud-app")!;
  t.true(byName["nextcloud-provisioning"]!.dependencies.includes(nextcloudApp.urn));
  t.true(byName["calendars-provisioning"]!.dependencies.includes(byName["nextcloud-provisioning"]!.urn), "calendars wait for groups");
  t.true(
    byName["nextcloud-provisioning"]!.dependencies.includes(byName["nextcloud-settings-provisioning"]!.urn),
    "accounts wait for the service account's two-factor exemption",
  );
  const users = byName["nextcloud-provisioning"]!.inputs.desired.nextcloud.users;
  t.deepEqual(Object.keys(users).sort(), ["claire.dubois", "karim.benali", "lea.moreau", "tom.martin"]);
  // Hosts are the members the identity provider gives a room claim: staff only.
  const hosts = byName["identity-provisioning"]!.inputs.desired.identity.users;
  t.deepEqual(Object.keys(hosts).filter((id) => hosts[id].meetingRooms === "*").sort(), ["claire.dubois", "karim.benali"], "staff only");
  t.true(byName["handover-provisioning"]!.dependencies.includes(byName["vpn-provisioning"]!.urn), "profiles wait for the server's peers");
});

test.serial("the identity provider is provisioned first: Nextcloud's and Synapse's logins wait for its clients, which get their secrets", (t) => {
  const byName = Object.fromEntries(resources.filter((r) => r.type.startsWith("pulumi-nodejs:")).map((r) => [r.name, r]));
  const identity = byName["identity-provisioning"]!;
  const keycloak = containers().find((c) => c.inputs.name === "bastide-identity-keycloak")!;
  t.true(identity.dependencies.includes(keycloak.urn), "it waits for Keycloak");
  for (const name of ["nextcloud-settings-provisioning", "matrix-provisioning"])
    t.true(byName[name]!.dependencies.includes(identity.urn), `${name} waits for the identity provider's clients`);
  // Nor does it wait for them: only their generated secrets, not their containers or runs.
  const theirs = [...containers().filter((c) => /^bastide-(nextcloud|matrix)-/.test(c.inputs.name)), byName["nextcloud-provisioning"]!, byName["matrix-provisioning"]!];
  for (const r of theirs) t.false(identity.dependencies.includes(r.urn), `identity waits for ${r.name}`);
  const connection = identity.inputs.connection;
  t.is(connection.endpoint.url, "https://connexion.jardins-canal.localhost");
  t.is(connection.admin.username, "_bastide");
  // Each relying party's own generated secret, by client id; values are the mocks' placeholders of Pulumi secrets.
  // Jitsi's is the key its meeting tokens are signed with (jitsi/login.ts).
  t.deepEqual(Object.keys(connection.clientSecrets).sort(), ["jitsi", "matrix", "nextcloud"]);
  for (const value of [connection.admin.password, ...Object.values(connection.clientSecrets)]) t.is(typeof value, "string");
  t.is(new Set(Object.values(connection.clientSecrets)).size, 3, "each its own");
  t.is(identity.inputs.desired.identity !== undefined, true);
});
