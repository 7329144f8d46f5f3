// The policy pack's checks, as pure functions over a plain list of resources and the
// facts the stack declares (facts.ts). Each returns messages that name the resource and
// say what to change. policies.ts adapts them to Pulumi's policy SDK; the tests run them
// on the program's resources under mocks, with no engine.
import { runInNewContext } from "node:vm";
import { parse as parseYaml } from "yaml";
import { BUILT_IMAGES, IMAGES, isPinned } from "../../stacks/services/images.ts";
import { HETZNER_LOCATIONS, SCALEWAY_ZONES } from "../../stacks/host/settings.ts";
import { EU_EEA_COUNTRIES, hollowReasonProblem } from "../../stacks/config/fields.ts";
import { sshExposureProblem } from "../../stacks/config/networks.ts";
import { NEXTCLOUD_TWO_FACTOR_GROUP } from "../../stacks/services/reserved-names.ts";
import { retentionSchema } from "../rgpd/model.ts";
import { durationDays } from "../rgpd/settings.ts";
import { readCaddyfile, servesPlainHttp, walk, type CaddyConfig, type Directive } from "./caddyfile.ts";
import { BASTIDE_TYPE, declaredFacts, NO_FACTS, type StackFacts } from "./facts.ts";

/** A value `pulumi preview` cannot know yet; checks skip it (they run again at `pulumi up`). */
export const UNKNOWN: unique symbol = Symbol("unknown during preview");

export interface PolicyResource {
  type: string;
  name: string;
  props: Record<string, unknown>;
  protect?: boolean;
  /** Undefined when not known: Pulumi's policy SDK does not pass this option to packs. */
  retainOnDelete?: boolean;
}

export interface ResourceCheck {
  kind: "resource";
  name: string;
  description: string;
  check(resource: PolicyResource): string[];
}

export interface StackCheck {
  kind: "stack";
  name: string;
  description: string;
  check(resources: readonly PolicyResource[], facts: StackFacts | undefined): string[];
}

export type PolicyCheck = ResourceCheck | StackCheck;

export const TYPES = {
  container: "docker:index/container:Container",
  volume: "docker:index/volume:Volume",
  remoteImage: "docker:index/remoteImage:RemoteImage",
  builtImage: "docker:index/image:Image",
  dockerProvider: "pulumi:providers:docker",
} as const;

// --- reading props --------------------------------------------------------------------

type Props = Record<string, unknown>;

const isRecord = (v: unknown): v is Props => typeof v === "object" && v !== null && !Array.isArray(v);
const records = (v: unknown): Props[] => (Array.isArray(v) ? v.filter(isRecord) : []);
const text = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const isUnknown = (v: unknown) => v === UNKNOWN;
const basename = (path: string) => path.slice(path.lastIndexOf("/") + 1);
const quote = (r: PolicyResource) => `"${r.name}"`;

interface Upload {
  file: string;
  content: string;
}

/** Paths of every file uploaded into a container, known content or not. */
const uploadedFiles = (r: PolicyResource) => records(r.props.uploads).flatMap((u) => text(u.file) ?? []);

/** Files uploaded into a container whose content is known. */
function uploads(r: PolicyResource): Upload[] {
  return records(r.props.uploads).flatMap((u) => {
    const file = text(u.file);
    const content = text(u.content);
    return file !== undefined && content !== undefined ? [{ file, content }] : [];
  });
}

function labels(r: PolicyResource): Record<string, string> {
  return Object.fromEntries(records(r.props.labels).flatMap((l) => (text(l.label) ? [[l.label as string, String(l.value)]] : [])));
}

/** The Bastide service and container a Docker container belongs to, from its labels or its name. */
function identity(r: PolicyResource): { service?: string; role?: string } {
  const l = labels(r);
  const byName = r.name.match(/^bastide-([a-z]+)-(.+)$/);
  return { service: l["bastide.service"] ?? byName?.[1], role: l["bastide.container"] ?? byName?.[2] };
}

function env(r: PolicyResource): Record<string, string> {
  const list = Array.isArray(r.props.envs) ? r.props.envs : [];
  return Object.fromEntries(list.flatMap((e) => (typeof e === "string" && e.includes("=") ? [[e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]] : [])));
}

const truthy = (value: string | undefined) => value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());

const containers = (resources: readonly PolicyResource[]) => resources.filter((r) => r.type === TYPES.container);

/** Synapse reads YAML 1.1, where `yes` is true: parse it the same way. */
function readYaml(content: string): { value?: Props; error?: string } {
  try {
    const value: unknown = parseYaml(content, { version: "1.1" });
    return isRecord(value) ? { value } : { error: "it is not a YAML mapping" };
  } catch (error) {
    return { error: (error as Error).message.split("\n")[0] };
  }
}

const homeserverFiles = (r: PolicyResource) => (r.type === TYPES.container ? uploads(r).filter((u) => basename(u.file) === "homeserver.yaml") : []);
const caddyfiles = (r: PolicyResource) => (r.type === TYPES.container ? uploads(r).filter((u) => basename(u.file) === "Caddyfile") : []);

/** The Caddyfiles a container uploads, parsed; one that cannot be read is left to tls-only, which reports it. */
function readableCaddyfiles(r: PolicyResource): { file: string; config: CaddyConfig }[] {
  return caddyfiles(r).flatMap(({ file, content }) => {
    try {
      return [{ file, config: readCaddyfile(content) }];
    } catch {
      return [];
    }
  });
}

// --- 1. data stays in the EU/EEA --------------------------------------------------------

const EU = new Set<string>(EU_EEA_COUNTRIES);
const SCALEWAY_REGIONS = new Set(Object.keys(SCALEWAY_ZONES).map((z) => z.replace(/-\d+$/, "")));
const HETZNER_CHOICES = "fsn1 (Falkenstein, DE), nbg1 (Nuremberg, DE) or hel1 (Helsinki, FI)";
const SCALEWAY_CHOICES = Object.keys(SCALEWAY_ZONES).join(", ");

function cloudLocation(r: PolicyResource): string[] {
  const where = `${r.type} ${quote(r)}`;
  if (r.type.startsWith("hcloud:")) {
    const location = text(r.props.location);
    const datacenter = text(r.props.datacenter);
    const problems: string[] = [];
    if (location !== undefined && !Object.hasOwn(HETZNER_LOCATIONS, location))
      problems.push(`${where} is in Hetzner location "${location}", which is not in the EU/EEA: set host.location to ${HETZNER_CHOICES}`);
    if (datacenter !== undefined && !Object.hasOwn(HETZNER_LOCATIONS, datacenter.split("-")[0]!))
      problems.push(`${where} is in Hetzner datacenter "${datacenter}", which is not in the EU/EEA: use a datacenter of ${HETZNER_CHOICES}`);
    return problems;
  }
  if (r.type.startsWith("scaleway:")) {
    const zone = text(r.props.zone);
    const region = text(r.props.region);
    const problems: string[] = [];
    if (zone !== undefined && !Object.hasOwn(SCALEWAY_ZONES, zone))
      problems.push(`${where} is in Scaleway zone "${zone}", not an EU zone: set host.zone to one of ${SCALEWAY_CHOICES}`);
    if (region !== undefined && !SCALEWAY_REGIONS.has(region))
      problems.push(`${where} is in Scaleway region "${region}", not an EU region: use ${[...SCALEWAY_REGIONS].join(", ")}`);
    return problems;
  }
  return [];
}

