// Jitsi Meet, from the docker-jitsi-meet images: nginx and the web app (web), the XMPP
// server (prosody), the conference focus (jicofo) and the video bridge (jvb).
//
// The meeting domain is "secure": only staff with an account open a room; guests,
// when allowed, join without one once a host is there, and every room starts with its
// lobby on, so guests wait there until a host admits them. Caddy holds the
// certificate, so the web container serves plain HTTP.
//
// The images' facts, with their sources, are in stacks/services/upstream/jitsi-*.ts.
// They run as an unprivileged user (uid 1000) under s6-overlay, which needs /run to be
// a writable tmpfs; nginx listens on 8000, not 80; every container copies /config into
// /run at start, which is where Bastide's files go (web: custom-config.js, appended to
// config.js; prosody: conf.d/*.cfg.lua, included by prosody.cfg.lua); Prosody keeps its
// accounts under /var/lib/prosody.
import type { Association } from "../../config/schema.ts";
import { containerName, type BlueprintContext, type ContainerBlueprint, type MemoryMb, type ServiceModule } from "../blueprint.ts";
import { IMAGES } from "../images.ts";
import { json, render } from "../../platform/templates.ts";
import type { JitsiSettings } from "./settings.ts";
import { JITSI_USER, RUN_TMPFS_OPTIONS } from "./upstream-base.ts";
import { issuerOf } from "../identity/blueprint.ts";
import { JWT_SECRET, MEETING_LOGIN, meetingLoginPage, tokenAuthUrl } from "./login.ts";
import { hostnames } from "../hosts.ts";
import { noticeAddress } from "../proxy/notices.ts";

/** Internal XMPP names; they never leave the service's networks. */
export const XMPP = {
  domain: "meet.jitsi",
  authDomain: "auth.meet.jitsi",
  guestDomain: "guest.meet.jitsi",
  mucDomain: "muc.meet.jitsi",
  internalMucDomain: "internal-muc.meet.jitsi",
} as const;

/** nginx in the rootless web image; Caddy proxies to it on the edge network. */
export const WEB_PORT = 8000;
/** RTP media between browsers and the bridge; the one port Jitsi needs from the Internet. */
export const MEDIA_PORT = 10000;
export const PROSODY_HTTP_PORT = 5280;

export const SECRETS = { jicofo: "jicofo-auth-password", jvb: "jvb-auth-password" } as const;

/**
 * Persisted as the accounts volume, where upstream's compose file mounts it; Prosody's
 * data_path is its data/ folder (upstream/jitsi-prosody.ts). A new volume takes the
 * image folder's owner, uid 1000. A volume older images used on /config holds its
 * accounts in data/ (their data_path was /config/data), which lands on the new
 * data_path, but its files belong to those images' prosody user: the image refuses to
 * start until they are handed to uid 1000 (scripts/config, check-writable).
 */
export const PROSODY_DATA_VOLUME_PATH = "/var/lib/prosody";
export const PROSODY_DATA_PATH = `${PROSODY_DATA_VOLUME_PATH}/data`;
export const WEB_CONFIG_PATH = "/config/custom-config.js";
export const PROSODY_OVERLAY_PATH = "/config/conf.d/bastide-privacy.cfg.lua";

/**
 * Bastide's Prosody module that turns the lobby on in every new meeting room; the main
 * MUC component loads it (XMPP_MUC_MODULES), from the image's first plugin path.
 */
export const LOBBY_MODULE = "bastide_lobby_by_default";
export const LOBBY_MODULE_PATH = `/prosody-plugins-custom/mod_${LOBBY_MODULE}.lua`;
/** Rooms jicofo creates to check its own health, which no person joins (jitsi-meet's util.lib.lua is_healthcheck_room). */
export const HEALTH_CHECK_ROOM_PREFIX = "__jicofo-health-check";

