// The Jitsi module: its blueprint from the example and from variants, and its two
// generated files, checked by the programs that read them (node for the web app's
// config, Prosody for the XMPP server's).
import { hostnames } from "../../stacks/services/hosts.ts";
import { noticePages } from "../../stacks/services/proxy/notice-pages.ts";
import test from "ava";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type Docker from "dockerode";
import vm from "node:vm";
import type { Association } from "../../stacks/config/schema.ts";
import { blueprintContext, blueprints, PUBLIC_ADDRESS } from "../../stacks/services/catalog.ts";
import { containerName, type ContainerBlueprint, type ServiceBlueprint } from "../../stacks/services/blueprint.ts";
import { IMAGES, isPinned } from "../../stacks/services/images.ts";
import {
  ARCHIVE_EXPIRY,
  HEALTH_CHECK_ROOM_PREFIX,
  LOBBY_MODULE,
  LOBBY_MODULE_PATH,
  MEDIA_PORT,
  PROSODY_DATA_PATH,
  PROSODY_LOG_LEVEL,
  PROSODY_OVERLAY_PATH,
  SECRETS,
  WEB_CONFIG_PATH,
  WEB_PORT,
  XMPP,
  jitsi,
  prosodyOverlay,
  webConfig,
} from "../../stacks/services/jitsi/blueprint.ts";
import type { ImageContract } from "../../stacks/services/image-contract.ts";
import { JITSI_RELEASE, JITSI_USER, RUN_TMPFS_OPTIONS, RUN_TMPFS_UPSTREAM_OPTIONS } from "../../stacks/services/jitsi/upstream-base.ts";
import { contract as jicofoContract } from "../../stacks/services/upstream/jitsi-jicofo.ts";
import { contract as jvbContract } from "../../stacks/services/upstream/jitsi-jvb.ts";
import { contract as prosodyContract } from "../../stacks/services/upstream/jitsi-prosody.ts";
import { contract as webContract } from "../../stacks/services/upstream/jitsi-web.ts";
import { JWT_SECRET, MEETING_LOGIN } from "../../stacks/services/jitsi/login.ts";
import { exampleAssociation } from "../support/association.ts";
import { ensureImportedImage, removeContainer, startDockerEngine, waitUntil } from "../support/docker.ts";
import { signIn, startLocalProsody, type XmppSession } from "../support/prosody.ts";
import { CONTAINER, deployUnderMocks, ofType } from "../support/program.ts";
import { requireProgram, run, scratch } from "../support/programs.ts";

const example = exampleAssociation();

const withJitsi = (settings: Record<string, unknown>) =>
  exampleAssociation((input) => {
    input.services.jitsi = settings;
  });

const recordingOn = withJitsi({
  recording: { enabled: true, consentText: "Cette réunion est enregistrée ; dites « non » pour \"refuser\".\n</script>" },
});
const guestsOff = withJitsi({ guests: { allowed: false } });
const lowBandwidthOff = withJitsi({ lowBandwidth: { enabled: false } });
const dialInOn = withJitsi({ dialIn: { enabled: true, numbersUrl: "https://telephonie.example.eu/jitsi/numeros" } });
/** Without the identity provider: hosts sign in to Prosody with their own account, as before it. */
const identityOff = exampleAssociation((input) => (input.services.identity = { enabled: false }));
const tinyScreens = withJitsi({ lowBandwidth: { maxResolution: 180, lastN: 2, startMutedAfter: 3 } });

const blueprintOf = (config: Association, publicAddress?: string): ServiceBlueprint => {
  const context = blueprintContext(config);
  return jitsi.blueprint(config, publicAddress ? { ...context, publicAddress } : context);
};
const containerOf = (blueprint: ServiceBlueprint, name: string): ContainerBlueprint => {
  const found = blueprint.containers.find((c) => c.name === name);
  if (!found) throw new Error(`no container ${name}`);
  return found;
};
const envOf = (config: Association, name: string) => containerOf(blueprintOf(config), name).env ?? {};

const FAKE_SECRETS = { [SECRETS.jicofo]: "FakeJicofoSecret4242", [SECRETS.jvb]: "FakeJvbSecret1717", [JWT_SECRET.name]: "FakeMeetingTokenKey9090" };
const fileOf = (config: Association, path: string) => {
  const file = blueprintOf(config).files(FAKE_SECRETS).find((f) => f.path === path);
  if (!file) throw new Error(`no rendered file ${path}`);
  return file;
};

// --- The web app's config ---------------------------------------------------------------

/** What the image's own templates (system-config.js, settings-config.js) leave in `config`. */
const imageConfig = () => ({
  hosts: { domain: XMPP.domain, muc: XMPP.mucDomain },
  resolution: 720,
  constraints: { video: { height: { ideal: 720, max: 720, min: 180 }, width: { ideal: 1280, max: 1280, min: 320 } } },
  channelLastN: -1,
  startAudioMuted: 10,
  startVideoMuted: 10,
  p2p: { enabled: true, stunServers: [{ urls: "stun:meet-jit-si-turnrelay.jitsi.net:443" }] },
  analytics: {},
  localRecording: { disable: false, notifyAllParticipants: false },
  prejoinConfig: { enabled: true },
});

/** `node --check`: the file parses as the script the browser loads. */
function nodeCheck(text: string): void {
  const dir = scratch({ "custom-config.js": text });
  const checked = run(process.execPath, ["--check", join(dir, "custom-config.js")]);
  if (checked.status !== 0) throw new Error(`node --check failed:\n${checked.stderr}`);
}

/** Runs the file the way the browser does: appended to the image's config.js. */
function evaluate(text: string): any {
  const context = vm.createContext({});
  vm.runInContext(`var config = ${JSON.stringify(imageConfig())};\n${text}`, context, { timeout: 1000 });
  // Round-trip out of the sandbox so values compare with this realm's objects.
  return JSON.parse(JSON.stringify(context.config));
}

const webConfigOf = (config: Association) => {
  const text = fileOf(config, WEB_CONFIG_PATH).content;
  nodeCheck(text);
  return evaluate(text);
};

test("the web config is valid JavaScript and applies the low-bandwidth defaults", (t) => {
  const config = webConfigOf(example);
  t.is(config.resolution, 360);
  t.deepEqual(config.constraints.video.height, { ideal: 360, max: 360, min: 180 });
  t.deepEqual(config.constraints.video.width, { ideal: 640, max: 640, min: 320 });
  t.is(config.channelLastN, 5);
  t.is(config.startAudioMuted, 6);
  t.is(config.startVideoMuted, 6);
});

