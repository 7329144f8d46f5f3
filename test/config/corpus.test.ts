// The generated corpus: fast-check mutates the example association (wrong types, unknown
// and dangerous keys, strange text, reserved and colliding ids, odd networks, regions and
// domains, YAML bombs and broken syntax) and every case must end one of two ways:
//   - refused, each problem with a field path (or, for the file itself, a line);
//   - accepted and safe: the offline plan's pure part renders (every service's blueprint
//     and files, the firewall, the register), the policy pack passes on it, and no name
//     Bastide derives (resources, accounts, groups, rooms, peers) collides.
// Nothing may crash (an exception other than ConfigError) or hang. The counts are logged
// for the closing note. The seed is fixed: a failure names the case to replay.
import test from "ava";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { parse, stringify } from "yaml";
import { ConfigError, parseAssociation } from "../../stacks/config/load.ts";
import type { Association } from "../../stacks/config/schema.ts";
import { blueprints, publicAddressOf, PUBLIC_ADDRESS } from "../../stacks/services/catalog.ts";
import { containerName, volumeName } from "../../stacks/services/blueprint.ts";
import { firewallRules } from "../../stacks/host/firewall.ts";
import { hetznerFirewallRules } from "../../stacks/host/hetzner.ts";
import { desiredState, MATRIX_BOT, NEXTCLOUD_ADMIN_GROUP } from "../../provisioners/desired.ts";
import { keyedSlice, SLICES } from "../../provisioners/slices.ts";
import type { ProvisionedService } from "../../provisioners/model.ts";
import { registerDocument } from "../../policies/reports/document.ts";
import { renderHtml } from "../../policies/reports/html.ts";
import { checkStack, TYPES, UNKNOWN, type PolicyResource } from "../../policies/pack/checks.ts";
import { BASTIDE_TYPE, FACTS_INPUT, stackFacts } from "../../policies/pack/facts.ts";
import { secretPlaceholder } from "../../stacks/offline/mocks.ts";
import { EXAMPLE_FILE } from "../support/association.ts";

const RUNS = 300;
const SEED = 20261207;
/**
 * A case slower than this counts as hung (a real hang is stopped by the test's timeout).
 * The slowest cases (50,000 nested brackets, alias bombs) take well under a second alone,
 * and a few seconds on this 2-core machine under the whole suite's load.
 */
const HUNG_MS = 15_000;

const EXAMPLE_TEXT = readFileSync(EXAMPLE_FILE, "utf8");
const EXAMPLE_OBJECT = parse(EXAMPLE_TEXT) as Record<string, unknown>;
const exampleObject = () => structuredClone(EXAMPLE_OBJECT);

// --- what the generator draws from --------------------------------------------------------

const STRANGE_TEXT = [
  "", " ", "__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf",
  "admin", "bastide", "association", "focus", "jvb", "jibri", "recorder", "transcriber", "root", "everyone",
  "\u0430dmin", // Cyrillic а: a homoglyph of admin
  "claire.dubois\u200b", "bu\u202ereau", "\u0000", "tab\there", "line\nbreak", "\u001b[31mred", "\ufeffbom",
  "0.0.0.0/0", "::/0", "::0/0", "0::/0", "0.0.0.0/1", "128.0.0.0/1", "::ffff:0.0.0.0/96", "2000::/3", "8.8.8.0/24",
  "127.0.0.0/8", "224.0.0.0/4", "169.254.0.0/16", "10.13.13.0/30", "10.0.0.0/8", "0x7f.0.0.1", "1.2.3.4", "[::1]",
  "javascript:alert(1)", "file:///etc/passwd", "http://example.org", "https://example.org/numbers",
  "ash", "hil", "us-east-1", "fsn1", "fr-par-1", "nl-ams-1", "cx42", "DEV1-XL",
  "-oProxyCommand=touch /tmp/pwned", "user@host@host", "a;b", "$(reboot)", "${HOME}", "{{secret}}", "'; DROP TABLE users; --",
  "émilie.martin@jardins-canal.localhost", "a@b", "@", "x".repeat(300), "é".repeat(70), `${"a.".repeat(126)}fr`,
  "xn--jardins-9ua.fr", "jardins_canal.fr", "-bad-.fr", "localhost", "fr", "FR", "US", "GB", "CH", "de",
];

const strangeText = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...STRANGE_TEXT) },
  { weight: 1, arbitrary: fc.string({ maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 12 }) },
);