/**
 * What every container of the s6-overlay images needs: /run as a writable, exec tmpfs
 * that belongs to the image's user, so that the images start under no-new-privileges
 * (upstream-base.ts says why). The user is given by uid alone, which keeps the
 * supplementary groups the image gives it in /etc/group.
 */
const s6Container = (): Pick<ContainerBlueprint, "user" | "tmpfs"> => ({
  user: String(JITSI_USER.uid),
  tmpfs: [{ path: "/run", options: RUN_TMPFS_OPTIONS }],
});

/** At info level Prosody logs every sign-in; warnings and errors are all an operator needs. */
export const PROSODY_LOG_LEVEL = "warn";
/** Should a message-archive module ever be switched on, what it keeps expires this soon. */
export const ARCHIVE_EXPIRY = "1d";

/** Log timestamps in UTC; participants see times in their own browser's zone. */
const TIME_ZONE = "Etc/UTC";

const MEMORY: Record<"web" | "prosody" | "jicofo" | "jvb", MemoryMb> = {
  web: { small: 128, standard: 256 },
  prosody: { small: 128, standard: 256 },
  jicofo: { small: 256, standard: 512 },
  jvb: { small: 512, standard: 1024 },
};

/**
 * The JVM heap for a Java container: half its limit, because metaspace, threads and the
 * bridge's off-heap buffers need the rest. The images default to 3072m, which a small
 * container's limit would kill.
 */
export const javaHeap = (limitMb: number) => `${Math.floor(limitMb / 2)}m`;

const curlHealth = (url: string, startPeriodSeconds: number) => ({
  // Every Jitsi image has curl: the web image's ACME client and the others' healthcheck.sh use it.
  test: ["CMD", "curl", "--fail", "--silent", "--output", "/dev/null", url],
  intervalSeconds: 30,
  retries: 3,
  startPeriodSeconds,
});

const prosodyHost = containerName("jitsi", "prosody");

const guestsEnv = (settings: JitsiSettings) => ({ ENABLE_GUESTS: settings.guests.allowed ? "1" : "0" });

/** With the identity provider, hosts come with a token it signed (login.ts); without it, with a Prosody account. */
const tokenLogin = (config: Association) => config.services.identity.enabled;
const authType = (config: Association) => (tokenLogin(config) ? "jwt" : "internal");

/**
 * Prosody's token check (docker-jitsi-meet prosody/rootfs/defaults/conf.d/jitsi-meet.cfg.lua
 * lines 85-86 and 125-138 at stable-11146-2): app_id, the shared secret, and the one issuer it
 * accepts, the realm's. Audiences stay upstream's "*": the key signs this client's tokens only.
 */
function tokenEnv(config: Association, identityHost: string): { env: Record<string, string>; secretEnv: Record<string, string> } {
  if (!tokenLogin(config)) return { env: {}, secretEnv: {} };
  return {
    env: { JWT_APP_ID: MEETING_LOGIN.clientId, JWT_ACCEPTED_ISSUERS: issuerOf(identityHost) },
    secretEnv: { JWT_APP_SECRET: JWT_SECRET.name },
  };
}

/** A setting of the web app's config object; `merge` keeps the keys the image already set there. */
export interface WebSetting {
  name: string;
  value: unknown;
  merge: boolean;
  why: string;
}

const set = (name: string, value: unknown, why: string): WebSetting => ({ name, value, merge: false, why });
const merge = (name: string, value: Record<string, unknown>, why: string): WebSetting => ({ name, value, merge: true, why });

/** Width matching a 16:9 height, so the camera is not asked for a cropped picture. */
const widthFor = (height: number) => Math.round((height * 16) / 9);