test("low-bandwidth values follow the config, and are left to the image when switched off", (t) => {
  const tiny = webConfigOf(tinyScreens);
  t.deepEqual(tiny.constraints.video.height, { ideal: 180, max: 180, min: 180 });
  t.deepEqual(tiny.constraints.video.width, { ideal: 320, max: 320, min: 320 });
  t.is(tiny.channelLastN, 2);
  t.is(tiny.startAudioMuted, 3);

  const off = webConfigOf(lowBandwidthOff);
  const image = imageConfig();
  t.is(off.resolution, image.resolution);
  t.deepEqual(off.constraints, image.constraints);
  t.is(off.channelLastN, -1);
  t.is(off.startVideoMuted, 10);
});

test("the web config turns off recording, streaming, third-party requests and analytics", (t) => {
  const config = webConfigOf(example);
  t.is(config.recordingService.enabled, false);
  t.is(config.fileRecordingsEnabled, false);
  t.is(config.liveStreaming.enabled, false);
  t.is(config.liveStreamingEnabled, false);
  t.is(config.localRecording.disable, true, "the web app records in the browser unless told not to");
  t.is(config.noticeMessage, undefined);
  t.is(config.disableThirdPartyRequests, true);
  t.is(config.gravatar.disabled, true);
  t.is(config.analytics.disabled, true);
  t.is(config.analytics.rtcstatsEnabled, false);
  t.deepEqual(config.p2p, { enabled: true, stunServers: [] }, "merged: the image's p2p.enabled stays");
  t.is(config.doNotStoreRoom, true);
  t.deepEqual(config.lobby, { autoKnock: true, enableChat: true });
  t.is(config.dialInNumbersUrl, undefined);
  t.deepEqual(config.hosts, imageConfig().hosts, "what Bastide does not set is the image's");
});

test("recording on: in-browser recording, announced, with the consent text as the meeting notice", (t) => {
  const config = webConfigOf(recordingOn);
  t.is(config.noticeMessage, recordingOn.services.jitsi.recording.consentText);
  t.deepEqual(config.localRecording, { disable: false, notifyAllParticipants: true });
  t.like(config.recordings, { requireConsent: true, showPrejoinWarning: true });
  t.is(config.recordingService.enabled, false, "no Jibri is deployed");
  for (const name of ["web", "prosody", "jicofo"]) t.is(envOf(recordingOn, name).ENABLE_RECORDING, "0", name);
});

test("dial-in on: the web app links the provider's numbers page", (t) => {
  t.is(webConfigOf(dialInOn).dialInNumbersUrl, "https://telephonie.example.eu/jitsi/numeros");
});

// --- Prosody's privacy overlay ---------------------------------------------------------------

/** The image's own files, reduced to what decides how Bastide's file is read. */
const IMAGE_PROSODY_CFG = `
admins = { "focus@${XMPP.authDomain}" }
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "private"; "limits"; "ping"; "posix"; }
modules_disabled = { "offline"; "register"; "s2s"; }
allow_registration = false
c2s_require_encryption = true
authentication = "internal_hashed"
log = { { levels = { min = "info" }, timestamps = "%Y-%m-%d %X", to = "console" }; }
`;
const IMAGE_JITSI_CFG = `
plugin_paths = { "/prosody-plugins/", "/prosody-plugins-custom" }
http_default_host = "${XMPP.domain}"
consider_bosh_secure = true
VirtualHost "${XMPP.domain}"
    authentication = "internal_hashed"
    modules_enabled = { "bosh"; "websocket"; "smacks"; "muc_lobby_rooms"; }
    main_muc = "${XMPP.mucDomain}"
    lobby_muc = "lobby.${XMPP.domain}"
    c2s_require_encryption = false
VirtualHost "${XMPP.authDomain}"
    authentication = "internal_hashed"
Component "${XMPP.internalMucDomain}" "muc"
    storage = "memory"
    muc_tombstones = false
Component "${XMPP.mucDomain}" "muc"
    storage = "memory"
    muc_room_locking = false
Component "lobby.${XMPP.domain}" "muc"
    storage = "memory"
`;

/** Lays out a config folder like the image's; `order` is the order of the two conf.d files. */
function prosodyConfigDir(overlay: string, order: "image-first" | "bastide-first"): string {
  const dir = scratch();
  mkdirSync(join(dir, "conf.d"));
  mkdirSync(join(dir, "data"));
  mkdirSync(join(dir, "certs"));
  const files = { image: "conf.d/jitsi-meet.cfg.lua", bastide: `conf.d/${PROSODY_OVERLAY_PATH.split("/").pop()}` };
  writeFileSync(join(dir, files.image), IMAGE_JITSI_CFG);
  writeFileSync(join(dir, files.bastide), overlay);
  // Prosody loads conf.d/*.cfg.lua in directory order, which nothing fixes: try both.
  const includes = order === "image-first" ? [files.image, files.bastide] : [files.bastide, files.image];
  writeFileSync(
    join(dir, "prosody.cfg.lua"),
    `${IMAGE_PROSODY_CFG}\npidfile = "${dir}/data/prosody.pid"\ndata_path = "${dir}/data"\n` +
      includes.map((f) => `Include "${f}"`).join("\n") + "\n",
  );
  for (const path of ["", "conf.d", "data", "certs"]) chmodSync(join(dir, path), 0o755);
  return dir;
}

/** Prosody refuses to run as root: run its tools as the prosody user when the tests are root. */
function asProsody(program: string, args: string[]) {
  if (process.getuid?.() !== 0) return run(program, args);
  return run(requireProgram("runuser", "util-linux"), ["-u", "prosody", "--", program, ...args]);
}

/** Reads the effective values through Prosody's own config manager. */
const DUMP_LUA = String.raw`
local sourcedir, file = arg[1], arg[2]
package.path = sourcedir .. "/?.lua;" .. package.path
package.cpath = sourcedir .. "/?.so;" .. package.cpath
local configmanager = require "core.configmanager"
local ok, level, err = configmanager.load(file)
if not ok then io.stderr:write(tostring(level) .. ": " .. tostring(err)) os.exit(1) end
local function str(s)
  return '"' .. (s:gsub('[%c"\\]', function (c) return string.format("\\u%04x", c:byte()) end)) .. '"'
end
local function encode(v)
  if type(v) == "string" then return str(v) end
  if type(v) ~= "table" then return tostring(v) end
  local parts, is_array = {}, #v > 0
  for k, item in pairs(v) do
    parts[#parts + 1] = is_array and encode(item) or (str(tostring(k)) .. ":" .. encode(item))
  end
  if not is_array then table.sort(parts) end
  return (is_array and "[" or "{") .. table.concat(parts, ",") .. (is_array and "]" or "}")
end
local result = {}
for i = 3, #arg do
  local host, key = arg[i]:match("^(.-)/(.*)$")
  local value = configmanager.get(host, key)
  result[#result + 1] = str(arg[i]) .. ":" .. (value == nil and "null" or encode(value))
end
print("{" .. table.concat(result, ",") .. "}")
`;

