// The Jitsi module: its blueprint from the example and from variants, and its two
// generated files, checked by the programs that read them (node for the web app's
// config, Prosody for the XMPP server's).
import test from "ava";
import { mkdirSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import vm from "node:vm";
import type { Association } from "../../stacks/config/schema.ts";
import { blueprintContext, blueprints, PUBLIC_ADDRESS } from "../../stacks/services/catalog.ts";
import { containerName, type ContainerBlueprint, type ServiceBlueprint } from "../../stacks/services/blueprint.ts";
import { IMAGES, isPinned } from "../../stacks/services/images.ts";
import {
  ARCHIVE_EXPIRY,
  MEDIA_PORT,
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
import { exampleAssociation } from "../support/association.ts";
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

const FAKE_SECRETS = { [SECRETS.jicofo]: "FakeJicofoSecret4242", [SECRETS.jvb]: "FakeJvbSecret1717" };
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
  for (const env of [web, prosody]) t.like(env, { ENABLE_AUTH: "1", AUTH_TYPE: "internal", ENABLE_GUESTS: "1" });
  t.like(envOf(example, "jicofo"), { ENABLE_AUTH: "1", AUTH_TYPE: "internal" });
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
  for (const name of ["web", "prosody", "jicofo", "jvb"]) {
    const env = envOf(example, name);
    t.like(env, { XMPP_DOMAIN: XMPP.domain, XMPP_AUTH_DOMAIN: XMPP.authDomain, XMPP_INTERNAL_MUC_DOMAIN: XMPP.internalMucDomain, TZ: "Etc/UTC" }, name);
  }
  for (const name of ["jicofo", "jvb"]) t.is(envOf(example, name).XMPP_SERVER, containerName("jitsi", "prosody"));
});

test("the bridge advertises the server's public address, and asks no STUN server for it", (t) => {
  t.is(envOf(example, "jvb").JVB_ADVERTISE_IPS, "127.0.0.1", "local: the laptop");
  const cloud = containerOf(blueprintOf(example, PUBLIC_ADDRESS), "jvb").env!;
  t.is(cloud.JVB_ADVERTISE_IPS, PUBLIC_ADDRESS, "a cloud VM: the marker the component replaces");
  const onServer = exampleAssociation((input) => {
    input.host = { target: "ssh", address: "203.0.113.5", country: "FR", size: { cpus: 4, memoryGb: 8 } };
  });
  t.is(envOf(onServer, "jvb").JVB_ADVERTISE_IPS, "203.0.113.5");
  t.like(cloud, { JVB_PORT: "10000", JVB_DISABLE_STUN: "true" });
});

test("generated passwords reach the containers only as secret environment variables", (t) => {
  const blueprint = blueprintOf(example);
  t.deepEqual(blueprint.secrets, [
    { name: SECRETS.jicofo, length: 32 },
    { name: SECRETS.jvb, length: 32 },
  ]);
  t.deepEqual(containerOf(blueprint, "prosody").secretEnv, { JICOFO_AUTH_PASSWORD: SECRETS.jicofo, JVB_AUTH_PASSWORD: SECRETS.jvb });
  t.deepEqual(containerOf(blueprint, "jicofo").secretEnv, { JICOFO_AUTH_PASSWORD: SECRETS.jicofo });
  t.deepEqual(containerOf(blueprint, "jvb").secretEnv, { JVB_AUTH_PASSWORD: SECRETS.jvb });
  t.is(containerOf(blueprint, "web").secretEnv, undefined);
  for (const c of blueprint.containers) t.false(Object.keys(c.env ?? {}).some((k) => /PASSWORD|SECRET/.test(k)), c.name);
});

test("no secret value appears in any rendered file, whatever the config", (t) => {
  for (const config of [example, recordingOn, guestsOff, lowBandwidthOff, dialInOn]) {
    const files = blueprintOf(config).files(FAKE_SECRETS);
    t.deepEqual(files.map((f) => `${f.container}:${f.path}`), [`web:${WEB_CONFIG_PATH}`, `prosody:${PROSODY_OVERLAY_PATH}`]);
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
  t.deepEqual(blueprint.volumes.map((v) => [v.name, v.path]), [["accounts", "/config"]]);
  t.deepEqual(containerOf(blueprint, "prosody").volumes, [{ volume: "accounts", path: "/config" }]);
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
