// The policy pack: its pure checks on the program's own resources under mocks (safe as
// deployed, refused once made unsafe), its SDK wrappers called as the SDK calls them, and
// the pack itself started the way the Pulumi CLI starts it, answering the analyzer's gRPC.
import test from "ava";
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { Association } from "../../stacks/config/schema.ts";
import { exampleAssociation } from "../support/association.ts";
import { deployUnderMocks } from "../support/program.ts";
import { adaptCaddyfile } from "../support/caddy.ts";
import { CHECKS, checkStack, TYPES, UNKNOWN, type PolicyResource, type Violation } from "../../policies/pack/checks.ts";
import { declaredFacts, FACTS_INPUT, NO_FACTS, stackFacts, type StackFacts } from "../../policies/pack/facts.ts";
import { bastidePolicies, PACK_NAME, plain, toPolicyResource } from "../../policies/pack/policies.ts";
import { readCaddyfile } from "../../policies/pack/caddyfile.ts";

const require = createRequire(import.meta.url);
const PACK_DIR = fileURLToPath(new URL("../../policies/pack/", import.meta.url));

// --- the stacks under test ----------------------------------------------------------------

const ADMIN_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJhc3RpZGUtdGVzdC1rZXktbm90LWEtcmVhbC1vbmU admin";
const SSH_SERVER = "bastide.example.org";

/** Config edits the schema accepts; each changes the resource graph the pack sees. */
const CONFIGS = {
  example: () => exampleAssociation(),
  hetzner: () =>
    exampleAssociation((i) => {
      i.host = { target: "hetzner", location: "fsn1", serverType: "cx42", sshPublicKey: ADMIN_KEY, adminAddresses: ["198.51.100.0/24"] };
    }),
  scaleway: () =>
    exampleAssociation((i) => {
      i.host = { target: "scaleway", zone: "fr-par-1", sshPublicKey: ADMIN_KEY, adminAddresses: ["198.51.100.0/24"] };
    }),
  ssh: () =>
    exampleAssociation((i) => {
      i.host = { target: "ssh", address: SSH_SERVER, country: "DE", size: { cpus: 4, memoryGb: 12 } };
    }),
  federation: () =>
    exampleAssociation((i) => {
      i.services.matrix.federation = { enabled: true, reason: "Partner associations chat with us from their own Matrix servers." };
    }),
  recording: () =>
    exampleAssociation((i) => {
      i.services.jitsi = { recording: { enabled: true, consentText: "Cette réunion peut être enregistrée ; dites-le si vous refusez." } };
    }),
  /** Protections the config may turn off, each with the reason the register quotes. */
  relaxed: () =>
    exampleAssociation((i) => {
      i.services.nextcloud = {
        ...i.services.nextcloud,
        shareLinks: { requirePassword: false, relaxedBecause: "Posters for the garden fair are shared with the whole neighbourhood." },
        adminTwoFactor: false,
      };
      i.services.proxy = { ...i.services.proxy, accessLog: { anonymiseAddresses: false } };
      i.services.identity = { twoFactor: { volunteer: { required: false, relaxedBecause: "Garden volunteers often have no phone of their own." } } };
    }),
} satisfies Record<string, () => Association>;

type StackName = keyof typeof CONFIGS;

interface Stack {
  config: Association;
  facts: StackFacts;
  resources: PolicyResource[];
}

const stacks = {} as Record<StackName, Stack>;

test.before(async () => {
  // One at a time: Pulumi's mock runtime is process-wide.
  for (const [name, config] of Object.entries(CONFIGS) as [StackName, () => Association][]) {
    const built = config();
    const registered = await deployUnderMocks(built);
    stacks[name] = {
      config: built,
      facts: stackFacts(built),
      resources: registered.map((r) => ({ type: r.type, name: r.name, props: r.inputs, protect: r.protect, retainOnDelete: r.retainOnDelete })),
    };
  }
});

// --- editing a copy of a stack ---------------------------------------------------------------

const copy = (name: StackName): PolicyResource[] => structuredClone(stacks[name].resources);

function find(resources: PolicyResource[], name: string): PolicyResource {
  const found = resources.find((r) => r.name === name);
  if (!found) throw new Error(`no resource named ${name}; have ${resources.map((r) => r.name).join(", ")}`);
  return found;
}

function editFile(resource: PolicyResource, file: string, change: (content: string) => string): void {
  const upload = (resource.props.uploads as { file: string; content: string }[]).find((u) => u.file.endsWith(file));
  if (!upload) throw new Error(`${resource.name} has no upload ${file}`);
  const changed = change(upload.content);
  if (changed === upload.content) throw new Error(`the edit of ${file} in ${resource.name} changed nothing`);
  upload.content = changed;
}

const replace = (from: string | RegExp, to: string) => (content: string) => content.replace(from, to);

/** The occ commands the nextcloud-settings provisioning resource carries (provisioners/slices.ts). */
const occSettings = (resource: PolicyResource) => (resource.props.desired as { nextcloudSettings: { occ: { command: string[] }[] } }).nextcloudSettings;

/** The stack as the program will declare it once the component carries its facts. */
function withFacts(resources: PolicyResource[], facts: StackFacts): PolicyResource[] {
  find(resources, "bastide").props[FACTS_INPUT] = structuredClone(facts);
  return resources;
}

// --- safe stacks pass -------------------------------------------------------------------------

for (const name of Object.keys(CONFIGS) as StackName[]) {
  test(`the ${name} stack, as the program deploys it, breaks no policy`, (t) => {
    const { resources, facts } = stacks[name];
    t.deepEqual(checkStack(resources, facts), []);
    // The same through the facts the component declares, which is how the pack reads them.
    t.deepEqual(checkStack(withFacts(copy(name), facts)), []);
  });
}

test("the program declares the facts the pack reads, or the pack refuses to guess them", (t) => {
  const { resources, facts } = stacks.example;
  const declared = declaredFacts(resources);
  if (declared) {
    t.deepEqual(declared, facts);
  } else {
    t.log(`stacks/bastide.ts does not register ${FACTS_INPUT} yet: the pack fails closed`);
    t.deepEqual(checkStack(resources), [{ policy: "register-retention", message: `the register of processing cannot be checked: ${NO_FACTS}` }]);
  }
});

test("the facts hold no member and no secret, only what the checks need", (t) => {
  const text = JSON.stringify(stacks.ssh.facts);
  for (const member of stacks.ssh.config.members) {
    t.false(text.includes(member.email));
    t.false(text.includes(member.name));
  }
  t.deepEqual(stacks.ssh.facts.host, { target: "ssh", country: "DE", address: SSH_SERVER });
  t.deepEqual(stacks.example.facts.host, { target: "local" });
  t.deepEqual(stacks.federation.facts.matrix, { federation: true, federationReason: "Partner associations chat with us from their own Matrix servers." });
  t.true(stacks.example.facts.register.some((c) => c.id === "matrix.messages"));
  t.deepEqual(stacks.relaxed.facts.identity, {
    enabled: true,
    twoFactor: [
      { role: "admin", required: true },
      { role: "staff", required: true },
      { role: "volunteer", required: false, reason: "Garden volunteers often have no phone of their own." },
    ],
  });
});

// --- unsafe variants are refused -------------------------------------------------------------