function effectiveProsodyOptions(dir: string, keys: string[]): Record<string, any> {
  const lua = requireProgram("lua5.4", "lua5.4");
  const prosodyctl = requireProgram("prosodyctl", "prosody");
  const sourcedir = readFileSync(prosodyctl, "utf8").match(/^CFG_SOURCEDIR='([^']+)'/m)?.[1];
  if (!sourcedir) throw new Error(`cannot find Prosody's source folder in ${prosodyctl}`);
  writeFileSync(join(dir, "dump.lua"), DUMP_LUA);
  const dumped = run(lua, [join(dir, "dump.lua"), sourcedir, join(dir, "prosody.cfg.lua"), ...keys]);
  if (dumped.status !== 0) throw new Error(`reading the config failed:\n${dumped.stderr}`);
  return JSON.parse(dumped.stdout);
}

test("the Prosody overlay is valid Lua", (t) => {
  const luac = requireProgram("luac5.4", "lua5.4");
  const dir = scratch({ "overlay.cfg.lua": fileOf(example, PROSODY_OVERLAY_PATH).content });
  const checked = run(luac, ["-p", join(dir, "overlay.cfg.lua")]);
  t.is(checked.status, 0, checked.stderr);
});

for (const order of ["image-first", "bastide-first"] as const) {
  test(`prosodyctl accepts the overlay included beside the image's files (${order})`, (t) => {
    const prosodyctl = requireProgram("prosodyctl", "prosody");
    const dir = prosodyConfigDir(prosodyOverlay(), order);
    const checked = asProsody(prosodyctl, ["--config", join(dir, "prosody.cfg.lua"), "check", "config"]);
    t.is(checked.status, 0, `${checked.stdout}\n${checked.stderr}`);
    t.regex(checked.stdout, /All checks passed/);
    t.regex(checked.stdout, /bastide-privacy\.cfg\.lua/, "the overlay was loaded");
  });

  test(`Prosody reads Bastide's privacy settings and keeps the image's per-host ones (${order})`, (t) => {
    const dir = prosodyConfigDir(prosodyOverlay(), order);
    const options = effectiveProsodyOptions(dir, [
      "*/log",
      "*/allow_registration",
      "*/modules_disabled",
      "*/c2s_require_encryption",
      "*/s2s_require_encryption",
      "*/allow_unencrypted_plain_auth",
      `${XMPP.domain}/c2s_require_encryption`,
      `${XMPP.domain}/allow_registration`,
      `${XMPP.mucDomain}/muc_tombstones`,
      `lobby.${XMPP.domain}/muc_tombstones`,
      `${XMPP.mucDomain}/muc_log_by_default`,
      `${XMPP.mucDomain}/muc_log_expires_after`,
      `${XMPP.domain}/archive_expires_after`,
      `${XMPP.domain}/default_archive_policy`,
      `${XMPP.mucDomain}/storage`,
      `${XMPP.domain}/muc_lobby_whitelist`,
    ]);
    t.deepEqual(options["*/log"], [{ levels: { min: PROSODY_LOG_LEVEL }, to: "console" }]);
    t.false(options["*/allow_registration"]);
    t.false(options[`${XMPP.domain}/allow_registration`], "hosts inherit it");
    t.deepEqual([...options["*/modules_disabled"]].sort(), ["offline", "register", "s2s"]);
    t.true(options["*/c2s_require_encryption"]);
    t.true(options["*/s2s_require_encryption"]);
    t.false(options["*/allow_unencrypted_plain_auth"]);
    t.false(options[`${XMPP.domain}/c2s_require_encryption`], "the BOSH host keeps the image's value");
    t.false(options[`${XMPP.mucDomain}/muc_tombstones`]);
    t.false(options[`lobby.${XMPP.domain}/muc_tombstones`]);
    t.false(options[`${XMPP.mucDomain}/muc_log_by_default`]);
    t.is(options[`${XMPP.mucDomain}/muc_log_expires_after`], ARCHIVE_EXPIRY);
    t.is(options[`${XMPP.domain}/archive_expires_after`], ARCHIVE_EXPIRY);
    t.false(options[`${XMPP.domain}/default_archive_policy`]);
    t.is(options[`${XMPP.mucDomain}/storage`], "memory", "the image's component settings stay");
    // muc_lobby_rooms reads the list on the main host: staff, who sign in there, skip the lobby.
    t.deepEqual(options[`${XMPP.domain}/muc_lobby_whitelist`], [XMPP.domain]);
  });
}

// --- The blueprint -----------------------------------------------------------------------

test("four containers from the pinned Jitsi images", (t) => {
  const blueprint = blueprintOf(example);
  t.is(blueprint.service, "jitsi");
  const images = Object.fromEntries(blueprint.containers.map((c) => [c.name, c.image]));
  t.deepEqual(images, {
    prosody: IMAGES.jitsiProsody,
    jicofo: IMAGES.jitsiJicofo,
    jvb: IMAGES.jitsiJvb,
    web: IMAGES.jitsiWeb,
  });
  for (const image of Object.values(images)) t.true(isPinned(image), image);
  // The component creates them in order, and a container may only wait for one created before it.
  const seen = new Set<string>();
  for (const c of blueprint.containers) {
    for (const dependency of c.dependsOn ?? []) t.true(seen.has(dependency), `${c.name} waits for ${dependency}`);
    seen.add(c.name);
  }
});

test("only the bridge is published, on 10000/udp; the web front is reached through the proxy", (t) => {
  const blueprint = blueprintOf(example);
  const published = blueprint.containers.flatMap((c) => (c.ports ?? []).map((p) => `${c.name} ${p.port}/${p.protocol}`));
  t.deepEqual(published, [`jvb ${MEDIA_PORT}/udp`]);
  t.is(MEDIA_PORT, 10000);
  const networks = Object.fromEntries(blueprint.containers.map((c) => [c.name, [...c.networks].sort()]));
  t.deepEqual(networks, { prosody: ["internal"], jicofo: ["internal"], jvb: ["edge", "internal"], web: ["edge", "internal"] });
  t.deepEqual(blueprint.routes, [{ host: "visio.jardins-canal.localhost", upstream: `bastide-jitsi-web:${WEB_PORT}` }]);
  t.is(blueprint.routes[0]!.vpnOnlyPaths, undefined);
});