function lowBandwidthSettings(settings: JitsiSettings["lowBandwidth"]): WebSetting[] {
  if (!settings.enabled) return [];
  const height = settings.maxResolution;
  const width = widthFor(height);
  return [
    set("resolution", height, "highest video height sent"),
    merge(
      "constraints",
      {
        video: {
          height: { ideal: height, max: height, min: Math.min(180, height) },
          width: { ideal: width, max: width, min: Math.min(320, width) },
        },
      },
      "what the camera is asked for",
    ),
    set("channelLastN", settings.lastN, "how many participants' video is forwarded at once"),
    set("startAudioMuted", settings.startMutedAfter, "participants past this number join with the microphone off"),
    set("startVideoMuted", settings.startMutedAfter, "participants past this number join with the camera off"),
  ];
}

function recordingSettings(settings: JitsiSettings["recording"]): WebSetting[] {
  // Bastide deploys no Jibri, so server-side recording and streaming stay off whatever the config
  // says; turning recording on allows in-browser recording, announced to everyone.
  const common = [
    merge("recordingService", { enabled: false, sharingEnabled: false }, "no server-side recording (no Jibri)"),
    set("fileRecordingsEnabled", false, "older name of the same switch"),
    merge("liveStreaming", { enabled: false }, "no live streaming to third-party platforms"),
    set("liveStreamingEnabled", false, "older name of the same switch"),
  ];
  if (!settings.enabled) {
    return [...common, merge("localRecording", { disable: true }, "no recording: the web app allows in-browser recording unless told not to")];
  }
  return [
    ...common,
    merge("localRecording", { disable: false, notifyAllParticipants: true }, "in-browser recording, announced to every participant"),
    merge("recordings", { requireConsent: true, showPrejoinWarning: true, suggestRecording: false }, "participants are told before joining and asked to consent"),
    set("noticeMessage", settings.consentText, "the association's consent text, shown in every meeting"),
  ];
}

/** The web app's settings, applied after the image's own (they are appended to config.js). */
export function webSettings(config: Association): WebSetting[] {
  const settings = config.services.jitsi;
  return [
    ...lowBandwidthSettings(settings.lowBandwidth),
    ...recordingSettings(settings.recording),
    ...(settings.dialIn.enabled ? [set("dialInNumbersUrl", settings.dialIn.numbersUrl, "the telephony provider's page of numbers")] : []),
    merge("lobby", { autoKnock: true, enableChat: true }, "guests ask to join as soon as they arrive when the lobby is on"),
    set("disableThirdPartyRequests", true, "no request to servers outside the association's"),
    merge("gravatar", { disabled: true }, "no avatar lookups at gravatar.com"),
    merge("analytics", { disabled: true, rtcstatsEnabled: false }, "no analytics or call statistics"),
    merge("p2p", { stunServers: [] }, "no STUN request to jitsi.net; two-person calls fall back to the bridge"),
    set("doNotStoreRoom", true, "room names are not kept in the browser's recent list"),
    // legalUrls is in the web app's config type (jitsi-meet react/features/base/config/configType.ts,
    // read at 006e846); getLegalUrls (base/config/functions.any.ts, read at 1c8216e) takes its
    // privacy entry and keeps Jitsi's defaults for the others, and only the mobile apps' settings
    // show it (settings/components/native/LinksSection.tsx, same commit): the browser shows no such link.
    // Those files were read from the public index, not at the pinned stable-11146 tag.
    merge("legalUrls", { privacy: noticeAddress(hostnames(config).meet, "notice-guests", config.organisation.language) }, "the privacy link points at the guests' information notice"),
  ];
}

export function webConfig(config: Association): string {
  const settings = webSettings(config).map((s) => ({ ...s, value: json(s.value) }));
  return render("jitsi/custom-config.js", { settings });
}

export function prosodyOverlay(): string {
  return render("jitsi/bastide-privacy.cfg.lua", {
    logLevel: PROSODY_LOG_LEVEL,
    archiveExpiry: ARCHIVE_EXPIRY,
    staffDomain: XMPP.domain,
  });
}

export function lobbyModule(): string {
  return render("jitsi/mod_bastide_lobby_by_default.lua", { healthCheckPrefix: HEALTH_CHECK_ROOM_PREFIX });
}