interface Variant {
  title: string;
  base: StackName;
  /** Makes the stack unsafe; returns the facts to check with (nothing: the base's; NONE: no facts at all). */
  unsafe: (resources: PolicyResource[], facts: StackFacts) => StackFacts | typeof NONE | void;
  policy: string;
  /** Matches a message: it must name what is wrong and say what to change. */
  message: RegExp;
  /** Other policies the same change rightly breaks. */
  also?: string[];
}

const NONE = "no declared facts" as const;
const noFacts = (): typeof NONE => NONE;

const VARIANTS: Variant[] = [
  // 1. data in the EU/EEA
  {
    title: "a Hetzner server moved to Ashburn",
    base: "hetzner",
    unsafe: (rs) => void (find(rs, "hetzner-server").props.location = "ash"),
    policy: "data-stays-in-eu",
    message: /"hetzner-server" is in Hetzner location "ash", which is not in the EU\/EEA: set host\.location to fsn1/,
  },
  {
    title: "a Scaleway server in a zone outside the EU",
    base: "scaleway",
    unsafe: (rs) => void (find(rs, "scaleway-server").props.zone = "us-east-1"),
    policy: "data-stays-in-eu",
    message: /"scaleway-server" is in Scaleway zone "us-east-1", not an EU zone: set host\.zone to one of fr-par-1/,
  },
  {
    title: "an SSH server declared in the USA",
    base: "ssh",
    unsafe: (rs, facts) => void withFacts(rs, { ...facts, host: { ...facts.host, country: "US" } }),
    policy: "data-stays-in-eu",
    message: /declares its server in "US", outside the EU\/EEA: move the data to a server in an EU\/EEA country/,
  },
  {
    title: "Docker reaching another server than the declared SSH host",
    base: "ssh",
    unsafe: (rs) => void (find(rs, "ssh").props.host = "ssh://root@198.51.100.9:22"),
    policy: "docker-reaches-declared-host",
    message: /"ssh" reaches 198\.51\.100\.9, not the declared server bastide\.example\.org: deploy to host\.address or correct it/,
  },
  {
    title: "a local stack whose Docker provider reaches a remote server",
    base: "example",
    unsafe: (rs) => void (find(rs, "local").props.host = "ssh://root@198.51.100.7"),
    policy: "docker-reaches-declared-host",
    message: /"local" reaches 198\.51\.100\.7 while the config says host\.target: local: declare that server/,
  },
  {
    title: "a remote Docker host and no declared facts",
    base: "ssh",
    unsafe: noFacts,
    policy: "docker-reaches-declared-host",
    message: /"ssh" reaches bastide\.example\.org, whose country is unknown: .*register \{ policyFacts: stackFacts\(config\) \}/,
    also: ["register-retention"],
  },
  {
    title: "facts that say Hetzner on a stack without a Hetzner server",
    base: "example",
    unsafe: (_rs, facts) => ({ ...facts, host: { target: "hetzner", country: "DE" } }),
    policy: "docker-reaches-declared-host",
    message: /host\.target: hetzner but the stack creates no hetzner server: .*deploy through stacks\/host\/hetzner\.ts/,
  },
  // 2. TLS only
  {
    title: "a Caddy site served over http://",
    base: "example",
    unsafe: (rs) =>
      // Jitsi's web app, which has no admin surface: a plain-HTTP Nextcloud would also open its admin pages (vpn-only-admin-pages).
      editFile(find(rs, "bastide-proxy-caddy"), "Caddyfile", (c) => `${c}\nhttp://visio.jardins-canal.localhost {\n\treverse_proxy bastide-jitsi-web:8000\n}\n`),
    policy: "tls-only",
    message: /serves http:\/\/visio\.jardins-canal\.localhost \(line \d+\) in plain HTTP: use the bare host name/,
  },
  {
    title: "Caddy's automatic HTTPS turned off",
    base: "example",
    unsafe: (rs) => editFile(find(rs, "bastide-proxy-caddy"), "Caddyfile", replace("\tadmin off\n", "\tadmin off\n\tauto_https off\n")),
    policy: "tls-only",
    message: /sets "auto_https off": the sites would be served without certificates; remove that global option/,
  },
  {
    title: "Nextcloud publishing 8080/tcp",
    base: "example",
    unsafe: (rs) => void (find(rs, "bastide-nextcloud-app").props.ports as object[]).push({ internal: 80, external: 8080, protocol: "tcp" }),
    policy: "tls-only",
    message: /"bastide-nextcloud-app" publishes 8080\/tcp straight to the Internet.*: remove the port and add a proxy route/,
  },
  {
    title: "the proxy publishing 8443/tcp",
    base: "example",
    unsafe: (rs) => void (find(rs, "bastide-proxy-caddy").props.ports as object[]).push({ internal: 8443, external: 8443, protocol: "tcp" }),
    policy: "tls-only",
    message: /the proxy "bastide-proxy-caddy" publishes 8443\/tcp: only 80 .* and 443 may be published; remove that port/,
  },
  {
    title: "Framadate on the host network",
    base: "example",
    unsafe: (rs) => void (find(rs, "bastide-polls-app").props.networkMode = "host"),
    policy: "tls-only",
    message: /"bastide-polls-app" runs on the host network.*: remove networkMode: host/,
  },
  // 3. closed registration
  {
    title: "Synapse with open registration",
    base: "example",
    unsafe: (rs) => editFile(find(rs, "bastide-matrix-synapse"), "homeserver.yaml", replace("enable_registration: false", "enable_registration: true")),
    policy: "closed-registration",
    message: /sets enable_registration: true, so anyone could create an account: set it to false/,
  },
  {
    title: "Synapse with guests, written the YAML 1.1 way (yes)",
    base: "example",
    unsafe: (rs) => editFile(find(rs, "bastide-matrix-synapse"), "homeserver.yaml", replace("allow_guest_access: false", "allow_guest_access: yes")),
    policy: "closed-registration",
    message: /sets allow_guest_access: true.*: set it to false/,
  },
  // 4. federation with a declared reason
  {
    title: "a homeserver.yaml that federates while the config says off",
    base: "example",
    unsafe: (rs) => editFile(find(rs, "bastide-matrix-synapse"), "homeserver.yaml", replace("federation_domain_whitelist: []\n", "")),
    policy: "federation-has-reason",
    message: /federates .* while the config says services\.matrix\.federation\.enabled: false: redeploy from the config/,
  },
  {
    title: "a federating homeserver deployed over facts that say federation is off (config drift)",
    base: "federation",
    unsafe: () => stackFacts(exampleAssociation()),
    policy: "federation-has-reason",
    message: /federates .* while the config says services\.matrix\.federation\.enabled: false/,
  },
  {
    title: "a federating homeserver with facts that give no reason",
    base: "federation",
    unsafe: (_rs, facts) => ({ ...facts, matrix: { federation: true } }),
    policy: "federation-has-reason",
    message: /without a reason: set services\.matrix\.federation\.reason/,
  },
  {
    title: "a federating homeserver and no declared facts",
    base: "federation",
    unsafe: noFacts,
    policy: "federation-has-reason",
    message: /federates .* and no reason is declared: .*register \{ policyFacts/,
    also: ["register-retention"],
  },
  // 4b. a second factor for every role unless the file says why
  {
    title: "volunteers' second factor turned off with no reason in the declared facts",
    base: "example",
    unsafe: (_rs, facts) => ({
      ...facts,
      identity: { enabled: true, twoFactor: [{ role: "admin", required: true }, { role: "staff", required: true }, { role: "volunteer", required: false }] },
    }),
    policy: "two-factor-has-reason",
    message: /services\.identity\.twoFactor\.volunteer lets volunteer members log in with a password alone and no reason is given: set services\.identity\.twoFactor\.volunteer\.relaxedBecause/,
  },
  {
    title: "staff's second factor turned off with a hollow reason",
    base: "relaxed",
    unsafe: (_rs, facts) => ({
      ...facts,
      identity: { enabled: true, twoFactor: [{ role: "admin", required: true }, { role: "staff", required: false, reason: "todo todo todo todo" }, { role: "volunteer", required: true }] },
    }),
    policy: "two-factor-has-reason",
    message: /services\.identity\.twoFactor\.staff lets staff members log in with a password alone and its reason "todo todo todo todo" does not say why/,
  },
  {
    title: "administrators' second factor turned off, even with a reason",
    base: "example",
    unsafe: (_rs, facts) => ({
      ...facts,
      identity: { enabled: true, twoFactor: [{ role: "admin", required: false, reason: "Our admin travels a lot and loses phones." }, { role: "staff", required: true }, { role: "volunteer", required: true }] },
    }),
    policy: "two-factor-has-reason",
    message: /services\.identity\.twoFactor\.admin\.required is false: administrators always need a second factor.*remove required: false/,
  },
  {
    title: "Keycloak's admin console served to the Internet",
    base: "example",
    unsafe: (rs) =>
      editFile(find(rs, "bastide-proxy-caddy"), "Caddyfile", (c) => `${c}\nconnexion.jardins-canal.localhost {\n\timport security_headers\n\treverse_proxy bastide-identity-keycloak:8080\n}\n`),
    policy: "vpn-only-admin-pages",
    message: /lets Keycloak's admin console, admin API and master realm \(\/admin \/admin\/\* \/realms\/master \/realms\/master\/\*\) be reached from outside the VPN on connexion\.jardins-canal\.localhost/,
  },
  {
    title: "Keycloak's master realm left open while the console is VPN-only",
    base: "example",
    unsafe: (rs) =>
      editFile(
        find(rs, "bastide-proxy-caddy"),
        "Caddyfile",
        (c) =>
          `${c}\nconnexion.jardins-canal.localhost {\n\timport security_headers\n\t@outside_vpn {\n\t\tpath /admin /admin/*\n\t\tnot remote_ip 10.8.0.0/24\n\t}\n\trespond @outside_vpn "Reachable through the association's VPN only" 403\n\treverse_proxy bastide-identity-keycloak:8080\n}\n`,
      ),
    policy: "vpn-only-admin-pages",
    message: /lets Keycloak's admin console, admin API and master realm \(\/realms\/master \/realms\/master\/\*\) be reached from outside the VPN/,
  },
  // 5. recording needs consent
  {
    title: "in-browser recording turned on without a consent text",
    base: "example",
    unsafe: (rs) => editFile(find(rs, "bastide-jitsi-web"), "custom-config.js", replace('"disable": true', '"disable": false')),
    policy: "recording-needs-consent",
    message: /allows recording \(localRecording is not disabled\) without a consent text: set services\.jitsi\.recording\.consentText/,
  },
  {
    title: "recording turned on by the web container's environment",
    base: "example",
    unsafe: (rs) => void (find(rs, "bastide-jitsi-web").props.envs as string[]).push("ENABLE_RECORDING=1"),
    policy: "recording-needs-consent",
    message: /allows recording \(ENABLE_RECORDING=1\) without a consent text/,
  },
  {
    title: "server-side recording switched on in Jicofo",
    base: "example",
    unsafe: (rs) => {
      const jicofo = find(rs, "bastide-jitsi-jicofo");
      jicofo.props.envs = (jicofo.props.envs as string[]).map((e) => (e === "ENABLE_RECORDING=0" ? "ENABLE_RECORDING=1" : e));
    },
    policy: "recording-needs-consent",
    message: /"bastide-jitsi-jicofo" turns recording on \(ENABLE_RECORDING=1\) with no web config to show a consent text: set them to 0/,
  },
  {
    title: "a recording stack whose consent text was dropped",
    base: "recording",
    unsafe: (rs) => editFile(find(rs, "bastide-jitsi-web"), "custom-config.js", replace(/config\.noticeMessage = [^\n]*\n/, "")),
    policy: "recording-needs-consent",
    message: /allows recording .* without a consent text: set services\.jitsi\.recording\.consentText/,
  },
  {
    title: "a recording stack that no longer asks participants",
    base: "recording",
    unsafe: (rs) => editFile(find(rs, "bastide-jitsi-web"), "custom-config.js", replace('"requireConsent": true', '"requireConsent": false')),
    policy: "recording-needs-consent",
    message: /without asking participants: set recordings\.requireConsent: true/,
  },
  // 6. bounded retention
  {
    title: "chat messages without retention",
    base: "example",
    unsafe: (rs) => editFile(find(rs, "bastide-matrix-synapse"), "homeserver.yaml", replace(/^retention:\n(  .*\n)+/m, "")),
    policy: "bounded-retention",
    message: /keeps chat messages forever: set retention\.enabled: true with default_policy\.max_lifetime/,
  },
  {
    title: "chat media without retention",
    base: "example",
    unsafe: (rs) => editFile(find(rs, "bastide-matrix-synapse"), "homeserver.yaml", replace(/^media_retention:\n(  .*\n)+/m, "")),
    policy: "bounded-retention",
    message: /keeps files sent in chat forever: set media_retention\.local_media_lifetime/,
  },
  {
    title: "Nextcloud's trash kept as long as there is space",
    base: "example",
    unsafe: (rs) => editFile(find(rs, "bastide-nextcloud-app"), "bastide.config.php", replace("'auto, 30'", "'auto'")),
    policy: "bounded-retention",
    message: /sets trashbin_retention_obligation to "auto", which keeps files without a limit: set "auto, <days>"/,
  },
  {
    title: "Nextcloud's old versions never expired",
    base: "example",
    unsafe: (rs) => editFile(find(rs, "bastide-nextcloud-app"), "bastide.config.php", replace("'auto, 90'", "'disabled'")),
    policy: "bounded-retention",
    message: /sets versions_retention_obligation to "disabled".*: set "auto, <days>" \(services\.nextcloud\.versionsDays\)/,
  },
  {
    title: "a container whose Docker logs are not rotated",
    base: "example",
    unsafe: (rs) => {
      delete find(rs, "bastide-jitsi-prosody").props.logOpts;
    },
    policy: "bounded-retention",
    message: /"bastide-jitsi-prosody" keeps its Docker logs without rotation.*: set logDriver json-file with logOpts max-size and max-file/,
  },
  {
    title: "Caddy's access log without roll_keep_for",
    base: "example",
    unsafe: (rs) => editFile(find(rs, "bastide-proxy-caddy"), "Caddyfile", replace(/\t+roll_keep_for \d+h\n/, "")),
    policy: "bounded-retention",
    message: /writes \/data\/access-logs\/access\.log \(line \d+\) without roll_keep_for: add roll_keep_for <hours>h/,
  },
  {
    title: "Framadate without a purge delay",
    base: "example",
    unsafe: (rs) => {
      for (const name of ["bastide-polls-app", "bastide-polls-purge"]) editFile(find(rs, name), "config.php", replace(/const PURGE_DELAY = \d+;\n/, ""));
    },
    policy: "bounded-retention",
    message: /sets no PURGE_DELAY, so polls and answers are never purged: set it \(services\.polls\.purgeDelayDays\)/,
  },
  {
    title: "polls without their purge container",
    base: "example",
    unsafe: (rs) => void rs.splice(rs.indexOf(find(rs, "bastide-polls-purge")), 1),
    policy: "register-retention",
    message: /polls run \("bastide-polls-app"\) without the purge container.*: keep the "purge" container/,
  },
  {
    title: "a register that states another retention than the deployed file",
    base: "example",
    unsafe: (_rs, facts) => ({
      ...facts,
      register: facts.register.map((c) =>
        c.id === "matrix.messages" ? { ...c, retention: { ...(c.retention as object), period: { ...(c.retention as any).period, days: 30 } } } : c,
      ),
    }),
    policy: "register-retention",
    message: /matrix\.messages: the register states 30 days but the deployed files keep it 365 days: redeploy from the config/,
  },
  {
    title: "a data category without retention in the register",
    base: "example",
    unsafe: (_rs, facts) => ({ ...facts, register: facts.register.map((c) => (c.id === "polls.answers" ? { ...c, retention: {} } : c)) }),
    policy: "register-retention",
    message: /data category polls\.answers has no valid retention in the register .*: give it one in stacks\/services\/polls\/register\.ts/,
  },
  {
    title: "a running service the register does not describe",
    base: "example",
    unsafe: (_rs, facts) => ({ ...facts, register: facts.register.filter((c) => c.service !== "vpn") }),
    policy: "register-retention",
    message: /service vpn runs containers but the register lists none of its data categories: add stacks\/services\/vpn\/register\.ts/,
  },
  // 6b. every protection the register or the README claims
  {
    title: "SSH opened by two half-Internet IPv4 networks on the Hetzner firewall",
    base: "hetzner",
    unsafe: (rs) => {
      const ssh = (find(rs, "hetzner-firewall").props.rules as { port: string; sourceIps: string[] }[]).find((r) => r.port === "22")!;
      ssh.sourceIps = ["0.0.0.0/1", "128.0.0.0/1"];
    },
    policy: "ssh-from-admin-networks",
    message: /"hetzner-firewall" opens SSH \(22\/tcp\) to 0\.0\.0\.0\/1, 128\.0\.0\.0\/1: keep host\.adminAddresses to the admin's own networks.*public IPv4 addresses \(more than a \/16\)/,
  },
  {
    title: "SSH opened to ::0/0 and ::ffff:0.0.0.0/96 (every IPv6 and, mapped, every IPv4 address)",
    base: "hetzner",
    unsafe: (rs) => void (find(rs, "hetzner-firewall").props.rules as object[]).push({ direction: "in", protocol: "tcp", port: "22", sourceIps: ["::0/0", "::ffff:0.0.0.0/96"] }),
    policy: "ssh-from-admin-networks",
    message: /public IPv4 addresses \(more than a \/16\) and about 2\^\d+ public IPv6 addresses \(more than a \/32\)/,
  },
  {
    title: "a firewall edit opening every port, SSH included, to the Internet",
    base: "hetzner",
    unsafe: (rs) => void (find(rs, "hetzner-firewall").props.rules as object[]).push({ direction: "in", protocol: "tcp", port: "1-65535", sourceIps: ["0.0.0.0/0"] }),
    policy: "ssh-from-admin-networks",
    message: /opens SSH \(22\/tcp\) to 198\.51\.100\.0\/24, 0\.0\.0\.0\/0/,
  },
  {
    title: "SSH opened by four /2 networks on the Scaleway security group",
    base: "scaleway",
    unsafe: (rs) => {
      const group = find(rs, "scaleway-firewall");
      for (const ipRange of ["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"])
        (group.props.inboundRules as object[]).push({ action: "accept", protocol: "TCP", port: 22, ipRange });
    },
    policy: "ssh-from-admin-networks",
    message: /"scaleway-firewall" opens SSH \(22\/tcp\) to .*64\.0\.0\.0\/2.*public IPv4 addresses \(more than a \/16\)/,
  },
  {
    title: "a Scaleway security group that accepts whatever no rule names",
    base: "scaleway",
    unsafe: (rs) => void (find(rs, "scaleway-firewall").props.inboundDefaultPolicy = "accept"),
    policy: "ssh-from-admin-networks",
    message: /"scaleway-firewall" accepts by default what no rule names \(inboundDefaultPolicy accept\), SSH included: set inboundDefaultPolicy: drop/,
  },
  {
    title: "Prosody with registration re-enabled",
    base: "example",
    unsafe: (rs) => editFile(find(rs, "bastide-jitsi-prosody"), "bastide-privacy.cfg.lua", replace("allow_registration = false", "allow_registration = true")),
    policy: "closed-registration",
    message: /bastide-privacy\.cfg\.lua in "bastide-jitsi-prosody" sets allow_registration = true, not allow_registration = false, so anyone could create a Jitsi account/,
  },
  {
    title: "Prosody with the register module no longer disabled",
    base: "example",
    unsafe: (rs) => editFile(find(rs, "bastide-jitsi-prosody"), "bastide-privacy.cfg.lua", replace(/\t"register";[^\n]*\n/, "")),
    policy: "closed-registration",
    message: /does not disable the "register" module \(in-band registration\): keep "register" in modules_disabled/,
  },
  {
    title: "Prosody without Bastide's overlay",
    base: "example",
    unsafe: (rs) => {
      const prosody = find(rs, "bastide-jitsi-prosody");
      prosody.props.uploads = (prosody.props.uploads as { file: string }[]).filter((u) => !u.file.endsWith(".cfg.lua"));
    },
    policy: "closed-registration",
    message: /"bastide-jitsi-prosody" runs without Bastide's conf\.d overlay, which keeps account registration closed/,
  },
  {
    title: "activity_expire_days removed (Nextcloud would keep activity 365 days, the register says 90)",
    base: "example",
    unsafe: (rs) => editFile(find(rs, "bastide-nextcloud-app"), "bastide.config.php", replace(/^.*'activity_expire_days'.*\n/m, "")),
    policy: "bounded-retention",
    message: /does not set activity_expire_days, so Nextcloud keeps activity records 365 days \(its default\): set a positive number of days \(services\.nextcloud\.activityExpireDays\)/,
  },
  {
    title: "Nextcloud's provisioning API opened to the Internet (its paths dropped from the VPN-only matcher)",
    base: "example",
    unsafe: (rs) => editFile(find(rs, "bastide-proxy-caddy"), "Caddyfile", (c) => c.replaceAll(" /ocs/v2.php/cloud/*", "")),
    policy: "vpn-only-admin-pages",
    message: /lets Nextcloud's admin pages and provisioning API \(\/ocs\/v2\.php\/cloud\/\*\) be reached from outside the VPN on cloud\./,
  },
  {
    title: "every VPN-only matcher let anyone through (its `not remote_ip` removed)",
    base: "example",
    unsafe: (rs) => editFile(find(rs, "bastide-proxy-caddy"), "Caddyfile", (c) => c.replace(/\t+not remote_ip [^\n]*\n/g, "")),
    policy: "vpn-only-admin-pages",
    message: /lets Synapse's admin API \(\/_synapse\/admin\/\*\) be reached from outside the VPN/,
  },
  {
    title: "Framadate's admin pages answered from anywhere (the 403 dropped)",
    base: "example",
    unsafe: (rs) =>
      editFile(find(rs, "bastide-proxy-caddy"), "Caddyfile", (c) => {
        const site = c.indexOf("sondage.");
        const refusal = c.indexOf("respond @outside_vpn", site);
        return c.slice(0, refusal) + c.slice(c.indexOf("\n", refusal) + 1);
      }),
    policy: "vpn-only-admin-pages",
    message: /lets Framadate's admin pages \(\/admin \/admin\/\*\) be reached from outside the VPN/,
  },
  {
    title: "rooms members create no longer encrypted by default",
    base: "example",
    unsafe: (rs) => editFile(find(rs, "bastide-matrix-synapse"), "homeserver.yaml", replace(/encryption_enabled_by_default_for_room_type: .*/, "encryption_enabled_by_default_for_room_type: off")),
    policy: "private-encrypted-rooms",
    message: /does not encrypt new rooms by default \(encryption_enabled_by_default_for_room_type: false\), while the register says rooms are end-to-end encrypted/,
  },
  {
    title: "the room directory readable without an account",
    base: "example",
    unsafe: (rs) => editFile(find(rs, "bastide-matrix-synapse"), "homeserver.yaml", replace("allow_public_rooms_without_auth: false", "allow_public_rooms_without_auth: true")),
    policy: "private-encrypted-rooms",
    message: /sets allow_public_rooms_without_auth: true, so people outside the association can list its rooms/,
  },
  {
    title: "the access log's address masking removed",
    base: "example",
    unsafe: (rs) => editFile(find(rs, "bastide-proxy-caddy"), "Caddyfile", replace(/\t+request>remote_ip ip_mask \{\n[^}]*\}\n/, "")),
    policy: "masked-access-logs",
    message: /logs requests \(line \d+\) with request>remote_ip unmasked, while the register says addresses are masked: add "format filter" with "request>remote_ip ip_mask \{ ipv4 24 ipv6 48 \}"/,
  },
  {
    title: "the access log's mask widened to keep whole addresses",
    base: "example",
    unsafe: (rs) => editFile(find(rs, "bastide-proxy-caddy"), "Caddyfile", (c) => c.replaceAll(/ipv4 24/g, "ipv4 32")),
    policy: "masked-access-logs",
    message: /with request>remote_ip and request>client_ip unmasked/,
  },
  {
    title: "a second, unmasked log on one site",
    base: "example",
    unsafe: (rs) => editFile(find(rs, "bastide-proxy-caddy"), "Caddyfile", replace("\timport access_log\n", "\timport access_log\n\tlog {\n\t\toutput stdout\n\t}\n")),
    policy: "masked-access-logs",
    message: /logs requests \(line \d+\) with request>remote_ip and request>client_ip unmasked/,
  },
  {
    title: "Jitsi's web without authentication (anyone opens a room)",
    base: "example",
    unsafe: (rs) => {
      const web = find(rs, "bastide-jitsi-web");
      web.props.envs = (web.props.envs as string[]).filter((e) => !e.startsWith("ENABLE_AUTH="));
    },
    policy: "members-open-meetings",
    message: /"bastide-jitsi-web" runs without ENABLE_AUTH=1, so anyone could open a meeting room: set ENABLE_AUTH=1/,
  },
  {
    title: "Jicofo's authentication turned off by JICOFO_ENABLE_AUTH",
    base: "example",
    unsafe: (rs) => void (find(rs, "bastide-jitsi-jicofo").props.envs as string[]).push("JICOFO_ENABLE_AUTH=false"),
    policy: "members-open-meetings",
    message: /"bastide-jitsi-jicofo" runs without ENABLE_AUTH=1/,
  },
  {
    title: "guests let in with the lobby turned off",
    base: "example",
    unsafe: (rs) => {
      const prosody = find(rs, "bastide-jitsi-prosody");
      prosody.props.envs = (prosody.props.envs as string[]).map((e) => (e === "ENABLE_LOBBY=1" ? "ENABLE_LOBBY=0" : e === "ENABLE_GUESTS=0" ? "ENABLE_GUESTS=1" : e));
    },
    policy: "members-open-meetings",
    message: /lets guests in \(ENABLE_GUESTS=1\) with the lobby off \(ENABLE_LOBBY=0\): set ENABLE_LOBBY=1/,
  },
  {
    title: "a site without the security headers (HSTS)",
    base: "example",
    unsafe: (rs) => editFile(find(rs, "bastide-proxy-caddy"), "Caddyfile", replace(/\timport security_headers\n/, "")),
    policy: "security-headers",
    message: /serves [a-z.-]+ \(line \d+\) without Strict-Transport-Security: keep "import security_headers" in every site block/,
  },
  {
    title: "public links no longer forced to expire",
    base: "example",
    unsafe: (rs) => {
      const settings = rs.find((r) => r.props.service === "nextcloud-settings")!;
      const desired = occSettings(settings);
      desired.occ = desired.occ.filter((o) => !o.command.includes("shareapi_enforce_expire_date"));
    },
    policy: "nextcloud-links-and-2fa",
    message: /does not set shareapi_enforce_expire_date to yes, so public links could live forever: set it/,
  },
  {
    title: "link passwords not enforced while the register says they are",
    base: "example",
    unsafe: (rs) => {
      const settings = rs.find((r) => r.props.service === "nextcloud-settings")!;
      for (const o of occSettings(settings).occ)
        if (o.command.includes("shareapi_enforce_links_password")) o.command = o.command.map((a) => (a === "--value=yes" ? "--value=no" : a));
    },
    policy: "nextcloud-links-and-2fa",
    message: /does not enforce passwords on public links .* while the register says it does: set it to yes, or state why not/,
  },
  {
    title: "admins' two-factor login no longer enforced",
    base: "example",
    unsafe: (rs) => {
      const settings = rs.find((r) => r.props.service === "nextcloud-settings")!;
      const desired = occSettings(settings);
      desired.occ = desired.occ.filter((o) => !o.command.includes("twofactorauth:enforce"));
    },
    policy: "nextcloud-links-and-2fa",
    message: /does not enforce two-factor login for the admins, while the register says it does: keep "twofactorauth:enforce --on --group _admins-2fa"/,
  },
  {
    title: "two-factor enforced on `admin` instead, which holds the service account and locks provisioning out",
    base: "example",
    unsafe: (rs) => {
      const settings = rs.find((r) => r.props.service === "nextcloud-settings")!;
      const desired = occSettings(settings);
      desired.occ = desired.occ.map((o) =>
        o.command.includes("twofactorauth:enforce") ? { ...o, command: o.command.map((a: string) => (a === "_admins-2fa" ? "admin" : a)) } : o,
      );
    },
    policy: "nextcloud-links-and-2fa",
    message: /does not enforce two-factor login for the admins, while the register says it does: keep "twofactorauth:enforce --on --group _admins-2fa"/,
  },
  // 7. privileges
  {
    title: "a privileged Nextcloud",
    base: "example",
    unsafe: (rs) => void (find(rs, "bastide-nextcloud-app").props.privileged = true),
    policy: "no-extra-privileges",
    message: /"bastide-nextcloud-app" is privileged: remove privileged: true/,
  },
  {
    title: "Synapse without no-new-privileges",
    base: "example",
    unsafe: (rs) => void (find(rs, "bastide-matrix-synapse").props.securityOpts = []),
    policy: "no-extra-privileges",
    message: /"bastide-matrix-synapse" may gain privileges .*: add "no-new-privileges:true" to securityOpts/,
  },
  {
    title: "the VPN given SYS_ADMIN",
    base: "example",
    unsafe: (rs) => void (find(rs, "bastide-vpn-wireguard").props.capabilities as { adds: string[] }).adds.push("SYS_ADMIN"),
    policy: "no-extra-privileges",
    message: /"bastide-vpn-wireguard" adds capability SYS_ADMIN: remove it/,
  },
  {
    title: "NET_ADMIN on the video bridge",
    base: "example",
    unsafe: (rs) => void (find(rs, "bastide-jitsi-jvb").props.capabilities = { adds: ["CAP_NET_ADMIN"] }),
    policy: "no-extra-privileges",
    message: /"bastide-jitsi-jvb" adds NET_ADMIN, which only the VPN container needs: remove it/,
  },
  {
    title: "the Docker socket mounted into the proxy",
    base: "example",
    unsafe: (rs) => void (find(rs, "bastide-proxy-caddy").props.volumes as object[]).push({ hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock" }),
    policy: "no-extra-privileges",
    message: /"bastide-proxy-caddy" mounts the Docker socket.*: remove that mount/,
  },
  {
    title: "Framadate with seccomp unconfined",
    base: "example",
    unsafe: (rs) => void (find(rs, "bastide-polls-app").props.securityOpts as string[]).push("seccomp=unconfined"),
    policy: "no-extra-privileges",
    message: /"bastide-polls-app" runs with "seccomp=unconfined": remove it/,
  },
  // 8. pinned images
  {
    title: "Synapse pulled as latest",
    base: "example",
    unsafe: (rs) => void (find(rs, "matrix-synapse-image").props.name = "ghcr.io/element-hq/synapse:latest"),
    policy: "pinned-images",
    message: /"matrix-synapse-image" uses image "ghcr\.io\/element-hq\/synapse:latest", which is not pinned: use an exact version tag or a digest/,
  },
  {
    title: "a container running an unpinned image",
    base: "example",
    unsafe: (rs) => void (find(rs, "bastide-matrix-element").props.image = "nginx:stable"),
    policy: "pinned-images",
    message: /container "bastide-matrix-element" uses image "nginx:stable", which is not pinned/,
  },
  {
    title: "a pinned image that images.ts does not list",
    base: "example",
    unsafe: (rs) => void (find(rs, "nextcloud-redis-image").props.name = "redis:7.4.11-alpine"),
    policy: "pinned-images",
    message: /uses image "redis:7\.4\.11-alpine", which stacks\/services\/images\.ts does not list: add it there/,
  },
  {
    title: "Framadate built from outside docker/",
    base: "example",
    unsafe: (rs) => void ((find(rs, "polls-framadate-image").props.build as { context: string }).context = "../framadate-fork"),
    policy: "pinned-images",
    message: /builds from "\.\.\/framadate-fork": build only from a folder under docker\/ in this repository/,
  },
  {
    title: "Framadate built as latest",
    base: "example",
    unsafe: (rs) => void (find(rs, "polls-framadate-image").props.imageName = "bastide/framadate:latest"),
    policy: "pinned-images",
    message: /builds "bastide\/framadate:latest": name it after BUILT_IMAGES .* with an exact version tag/,
  },
  // 9. protected volumes
  {
    title: "the chat database volume without protect",
    base: "example",
    unsafe: (rs) => void (find(rs, "bastide-matrix-db").protect = false),
    policy: "protected-volumes",
    message: /volume "bastide-matrix-db" is not protected, so pulumi destroy would delete its data: keep protect: true/,
  },
  {
    title: "the files volume deleted with its resource",
    base: "example",
    unsafe: (rs) => void (find(rs, "bastide-nextcloud-html").retainOnDelete = false),
    policy: "protected-volumes",
    message: /volume "bastide-nextcloud-html" would be deleted with its resource: keep retainOnDelete: true/,
  },
];

/** A variant's stack and facts, made unsafe. */
function unsafeStack(v: Variant): { resources: PolicyResource[]; facts: StackFacts | undefined } {
  const resources = copy(v.base);
  const facts = v.unsafe(resources, structuredClone(stacks[v.base].facts));
  // No facts at all: neither passed in nor declared by the Bastide component.
  if (facts === NONE) for (const r of resources) if (r.type === "bastide:index:Bastide") delete r.props.policyFacts;
  return { resources, facts: facts === NONE ? undefined : (facts ?? stacks[v.base].facts) };
}

test("the corpus holds at least 20 unsafe variants, covering every policy", (t) => {
  t.true(VARIANTS.length >= 20);
  t.deepEqual([...new Set(VARIANTS.map((v) => v.policy))].sort(), CHECKS.map((c) => c.name).sort());
});

for (const v of VARIANTS) {
  test(`refused: ${v.title}`, (t) => {
    const { resources, facts } = unsafeStack(v);
    const found = checkStack(resources, facts);
    t.true(
      found.some((f) => f.policy === v.policy && v.message.test(f.message)),
      `expected a ${v.policy} violation matching ${v.message}; got:\n${found.map((f) => `${f.policy}: ${f.message}`).join("\n")}`,
    );
    t.deepEqual([...new Set(found.map((f) => f.policy))].sort(), [v.policy, ...(v.also ?? [])].sort());
  });
}

// --- changes that stay safe are not refused -----------------------------------------------------

const SAFE_CHANGES: { title: string; base: StackName; change: (resources: PolicyResource[]) => void }[] = [
  {
    title: "an http:// block that only redirects to HTTPS",
    base: "example",
    change: (rs) =>
      editFile(find(rs, "bastide-proxy-caddy"), "Caddyfile", (c) => `${c}\nhttp://visio.jardins-canal.localhost {\n\tredir https://{host}{uri} permanent\n}\n`),
  },
  {
    title: "a plain-HTTP site bound to the container's loopback",
    base: "example",
    change: (rs) => editFile(find(rs, "bastide-proxy-caddy"), "Caddyfile", (c) => `${c}\n:8081 {\n\tbind 127.0.0.1\n\trespond "ok" 200\n}\n`),
  },
  {
    title: "a TCP port published on the server's loopback only",
    base: "example",
    change: (rs) => void (find(rs, "bastide-nextcloud-app").props.ports as object[]).push({ internal: 80, external: 8080, protocol: "tcp", ip: "127.0.0.1" }),
  },
  {
    title: "a container image referenced by its content ID",
    base: "example",
    change: (rs) => void (find(rs, "bastide-matrix-element").props.image = `sha256:${"a".repeat(64)}`),
  },
  {
    title: "SSH from a few admin networks, written as networks (a /24 and an IPv6 /48)",
    base: "hetzner",
    change: (rs) => void (find(rs, "hetzner-firewall").props.rules as object[]).push({ direction: "in", protocol: "tcp", port: "22", sourceIps: ["203.0.113.0/24", "2001:db8:1::/48"] }),
  },
  {
    title: "Keycloak's admin console behind the VPN-only matcher",
    base: "example",
    change: (rs) =>
      editFile(
        find(rs, "bastide-proxy-caddy"),
        "Caddyfile",
        (c) =>
          `${c}\nconnexion.jardins-canal.localhost {\n\timport security_headers\n\t@outside_vpn {\n\t\tpath /admin /admin/* /realms/master /realms/master/*\n\t\tnot remote_ip 10.8.0.0/24\n\t}\n\trespond @outside_vpn "Reachable through the association's VPN only" 403\n\treverse_proxy bastide-identity-keycloak:8080\n}\n`,
      ),
  },
  {
    title: "recording on, with the consent text and the consent question (config edit)",
    base: "recording",
    change: () => {},
  },
];

for (const s of SAFE_CHANGES) {
  test(`still safe: ${s.title}`, (t) => {
    const resources = copy(s.base);
    s.change(resources);
    t.deepEqual(checkStack(resources, stacks[s.base].facts), []);
  });
}

test("caddy accepts the still-safe Caddyfile changes, and serves the redirect block on port 80 only to redirect", (t) => {
  const resources = copy("example");
  for (const s of SAFE_CHANGES.slice(0, 2)) s.change(resources);
  const json = adaptCaddyfile(caddyfileOf(resources));
  const text = JSON.stringify(json);
  t.regex(text, /"Location":\["https:\/\/\{http\.request\.host\}\{http\.request\.uri\}"\]/);
});

// --- Caddy agrees with the pack about what it serves ------------------------------------------

const caddyfileOf = (resources: PolicyResource[]) =>
  (find(resources, "bastide-proxy-caddy").props.uploads as { file: string; content: string }[]).find((u) => u.file.endsWith("Caddyfile"))!.content;

const variant = (title: string) => VARIANTS.find((v) => v.title === title)!;

test("caddy itself serves the refused http:// site in plain HTTP, on port 80", (t) => {
  const json = adaptCaddyfile(caddyfileOf(unsafeStack(variant("a Caddy site served over http://")).resources));
  const servers = Object.values(json.apps.http.servers) as any[];
  const plain = servers.filter((s) => s.listen.includes(":80"));
  const hosts = plain.flatMap((s) => s.routes.flatMap((r: any) => (r.match ?? []).flatMap((m: any) => m.host ?? [])));
  t.true(hosts.includes("visio.jardins-canal.localhost"));
});

test("caddy itself answers 403 outside the VPN for the admin paths the pack requires, and lets them through once the pack's refusal applies", (t) => {
  // The pack reads the Caddyfile as text; the real Caddy must agree that these paths sit under the 403 matcher.
  const json = JSON.stringify(adaptCaddyfile(caddyfileOf(copy("example"))));
  for (const path of ["/settings/admin*", "/ocs/v2.php/cloud/*", "/_synapse/admin/*", "/admin/*"]) t.true(json.includes(JSON.stringify(path)), path);
  const opened = JSON.stringify(adaptCaddyfile(caddyfileOf(unsafeStack(variant("Nextcloud's provisioning API opened to the Internet (its paths dropped from the VPN-only matcher)")).resources)));
  t.false(opened.includes(JSON.stringify("/ocs/v2.php/cloud/*")));
});

test("caddy itself turns automatic HTTPS off for the refused global option", (t) => {
  const json = adaptCaddyfile(caddyfileOf(unsafeStack(variant("Caddy's automatic HTTPS turned off")).resources));
  const servers = Object.values(json.apps.http.servers) as any[];
  t.true(servers.some((s) => s.automatic_https?.disable === true));
});

test("the pack reads the generated Caddyfile the way caddy does: same sites, same log roll", (t) => {
  const text = caddyfileOf(stacks.example.resources);
  const json = adaptCaddyfile(text);
  const mine = readCaddyfile(text);
  const theirs = (Object.values(json.apps.http.servers) as any[]).flatMap((s) => s.routes.flatMap((r: any) => (r.match ?? []).flatMap((m: any) => m.host ?? [])));
  t.deepEqual(
    mine.sites.flatMap((s) => s.addresses).filter((a) => !a.startsWith(":")).sort(),
    [...new Set(theirs as string[])].sort(),
  );
  const roll = Object.values(json.logging.logs as Record<string, any>).find((l) => l.writer?.output === "file");
  t.is(roll.writer.roll_keep_days, stacks.example.config.services.proxy.accessLog.retentionDays);
});

// --- the SDK wrappers call the checks ----------------------------------------------------------

const URN = (r: PolicyResource) => `urn:pulumi:test::bastide::${r.type}::${r.name}`;

/** Options as the SDK builds them from the engine's request. */
const sdkOptions = (r: PolicyResource) => ({
  protect: r.protect ?? false,
  ignoreChanges: [],
  aliases: [],
  customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
  additionalSecretOutputs: [],
});

function resourceArgs(r: PolicyResource): any {
  return {
    type: r.type,
    name: r.name,
    urn: URN(r),
    props: r.props,
    opts: sdkOptions(r),
    stackTags: new Map(),
    isType: () => false,
    asType: () => undefined,
    getConfig: () => ({}),
    notApplicable: (reason?: string) => {
      throw new Error(`notApplicable: ${reason}`);
    },
  };
}

function stackArgs(resources: PolicyResource[]): any {
  return {
    resources: resources.map((r) => ({ ...resourceArgs(r), dependencies: [], propertyDependencies: {} })),
    stackTags: new Map(),
    getConfig: () => ({}),
    notApplicable: (reason?: string) => {
      throw new Error(`notApplicable: ${reason}`);
    },
  };
}

test("the pack has one mandatory SDK policy per check, of the check's kind", (t) => {
  t.deepEqual(
    bastidePolicies.map((p) => [p.name, p.enforcementLevel, "validateStack" in p ? "stack" : "resource"]),
    CHECKS.map((c) => [c.name, "mandatory", c.kind]),
  );
});

for (const check of CHECKS) {
  test(`the ${check.name} wrapper reports what the pure check finds`, async (t) => {
    const policy = bastidePolicies.find((p) => p.name === check.name)!;
    // Through the SDK, retainOnDelete is not known: use a variant that the wrapper can see.
    const v = VARIANTS.find((x) => x.policy === check.name && !/retainOnDelete/.test(x.message.source))!;
    const { resources, facts } = unsafeStack(v);
    // The wrappers read the facts from the component, as they will under the engine.
    if (facts) withFacts(resources, facts);
    else delete find(resources, "bastide").props[FACTS_INPUT];
    const reported: string[] = [];
    const report = (message: string) => void reported.push(message);
    let expected: string[];
    if (check.kind === "resource") {
      for (const r of resources) await (policy as any).validateResource(resourceArgs(r), report);
      expected = resources.flatMap((r) => check.check({ ...r, retainOnDelete: undefined }));
    } else {
      await (policy as any).validateStack(stackArgs(resources), report);
      expected = check.check(resources, declaredFacts(resources));
    }
    t.true(expected.some((m) => v.message.test(m)));
    t.deepEqual(reported, expected);
  });
}

test("a wrapper judges what is known during preview and skips only the unknown value", async (t) => {
  const { unknownCheckingProxy, unknownStringValue } = require("@pulumi/policy/proxy.js");
  const caddy = find(copy("example"), "bastide-proxy-caddy");
  const props = unknownCheckingProxy({ ...caddy.props, image: unknownStringValue, privileged: true });
  t.throws(() => props.image, { message: /can't be known during preview/ });
  t.is((plain(props) as any).image, UNKNOWN);
  const run = async (name: string) => {
    const reported: string[] = [];
    await (bastidePolicies.find((p) => p.name === name) as any).validateResource({ ...resourceArgs(caddy), props }, (m: string) => reported.push(m));
    return reported;
  };
  t.deepEqual(await run("pinned-images"), []);
  t.deepEqual(await run("no-extra-privileges"), ['container "bastide-proxy-caddy" is privileged: remove privileged: true; add the one capability it needs instead']);
  t.deepEqual(await run("tls-only"), []);
});

test("toPolicyResource keeps type, name, props and protect", (t) => {
  const volume = find(copy("example"), "bastide-matrix-db");
  t.deepEqual(toPolicyResource(resourceArgs(volume)), { type: TYPES.volume, name: volume.name, props: volume.props, protect: true });
});

// --- the pack as the Pulumi CLI runs it ---------------------------------------------------------

// gRPC and protobuf as @pulumi/pulumi's generated stubs load them (its own dependencies).
const pulumiRequire = createRequire(require.resolve("@pulumi/pulumi/package.json"));
const grpc = pulumiRequire("@grpc/grpc-js");
const analyzer = require("@pulumi/pulumi/proto/analyzer_pb.js");
const { AnalyzerClient } = require("@pulumi/pulumi/proto/analyzer_grpc_pb.js");
const { Struct } = pulumiRequire("google-protobuf/google/protobuf/struct_pb.js");
const { Empty } = pulumiRequire("google-protobuf/google/protobuf/empty_pb.js");

/** How the engine marks a secret in the properties it sends. */
const SECRET = (value: unknown) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value });
const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

function fill(message: any, r: PolicyResource): any {
  message.setType(r.type);
  message.setName(r.name);
  message.setUrn(URN(r));
  message.setProperties(Struct.fromJavaScript(JSON.parse(JSON.stringify(r.props))));
  const options = new analyzer.AnalyzerResourceOptions();
  options.setProtect(r.protect ?? false);
  message.setOptions(options);
  return message;
}

interface Diagnostic {
  policy: string;
  message: string;
  mandatory: boolean;
}

/** The SDK puts the policy's description on the message's first line. */
const diagnostics = (response: any): Diagnostic[] =>
  response.getDiagnosticsList().map((d: any) => ({
    policy: d.getPolicyname(),
    message: d.getMessage().replace(`${CHECKS.find((c) => c.name === d.getPolicyname())?.description}\n`, ""),
    mandatory: d.getEnforcementlevel() === analyzer.EnforcementLevel.MANDATORY,
  }));

/** Starts the pack with Pulumi's own runner, from the pack's folder, as the language host does. */
function startPack(): Promise<{ child: ChildProcess; client: any }> {
  const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack");
  const child = spawn(process.execPath, [runner, "127.0.0.1:1", PACK_DIR], { cwd: PACK_DIR, stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`the pack printed no port within 60 s:\n${stdout}\n${stderr}`));
    }, 60_000);
    child.stderr!.on("data", (d) => (stderr += d));
    child.stdout!.on("data", (d) => {
      stdout += d;
      const port = stdout.match(/^(\d+)\n/)?.[1];
      if (port) {
        clearTimeout(timer);
        resolve({ child, client: new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the pack exited (${code}) before serving:\n${stdout}\n${stderr}`));
    });
  });
}

const call = (client: any, method: string, request: any): Promise<any> =>
  new Promise((resolve, reject) =>
    client[method](request, new grpc.Metadata(), { deadline: Date.now() + 30_000 }, (error: Error | null, response: any) =>
      error ? reject(error) : resolve(response),
    ),
  );

test.serial("the pack, started by Pulumi's policy runner, serves the engine's analyzer calls", async (t) => {
  const { child, client } = await startPack();
  t.teardown(() => {
    client.close();
    child.kill();
  });

  const info = await call(client, "getAnalyzerInfo", new Empty());
  t.is(info.getName(), PACK_NAME);
  t.is(info.getVersion(), "0.1.0");
  t.deepEqual(
    info.getPoliciesList().map((p: any) => [p.getName(), p.getEnforcementlevel(), p.getPolicyType()]),
    CHECKS.map((c) => [
      c.name,
      analyzer.EnforcementLevel.MANDATORY,
      c.kind === "resource" ? analyzer.PolicyType.POLICY_TYPE_RESOURCE : analyzer.PolicyType.POLICY_TYPE_STACK,
    ]),
  );

  // Every resource of the example stack, one request each, as `pulumi up` sends them.
  const safe = withFacts(copy("example"), stacks.example.facts);
  for (const r of safe) t.deepEqual(diagnostics(await call(client, "analyze", fill(new analyzer.AnalyzeRequest(), r))), [], r.name);

  // A privileged proxy whose image is not known yet (first preview): refused for the privilege only.
  const caddy = find(copy("example"), "bastide-proxy-caddy");
  const previewed = fill(new analyzer.AnalyzeRequest(), { ...caddy, props: { ...caddy.props, image: UNKNOWN_STRING, privileged: true } });
  t.deepEqual(diagnostics(await call(client, "analyze", previewed)), [
    { policy: "no-extra-privileges", message: 'container "bastide-proxy-caddy" is privileged: remove privileged: true; add the one capability it needs instead', mandatory: true },
  ]);

  // homeserver.yaml embeds secrets, so the engine sends it as a secret: the pack still reads it.
  const synapse = find(copy("example"), "bastide-matrix-synapse");
  editFile(synapse, "homeserver.yaml", replace("enable_registration: false", "enable_registration: true"));
  const uploads = (synapse.props.uploads as { file: string; content: string }[]).map((u) => ({ ...u, content: SECRET(u.content) }));
  const secret = await call(client, "analyze", fill(new analyzer.AnalyzeRequest(), { ...synapse, props: { ...synapse.props, uploads } }));
  t.deepEqual(
    diagnostics(secret).map((d) => [d.policy, d.mandatory]),
    [["closed-registration", true]],
  );
  t.regex(diagnostics(secret)[0]!.message, /enable_registration: true.*set it to false/);

  const volume = find(copy("example"), "bastide-matrix-db");
  const unprotected = await call(client, "analyze", fill(new analyzer.AnalyzeRequest(), { ...volume, protect: false }));
  t.deepEqual(diagnostics(unprotected).map((d) => d.policy), ["protected-volumes"]);

  // The whole stack at the end of a preview: safe with its facts, refused once Synapse drifts.
  const stackRequest = (resources: PolicyResource[]) => {
    const request = new analyzer.AnalyzeStackRequest();
    request.setResourcesList(resources.map((r) => fill(new analyzer.AnalyzerResource(), r)));
    return request;
  };
  t.deepEqual(diagnostics(await call(client, "analyzeStack", stackRequest(safe))), []);
  const drifted = withFacts(copy("example"), stacks.example.facts);
  editFile(find(drifted, "bastide-matrix-synapse"), "homeserver.yaml", replace("federation_domain_whitelist: []\n", ""));
  const refused = diagnostics(await call(client, "analyzeStack", stackRequest(drifted)));
  t.deepEqual(refused.map((d) => [d.policy, d.mandatory]), [["federation-has-reason", true]]);
});

// A message is for the volunteer admin: every one names a resource or setting and says what to do.
test("every refusal in the corpus says what to change", (t) => {
  const messages: Violation[] = VARIANTS.flatMap((v) => {
    const { resources, facts } = unsafeStack(v);
    return checkStack(resources, facts);
  });
  t.true(messages.length >= VARIANTS.length);
  for (const { policy, message } of messages) {
    t.regex(message, /("[^"]+"|\bservices\.|\bhost\.|data category |service |register )/, `${policy}: ${message}`);
    t.regex(message, /[:;] (set|remove|add|use|keep|move|deploy|declare|redeploy|register|give|build|name|regenerate)\b/, `${policy}: ${message}`);
  }
});