test("a secure domain for staff, guests per the config, TLS left to the proxy", (t) => {
  const web = envOf(example, "web");
  const prosody = envOf(example, "prosody");
  for (const env of [web, prosody]) t.like(env, { ENABLE_AUTH: "1", ENABLE_GUESTS: "1" });
  // The web image reads no AUTH_TYPE (upstream/jitsi-web.ts); Prosody and jicofo do. With the
  // identity provider (the example), hosts come with its token (jitsi/login.ts).
  t.like(prosody, { AUTH_TYPE: "jwt", JWT_APP_ID: MEETING_LOGIN.clientId, JWT_ACCEPTED_ISSUERS: "https://connexion.jardins-canal.localhost/realms/bastide" });
  t.like(envOf(example, "jicofo"), { ENABLE_AUTH: "1", AUTH_TYPE: "jwt" });
  t.is(web.TOKEN_AUTH_URL, "https://visio.jardins-canal.localhost/static/bastide-login.html?state={state}");
  // Without it, hosts have a Prosody account, and nothing of the token login is set.
  t.like(envOf(identityOff, "prosody"), { ENABLE_AUTH: "1", AUTH_TYPE: "internal" });
  t.like(envOf(identityOff, "jicofo"), { ENABLE_AUTH: "1", AUTH_TYPE: "internal" });
  for (const name of ["prosody", "jicofo", "web"]) t.false(Object.keys(envOf(identityOff, name)).some((k) => k.startsWith("JWT_") || k === "TOKEN_AUTH_URL"), name);
  t.like(prosody, { ENABLE_LOBBY: "1", ENABLE_RECORDING: "0" });
  t.like(web, {
    PUBLIC_URL: "https://visio.jardins-canal.localhost",
    DISABLE_HTTPS: "1",
    ENABLE_LETSENCRYPT: "0",
    ENABLE_HTTP_REDIRECT: "0",
    ENABLE_RECORDING: "0",
    XMPP_BOSH_URL_BASE: `http://${containerName("jitsi", "prosody")}:5280`,
  });
  for (const name of ["web", "prosody"]) t.is(envOf(guestsOff, name).ENABLE_GUESTS, "0", `${name}: no guest domain`);
});

test("every component uses the same internal XMPP domains and finds Prosody by its container name", (t) => {
  // Each image gets only the domains it reads (upstream/jitsi-*.ts: the bridge reads no
  // XMPP_DOMAIN, the web image no XMPP_AUTH_DOMAIN), and all give them the same values.
  const domains: Record<string, string> = {
    XMPP_DOMAIN: XMPP.domain,
    XMPP_AUTH_DOMAIN: XMPP.authDomain,
    XMPP_GUEST_DOMAIN: XMPP.guestDomain,
    XMPP_MUC_DOMAIN: XMPP.mucDomain,
    XMPP_INTERNAL_MUC_DOMAIN: XMPP.internalMucDomain,
  };
  const needs: Record<string, string[]> = {
    prosody: Object.keys(domains),
    jicofo: ["XMPP_DOMAIN", "XMPP_AUTH_DOMAIN", "XMPP_MUC_DOMAIN", "XMPP_INTERNAL_MUC_DOMAIN"],
    jvb: ["XMPP_AUTH_DOMAIN", "XMPP_INTERNAL_MUC_DOMAIN"],
    web: ["XMPP_DOMAIN", "XMPP_GUEST_DOMAIN", "XMPP_MUC_DOMAIN"],
  };
  for (const [name, keys] of Object.entries(needs)) {
    const env = envOf(example, name);
    t.deepEqual(Object.keys(env).filter((k) => k in domains).sort(), [...keys].sort(), name);
    for (const key of keys) t.is(env[key], domains[key], `${name} ${key}`);
    t.is(env.TZ, "Etc/UTC", name);
  }
  for (const name of ["jicofo", "jvb"]) t.is(envOf(example, name).XMPP_SERVER, containerName("jitsi", "prosody"));
});

test("the bridge advertises the server's public address, and asks no STUN server for it", (t) => {
  t.is(envOf(example, "jvb").JVB_ADVERTISE_IPS, "127.0.0.1", "local: the laptop");
  const cloud = containerOf(blueprintOf(example, PUBLIC_ADDRESS), "jvb").env!;
  t.is(cloud.JVB_ADVERTISE_IPS, PUBLIC_ADDRESS, "a cloud VM: the marker the component replaces");
  const onServer = exampleAssociation((input) => {
    input.host = { target: "ssh", address: "203.0.113.5", country: "FR", size: { cpus: 4, memoryGb: 12 } };
  });
  t.is(envOf(onServer, "jvb").JVB_ADVERTISE_IPS, "203.0.113.5");
  t.like(cloud, { JVB_PORT: "10000", JVB_DISABLE_STUN: "true" });
});

test("generated passwords reach the containers only as secret environment variables", (t) => {
  const withoutTokens = blueprintOf(identityOff);
  t.deepEqual(withoutTokens.secrets, [
    { name: SECRETS.jicofo, length: 32 },
    { name: SECRETS.jvb, length: 32 },
  ]);
  t.deepEqual(containerOf(withoutTokens, "prosody").secretEnv, { JICOFO_AUTH_PASSWORD: SECRETS.jicofo, JVB_AUTH_PASSWORD: SECRETS.jvb });
  // With the identity provider, Prosody also gets the secret the meeting tokens are signed with.
  const blueprint = blueprintOf(example);
  t.deepEqual(blueprint.secrets, [{ name: SECRETS.jicofo, length: 32 }, { name: SECRETS.jvb, length: 32 }, JWT_SECRET]);
  t.deepEqual(containerOf(blueprint, "prosody").secretEnv, { JICOFO_AUTH_PASSWORD: SECRETS.jicofo, JVB_AUTH_PASSWORD: SECRETS.jvb, JWT_APP_SECRET: JWT_SECRET.name });
  t.deepEqual(containerOf(blueprint, "jicofo").secretEnv, { JICOFO_AUTH_PASSWORD: SECRETS.jicofo });
  t.deepEqual(containerOf(blueprint, "jvb").secretEnv, { JVB_AUTH_PASSWORD: SECRETS.jvb });
  t.is(containerOf(blueprint, "web").secretEnv, undefined);
  for (const c of blueprint.containers) t.false(Object.keys(c.env ?? {}).some((k) => /PASSWORD|SECRET/.test(k)), c.name);
});