/** Values the schema may well accept: reserved names, near-collisions, plausible networks and labels. */
const plausibleText = fc.constantFrom(
  "admin", "bastide", "association", "focus", "jvb", "everyone", "bureau", "potager", "evenements", "karim.benali",
  "karim.b", "karim.b-x", "x-laptop", "laptop", "phone", "tablet", "claire.dubois", "Admin", "BUREAU",
  "10.13.13.0/24", "10.8.0.0/16", "192.168.50.0/24", "172.16.0.0/30", "100.64.0.0/24",
  "meet", "cloud", "chat", "matrix", "vpn", "sondage", "visio",
  "asso-exemple.fr", "exemple.org", "jardins-canal.localhost", "tom.martin@jardins-canal.localhost", "claire.dubois@jardins-canal.localhost",
);
const focusedText = fc.oneof({ weight: 2, arbitrary: plausibleText }, { weight: 1, arbitrary: strangeText });

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: strangeText },
  fc.integer({ min: -70000, max: 70000 }),
  fc.constantFrom(0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER),
  fc.boolean(),
  fc.constant(null),
  fc.array(strangeText, { maxLength: 3 }),
  fc.dictionary(strangeText, strangeText, { maxKeys: 2 }),
);

const HOSTS = [
  { target: "local" },
  { target: "local", size: { cpus: 1, memoryGb: 1 } },
  { target: "ssh", address: "203.0.113.5", country: "FR", size: { cpus: 4, memoryGb: 12 } },
  { target: "hetzner", location: "fsn1", sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJhc3RpZGU admin", adminAddresses: ["203.0.113.7/32"] },
  { target: "scaleway", zone: "fr-par-1", sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJhc3RpZGU admin", adminAddresses: ["198.51.100.0/24"] },
];

/** One change to the parsed example: `at` picks a place among those that exist. */
type Mutation =
  | { kind: "set"; at: number; value: unknown }
  | { kind: "delete"; at: number }
  | { kind: "add-key"; at: number; key: string; value: unknown }
  | { kind: "member-id" | "team-id" | "member-team" | "device-name" | "domain" | "subdomain" | "subnet" | "email"; at: number; value: string }
  | { kind: "host"; host: number; field: string; value: unknown }
  | { kind: "duplicate"; what: "members" | "teams"; at: number };

// Blind changes (any place, any value) are mostly refused; focused ones (ids, hosts,
// networks, duplicates) with plausible values are how a config gets accepted and unsafe.
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: anyValue }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("add-key" as const), at: fc.nat(), key: strangeText, value: anyValue }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constantFrom("member-id", "team-id", "member-team", "device-name", "domain", "subdomain", "subnet", "email") as fc.Arbitrary<"member-id">,
      at: fc.nat(),
      value: focusedText,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("host" as const),
      host: fc.nat({ max: HOSTS.length - 1 }),
      field: fc.constantFrom("location", "zone", "serverType", "address", "user", "publicAddress", "country", "adminAddresses", "none"),
      value: fc.oneof(focusedText, fc.array(focusedText, { minLength: 1, maxLength: 4 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("duplicate" as const), what: fc.constantFrom("members" as const, "teams" as const), at: fc.nat() }) },
);

/** A change to the file's text, after the object is written out as YAML. */
type TextMutation =
  | { kind: "none" }
  | { kind: "bomb"; depth: number }
  | { kind: "deep"; depth: number }
  | { kind: "truncate"; at: number }
  | { kind: "insert"; at: number; text: string }
  | { kind: "anchor-reuse" };