function declaredCountry(r: PolicyResource): string[] {
  if (r.type !== BASTIDE_TYPE) return [];
  const facts = declaredFacts([r]);
  if (!facts) return [];
  const { target, country } = facts.host;
  if (country === undefined)
    return target === "local" ? [] : [`the stack's host (${target}) declares no country: register stackFacts(config), which takes it from host.*`];
  if (!EU.has(country))
    return [`the stack declares its server in "${country}", outside the EU/EEA: move the data to a server in an EU/EEA country (host.country such as FR, DE, NL)`];
  return [];
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

type Endpoint = { kind: "local" } | { kind: "remote"; address: string } | { kind: "unknown" };

/** Where a Docker provider sends its API calls. */
function dockerEndpoint(provider: PolicyResource): Endpoint {
  const host = provider.props.host;
  if (isUnknown(host)) return { kind: "unknown" };
  if (host === undefined || host === "" || /^(unix|npipe):\/\//.test(String(host))) return { kind: "local" };
  const match = String(host).match(/^[a-z]+:\/\/(?:[^@/]*@)?(\[[^\]]+\]|[^:/]+)/i);
  const address = match ? match[1]!.replace(/^\[|\]$/g, "") : String(host);
  return LOOPBACK.test(address) ? { kind: "local" } : { kind: "remote", address };
}

const isCloudServer = (r: PolicyResource, cloud: "hetzner" | "scaleway") =>
  cloud === "hetzner" ? r.type === "hcloud:index/server:Server" : /^scaleway:(instance\/server:Server|index\/instanceServer:InstanceServer)$/.test(r.type);

function declaredHost(resources: readonly PolicyResource[], facts: StackFacts | undefined): string[] {
  const providers = resources.filter((r) => r.type === TYPES.dockerProvider).map((p) => ({ p, at: dockerEndpoint(p) }));
  const hasCloudServer = resources.some((r) => isCloudServer(r, "hetzner") || isCloudServer(r, "scaleway"));
  const remote = providers.flatMap(({ p, at }) => (at.kind === "remote" ? [{ p, address: at.address }] : []));
  if (!facts) {
    // A cloud server's location is checked on the server itself; anything else needs the declared country.
    return hasCloudServer ? [] : remote.map(({ p, address }) => `Docker provider ${quote(p)} reaches ${address}, whose country is unknown: ${NO_FACTS}`);
  }
  const { target, address } = facts.host;
  switch (target) {
    case "local":
      return remote.map(
        ({ p, address: a }) =>
          `Docker provider ${quote(p)} reaches ${a} while the config says host.target: local: declare that server (host.target: ssh with its country) or use the local Docker engine`,
      );
    case "ssh":
      return providers.flatMap(({ p, at }) =>
        at.kind === "local" || (at.kind === "remote" && at.address !== address)
          ? [`Docker provider ${quote(p)} reaches ${at.kind === "local" ? "the local engine" : at.address}, not the declared server ${address}: deploy to host.address or correct it (with host.country)`]
          : [],
      );
    case "hetzner":
    case "scaleway":
      return resources.some((r) => isCloudServer(r, target))
        ? []
        : [`the config says host.target: ${target} but the stack creates no ${target} server: its location cannot be checked; deploy through stacks/host/${target}.ts`];
  }
}

// --- 1b. SSH only from the admin's networks ------------------------------------------------

const SSH = 22;

/** Whether a firewall rule's port (a number, "22", "20-30", "any" or none: every port) includes SSH's. */
function coversSsh(port: unknown): boolean {
  if (port === undefined || port === null || port === "" || port === "any") return true;
  if (typeof port === "number") return port === SSH;
  const range = String(port).match(/^(\d+)(?:-(\d+))?$/);
  if (!range) return true; // unreadable: assume the worst
  const from = Number(range[1]);
  return from <= SSH && SSH <= Number(range[2] ?? from);
}

const tcp = (protocol: unknown) => protocol === undefined || /^(tcp|any|all)$/i.test(String(protocol));

/** The networks a cloud firewall lets reach port 22, or undefined for other resources. */
function sshSources(r: PolicyResource): { sources: string[]; problems: string[] } | undefined {
  if (r.type === "hcloud:index/firewall:Firewall") {
    const rules = records(r.props.rules).filter((rule) => (text(rule.direction) ?? "in") === "in" && tcp(rule.protocol) && coversSsh(rule.port));
    return { sources: rules.flatMap((rule) => (Array.isArray(rule.sourceIps) ? rule.sourceIps.map(String) : [])), problems: [] };
  }
  if (/^scaleway:(instance\/securityGroup:SecurityGroup|index\/instanceSecurityGroup:InstanceSecurityGroup)$/.test(r.type)) {
    const problems: string[] = [];
    const policy = r.props.inboundDefaultPolicy;
    if (!isUnknown(policy) && policy !== "drop")
      problems.push(`security group ${quote(r)} accepts by default what no rule names (inboundDefaultPolicy ${text(policy) ?? "unset"}), SSH included: set inboundDefaultPolicy: drop`);
    const rules = records(r.props.inboundRules).filter(
      (rule) => (text(rule.action) ?? "accept") === "accept" && tcp(rule.protocol) && (rule.portRange !== undefined ? coversSsh(rule.portRange) : coversSsh(rule.port)),
    );
    return { sources: rules.flatMap((rule) => text(rule.ipRange) ?? text(rule.ip) ?? "0.0.0.0/0"), problems };
  }
  return undefined;
}

function boundedSsh(r: PolicyResource): string[] {
  const found = sshSources(r);
  if (!found) return [];
  // The same bound and the same parsing as the config's host.adminAddresses.
  const tooWide = found.sources.length > 0 ? sshExposureProblem(found.sources) : undefined;
  return [
    ...found.problems,
    ...(tooWide
      ? [`${r.type} ${quote(r)} opens SSH (22/tcp) to ${found.sources.join(", ")}: keep host.adminAddresses to the admin's own networks and deploy from the config; ${tooWide}`]
      : []),
  ];
}

// --- 2. nothing served without TLS ------------------------------------------------------

const WEB_PORTS = new Set([80, 443]);

function publishedPorts(r: PolicyResource): string[] {
  const { service } = identity(r);
  const problems: string[] = [];
  if (r.props.networkMode === "host")
    problems.push(`container ${quote(r)} runs on the host network, which serves every port it opens without the proxy: remove networkMode: host and let the proxy route to it`);
  for (const port of records(r.props.ports)) {
    const protocol = text(port.protocol) ?? "tcp";
    const ip = text(port.ip);
    const number = typeof port.external === "number" ? port.external : port.internal;
    if (protocol !== "tcp" || (ip !== undefined && LOOPBACK.test(ip)) || typeof number !== "number") continue;
    if (service === "proxy" && WEB_PORTS.has(number)) continue;
    problems.push(
      service === "proxy"
        ? `the proxy ${quote(r)} publishes ${number}/tcp: only 80 (redirect to HTTPS) and 443 may be published; remove that port`
        : `container ${quote(r)} publishes ${number}/tcp straight to the Internet, bypassing the proxy's TLS: remove the port and add a proxy route (ProxyRoute) to the service instead`,
    );
  }
  return problems;
}

const onlyLoopback = (body: Directive[]) => {
  const binds = body.filter((d) => d.args[0] === "bind");
  return binds.length > 0 && binds.every((d) => d.args.length > 1 && d.args.slice(1).every((a) => LOOPBACK.test(a)));
};

const onlyRedirectsToHttps = (body: Directive[]) =>
  body.length > 0 && body.every((d) => d.args[0] === "redir" && (d.args[1] ?? "").startsWith("https://"));

function caddyTls(r: PolicyResource): string[] {
  return caddyfiles(r).flatMap(({ file, content }) => {
    const where = `${file} in ${quote(r)}`;
    let config;
    try {
      config = readCaddyfile(content);
    } catch (error) {
      return [`${where} cannot be read (${(error as Error).message}): regenerate it from templates/proxy/Caddyfile.hbs`];
    }
    const problems: string[] = [];
    for (const option of config.globalOptions.filter((d) => d.args[0] === "auto_https")) {
      if (option.args[1] === "off" || option.args[1] === "disable_certs")
        problems.push(`${where} sets "auto_https ${option.args[1]}": the sites would be served without certificates; remove that global option`);
    }
    for (const site of config.sites) {
      if (onlyLoopback(site.body) || onlyRedirectsToHttps(site.body)) continue;
      for (const address of site.addresses.filter(servesPlainHttp))
        problems.push(
          `${where} serves ${address} (line ${site.line}) in plain HTTP: use the bare host name so that Caddy serves it over HTTPS, or make that block only "redir https://{host}{uri}"`,
        );
    }
    return problems;
  });
}

/** Every HTTPS site gets Bastide's security headers, HSTS first (README: "adds security headers"). */
function securityHeaders(r: PolicyResource): string[] {
  return readableCaddyfiles(r).flatMap(({ file, config }) => {
    const snippets = new Map(config.all.filter((d) => /^\(.+\)$/.test(d.args[0] ?? "")).map((d) => [d.args[0]!.slice(1, -1), d.block ?? []]));
    const setsHsts = (body: Directive[]): boolean =>
      walk(body).some(({ directive }) => directive.args.includes("Strict-Transport-Security")) ||
      body.some((d) => d.args[0] === "import" && setsHsts(snippets.get(d.args[1] ?? "") ?? []));
    return config.sites
      .filter((site) => !onlyLoopback(site.body) && !onlyRedirectsToHttps(site.body) && !site.addresses.every(servesPlainHttp))
      .filter((site) => !setsHsts(site.body))
      .map((site) => `${file} in ${quote(r)} serves ${site.addresses.join(", ")} (line ${site.line}) without Strict-Transport-Security: keep "import security_headers" in every site block (templates/proxy/Caddyfile.hbs)`);
  });
}

// --- 3. closed registration -------------------------------------------------------------

function closedRegistration(r: PolicyResource): string[] {
  return homeserverFiles(r).flatMap(({ file, content }) => {
    const where = `${file} in ${quote(r)}`;
    const { value, error } = readYaml(content);
    if (!value) return [`${where} cannot be read (${error}): regenerate it from stacks/services/matrix/blueprint.ts`];
    const problems: string[] = [];
    if (value.enable_registration === true)
      problems.push(`${where} sets enable_registration: true, so anyone could create an account: set it to false; accounts come from members: in the config`);
    if (value.enable_registration_without_verification === true)
      problems.push(`${where} sets enable_registration_without_verification: true: remove it; accounts come from members: in the config`);
    if (value.allow_guest_access === true)
      problems.push(`${where} sets allow_guest_access: true, so people without an account could read and post: set it to false`);
    return problems;
  });
}

/**
 * Chat rooms are encrypted end to end from their creation, whoever creates them, and none is
 * listed to people outside: Bastide's own rooms get m.room.encryption from the provisioner, and
 * this setting covers the rooms members create themselves (synapse/config/room.py,
 * encryption_enabled_by_default_for_room_type: "invite" covers the private presets, "all" every one).
 */
function privateEncryptedRooms(r: PolicyResource): string[] {
  return homeserverFiles(r).flatMap(({ file, content }) => {
    const where = `${file} in ${quote(r)}`;
    const { value } = readYaml(content);
    if (!value) return []; // closed-registration reports an unreadable homeserver.yaml
    const problems: string[] = [];
    if (!["all", "invite"].includes(String(value.encryption_enabled_by_default_for_room_type)))
      problems.push(`${where} does not encrypt new rooms by default (encryption_enabled_by_default_for_room_type: ${JSON.stringify(value.encryption_enabled_by_default_for_room_type ?? "off")}), while the register says rooms are end-to-end encrypted: set it to "all"`);
    for (const key of ["allow_public_rooms_without_auth", "allow_public_rooms_over_federation"])
      if (value[key] === true) problems.push(`${where} sets ${key}: true, so people outside the association can list its rooms: set it to false`);
    return problems;
  });
}

/** Lua without its comments (`--` to the end of the line; Bastide writes no long comments). */
const luaCode = (content: string) => content.replace(/--(?!\[\[).*$/gm, "");

/** The names listed in `option = { "a"; "b" }`, every time the option is set. */
const luaLists = (code: string, option: string) =>
  [...code.matchAll(new RegExp(`\\b${option}\\s*=\\s*\\{([^}]*)\\}`, "g"))].map((m) => [...m[1]!.matchAll(/["']([^"']+)["']/g)].map((q) => q[1]!));

/** Where Prosody's own global section ends: the first host or component section. */
const globalPart = (code: string) => code.split(/^\s*(?:VirtualHost|Component)\b/m)[0]!;

/**
 * Jitsi's Prosody: no in-band registration (XEP-0077). The image's prosody.cfg.lua sets
 * allow_registration = false and disables "register", then includes conf.d/*.cfg.lua,
 * whose global values replace its own (docker-jitsi-meet stable-11146-1,
 * prosody/rootfs/defaults/prosody.cfg.lua lines 174-186 and 441); Bastide's overlay
 * says the same again, so that it holds whatever the image does.
 */
function prosodyRegistration(r: PolicyResource): string[] {
  if (r.type !== TYPES.container) return [];
  const { service, role } = identity(r);
  if (service !== "jitsi" || role !== "prosody" || isUnknown(r.props.uploads)) return [];
  const overlays = uploads(r).filter((u) => /\/conf\.d\/[^/]+\.cfg\.lua$/.test(u.file));
  if (overlays.length === 0)
    return [`Prosody ${quote(r)} runs without Bastide's conf.d overlay, which keeps account registration closed: keep that upload (stacks/services/jitsi/blueprint.ts)`];
  const problems: string[] = [];
  const code = overlays.map((o) => luaCode(o.content)).join("\n");
  const where = `${overlays.map((o) => o.file).join(", ")} in ${quote(r)}`;
  const settings = [...globalPart(code).matchAll(/\ballow_registration\s*=\s*(\w+)/g)].map((m) => m[1]);
  if (settings.at(-1) !== "false")
    problems.push(`${where} ${settings.length === 0 ? "does not set" : `sets allow_registration = ${settings.at(-1)}, not`} allow_registration = false, so anyone could create a Jitsi account: set it to false; accounts come from members: in the config`);
  if ([...code.matchAll(/\ballow_registration\s*=\s*true\b/g)].length > 0 && settings.at(-1) === "false")
    problems.push(`${where} sets allow_registration = true for a host: remove it; accounts come from members: in the config`);
  const disabled = luaLists(globalPart(code), "modules_disabled").at(-1) ?? [];
  if (!disabled.includes("register"))
    problems.push(`${where} does not disable the "register" module (in-band registration): keep "register" in modules_disabled`);
  if (luaLists(code, "modules_enabled").some((list) => list.includes("register")))
    problems.push(`${where} enables the "register" module: remove it from modules_enabled`);
  return problems;
}

// --- 3b. Jitsi: only members open rooms, guests wait in the lobby --------------------------

/** The containers of docker-jitsi-meet that read ENABLE_AUTH, each defaulting to no authentication. */
const JITSI_AUTH_ROLES = new Set(["web", "prosody", "jicofo"]);
const explicitlyOff = (value: string | undefined) => value !== undefined && /^(0|false|no|off)$/i.test(value.trim());

/**
 * docker-jitsi-meet stable-11146-1 defaults ENABLE_AUTH to off (prosody/rootfs/defaults/
 * prosody.cfg.lua line 5, jicofo/rootfs/defaults/jicofo.conf line 1, web/rootfs/defaults/
 * system-config.js line 3): without it anyone opens a room. ENABLE_LOBBY defaults to on
 * (prosody/rootfs/defaults/conf.d/jitsi-meet.cfg.lua line 13): only an explicit off removes it.
 */
function jitsiAccess(r: PolicyResource): string[] {
  if (r.type !== TYPES.container || isUnknown(r.props.envs)) return [];
  const { service, role } = identity(r);
  if (service !== "jitsi" || !role || !JITSI_AUTH_ROLES.has(role)) return [];
  const variables = env(r);
  const problems: string[] = [];
  if (!truthy(variables.ENABLE_AUTH) || explicitlyOff(variables.JICOFO_ENABLE_AUTH))
    problems.push(`container ${quote(r)} runs without ENABLE_AUTH=1, so anyone could open a meeting room: set ENABLE_AUTH=1 (only admin and staff members open rooms)`);
  if (role === "prosody" && truthy(variables.ENABLE_GUESTS) && explicitlyOff(variables.ENABLE_LOBBY))
    problems.push(`container ${quote(r)} lets guests in (ENABLE_GUESTS=${variables.ENABLE_GUESTS}) with the lobby off (ENABLE_LOBBY=${variables.ENABLE_LOBBY}): set ENABLE_LOBBY=1, so that guests wait to be admitted`);
  return problems;
}

// --- 4. federation only with a declared reason ------------------------------------------

/** Synapse federates unless its whitelist of remote servers is an empty list. */
function federates(homeserver: Props): boolean {
  const whitelist = homeserver.federation_domain_whitelist;
  return !(Array.isArray(whitelist) && whitelist.length === 0);
}

function declaredFederation(resources: readonly PolicyResource[], facts: StackFacts | undefined): string[] {
  return containers(resources).flatMap((r) =>
    homeserverFiles(r).flatMap(({ file, content }) => {
      const { value } = readYaml(content);
      if (!value || !federates(value)) return [];
      const where = `${file} in ${quote(r)} federates with other Matrix servers (federation_domain_whitelist is not [])`;
      if (!facts) return [`${where}, and no reason is declared: ${NO_FACTS}`];
      if (!facts.matrix.federation)
        return [`${where} while the config says services.matrix.federation.enabled: false: redeploy from the config, or turn federation on with services.matrix.federation.reason`];
      if ((facts.matrix.federationReason ?? "").trim().length < 10)
        return [`${where} without a reason: set services.matrix.federation.reason, the sentence the DPO's register quotes`];
      return [];
    }),
  );
}

// --- 4b. no role without a second factor unless the file says why -----------------------

/**
 * The identity provider asks every role for a second factor unless the config relaxes it with a
 * reason the register quotes; administrators never. The schema refuses the same (stacks/services/
 * identity/settings.ts): this is the same rule again on what the stack declares, which an edited
 * state or a program built around the schema could bypass.
 */
function twoFactorReasons(_resources: readonly PolicyResource[], facts: StackFacts | undefined): string[] {
  // Without facts, register-retention already refuses the stack ("cannot be checked").
  if (!facts || !facts.identity.enabled) return [];
  return facts.identity.twoFactor.flatMap(({ role, required, reason }) => {
    if (required) return [];
    const field = `services.identity.twoFactor.${role}`;
    if (role === "admin")
      return [`${field}.required is false: administrators always need a second factor, their password alone would open every member's data; remove required: false`];
    const hollow = reason === undefined || reason.trim().length < 10 ? "no reason is given" : hollowReasonProblem(reason);
    return hollow
      ? [`${field} lets ${role} members log in with a password alone and ${hollow === "no reason is given" ? hollow : `its reason ${hollow}`}: set ${field}.relaxedBecause, the sentence the DPO's register quotes, or keep required: true`]
      : [];
  });
}

// --- 5. no recording without a consent text ---------------------------------------------

interface JitsiRecording {
  on: string[];
  notice?: string;
  requireConsent: boolean;
}

/** Runs the web config the way config.js does (it only assigns to `config`), bounded in time. */
function jitsiRecording(content: string): JitsiRecording {
  const sandbox: { config: Props } = { config: {} };
  runInNewContext(content, sandbox, { timeout: 1000 });
  const c = sandbox.config;
  const on: string[] = [];
  // The web app offers in-browser recording unless told not to.
  if (!(isRecord(c.localRecording) && c.localRecording.disable === true)) on.push("localRecording is not disabled");
  if (isRecord(c.recordingService) && c.recordingService.enabled === true) on.push("recordingService.enabled");
  if (c.fileRecordingsEnabled === true) on.push("fileRecordingsEnabled");
  if (isRecord(c.liveStreaming) && c.liveStreaming.enabled === true) on.push("liveStreaming.enabled");
  if (c.liveStreamingEnabled === true) on.push("liveStreamingEnabled");
  return {
    on,
    notice: text(c.noticeMessage),
    requireConsent: isRecord(c.recordings) && c.recordings.requireConsent === true,
  };
}

const RECORDING_ENV = ["ENABLE_RECORDING", "ENABLE_LIVESTREAMING"];

function recordingConsent(r: PolicyResource): string[] {
  if (r.type !== TYPES.container) return [];
  const variables = env(r);
  const fromEnv = RECORDING_ENV.filter((k) => truthy(variables[k])).map((k) => `${k}=${variables[k]}`);
  const webConfigs = uploads(r).filter((u) => basename(u.file) === "custom-config.js");
  if (webConfigs.length === 0)
    return fromEnv.length === 0
      ? []
      : [`container ${quote(r)} turns recording on (${fromEnv.join(", ")}) with no web config to show a consent text: set them to 0; recording is turned on with services.jitsi.recording and its consentText`];
  return webConfigs.flatMap(({ file, content }) => {
    const where = `${file} in ${quote(r)}`;
    let recording: JitsiRecording;
    try {
      recording = jitsiRecording(content);
    } catch (error) {
      return [`${where} cannot be evaluated (${(error as Error).message}): regenerate it from stacks/services/jitsi/blueprint.ts`];
    }
    const on = [...fromEnv, ...recording.on];
    if (on.length === 0) return [];
    const problems: string[] = [];
    if ((recording.notice ?? "").trim().length < 10)
      problems.push(`${where} allows recording (${on.join(", ")}) without a consent text: set services.jitsi.recording.consentText, shown as noticeMessage, or disable recording`);
    if (!recording.requireConsent)
      problems.push(`${where} allows recording (${on.join(", ")}) without asking participants: set recordings.requireConsent: true (Bastide does when recording is on)`);
    return problems;
  });
}

// --- 6. every data category has a bounded retention -------------------------------------

function logRotation(r: PolicyResource): string[] {
  if (r.type !== TYPES.container || isUnknown(r.props.logDriver) || isUnknown(r.props.logOpts)) return [];
  const driver = text(r.props.logDriver);
  const opts = isRecord(r.props.logOpts) ? r.props.logOpts : {};
  if (driver === "local" || driver === "none") return [];
  if (driver === "json-file" && opts["max-size"] !== undefined && opts["max-file"] !== undefined) return [];
  return [
    `container ${quote(r)} keeps its Docker logs without rotation (logDriver ${driver ?? "unset"}): set logDriver json-file with logOpts max-size and max-file (LOG_ROTATION, stacks/platform/component.ts)`,
  ];
}

function synapseRetention(r: PolicyResource): string[] {
  return homeserverFiles(r).flatMap(({ file, content }) => {
    const { value } = readYaml(content);
    if (!value) return []; // closed-registration reports an unreadable file
    const where = `${file} in ${quote(r)}`;
    const retention = isRecord(value.retention) ? value.retention : {};
    const policy = isRecord(retention.default_policy) ? retention.default_policy : {};
    const media = isRecord(value.media_retention) ? value.media_retention : {};
    const problems: string[] = [];
    if (retention.enabled !== true || text(policy.max_lifetime) === undefined)
      problems.push(`${where} keeps chat messages forever: set retention.enabled: true with default_policy.max_lifetime (services.matrix.retention.messagesDays)`);
    for (const key of ["local_media_lifetime", "remote_media_lifetime"])
      if (text(media[key]) === undefined)
        problems.push(`${where} keeps files sent in chat forever: set media_retention.${key} (services.matrix.retention.mediaDays)`);
    return problems;
  });
}

/** A value of bastide.config.php, as Bastide renders it (`'key' => value,`); PHP keeps a repeated key's last value. */
function phpSetting(content: string, key: string): string | undefined {
  const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const last = [...content.matchAll(new RegExp(`'${escaped}'\\s*=>\\s*('([^']*)'|-?\\d+)`, "g"))].at(-1);
  return last ? (last[2] ?? last[1]) : undefined;
}

/** Nextcloud's "auto, D" or "D1, D2" set a maximum; "auto", "D, auto" and "disabled" keep files without one. */
const obligationMaximum = (value: string | undefined) => value?.match(/^\s*(?:auto|\d+)\s*,\s*(\d+)\s*$/)?.[1];

function nextcloudRetention(r: PolicyResource): string[] {
  if (r.type !== TYPES.container) return [];
  return uploads(r)
    .filter((u) => basename(u.file) === "bastide.config.php")
    .flatMap(({ file, content }) => {
      const where = `${file} in ${quote(r)}`;
      const problems: string[] = [];
      for (const [key, field] of [
        ["trashbin_retention_obligation", "trashbinDays"],
        ["versions_retention_obligation", "versionsDays"],
      ] as const) {
        const value = phpSetting(content, key);
        if (obligationMaximum(value) === undefined)
          problems.push(`${where} sets ${key} to ${value === undefined ? "nothing" : `"${value}"`}, which keeps files without a limit: set "auto, <days>" (services.nextcloud.${field})`);
      }
      // Without it the Activity app keeps records 365 days (its default), not what the register says.
      const activity = phpSetting(content, "activity_expire_days");
      if (!(Number(activity) > 0))
        problems.push(
          `${where} ${activity === undefined ? "does not set activity_expire_days, so Nextcloud keeps activity records 365 days (its default)" : `sets activity_expire_days to ${activity}`}: set a positive number of days (services.nextcloud.activityExpireDays)`,
        );
      return problems;
    });
}

const FRAMADATE_CONFIG = /\/app\/inc\/config\.php$/;
const purgeDelay = (content: string) => content.match(/const\s+PURGE_DELAY\s*=\s*(\d+)\s*;/)?.[1];

function pollsRetention(r: PolicyResource): string[] {
  if (r.type !== TYPES.container) return [];
  return uploads(r)
    .filter((u) => FRAMADATE_CONFIG.test(u.file))
    .flatMap(({ file, content }) =>
      Number(purgeDelay(content)) > 0
        ? []
        : [`${file} in ${quote(r)} sets no PURGE_DELAY, so polls and answers are never purged: set it (services.polls.purgeDelayDays)`],
    );
}

function caddyLogRetention(r: PolicyResource): string[] {
  return readableCaddyfiles(r).flatMap(({ file, config }) => {
    return walk(config.all)
      .filter(({ directive, path }) => path.at(-1) === "log" && directive.args[0] === "output" && directive.args[1] === "file")
      .flatMap(({ directive }) => {
        const options = (directive.block ?? []).map((d) => d.args[0]);
        if (options.includes("roll_keep_for") && !options.includes("roll_disabled")) return [];
        return [
          `${file} in ${quote(r)} writes ${directive.args[2] ?? "a log file"} (line ${directive.line}) without roll_keep_for: add roll_keep_for <hours>h (services.proxy.accessLog.retentionDays) and no roll_disabled`,
        ];
      });
  });
}

/**
 * The admin surfaces the register and README promise are reachable through the VPN only, by the
 * backend the proxy sends them to: each must sit under a matcher that excludes the VPN's address
 * (`not remote_ip`) and that the site answers with 403 (templates/proxy/Caddyfile.hbs).
 */
const VPN_ONLY_ADMIN: readonly { upstream: string; what: string; paths: readonly string[] }[] = [
  // Keycloak's reverse-proxy guide (keycloak/keycloak docs/guides/server/reverseproxy.adoc, "Exposed
  // path recommendations"): /admin/ is not to be exposed, "an unnecessary attack vector".
  // The master realm is where Keycloak's admin logs in: members never use it.
  { upstream: "bastide-identity-", what: "Keycloak's admin console, admin API and master realm", paths: ["/admin", "/admin/*", "/realms/master", "/realms/master/*"] },
  { upstream: "bastide-nextcloud-app:", what: "Nextcloud's admin pages and provisioning API", paths: ["/settings/admin*", "/settings/users*", "/ocs/v1.php/cloud/*", "/ocs/v2.php/cloud/*"] },
  { upstream: "bastide-matrix-synapse:", what: "Synapse's admin API", paths: ["/_synapse/admin/*"] },
  { upstream: "bastide-polls-app:", what: "Framadate's admin pages", paths: ["/admin", "/admin/*"] },
];

/** The paths a site answers with 403 unless the request comes from the VPN (or carries the provisioning token). */
function vpnOnlyPaths(body: Directive[]): Set<string> {
  const refusing = new Set(body.filter((d) => d.args[0] === "respond" && d.args[1]?.startsWith("@") && d.args.at(-1) === "403").map((d) => d.args[1]!));
  const matchers = body.filter((d) => d.args[0]?.startsWith("@") && refusing.has(d.args[0]) && d.block);
  return new Set(
    matchers.flatMap((m) => {
      const lines = m.block ?? [];
      if (!lines.some((d) => d.args[0] === "not" && d.args[1] === "remote_ip")) return [];
      const excepted = new Set(lines.filter((d) => d.args[0] === "not" && d.args[1] === "path").flatMap((d) => d.args.slice(2)));
      return lines.filter((d) => d.args[0] === "path").flatMap((d) => d.args.slice(1).filter((path) => !excepted.has(path)));
    }),
  );
}

function vpnOnlyAdmin(r: PolicyResource): string[] {
  return readableCaddyfiles(r).flatMap(({ file, config }) => {
    return config.sites.flatMap((site) => {
      const upstreams = walk(site.body).filter(({ directive }) => directive.args[0] === "reverse_proxy").flatMap(({ directive }) => directive.args.slice(1));
      const closed = vpnOnlyPaths(site.body);
      return VPN_ONLY_ADMIN.filter((a) => upstreams.some((u) => u.startsWith(a.upstream))).flatMap((a) => {
        const open = a.paths.filter((path) => !closed.has(path));
        return open.length === 0
          ? []
          : [
              `${file} in ${quote(r)} lets ${a.what} (${open.join(" ")}) be reached from outside the VPN on ${site.addresses.join(", ")} (line ${site.line}), while the register says admin pages are VPN-only: keep them in the site's "@outside_vpn" matcher, with "not remote_ip <the VPN's address>" and "respond @outside_vpn 403"`,
            ];
      });
    });
  });
}

function retentionInResources(r: PolicyResource): string[] {
  return [...logRotation(r), ...synapseRetention(r), ...nextcloudRetention(r), ...pollsRetention(r), ...caddyLogRetention(r)];
}

/** What the deployed files say, in days, for the register's categories that name a setting in them. */
function deployedDays(resources: readonly PolicyResource[]): Record<string, number[]> {
  const found: Record<string, number[]> = {};
  const add = (id: string, days: number | undefined) => {
    if (days !== undefined && Number.isFinite(days)) (found[id] ??= []).push(days);
  };
  const days = (duration: unknown) => {
    try {
      return typeof duration === "string" ? durationDays(duration) : undefined;
    } catch {
      return undefined;
    }
  };
  for (const r of containers(resources)) {
    for (const { content } of homeserverFiles(r)) {
      const { value } = readYaml(content);
      const retention = isRecord(value?.retention) ? value.retention : {};
      add("matrix.messages", days(isRecord(retention.default_policy) ? retention.default_policy.max_lifetime : undefined));
      add("matrix.media", days(isRecord(value?.media_retention) ? value.media_retention.local_media_lifetime : undefined));
    }
    for (const { file, content } of uploads(r)) {
      if (basename(file) === "bastide.config.php") {
        add("nextcloud.trash", Number(obligationMaximum(phpSetting(content, "trashbin_retention_obligation")) ?? NaN));
        add("nextcloud.versions", Number(obligationMaximum(phpSetting(content, "versions_retention_obligation")) ?? NaN));
        add("nextcloud.activity", Number(phpSetting(content, "activity_expire_days") ?? NaN));
      }
      if (FRAMADATE_CONFIG.test(file)) add("polls.answers", Number(purgeDelay(content) ?? NaN));
    }
    for (const { config } of readableCaddyfiles(r)) {
      for (const { directive } of walk(config.all).filter(({ directive: d }) => d.args[0] === "roll_keep_for"))
        add("proxy.access-logs", days(directive.args[1]));
    }
  }
  return found;
}

function registeredRetention(resources: readonly PolicyResource[], facts: StackFacts | undefined): string[] {
  if (!facts) return [`the register of processing cannot be checked: ${NO_FACTS}`];
  const problems: string[] = [];
  const registered = new Map<string, number>();
  for (const entry of facts.register) {
    const parsed = retentionSchema.safeParse(entry.retention);
    if (!parsed.success) {
      problems.push(`data category ${entry.id} has no valid retention in the register (${parsed.error.issues.map((i) => i.path.join(".") || i.message).join(", ")}): give it one in stacks/services/${entry.service}/register.ts`);
      continue;
    }
    const { period, bounds, configurable, setting } = parsed.data;
    const value = period.kind === "days" ? period.days : period.kind === "account" ? period.graceDays : undefined;
    if (configurable && (!bounds || value === undefined || value < bounds.min || value > bounds.max))
      problems.push(`data category ${entry.id}: its retention (${setting}) is configurable but has no number of days within its bounds: fix stacks/services/${entry.service}/register.ts`);
    if (period.kind === "days") registered.set(entry.id, period.days);
  }
  const services = new Set(facts.register.map((e) => e.service));
  const running = new Set(containers(resources).flatMap((r) => identity(r).service ?? []));
  for (const service of running)
    if (!services.has(service))
      problems.push(`service ${service} runs containers but the register lists none of its data categories: add stacks/services/${service}/register.ts to SERVICE_REGISTERS`);
  for (const [id, values] of Object.entries(deployedDays(resources))) {
    const stated = registered.get(id);
    for (const deployed of values)
      if (stated !== undefined && deployed !== stated)
        problems.push(`data category ${id}: the register states ${stated} days but the deployed files keep it ${deployed} days: redeploy from the config so that both come from the same setting`);
  }
  return problems;
}

function purgeAndConfigPresent(resources: readonly PolicyResource[]): string[] {
  const all = containers(resources);
  const problems: string[] = [];
  const pollsApp = all.find((r) => identity(r).service === "polls" && identity(r).role === "app");
  if (pollsApp && !all.some((r) => identity(r).service === "polls" && identity(r).role === "purge"))
    problems.push(`polls run (${quote(pollsApp)}) without the purge container, so ended polls are never deleted: keep the "purge" container of stacks/services/polls/blueprint.ts`);
  const cloud = all.find((r) => identity(r).service === "nextcloud" && identity(r).role === "app");
  if (cloud && !isUnknown(cloud.props.uploads) && !uploadedFiles(cloud).some((f) => basename(f) === "bastide.config.php"))
    problems.push(`Nextcloud ${quote(cloud)} runs without bastide.config.php, so trash and old versions are kept without a limit: keep that upload (stacks/services/nextcloud/blueprint.ts)`);
  return problems;
}

/** The prefixes Bastide masks client addresses to (templates/proxy/Caddyfile.hbs), at most. */
const MASK = { ipv4: 24, ipv6: 48 };
const MASKED_FIELDS = ["request>remote_ip", "request>client_ip"];

/** ip_mask's two forms: `ip_mask <ipv4> <ipv6>`, or a block of `ipv4 <bits>` and `ipv6 <bits>`. */
function ipMask(d: Directive): { ipv4?: number; ipv6?: number } {
  if (d.args.length >= 4) return { ipv4: Number(d.args[2]), ipv6: Number(d.args[3]) };
  const option = (name: string) => Number((d.block ?? []).find((o) => o.args[0] === name)?.args[1]);
  return { ipv4: option("ipv4"), ipv6: option("ipv6") };
}

/** What an access log leaves unmasked: each client-address field not cut to at most /24 and /48. */
function unmaskedFields(log: Directive): string[] {
  const filters = (log.block ?? []).filter((d) => d.args[0] === "format" && d.args[1] === "filter");
  const fields = filters.flatMap((f) => (f.block ?? []).filter((d) => d.args[0] === "fields").flatMap((d) => d.block ?? []));
  return MASKED_FIELDS.filter((name) => {
    const rule = fields.filter((d) => d.args[0] === name).at(-1);
    if (!rule || rule.args[1] !== "ip_mask") return true;
    const { ipv4, ipv6 } = ipMask(rule);
    return !(ipv4! <= MASK.ipv4 && ipv6! <= MASK.ipv6);
  });
}

/**
 * Access logs keep client addresses masked when the register says so (it does by default:
 * services.proxy.accessLog.anonymiseAddresses). Without facts the pack cannot know, and
 * asks for the mask.
 */
function maskedAccessLogs(resources: readonly PolicyResource[], facts: StackFacts | undefined): string[] {
  if (facts && !facts.accessLog.anonymiseAddresses) return [];
  return containers(resources).flatMap((r) =>
    readableCaddyfiles(r).flatMap(({ file, config }) => {
      // The global options' `log` (path "{") configures Caddy's own logs, not requests.
      return walk(config.all)
        .filter(({ directive, path }) => directive.args[0] === "log" && path.at(-1) !== "{")
        .flatMap(({ directive }) => {
          const open = unmaskedFields(directive);
          return open.length === 0
            ? []
            : [
                `${file} in ${quote(r)} logs requests (line ${directive.line}) with ${open.join(" and ")} unmasked, while the register says addresses are masked: add "format filter" with "${open[0]} ip_mask { ipv4 ${MASK.ipv4} ipv6 ${MASK.ipv6} }" (services.proxy.accessLog.anonymiseAddresses)`,
              ];
        });
    }),
  );
}

// --- 6c. Nextcloud share links and admins' second factor ---------------------------------------

type OccCommand = string[];

/**
 * The occ commands Bastide's provisioning runs on Nextcloud (nextcloudOccSettings), from the
 * inputs of its nextcloud-settings resource (`desired.nextcloudSettings.occ`, provisioners/slices.ts), or UNKNOWN.
 */
function occCommands(resources: readonly PolicyResource[]): OccCommand[] | typeof UNKNOWN | undefined {
  const settings = resources.find((r) => r.props.service === "nextcloud-settings");
  if (!settings) return undefined;
  const desired = settings.props.desired;
  if (isUnknown(desired)) return UNKNOWN;
  const part = isRecord(desired) ? desired.nextcloudSettings : undefined;
  return records(isRecord(part) ? part.occ : undefined).flatMap((o) => (Array.isArray(o.command) ? [o.command.map(String)] : []));
}

const appSetting = (commands: OccCommand[], key: string) =>
  commands.filter((c) => c[2] === "config:app:set" && c[3] === "core" && c[4] === key).map((c) => c[5]?.replace(/^--value=/, "")).at(-1);

/**
 * Public links with an expiry date (and a password unless the register states why not), and
 * two-factor login enforced for the admin group when the register says so. Nextcloud's own
 * defaults are the opposite (lib/private/Share20/Manager.php reads shareapi_default_expire_date
 * and shareapi_enforce_expire_date with the default 'no'): only these commands make the claims true.
 */
function nextcloudSharing(resources: readonly PolicyResource[], facts: StackFacts | undefined): string[] {
  const running = containers(resources).some((r) => identity(r).service === "nextcloud" && identity(r).role === "app");
  const commands = occCommands(resources);
  if (!running || commands === UNKNOWN) return [];
  if (commands === undefined)
    return [`Nextcloud runs without the nextcloud-settings provisioning, so share links and two-factor login keep Nextcloud's defaults: keep it (stacks/provisioning/index.ts)`];
  const problems: string[] = [];
  const where = "the nextcloud-settings provisioning";
  for (const key of ["shareapi_default_expire_date", "shareapi_enforce_expire_date"])
    if (appSetting(commands, key) !== "yes")
      problems.push(`${where} does not set ${key} to yes, so public links could live forever: set it (services.nextcloud.shareLinks.expireAfterDays)`);
  if (!(Number(appSetting(commands, "shareapi_expire_after_n_days")) > 0))
    problems.push(`${where} sets no shareapi_expire_after_n_days: set it (services.nextcloud.shareLinks.expireAfterDays)`);
  // Without facts the pack cannot know of a stated exception: it asks for both protections.
  const claims = facts?.nextcloud ?? { requireLinkPassword: true, adminTwoFactor: true };
  if (claims.requireLinkPassword && appSetting(commands, "shareapi_enforce_links_password") !== "yes")
    problems.push(`${where} does not enforce passwords on public links (shareapi_enforce_links_password), while the register says it does: set it to yes, or state why not in services.nextcloud.shareLinks.relaxedBecause`);
  // Enforced for the admins' own group, never `admin`, which holds the service account too (stacks/services/reserved-names.ts).
  const group = NEXTCLOUD_TWO_FACTOR_GROUP;
  const enforced = commands.some((c) => c[2] === "twofactorauth:enforce" && c[3] === "--on" && c.includes("--group") && c[c.indexOf("--group") + 1] === group);
  if (claims.adminTwoFactor && !enforced)
    problems.push(`${where} does not enforce two-factor login for the admins, while the register says it does: keep "twofactorauth:enforce --on --group ${group}" (services.nextcloud.adminTwoFactor)`);
  return problems;
}

// --- 7. no extra privileges -------------------------------------------------------------

const NO_NEW_PRIVILEGES = /^no-new-privileges([:=]true)?$/;
const UNCONFINED = /^(seccomp|apparmor)[:=]unconfined$/;
const capability = (c: string) => c.toUpperCase().replace(/^CAP_/, "");

function privileges(r: PolicyResource): string[] {
  if (r.type !== TYPES.container) return [];
  const who = `container ${quote(r)}`;
  const problems: string[] = [];
  if (r.props.privileged === true) problems.push(`${who} is privileged: remove privileged: true; add the one capability it needs instead`);
  const securityOpts = r.props.securityOpts;
  if (!isUnknown(securityOpts)) {
    const opts = Array.isArray(securityOpts) ? securityOpts.filter((o): o is string => typeof o === "string") : [];
    if (!opts.some((o) => NO_NEW_PRIVILEGES.test(o)))
      problems.push(`${who} may gain privileges (setuid binaries): add "no-new-privileges:true" to securityOpts`);
    for (const o of opts.filter((o) => UNCONFINED.test(o))) problems.push(`${who} runs with "${o}": remove it so that Docker's default profile applies`);
  }
  const adds = isRecord(r.props.capabilities) && Array.isArray(r.props.capabilities.adds) ? r.props.capabilities.adds.map(String).map(capability) : [];
  const isVpn = identity(r).service === "vpn";
  for (const cap of adds) {
    if (cap === "NET_ADMIN" && isVpn) continue;
    problems.push(
      cap === "NET_ADMIN"
        ? `${who} adds NET_ADMIN, which only the VPN container needs: remove it from capabilities.adds`
        : `${who} adds capability ${cap}: remove it (only the VPN container may add NET_ADMIN)`,
    );
  }
  for (const mode of ["pidMode", "ipcMode", "usernsMode"])
    if (r.props[mode] === "host") problems.push(`${who} shares the host's ${mode.replace("Mode", "")} namespace: remove ${mode}: host`);
  const mounts = [...records(r.props.volumes).map((v) => text(v.hostPath)), ...records(r.props.mounts).map((m) => text(m.source))];
  if (mounts.some((m) => m?.endsWith("docker.sock")))
    problems.push(`${who} mounts the Docker socket, which gives it root on the server: remove that mount`);
  return problems;
}

// --- 8. pinned images -------------------------------------------------------------------

const LISTED = new Set<string>(Object.values(IMAGES));
const BUILT = Object.values(BUILT_IMAGES);
const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;
const isBuiltImage = (reference: string) => BUILT.some((b) => reference.startsWith(`${b.name}:`));

function imageReference(reference: string, who: string): string[] {
  if (IMAGE_ID.test(reference)) return [];
  if (!isPinned(reference))
    return [`${who} uses image "${reference}", which is not pinned: use an exact version tag or a digest, listed in stacks/services/images.ts`];
  if (!LISTED.has(reference) && !isBuiltImage(reference))
    return [`${who} uses image "${reference}", which stacks/services/images.ts does not list: add it there (pinned) so that every image is reviewed in one place`];
  return [];
}

/** A build context inside the repository's docker/ folder: relative, no `..`, no URL. */
const insideDockerFolder = (path: string) => /^docker\/[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/?$/.test(path) && !path.split("/").includes("..");

function pinnedImages(r: PolicyResource): string[] {
  const who = `${r.type} ${quote(r)}`;
  if (r.type === TYPES.remoteImage) {
    const name = text(r.props.name);
    return name === undefined ? [] : imageReference(name, who);
  }
  if (r.type === TYPES.container) {
    const image = text(r.props.image);
    return image === undefined ? [] : imageReference(image, `container ${quote(r)}`);
  }
  if (r.type !== TYPES.builtImage) return [];
  const problems: string[] = [];
  const imageName = text(r.props.imageName);
  const build = isRecord(r.props.build) ? r.props.build : {};
  const context = text(build.context);
  const dockerfile = text(build.dockerfile);
  if (imageName !== undefined && (!isPinned(imageName) || !isBuiltImage(imageName)))
    problems.push(`${who} builds "${imageName}": name it after BUILT_IMAGES in stacks/services/images.ts, with an exact version tag`);
  if (context !== undefined && !insideDockerFolder(context))
    problems.push(`${who} builds from "${context}": build only from a folder under docker/ in this repository, whose Dockerfile pins its base image`);
  if (dockerfile !== undefined && !insideDockerFolder(dockerfile))
    problems.push(`${who} uses Dockerfile "${dockerfile}": keep it in its folder under docker/ in this repository`);
  return problems;
}

// --- 9. protected data volumes ----------------------------------------------------------

function protectedVolumes(r: PolicyResource): string[] {
  if (r.type !== TYPES.volume) return [];
  const problems: string[] = [];
  if (r.protect !== true)
    problems.push(`volume ${quote(r)} is not protected, so pulumi destroy would delete its data: keep protect: true (ServiceComponent sets it on every volume)`);
  if (r.retainOnDelete === false)
    problems.push(`volume ${quote(r)} would be deleted with its resource: keep retainOnDelete: true (ServiceComponent sets it on every volume)`);
  return problems;
}

// --- the checks -------------------------------------------------------------------------

export const CHECKS: readonly PolicyCheck[] = [
  {
    kind: "resource",
    name: "data-stays-in-eu",
    description: "Servers are in an EU/EEA location, and the host country the stack declares is in the EU/EEA.",
    check: (r) => [...cloudLocation(r), ...declaredCountry(r)],
  },
  {
    kind: "stack",
    name: "docker-reaches-declared-host",
    description: "The Docker engine the stack deploys to is the declared host, whose country is known.",
    check: declaredHost,
  },
  {
    kind: "resource",
    name: "ssh-from-admin-networks",
    description: "A cloud firewall lets SSH in only from a bounded set of networks (at most a /16 of public IPv4 and a /32 of IPv6, parsed as networks, as host.adminAddresses), and drops what no rule names.",
    check: boundedSsh,
  },
  {
    kind: "resource",
    name: "vpn-only-admin-pages",
    description: "Nextcloud's admin pages and provisioning API, Synapse's admin API and Framadate's admin pages answer 403 to anyone outside the VPN (or without Bastide's provisioning token).",
    check: vpnOnlyAdmin,
  },
  {
    kind: "resource",
    name: "private-encrypted-rooms",
    description: "Synapse encrypts every new room by default and lists no room to people outside the association.",
    check: privateEncryptedRooms,
  },
  {
    kind: "stack",
    name: "masked-access-logs",
    description: "The proxy's access logs mask client addresses (ip_mask /24 and /48) whenever the register says they do.",
    check: maskedAccessLogs,
  },
  {
    kind: "resource",
    name: "tls-only",
    description: "Only the proxy publishes web ports (80 for the HTTPS redirect, 443); Caddy serves no site in plain HTTP.",
    check: (r) => (r.type === TYPES.container ? [...publishedPorts(r), ...caddyTls(r)] : []),
  },
  {
    kind: "resource",
    name: "closed-registration",
    description: "Neither Synapse nor Jitsi's Prosody lets anyone create an account; Synapse allows no guest access.",
    check: (r) => [...closedRegistration(r), ...prosodyRegistration(r)],
  },
  {
    kind: "resource",
    name: "members-open-meetings",
    description: "Jitsi's web, Prosody and Jicofo require authentication to open a room; guests, when allowed, wait in the lobby.",
    check: jitsiAccess,
  },
  {
    kind: "resource",
    name: "security-headers",
    description: "Every site the proxy serves over HTTPS sends Bastide's security headers, HSTS included.",
    check: (r) => (r.type === TYPES.container ? securityHeaders(r) : []),
  },
  {
    kind: "stack",
    name: "nextcloud-links-and-2fa",
    description: "Nextcloud's public links expire (and need a password unless the register states why not); admins log in with two factors when the register says so.",
    check: nextcloudSharing,
  },
  {
    kind: "stack",
    name: "federation-has-reason",
    description: "Synapse federates only when the config turns federation on with a reason.",
    check: declaredFederation,
  },
  {
    kind: "stack",
    name: "two-factor-has-reason",
    description: "The identity provider asks every role for a second factor, unless the config says why a role may go without; administrators always.",
    check: twoFactorReasons,
  },
  {
    kind: "resource",
    name: "recording-needs-consent",
    description: "Jitsi allows recording only with a consent text shown to participants, who are asked to consent.",
    check: recordingConsent,
  },
  {
    kind: "resource",
    name: "bounded-retention",
    description: "Messages, media, files, polls and logs expire: the deployed settings set a limit.",
    check: retentionInResources,
  },
  {
    kind: "stack",
    name: "register-retention",
    description: "Every data category in the register has a retention, every running service has its categories, and the deployed files keep data as long as the register says.",
    check: (resources, facts) => [...registeredRetention(resources, facts), ...purgeAndConfigPresent(resources)],
  },
  {
    kind: "resource",
    name: "no-extra-privileges",
    description: "Containers are not privileged, cannot gain privileges, and add no capability but NET_ADMIN on the VPN.",
    check: privileges,
  },
  {
    kind: "resource",
    name: "pinned-images",
    description: "Images are pinned and listed in stacks/services/images.ts; built images come from docker/ in this repository.",
    check: pinnedImages,
  },
  {
    kind: "resource",
    name: "protected-volumes",
    description: "Data volumes are protected from pulumi destroy and retained on delete.",
    check: protectedVolumes,
  },
];

export interface Violation {
  policy: string;
  message: string;
}

/** Every check on a whole stack; the facts default to what the stack itself declares. */
export function checkStack(resources: readonly PolicyResource[], facts: StackFacts | undefined = declaredFacts(resources)): Violation[] {
  return CHECKS.flatMap((c) =>
    (c.kind === "resource" ? resources.flatMap((r) => c.check(r)) : c.check(resources, facts)).map((message) => ({ policy: c.name, message })),
  );
}