test("no secret value appears in any rendered file, whatever the config", (t) => {
  for (const config of [example, recordingOn, guestsOff, lowBandwidthOff, dialInOn, identityOff]) {
    const files = blueprintOf(config).files(FAKE_SECRETS);
    const loginPage = config.services.identity.enabled ? [`web:${MEETING_LOGIN.containerPath}`] : [];
    t.deepEqual(files.map((f) => `${f.container}:${f.path}`), [`web:${WEB_CONFIG_PATH}`, `prosody:${PROSODY_OVERLAY_PATH}`, `prosody:${LOBBY_MODULE_PATH}`, ...loginPage]);
    for (const file of files) {
      t.false(file.holdsSecrets);
      t.is(file.mode, "0644", "readable by the images' unprivileged user");
      for (const secret of Object.values(FAKE_SECRETS)) t.false(file.content.includes(secret), `${file.path} holds a secret`);
    }
    const declared = blueprintOf(config).containers.flatMap((c) => (c.files ?? []).map((f) => `${c.name}:${f}`));
    t.deepEqual(files.map((f) => `${f.container}:${f.path}`).sort(), declared.sort(), "every file is uploaded by its container");
  }
  t.is(webConfig(example), fileOf(example, WEB_CONFIG_PATH).content);
});

test("memory: at most 1 GiB on the small profile, double on standard, JVM heaps inside the limits", (t) => {
  for (const profile of ["small", "standard"] as const) {
    const config = exampleAssociation((input) => {
      input.profile = profile;
      // The standard profile needs a 4 vCPU / 16 GB host (stacks/config/schema.ts PROFILES).
      if (profile === "standard") input.host.size = { cpus: 4, memoryGb: 16 };
    });
    const blueprint = jitsi.blueprint(config, blueprintContext(config, profile));
    const total = (p: "small" | "standard") => blueprint.containers.reduce((sum, c) => sum + c.memoryMb[p], 0);
    t.true(total("small") <= 1024, `small: ${total("small")} MiB`);
    t.is(total("standard"), 2 * total("small"));
    const heap = (value: string | undefined) => Number(/^(\d+)m$/.exec(value ?? "")?.[1]);
    const jicofo = containerOf(blueprint, "jicofo");
    const jvb = containerOf(blueprint, "jvb");
    t.true(heap(jicofo.env!.JICOFO_MAX_MEMORY) < jicofo.memoryMb[profile], profile);
    t.true(heap(jvb.env!.VIDEOBRIDGE_MAX_MEMORY) < jvb.memoryMb[profile], profile);
    t.true(heap(jvb.env!.VIDEOBRIDGE_MAX_MEMORY) >= jvb.memoryMb[profile] / 2, "the bridge gets half its memory as heap");
  }
});

test("every container has a health check against its own service, with curl the images ship", (t) => {
  const ports: Record<string, number> = { web: WEB_PORT, prosody: 5280, jicofo: 8888, jvb: 8080 };
  for (const c of blueprintOf(example).containers) {
    const check = c.healthcheck?.test ?? [];
    t.is(check[0], "CMD", c.name);
    t.is(check[1], "curl", c.name);
    t.true(check.includes("--fail"), c.name);
    t.regex(check.at(-1)!, new RegExp(`^http://127\\.0\\.0\\.1:${ports[c.name]}/`), c.name);
  }
});

test("the accounts volume keeps staff accounts; enabled() follows the config", (t) => {
  const blueprint = blueprintOf(example);
  // The rootless images keep Prosody's data under /var/lib/prosody, where upstream mounts
  // its volume; /config only holds copied configuration (upstream/jitsi-prosody.ts).
  t.deepEqual(blueprint.volumes.map((v) => [v.name, v.path]), [["accounts", "/var/lib/prosody"]]);
  t.deepEqual(containerOf(blueprint, "prosody").volumes, [{ volume: "accounts", path: "/var/lib/prosody" }]);
  t.true(jitsi.enabled(example));
  const off = withJitsi({ enabled: false });
  t.false(jitsi.enabled(off));
  t.false(blueprints(off).some((b) => b.service === "jitsi"));
  const proxy = blueprints(off).find((b) => b.service === "proxy")!;
  t.false(proxy.files({})[0]!.content.includes("visio."), "no site for the meetings");
});

test.serial("under Pulumi's mocks, the containers get the env, secrets, ports and files", async (t) => {
  const resources = await deployUnderMocks(example);
  const containers = Object.fromEntries(
    ofType(resources, CONTAINER)
      .filter((c) => String(c.inputs.name).startsWith("bastide-jitsi-"))
      .map((c) => [String(c.inputs.name).replace("bastide-jitsi-", ""), c]),
  );
  t.deepEqual(Object.keys(containers).sort(), ["jicofo", "jvb", "prosody", "web"]);
  t.deepEqual(containers.jvb!.inputs.ports, [{ internal: 10000, external: 10000, protocol: "udp" }]);
  for (const name of ["web", "prosody", "jicofo"]) t.deepEqual(containers[name]!.inputs.ports ?? [], [], name);
  for (const name of ["prosody", "jicofo", "jvb"]) t.true(containers[name]!.secretInputs.includes("envs"), `${name} env is secret`);
  const envs = (name: string) => containers[name]!.inputs.envs as string[];
  t.true(envs("jicofo").includes("JICOFO_AUTH_PASSWORD=<secret:jitsi-jicofo-auth-password>"));
  t.true(envs("web").includes("ENABLE_AUTH=1"));
  const upload = (name: string) => (containers[name]!.inputs.uploads as any[])[0];
  t.is(upload("web").file, WEB_CONFIG_PATH);
  t.is(upload("web").content, webConfig(example));
  t.is(upload("prosody").file, PROSODY_OVERLAY_PATH);
  t.is(upload("prosody").content, prosodyOverlay());
});

// --- The images' contracts ----------------------------------------------------------------

const CONTRACTS: Record<string, ImageContract> = {
  web: webContract,
  prosody: prosodyContract,
  jicofo: jicofoContract,
  jvb: jvbContract,
};

/** A mount's options as a set, so that the order they are written in does not matter. */
const optionSet = (options: string) => new Set(options.split(",").map((o) => o.trim()));

test("each Jitsi image is pinned at its contract's tag, by the digest the contract cites", (t) => {
  for (const [name, contract] of Object.entries(CONTRACTS)) {
    const reference: string = IMAGES[contract.image as keyof typeof IMAGES];
    t.is(reference, `ghcr.io/jitsi/${name}:${contract.tag}@${contract.digest!.value}`, name);
    t.is(contract.tag, JITSI_RELEASE, `${name}: all four from one release`);
    t.truthy(contract.digest!.source.file, `${name}: the digest's record is cited`);
    t.is(containerOf(blueprintOf(example), name).image, reference);
  }
});