function containers(config: Association, { profile, hostnames, publicAddress }: BlueprintContext): ContainerBlueprint[] {
  const settings = config.services.jitsi;
  const publicUrl = `https://${hostnames.meet}`;
  const token = tokenEnv(config, hostnames.identity);
  // Each image gets only the variables it reads (upstream/jitsi-*.ts lists them with their source).
  return [
    {
      name: "prosody",
      image: IMAGES.jitsiProsody,
      memoryMb: MEMORY.prosody,
      ...s6Container(),
      env: {
        TZ: TIME_ZONE,
        XMPP_DOMAIN: XMPP.domain,
        XMPP_AUTH_DOMAIN: XMPP.authDomain,
        XMPP_GUEST_DOMAIN: XMPP.guestDomain,
        XMPP_MUC_DOMAIN: XMPP.mucDomain,
        XMPP_INTERNAL_MUC_DOMAIN: XMPP.internalMucDomain,
        ENABLE_AUTH: "1",
        AUTH_TYPE: authType(config),
        ...token.env,
        ...guestsEnv(settings),
        PUBLIC_URL: publicUrl,
        // Loads jitsi-meet's lobby module; Bastide's own module, on the rooms' component, turns it on in every room.
        ENABLE_LOBBY: "1",
        XMPP_MUC_MODULES: LOBBY_MODULE,
        ENABLE_RECORDING: "0",
      },
      secretEnv: { JICOFO_AUTH_PASSWORD: SECRETS.jicofo, JVB_AUTH_PASSWORD: SECRETS.jvb, ...token.secretEnv },
      volumes: [{ volume: "accounts", path: PROSODY_DATA_VOLUME_PATH }],
      files: [PROSODY_OVERLAY_PATH, LOBBY_MODULE_PATH],
      networks: ["internal"],
      healthcheck: curlHealth(`http://127.0.0.1:${PROSODY_HTTP_PORT}/health`, 30),
    },
    {
      name: "jicofo",
      image: IMAGES.jitsiJicofo,
      memoryMb: MEMORY.jicofo,
      ...s6Container(),
      env: {
        TZ: TIME_ZONE,
        XMPP_DOMAIN: XMPP.domain,
        XMPP_AUTH_DOMAIN: XMPP.authDomain,
        XMPP_MUC_DOMAIN: XMPP.mucDomain,
        XMPP_INTERNAL_MUC_DOMAIN: XMPP.internalMucDomain,
        ENABLE_AUTH: "1",
        // JWT: jicofo trusts the users Prosody let in with a token (jicofo.conf lines 49-60).
        AUTH_TYPE: authType(config),
        ENABLE_RECORDING: "0",
        XMPP_SERVER: prosodyHost,
        JICOFO_MAX_MEMORY: javaHeap(MEMORY.jicofo[profile]),
      },
      secretEnv: { JICOFO_AUTH_PASSWORD: SECRETS.jicofo },
      networks: ["internal"],
      healthcheck: curlHealth("http://127.0.0.1:8888/about/health", 60),
      dependsOn: ["prosody"],
    },
    {
      name: "jvb",
      image: IMAGES.jitsiJvb,
      memoryMb: MEMORY.jvb,
      ...s6Container(),
      env: {
        TZ: TIME_ZONE,
        XMPP_AUTH_DOMAIN: XMPP.authDomain,
        XMPP_INTERNAL_MUC_DOMAIN: XMPP.internalMucDomain,
        XMPP_SERVER: prosodyHost,
        JVB_PORT: String(MEDIA_PORT),
        JVB_ADVERTISE_IPS: publicAddress,
        // The address is known, so no STUN request to a third party to discover it.
        JVB_DISABLE_STUN: "true",
        VIDEOBRIDGE_MAX_MEMORY: javaHeap(MEMORY.jvb[profile]),
      },
      secretEnv: { JVB_AUTH_PASSWORD: SECRETS.jvb },
      ports: [{ port: MEDIA_PORT, protocol: "udp", purpose: "Video meetings: audio and video between browsers and the video bridge" }],
      // Also on the edge network: Docker publishes no port of a container that is only on an
      // internal network, and the bridge finds its own address through a default route,
      // which an internal network does not have.
      networks: ["edge", "internal"],
      healthcheck: curlHealth("http://127.0.0.1:8080/about/health", 60),
      dependsOn: ["prosody"],
    },
    {
      name: "web",
      image: IMAGES.jitsiWeb,
      memoryMb: MEMORY.web,
      ...s6Container(),
      env: {
        TZ: TIME_ZONE,
        XMPP_DOMAIN: XMPP.domain,
        XMPP_GUEST_DOMAIN: XMPP.guestDomain,
        XMPP_MUC_DOMAIN: XMPP.mucDomain,
        ENABLE_AUTH: "1",
        ...guestsEnv(settings),
        PUBLIC_URL: publicUrl,
        XMPP_BOSH_URL_BASE: `http://${prosodyHost}:${PROSODY_HTTP_PORT}`,
        // Caddy terminates TLS and sends HSTS; a second ACME client would fight it for the name.
        DISABLE_HTTPS: "1",
        ENABLE_LETSENCRYPT: "0",
        ENABLE_HTTP_REDIRECT: "0",
        ENABLE_HSTS: "0",
        ENABLE_RECORDING: "0",
        ENABLE_LIVESTREAMING: "0",
        // Participants check their devices, name and any recording notice before joining.
        ENABLE_PREJOIN_PAGE: "1",
        ...(tokenLogin(config) ? { TOKEN_AUTH_URL: tokenAuthUrl(hostnames.meet) } : {}),
      },
      files: tokenLogin(config) ? [WEB_CONFIG_PATH, MEETING_LOGIN.containerPath] : [WEB_CONFIG_PATH],
      networks: ["edge", "internal"],
      healthcheck: curlHealth(`http://127.0.0.1:${WEB_PORT}/`, 30),
      dependsOn: ["jvb"],
    },
  ];
}