const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  { weight: 8, arbitrary: fc.constant({ kind: "none" as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("bomb" as const), depth: fc.integer({ min: 3, max: 12 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("deep" as const), depth: fc.constantFrom(50, 500, 5000, 50000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("insert" as const),
      at: fc.nat(),
      text: fc.constantFrom("\t", ":", " [", "{", '"', "'", "&a ", "*a", "*nowhere", "- ", "\n  x: 1\n", "? ", "!!binary ", "!!js/function ", "\u0000", "%YAML 1.1\n---\n", "<<: *a\n", "--- \n"),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "anchor-reuse" as const }) },
);

const associationCase = fc.record({ mutations: fc.array(mutation, { minLength: 1, maxLength: 2 }), text: textMutation });
type Case = { mutations: Mutation[]; text: TextMutation };

// --- applying a case -------------------------------------------------------------------------

type Json = Record<string, unknown> | unknown[];
const isContainer = (v: unknown): v is Json => typeof v === "object" && v !== null;

/** Every place in the document: [parent, key]. */
function places(root: Json): [Json, string | number][] {
  const out: [Json, string | number][] = [];
  const visit = (node: Json) => {
    for (const key of Array.isArray(node) ? node.keys() : Object.keys(node)) {
      out.push([node, key]);
      const child = (node as Record<string | number, unknown>)[key];
      if (isContainer(child)) visit(child);
    }
  };
  visit(root);
  return out;
}

/** An own property, even for `__proto__`: plain assignment would change the prototype instead. */
function put(target: Json, key: string | number, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

const pick = <T>(items: readonly T[], at: number): T | undefined => (items.length === 0 ? undefined : items[at % items.length]);
const asList = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? (v.filter(isContainer) as Record<string, unknown>[]) : []);

function apply(input: Record<string, unknown>, m: Mutation): void {
  const members = asList(input.members);
  const teams = asList(input.teams);
  const services = (isContainer(input.services) ? input.services : (input.services = {})) as Record<string, Record<string, unknown>>;
  switch (m.kind) {
    case "set": {
      const place = pick(places(input), m.at);
      if (place) put(place[0], place[1], m.value);
      return;
    }
    case "delete": {
      const place = pick(places(input), m.at);
      if (place && Array.isArray(place[0])) place[0].splice(place[1] as number, 1);
      else if (place) delete (place[0] as Record<string, unknown>)[place[1]];
      return;
    }
    case "add-key": {
      const objects = [input, ...places(input).map(([p, k]) => (p as Record<string | number, unknown>)[k]).filter((v) => isContainer(v) && !Array.isArray(v))] as Json[];
      const target = pick(objects, m.at);
      if (target) put(target, m.key, m.value);
      return;
    }
    case "member-id": {
      const member = pick(members, m.at);
      if (member) member.id = m.value;
      return;
    }
    case "team-id": {
      const team = pick(teams, m.at);
      if (team) team.id = m.value;
      return;
    }
    case "member-team": {
      const member = pick(members, m.at);
      if (member) member.teams = [...(Array.isArray(member.teams) ? member.teams : []), m.value];
      return;
    }
    case "device-name": {
      const member = pick(members, m.at);
      if (member) member.devices = [...(Array.isArray(member.devices) ? member.devices : []), { name: m.value }];
      return;
    }
    case "email": {
      const member = pick(members, m.at);
      if (member) member.email = m.value;
      return;
    }
    case "domain":
      input.domain = m.value;
      return;
    case "subdomain": {
      const service = pick(["jitsi", "nextcloud", "matrix", "polls", "vpn"], m.at)!;
      services[service] = { ...(isContainer(services[service]) ? services[service] : {}), subdomain: m.value };
      return;
    }
    case "subnet":
      services.vpn = { ...(isContainer(services.vpn) ? services.vpn : {}), subnet: m.value };
      return;
    case "host": {
      const host: Record<string, unknown> = structuredClone(HOSTS[m.host]!);
      if (m.field !== "none") host[m.field] = m.value;
      input.host = host;
      return;
    }
    case "duplicate": {
      const list = m.what === "members" ? members : teams;
      const item = pick(list, m.at);
      if (item) (input[m.what] as unknown[]).push(structuredClone(item));
      return;
    }
  }
}

const BOMB_LEVEL = (name: string, previous: string) => `${name}: &${name} [${Array(9).fill(`*${previous}`).join(",")}]`;

function applyText(text: string, m: TextMutation): string {
  switch (m.kind) {
    case "none":
      return text;
    case "bomb": {
      const names = Array.from({ length: m.depth }, (_, i) => `lol${i}`);
      const lines = [`${names[0]}: &${names[0]} ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]`, ...names.slice(1).map((n, i) => BOMB_LEVEL(n, names[i]!))];
      return `${lines.join("\n")}\n${text}`;
    }
    case "deep":
      return `${text}extra: ${"[".repeat(m.depth)}${"]".repeat(m.depth)}\n`;
    case "truncate":
      return text.slice(0, m.at % (text.length + 1));
    case "insert": {
      const at = m.at % (text.length + 1);
      return `${text.slice(0, at)}${m.text}${text.slice(at)}`;
    }
    case "anchor-reuse":
      return text.replace(/^members:\n/m, "members: &everyone\n").concat("x-copy: *everyone\n");
  }
}

function caseText(c: Case): string {
  const input = exampleObject();
  for (const m of c.mutations) apply(input, m);
  return applyText(stringify(input), c.text);
}

// --- the pure plan, and its safety ---------------------------------------------------------------

/**
 * The resources the pure plan can tell without Pulumi: each container with its image, its
 * environment and its rendered files (secrets as placeholders), the Hetzner firewall that
 * host's admin addresses give, each provisioning resource with the desired state it is
 * given (the occ settings the pack reads), and the Bastide component with its facts. What only the
 * program computes (ports, security options, log driver) is UNKNOWN, as in a preview:
 * the checks skip it (test/policies/pack.test.ts checks those on the program's resources).
 */
function purePlan(config: Association): PolicyResource[] {
  const address = publicAddressOf(config);
  const resources: PolicyResource[] = [{ type: BASTIDE_TYPE, name: "bastide", props: { [FACTS_INPUT]: stackFacts(config) } }];
  for (const b of blueprints(config)) {
    const placeholders = Object.fromEntries([...b.secrets.map((s) => s.name), ...(b.providedSecrets ?? [])].map((n) => [n, secretPlaceholder(n)]));
    const files = b.files(placeholders);
    for (const c of b.containers) {
      resources.push({
        type: TYPES.container,
        name: containerName(b.service, c.name),
        props: {
          image: c.image,
          envs: Object.entries(c.env ?? {}).map(([k, v]) => `${k}=${v.split(PUBLIC_ADDRESS).join(address)}`),
          uploads: (c.files ?? []).map((path) => {
            const file = files.find((f) => f.container === c.name && f.path === path);
            if (!file) throw new Error(`${b.service}/${c.name}: no rendered file for ${path}`);
            return { file: path, content: file.content.split(PUBLIC_ADDRESS).join(address) };
          }),
          ports: UNKNOWN,
          securityOpts: UNKNOWN,
          logDriver: UNKNOWN,
          logOpts: UNKNOWN,
        },
      });
    }
    for (const v of b.volumes) resources.push({ type: TYPES.volume, name: volumeName(b.service, v.name), props: {}, protect: true });
  }
  const state = desiredState(config);
  for (const service of Object.keys(SLICES) as ProvisionedService[]) {
    const desired = keyedSlice(state, service);
    if (desired) resources.push({ type: "pulumi-nodejs:dynamic:Resource", name: `${service}-provisioning`, props: { service, desired } });
  }
  const host = config.host;
  if (host.target === "hetzner" || host.target === "scaleway")
    resources.push({ type: "hcloud:index/firewall:Firewall", name: "firewall", props: { rules: hetznerFirewallRules(firewallRules(config)) } });
  return resources;
}

/** Only the program creates Docker providers and cloud servers: that check runs in pack.test.ts. */
const NEEDS_THE_PROGRAM = new Set(["docker-reaches-declared-host"]);

// Names the services or Bastide itself already use (docker-jitsi-meet's internal XMPP users:
// JICOFO_AUTH_USER focus, JVB_AUTH_USER jvb, JIBRI_*_USER jibri/recorder, transcriber).
const JITSI_RESERVED = ["focus", "jvb", "jibri", "recorder", "transcriber"];

function collisions(config: Association, resources: PolicyResource[]): string[] {
  const problems: string[] = [];
  const unique = (what: string, names: string[]) => {
    const seen = new Set<string>();
    for (const name of names) {
      if (seen.has(name)) problems.push(`${what} "${name}" is used twice`);
      seen.add(name);
    }
  };
  unique("resource", resources.map((r) => `${r.type} ${r.name}`));
  const state = desiredState(config);
  if (state.nextcloud) {
    unique("Nextcloud user", [state.nextcloud.serviceAccount, ...state.nextcloud.users.map((u) => u.id)].map((id) => id.toLowerCase()));
    unique("Nextcloud group", [NEXTCLOUD_ADMIN_GROUP, ...state.nextcloud.groups.map((g) => g.id)].map((id) => id.toLowerCase()));
    unique("calendar", state.nextcloud.calendars.map((c) => c.uri));
  }
  if (state.matrix) {
    unique("Matrix user", [MATRIX_BOT, ...state.matrix.users.map((u) => u.localpart)].map((id) => id.toLowerCase()));
    unique("Matrix room alias", [state.matrix.space.alias, ...state.matrix.rooms.map((r) => r.alias)].map((id) => id.toLowerCase()));
  }
  if (state.jitsi) unique("Jitsi account", [...JITSI_RESERVED, ...state.jitsi.accounts.map((a) => a.username.toLowerCase())]);
  if (state.vpn) unique("VPN peer", state.vpn.peers.map((p) => p.id));
  return problems;
}

/** Why an accepted config is not safe, or nothing. */
function unsafe(config: Association): string[] {
  const resources = purePlan(config);
  renderHtml(registerDocument(config, { language: config.organisation.language, generatedAt: new Date(0), source: "corpus" }));
  const violations = checkStack(resources).filter((v) => !NEEDS_THE_PROGRAM.has(v.policy));
  return [...violations.map((v) => `${v.policy}: ${v.message}`), ...collisions(config, resources)];
}

// --- the corpus --------------------------------------------------------------------------------

type Outcome =
  | { kind: "accepted-safe" }
  | { kind: "accepted-unsafe"; why: string[] }
  | { kind: "refused-with-path" }
  | { kind: "refused-without-path"; problems: string }
  | { kind: "crashed"; error: string }
  | { kind: "hung"; ms: number };

let slowest = 0;

function judge(text: string): Outcome {
  const started = performance.now();
  let outcome: Outcome;
  try {
    const config = parseAssociation(text, "corpus.yaml");
    const why = unsafe(config);
    outcome = why.length === 0 ? { kind: "accepted-safe" } : { kind: "accepted-unsafe", why };
  } catch (error) {
    if (error instanceof ConfigError) {
      const pathless = error.problems.filter((p) => !(p.path !== "" || p.line !== undefined) || p.message.trim() === "");
      const raw = /[\u0000-\u0008\u000b-\u001f\u202a-\u202e]/.test(error.message);
      outcome =
        pathless.length === 0 && error.problems.length > 0 && !raw
          ? { kind: "refused-with-path" }
          : { kind: "refused-without-path", problems: raw ? `raw control characters in: ${JSON.stringify(error.message)}` : JSON.stringify(error.problems) };
    } else outcome = { kind: "crashed", error: (error as Error)?.stack ?? String(error) };
  }
  const ms = performance.now() - started;
  slowest = Math.max(slowest, ms);
  return ms > HUNG_MS ? { kind: "hung", ms } : outcome;
}

test(`a generated corpus of ${RUNS} mutated associations: each refused with a path, or accepted and safe`, (t) => {
  // About 10 s alone here; the margin is for a loaded CI machine.
  t.timeout(300_000);
  const cases = fc.sample(associationCase, { numRuns: RUNS, seed: SEED }) as Case[];
  const counts: Record<Outcome["kind"], number> = {
    "accepted-safe": 0,
    "accepted-unsafe": 0,
    "refused-with-path": 0,
    "refused-without-path": 0,
    crashed: 0,
    hung: 0,
  };
  const failures: string[] = [];
  const started = performance.now();
  cases.forEach((c, index) => {
    const text = caseText(c);
    const outcome = judge(text);
    counts[outcome.kind]++;
    if (outcome.kind !== "accepted-safe" && outcome.kind !== "refused-with-path" && failures.length < 5)
      failures.push(`case ${index} (seed ${SEED}) ${JSON.stringify(c).slice(0, 600)}\n  → ${JSON.stringify(outcome).slice(0, 1200)}`);
  });
  t.log(
    `corpus of ${RUNS} (seed ${SEED}) in ${Math.round(performance.now() - started)} ms: ` +
      `accepted safe ${counts["accepted-safe"]}, refused with path ${counts["refused-with-path"]}, ` +
      `accepted unsafe ${counts["accepted-unsafe"]}, refused without path ${counts["refused-without-path"]}, ` +
      `crashed ${counts.crashed}, hung ${counts.hung}; slowest case ${Math.round(slowest)} ms`,
  );
  t.is(cases.length, RUNS);
  t.true(counts["accepted-safe"] > 0 && counts["refused-with-path"] > 0, "the corpus exercises both ends");
  t.deepEqual(failures, [], failures.join("\n\n"));
});

test("the unmutated example is accepted and safe by the same judge (the judge can pass)", (t) => {
  t.deepEqual(judge(EXAMPLE_TEXT), { kind: "accepted-safe" });
});

test("the judge sees an unsafe plan (it can fail)", (t) => {
  const config = parseAssociation(EXAMPLE_TEXT, "example");
  // A team named like the association-wide group: a collision the judge must see, whatever the schema says.
  const colliding = structuredClone(config);
  colliding.teams.push({ id: "association", name: "Tous", calendar: true, room: true });
  t.true(collisions(colliding, purePlan(colliding)).some((p) => p.includes('"association" is used twice')));
  // SSH opened wide on a cloud host: the pack refuses the pure plan's firewall.
  const wide = structuredClone(config);
  wide.host = { target: "hetzner", location: "fsn1", serverType: "cx42", sshPublicKey: "ssh-ed25519 AAAA admin", adminAddresses: ["0.0.0.0/1", "128.0.0.0/1"] };
  t.true(unsafe(wide).some((p) => p.startsWith("ssh-from-admin-networks")));
});