test("every container of an s6 image runs as the image's user with /run as upstream's exec tmpfs, owned by that user", (t) => {
  for (const container of blueprintOf(example).containers) {
    const contract = CONTRACTS[container.name]!;
    t.regex(contract.init.value, /s6-overlay/, container.name);
    t.is(container.user, String(contract.user.value.uid), `${container.name}: the image's uid`);
    const run = container.tmpfs?.find((m) => m.path === "/run");
    if (!run) {
      t.fail(`${container.name}: no tmpfs on /run; s6-overlay's preinit cannot start`);
      continue;
    }
    const options = optionSet(run.options);
    // Upstream's own options (docker-compose.yml), exec above all: s6-overlay runs its scripts from /run.
    for (const option of optionSet(RUN_TMPFS_UPSTREAM_OPTIONS)) t.true(options.has(option), `${container.name}: ${option}`);
    t.true(options.has("exec"), container.name);
    t.false(options.has("noexec"), container.name);
    // Under no-new-privileges preinit runs as the user and accepts /run only if it is the user's.
    t.true(options.has(`uid=${contract.user.value.uid}`), `${container.name}: /run belongs to the user`);
    t.true(options.has(`gid=${JITSI_USER.gid}`), `${container.name}: and to the user's group`);
  }
});

test("the Jitsi blueprints satisfy their image contracts", (t) => {
  const blueprint = blueprintOf(example);
  const uploads = blueprint.files(FAKE_SECRETS);
  for (const container of blueprint.containers) {
    const contract = CONTRACTS[container.name]!;
    t.true(contract.worksWithNoNewPrivileges.value, `${container.name}: no-new-privileges stays on`);
    t.deepEqual(container.addCapabilities ?? [], contract.capabilities.value, container.name);
    const read = new Set(contract.env.value);
    const unread = [...Object.keys(container.env ?? {}), ...Object.keys(container.secretEnv ?? {})].filter((k) => !read.has(k));
    t.deepEqual(unread, [], `${container.name}: variables the image does not read`);
    for (const path of contract.writablePaths.value) {
      if (path.provide === "tmpfs") t.true(container.tmpfs?.some((m) => m.path === path.path), `${container.name}: tmpfs ${path.path}`);
      else t.true(container.volumes?.some((v) => v.path === path.path), `${container.name}: volume on ${path.path}`);
    }
    for (const data of contract.dataPaths.value) {
      t.true(container.volumes?.some((v) => data === v.path || data.startsWith(`${v.path}/`)), `${container.name}: ${data} is persisted`);
    }
    for (const file of uploads.filter((f) => f.container === container.name)) {
      t.true(contract.configPaths.value.some((dir) => file.path === dir || file.path.startsWith(`${dir}/`)), `${container.name}: ${file.path} is read by the image`);
    }
    for (const port of container.ports ?? []) {
      t.true(contract.ports.value.some((p) => p.port === port.port && p.protocol === port.protocol), `${container.name}: ${port.port}/${port.protocol}`);
    }
  }
});

test("Prosody's accounts volume is on the image's data folder, not on /config", (t) => {
  const prosody = containerOf(blueprintOf(example), "prosody");
  const [accounts] = blueprintOf(example).volumes;
  t.deepEqual([accounts!.path], prosodyContract.dataPaths.value);
  t.deepEqual(prosody.volumes, [{ volume: "accounts", path: "/var/lib/prosody" }]);
  // data_path = "/var/lib/prosody/data" (prosody/rootfs/defaults/prosody.cfg.lua:439 at stable-11146-2).
  t.true(PROSODY_DATA_PATH.startsWith(`${prosody.volumes![0]!.path}/`));
  t.false(prosody.volumes!.some((v) => v.path === "/config"), "/config is copied into /run at every start; nothing there persists accounts");
});

test.serial("under Pulumi's mocks, every Jitsi container gets its /run tmpfs and user, and keeps no-new-privileges", async (t) => {
  const resources = await deployUnderMocks(example);
  const containers = ofType(resources, CONTAINER).filter((c) => String(c.inputs.name).startsWith("bastide-jitsi-"));
  t.is(containers.length, 4);
  for (const c of containers) {
    const name = String(c.inputs.name);
    t.deepEqual(c.inputs.tmpfs, { "/run": RUN_TMPFS_OPTIONS }, name);
    t.is(c.inputs.user, String(JITSI_USER.uid), name);
    t.deepEqual(c.inputs.securityOpts, ["no-new-privileges:true"], name);
  }
  const prosody = containers.find((c) => c.inputs.name === containerName("jitsi", "prosody"))!;
  t.deepEqual(
    (prosody.inputs.volumes as any[]).map((v) => v.containerPath),
    ["/var/lib/prosody"],
  );
});

// --- The lobby, in a real Prosody --------------------------------------------------------
//
// Debian's Prosody runs the rooms' component with Bastide's module, as the image's does
// (XMPP_MUC_MODULES), a host where staff sign in and a guest host with anonymous sign-in,
// as the image's secure domain has. A small module of the test's own only logs the
// "create-lobby-room" events it sees: jitsi-meet's mod_muc_lobby_rooms, which answers
// them, is not in any registry this suite can install from (see the report of issue 7).

const MUC = "http://jabber.org/protocol/muc";
const EVENT_OBSERVER = `module:hook_global("create-lobby-room", function (event)
\tmodule:log("info", "create-lobby-room fired for %s", event.room.jid);
end);
`;

async function prosodyWithLobbyModule() {
  const plugins = scratch({
    [`mod_${LOBBY_MODULE}.lua`]: fileOf(example, LOBBY_MODULE_PATH).content,
    "mod_lobby_event_observer.lua": EVENT_OBSERVER,
  });
  chmodSync(plugins, 0o755);
  for (const name of [`mod_${LOBBY_MODULE}.lua`, "mod_lobby_event_observer.lua"]) chmodSync(join(plugins, name), 0o644);
  const server = await startLocalProsody(XMPP.domain, {
    global: `plugin_paths = { ${JSON.stringify(plugins)} }\n`,
    modules: ["lobby_event_observer"],
    hosts: [
      `VirtualHost "${XMPP.guestDomain}"`,
      `    authentication = "anonymous"`,
      `Component "${XMPP.mucDomain}" "muc"`,
      `    modules_enabled = { "${LOBBY_MODULE}" }`,
      `    muc_room_locking = false`,
      "",
    ].join("\n"),
  });
  return server;
}

const joinRoom = (room: string, nick: string) =>
  `<presence to='${room}@${XMPP.mucDomain}/${nick}'><x xmlns='${MUC}'/><nick xmlns='http://jabber.org/protocol/nick'>${nick}</nick></presence>`;