export const jitsi: ServiceModule = {
  name: "jitsi",
  enabled: (config) => config.services.jitsi.enabled,
  blueprint: (config, context) => ({
    service: "jitsi",
    title: "Visio (Jitsi Meet)",
    containers: containers(config, context),
    volumes: [
      {
        name: "accounts",
        path: PROSODY_DATA_VOLUME_PATH,
        holds: tokenLogin(config)
          ? "Prosody's data folder: the accounts of Jitsi's own components (hosts sign in with the identity provider's token); meetings themselves are never stored"
          : "Prosody's data folder: staff meeting accounts (user names and salted password hashes); meetings themselves are never stored",
      },
    ],
    secrets: [{ name: SECRETS.jicofo, length: 32 }, { name: SECRETS.jvb, length: 32 }, ...(tokenLogin(config) ? [JWT_SECRET] : [])],
    routes: [{ host: context.hostnames.meet, upstream: `${containerName("jitsi", "web")}:${WEB_PORT}` }],
    files: () => [
      { container: "web", path: WEB_CONFIG_PATH, content: webConfig(config), holdsSecrets: false, mode: "0644" },
      { container: "prosody", path: PROSODY_OVERLAY_PATH, content: prosodyOverlay(), holdsSecrets: false, mode: "0644" },
      { container: "prosody", path: LOBBY_MODULE_PATH, content: lobbyModule(), holdsSecrets: false, mode: "0644" },
      ...(tokenLogin(config)
        ? [{ container: "web", path: MEETING_LOGIN.containerPath, content: meetingLoginPage(config, context.hostnames.meet, issuerOf(context.hostnames.identity)), holdsSecrets: false, mode: "0644" }]
        : []),
    ],
  }),
};