/** The answer to a join: the room's presence back (joined) or an error presence. */
const JOIN_ANSWER = /<presence[^>]*type=['"]error['"][\s\S]*?<\/presence>|<status code=['"]110['"]/;

test.serial("a room a host opens starts with its lobby on: a guest is not let in (real Prosody)", async (t) => {
  const server = await prosodyWithLobbyModule();
  const sessions: XmppSession[] = [];
  try {
    const password = "Host-Passw0rd-For-Tests";
    const created = await server.commands.prosodyctl(["register", "alice", XMPP.domain, password]);
    t.is(created.exitCode, 0, created.stderr);

    const host = await signIn({ port: server.port, domain: XMPP.domain, username: "alice", password });
    if (!host.ok) return t.fail(`the host cannot sign in: ${host.reply}`);
    sessions.push(host.session);
    host.session.send(joinRoom("weekly", "alice"));
    const hostJoined = await host.session.receive("the host's join", JOIN_ANSWER);
    t.regex(hostJoined, /<status code=['"]201['"]/, "the host created the room");

    host.session.send(`<iq type='get' id='info1' to='weekly@${XMPP.mucDomain}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const info = await host.session.receive("the room's features", /id=['"]info1['"][\s\S]*?<\/iq>/);
    t.regex(info, /var=['"]muc_membersonly['"]/, "members-only: the lobby's gate is shut");

    const guest = await signIn({ port: server.port, domain: XMPP.guestDomain });
    if (!guest.ok) return t.fail(`the guest cannot sign in anonymously: ${guest.reply}`);
    sessions.push(guest.session);
    t.regex(guest.session.jid, new RegExp(`@${XMPP.guestDomain.replace(/\./g, "\\.")}/`));
    guest.session.send(joinRoom("weekly", "guest"));
    const guestAnswer = await guest.session.receive("the guest's join", JOIN_ANSWER);
    t.regex(guestAnswer, /type=['"]error['"]/, "the guest is not in the room");
    t.regex(guestAnswer, /<registration-required/, "a members-only room's answer, which the lobby turns into a wait");

    // The module asks jitsi-meet's lobby module to attach a lobby, by the event that module listens to.
    t.regex(server.log(), new RegExp(`create-lobby-room fired for weekly@${XMPP.mucDomain.replace(/\./g, "\\.")}`));

    // jicofo's own health-check rooms are left alone: no person waits there.
    host.session.send(joinRoom(`${HEALTH_CHECK_ROOM_PREFIX}-1234`, "alice"));
    await host.session.receive("the host's join of a health-check room", JOIN_ANSWER);
    host.session.send(`<iq type='get' id='info2' to='${HEALTH_CHECK_ROOM_PREFIX}-1234@${XMPP.mucDomain}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const healthInfo = await host.session.receive("the health-check room's features", /id=['"]info2['"][\s\S]*?<\/iq>/);
    t.regex(healthInfo, /var=['"]muc_open['"]/);
  } finally {
    for (const session of sessions) session.close();
    await server.stop();
  }
});

// --- /run in a real Docker engine ------------------------------------------------------------
//
// The images cannot be pulled here; a BusyBox image with the same layout (a user s6 of uid
// 1000, /run a root-owned folder of the image) shows what Docker makes of the blueprint's
// tmpfs under no-new-privileges, checked the way s6-overlay's preinit checks it
// (just-containers/s6-overlay v3.2.3.0, libexec/preinit): /run writable by the user (line
// 57), mounted exec (lines 60-79), and belonging to the user (line 94), else it aborts.

/** A program and the shared libraries it loads, as ldd lists them. */
function withLibraries(program: string): string[] {
  const out = run("ldd", [program]);
  if (out.status !== 0) throw new Error(`ldd ${program} failed: ${out.stderr}`);
  return [program, ...[...out.stdout.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]!)];
}

function s6LayoutRootfs(tarFile: string): void {
  const busybox = requireProgram("busybox", "busybox");
  const stage = scratch();
  chmodSync(stage, 0o755);
  try {
    for (const file of withLibraries(busybox)) {
      mkdirSync(join(stage, dirname(file)), { recursive: true });
      copyFileSync(file, join(stage, file));
    }
    mkdirSync(join(stage, "bin"), { recursive: true });
    copyFileSync(busybox, join(stage, "bin/busybox"));
    chmodSync(join(stage, "bin/busybox"), 0o755);
    for (const applet of ["sh", "id", "stat", "grep", "printf", "chmod", "echo"]) symlinkSync("busybox", join(stage, "bin", applet));
    for (const dir of ["etc", "run", "tmp", "home/s6"]) mkdirSync(join(stage, dir), { recursive: true, mode: 0o755 });
    writeFileSync(join(stage, "etc/passwd"), `root:x:0:0:root:/root:/bin/sh\ns6:x:${JITSI_USER.uid}:${JITSI_USER.gid}::/home/s6:/bin/sh\n`);
    writeFileSync(join(stage, "etc/group"), `root:x:0:\ns6:x:${JITSI_USER.gid}:\n`);
    const tar = run("tar", ["--numeric-owner", "--owner=0", "--group=0", "-C", stage, "-cf", tarFile, "."]);
    if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr}`);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

const RUN_PROBE = [
  `echo "uid=$(id -u) owner=$(stat -c %u /run) group=$(stat -c %g /run) mode=$(stat -c %a /run)"`,
  // In a subshell: a failed redirection of a special built-in would end the script itself.
  `if ( : > '/run/test of writability' ) 2>/dev/null; then echo writable; else echo not-writable; fi`,
  `grep ' /run ' /proc/mounts`,
  `if printf '#!/bin/sh\\necho executed\\n' > /run/probe 2>/dev/null && chmod 755 /run/probe; then /run/probe; fi`,
].join("\n");

/** A container's log without a TTY: frames of an 8-byte header (stream, 3 zeros, length) and the text. */
function demultiplex(logs: Buffer): string {
  let text = "";
  for (let at = 0; at + 8 <= logs.length; ) {
    const length = logs.readUInt32BE(at + 4);
    text += logs.subarray(at + 8, at + 8 + length).toString("utf8");
    at += 8 + length;
  }
  return text;
}

async function probeRun(docker: Docker, image: string, tmpfsOptions: string): Promise<string> {
  const name = "bastide-test-jitsi-run-tmpfs";
  await removeContainer(docker, name);
  const container = await docker.createContainer({
    name,
    Image: image,
    User: String(JITSI_USER.uid),
    Cmd: ["sh", "-c", RUN_PROBE],
    HostConfig: { NetworkMode: "none", Tmpfs: { "/run": tmpfsOptions }, SecurityOpt: ["no-new-privileges:true"] },
  });
  try {
    await container.start();
    await waitUntil("the /run probe to finish", async () => !(await container.inspect()).State.Running, { timeoutMs: 30_000, intervalMs: 100 });
    return demultiplex((await container.logs({ stdout: true, stderr: true })) as unknown as Buffer);
  } finally {
    await removeContainer(docker, name);
  }
}

test.serial("under no-new-privileges, Docker mounts the blueprint's /run as s6-overlay needs it, and upstream's alone not (real engine)", async (t) => {
  const engine = await startDockerEngine();
  try {
    const busybox = requireProgram("busybox", "busybox");
    const image = `bastide-test/s6-layout:${createHash("sha256").update("s6-layout/1").update(readFileSync(busybox)).digest("hex").slice(0, 12)}`;
    await ensureImportedImage(engine.docker, image, s6LayoutRootfs, ["USER s6"]);

    const ours = await probeRun(engine.docker, image, RUN_TMPFS_OPTIONS);
    t.regex(ours, new RegExp(`^uid=${JITSI_USER.uid} owner=${JITSI_USER.uid} group=${JITSI_USER.gid} `, "m"), ours);
    t.regex(ours, /^writable$/m, ours);
    const mount = optionSet(ours.match(/^\S+ \/run tmpfs (\S+)/m)?.[1] ?? "");
    for (const option of ["size=16384k", "mode=1750", `uid=${JITSI_USER.uid}`, `gid=${JITSI_USER.gid}`]) t.true(mount.has(option), `${option} in ${[...mount]}`);
    t.false(mount.has("noexec"), [...mount].join(","));
    t.regex(ours, /^executed$/m, "a script in /run runs, as s6-overlay's do");

    // Upstream's options alone: root's /run, mode 1750, which preinit, unprivileged, refuses.
    const upstreamOnly = await probeRun(engine.docker, image, RUN_TMPFS_UPSTREAM_OPTIONS);
    t.regex(upstreamOnly, new RegExp(`^uid=${JITSI_USER.uid} owner=0 `, "m"), upstreamOnly);
    t.regex(upstreamOnly, /^not-writable$/m, upstreamOnly);
  } finally {
    await engine.release();
  }
});

// With jitsi-meet's own lobby module. Its source (resources/prosody-plugins/ of
// jitsi/jitsi-meet) is in no registry the suite can install from and is never committed
// here: this test runs where BASTIDE_JITSI_PROSODY_PLUGINS names a folder holding
// mod_muc_lobby_rooms.lua, mod_jitsi_session.lua and util.lib.lua (and lua-cjson is installed).
const jitsiPlugins = process.env.BASTIDE_JITSI_PROSODY_PLUGINS;
const withJitsiPlugins = jitsiPlugins ? test.serial : test.serial.skip;

withJitsiPlugins("with jitsi-meet's lobby module: staff go straight in, a guest is sent to the room's lobby (real Prosody)", async (t) => {
  const plugins = scratch({ [`mod_${LOBBY_MODULE}.lua`]: fileOf(example, LOBBY_MODULE_PATH).content });
  chmodSync(plugins, 0o755);
  chmodSync(join(plugins, `mod_${LOBBY_MODULE}.lua`), 0o644);
  // The whitelist exactly as Bastide's overlay renders it.
  const whitelist = prosodyOverlay().match(/^muc_lobby_whitelist = .*$/m)?.[0];
  if (!whitelist) return t.fail("the overlay sets no muc_lobby_whitelist");
  const lobbyDomain = `lobby.${XMPP.domain}`;
  const server = await startLocalProsody(XMPP.domain, {
    global: `plugin_paths = { ${JSON.stringify(plugins)}, ${JSON.stringify(jitsiPlugins)} }\n${whitelist}\n`,
    hosts: [
      `    modules_enabled = { "muc_lobby_rooms" }`,
      `    main_muc = "${XMPP.mucDomain}"`,
      `    lobby_muc = "${lobbyDomain}"`,
      `VirtualHost "${XMPP.guestDomain}"`,
      `    authentication = "anonymous"`,
      `Component "${XMPP.mucDomain}" "muc"`,
      `    modules_enabled = { "${LOBBY_MODULE}" }`,
      `    muc_room_locking = false`,
      `Component "${lobbyDomain}" "muc"`,
      `    muc_room_locking = false`,
      "",
    ].join("\n"),
  });
  const sessions: XmppSession[] = [];
  try {
    const password = "Host-Passw0rd-For-Tests";
    for (const user of ["alice", "bob"]) {
      const created = await server.commands.prosodyctl(["register", user, XMPP.domain, password]);
      t.is(created.exitCode, 0, created.stderr);
    }
    const signedIn = async (options: { username?: string; domain: string }) => {
      const result = await signIn({ port: server.port, password, ...options });
      if (!result.ok) throw new Error(`cannot sign in: ${result.reply}\n${server.log()}`);
      sessions.push(result.session);
      return result.session;
    };

    const alice = await signedIn({ username: "alice", domain: XMPP.domain });
    alice.send(joinRoom("weekly", "alice"));
    t.regex(await alice.receive("the host's join", JOIN_ANSWER), /<status code=['"]201['"]/);

    const guest = await signedIn({ domain: XMPP.guestDomain });
    guest.send(joinRoom("weekly", "guest"));
    const held = await guest.receive("the guest's join", JOIN_ANSWER);
    t.regex(held, /<registration-required/, server.log());
    t.regex(held, new RegExp(`<lobbyroom xmlns=['"]http://jitsi.org/jitmeet['"]>weekly@${lobbyDomain.replace(/\./g, "\\.")}</lobbyroom>`), "sent to the room's lobby");

    // A second staff member signs in on the staff domain, which the whitelist lets through.
    const bob = await signedIn({ username: "bob", domain: XMPP.domain });
    bob.send(joinRoom("weekly", "bob"));
    const bobJoined = await bob.receive("a staff member's join", JOIN_ANSWER);
    t.notRegex(bobJoined, /type=['"]error['"]/, bobJoined);
    t.regex(bobJoined, /<status code=['"]110['"]/);
    t.notRegex(server.log(), /No lobby module attached/);
  } finally {
    for (const session of sessions) session.close();
    await server.stop();
  }
});

test("the apps' privacy link (legalUrls.privacy) is the guests' notice the proxy serves on the meeting name, in the association's language", (t) => {
  const config = webConfigOf(example);
  const host = hostnames(example).meet;
  t.is(config.legalUrls.privacy, `https://${host}/confidentialite/invites.html`);
  t.true(noticePages(example).some((p) => `https://${host}${p.path}` === config.legalUrls.privacy), "served by the proxy");
  const english = webConfigOf(exampleAssociation((input) => (input.organisation.language = "en")));
  t.is(english.legalUrls.privacy, `https://${host}/privacy/guests.html`);
});
