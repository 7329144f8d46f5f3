// What should be in force, from the validated config alone: the containers the service
// modules declare (with the platform's hardening), and each setting the register's
// auditable categories rely on, computed by the same functions that render the
// services' files. Pure: the rules compare this with what the readers bring back.
import type { Association, Member } from "../../stacks/config/schema.ts";
import { IDENTITY_REALM } from "../../stacks/services/identity/blueprint.ts";
import { IDENTITY_RETENTION, twoFactorRoles } from "../../stacks/services/identity/register.ts";
import { containerName, volumeName, type ServiceBlueprint, type ServiceName } from "../../stacks/services/blueprint.ts";
import { blueprints, hostnames } from "../../stacks/services/catalog.ts";
import { LOG_ROTATION } from "../../stacks/platform/component.ts";
import { ACCESS_LOG_ROLL_SIZE } from "../../stacks/services/proxy/register.ts";
import { prosodyOverlay, PROSODY_OVERLAY_PATH, WEB_CONFIG_PATH, webSettings, XMPP } from "../../stacks/services/jitsi/blueprint.ts";
import { NEXTCLOUD_ADMIN_USER, nextcloudOccSettings, nextcloudSystemConfig } from "../../stacks/services/nextcloud/blueprint.ts";
import { homeserverSettings, SYNAPSE_CONFIG_PATH } from "../../stacks/services/matrix/blueprint.ts";
import { CONFIG_PATH as FRAMADATE_CONFIG_PATH, DISCARDED_LOG } from "../../stacks/services/polls/blueprint.ts";
import { COREFILE_PATH, corefile, SERVER_CONF_PATH } from "../../stacks/services/vpn/blueprint.ts";
import { desiredState, MATRIX_BOT, matrixUserId } from "../../provisioners/desired.ts";
import { hostsMeetings } from "../../stacks/services/jitsi/login.ts";
import { activePeers } from "../../provisioners/vpn/server.ts";
import { desiredNextcloudSettings, type RetentionRuleSpec } from "../../provisioners/nextcloud-settings/desired.ts";
import { occTarget } from "../../provisioners/nextcloud-settings/occ.ts";
import { declaredBackups, type DeclaredBackups } from "./backups.ts";
import { caddyLogOutputs, corefileFacts, isInvalid, luaGlobals, occValue, type LuaValue, type TwoFactorState } from "./parse.ts";

/** The two-factor state the provisioning's `occ twofactorauth:enforce` command sets. */
export function declaredTwoFactor(config: Association): TwoFactorState {
  for (const setting of nextcloudOccSettings(config)) {
    const target = occTarget(setting.command);
    if (target.kind === "two-factor") return target.state;
  }
  return { enforced: false, groups: [], excluded: [] };
}

export interface DeclaredContainer {
  service: ServiceName;
  /** Short name, as the `bastide.container` label carries it. */
  name: string;
  /** `bastide-<service>-<name>`. */
  container: string;
  /** The pinned reference (images.ts). */
  image: string;
  memoryMb: number;
  volumes: { volume: string; path: string }[];
  /** Capabilities beyond Docker's default set. */
  capabilities: string[];
  /** The environment variables the audit reads, with their declared values. */
  env: Record<string, string>;
}

/** Where a rendered file the audit reads back lives. */
export interface DeclaredFile {
  service: ServiceName;
  /** The container's short name (its `bastide.container` label). */
  name: string;
  /** `bastide-<service>-<name>`. */
  container: string;
  path: string;
}

/** Environment variables the audit reads from containers: none of them is a secret. */
export const AUDITED_ENV = ["ENABLE_LOBBY", "ENABLE_RECORDING", "ENABLE_LIVESTREAMING", "ENABLE_AUTH", "AUTH_TYPE"] as const;

/** The web app settings that decide whether, and where, meetings are recorded or streamed. */
export const JITSI_RECORDING_SETTINGS = ["recordingService", "fileRecordingsEnabled", "liveStreaming", "liveStreamingEnabled", "localRecording", "recordings", "noticeMessage"] as const;

/** Prosody settings that keep meetings and lobbies in memory, without archive or tombstone. */
export const PROSODY_MEMORY_SETTINGS = [
  "muc_log_by_default",
  "muc_log_all_rooms",
  "muc_log_expires_after",
  "default_archive_policy",
  "archive_expires_after",
  "muc_tombstones",
] as const;

/** The config.php values behind the register's Nextcloud periods, read back with `occ config:system:get`. */
export const NEXTCLOUD_SYSTEM_KEYS = {
  trash: ["trashbin_retention_obligation"],
  versions: ["versions_retention_obligation"],
  activity: ["activity_expire_days"],
  log: ["log_rotate_size", "loglevel"],
} as const;

export interface Declared {
  organisation: { name: string; domain: string };
  /** The backup job's records and how old they may be; null when the file asks for no backups. */
  backups: DeclaredBackups | null;
  services: ServiceName[];
  containers: DeclaredContainer[];
  logRotation: { maxSize: string; maxFile: string };
  proxy: {
    caddyfile: DeclaredFile;
    accessLogHours: number;
    rollSize: string;
    /** What the Caddyfile Bastide renders masks and removes in access logs. */
    masks: Record<string, string>;
    deleted: string[];
  };
  jitsi?: {
    webConfig: DeclaredFile;
    overlay: DeclaredFile;
    recording: Record<string, unknown>;
    /** Settings the overlay must hold, and modules it must switch off. */
    memoryOnly: Record<string, LuaValue>;
    modulesDisabled: string[];
    domain: string;
    /** Members who may have an account: admins and staff. */
    staff: string[];
    /** Hosts come with the identity provider's token: Prosody holds no account of theirs to list. */
    tokenLogin: boolean;
  };
  nextcloud?: {
    shareLinks: { requirePassword: boolean; expireDays: number };
    /** The tag and the files_retention rule the settings provisioning sets on it. */
    temporaryTag: { name: string; rule: RetentionRuleSpec };
    /** Key → what `occ config:system:get` prints. */
    system: Record<string, string>;
    twoFactor: TwoFactorState;
    /** Accounts that may be enabled: the members and Bastide's service account. */
    accounts: string[];
  };
  matrix?: {
    homeserver: DeclaredFile;
    serverName: string;
    federation: boolean;
    settings: ReturnType<typeof homeserverSettings>;
    /** Accounts that may be active: the members and Bastide's bot. */
    accounts: string[];
    /** The space and every team room, by local alias. */
    rooms: string[];
    retentionMs: number;
  };
  polls?: { configs: DeclaredFile[]; purgeDelayDays: number; defaultDurationDays: number; logFile: string };
  vpn?: { serverConf: DeclaredFile; corefile: DeclaredFile; devices: string[]; /** The longest cache the rendered Corefile sets. */ cacheSeconds: number };
  identity?: DeclaredIdentity;
}

export interface DeclaredIdentity {
  realm: string;
  /** Each role's second factor, as the config sets it, with the reason when it is optional. */
  twoFactor: { role: Member["role"]; required: boolean; reason?: string }[];
  /** The members, by Keycloak user name (the id, lower-case), with their role. */
  members: { username: string; role: Member["role"] }[];
  /** A member who must have a second factor and has none this many days after the account was made is reported. */
  enrolmentDays: number;
  lockoutAfterFailures: number;
  minimumPasswordLength: number;
  loginEventsSeconds: number;
  ssoSessionIdleSeconds: number;
  ssoSessionMaxSeconds: number;
}

/**
 * Days a member has to enrol their second factor after their account is made: a fortnight
 * covers a hand-over at the next meeting of a small association. Later, the audit reports them.
 */
export const ENROLMENT_DAYS = 14;

/** What the identity provisioner sets in the realm, from the config and the register's periods. */
export function declaredIdentity(config: Association): DeclaredIdentity {
  const s = config.services.identity;
  return {
    realm: IDENTITY_REALM,
    twoFactor: twoFactorRoles(config).map(({ role, required, reason }) => ({ role, required, ...(reason !== undefined ? { reason } : {}) })),
    members: config.members.map((m) => ({ username: m.id.toLowerCase(), role: m.role })).sort((a, b) => a.username.localeCompare(b.username)),
    enrolmentDays: ENROLMENT_DAYS,
    lockoutAfterFailures: s.lockoutAfterFailures,
    minimumPasswordLength: s.passwords.minimumLength,
    loginEventsSeconds: IDENTITY_RETENTION.loginEventsDays * 86_400,
    ssoSessionIdleSeconds: IDENTITY_RETENTION.ssoSessionIdleMinutes * 60,
    ssoSessionMaxSeconds: IDENTITY_RETENTION.ssoSessionMaxHours * 3_600,
  };
}

function declaredContainers(all: ServiceBlueprint[], config: Association): DeclaredContainer[] {
  return all.flatMap((blueprint) =>
    blueprint.containers.map((c) => ({
      service: blueprint.service,
      name: c.name,
      container: containerName(blueprint.service, c.name),
      image: c.image,
      memoryMb: c.memoryMb[config.profile],
      volumes: (c.volumes ?? []).map((v) => ({ volume: volumeName(blueprint.service, v.volume), path: v.path })),
      capabilities: c.addCapabilities ?? [],
      env: Object.fromEntries(AUDITED_ENV.filter((k) => c.env?.[k] !== undefined).map((k) => [k, c.env![k]!])),
    })),
  );
}

function cacheOf(text: string): number {
  const facts = corefileFacts(text);
  if (isInvalid(facts) || facts.cacheSeconds.length === 0) throw new Error("Bastide's own Corefile sets no cache");
  return Math.max(...facts.cacheSeconds);
}

const file = (service: ServiceName, name: string, path: string): DeclaredFile => ({ service, name, container: containerName(service, name), path });

/** The web app's recording settings as Bastide's custom-config.js sets them (null: not set). */
function jitsiRecording(config: Association): Record<string, unknown> {
  const settings = webSettings(config);
  return Object.fromEntries(JITSI_RECORDING_SETTINGS.map((name) => [name, settings.find((s) => s.name === name)?.value ?? null]));
}

function prosodyMemoryOnly(): { memoryOnly: Record<string, LuaValue>; modulesDisabled: string[] } {
  const globals = luaGlobals(prosodyOverlay());
  if (isInvalid(globals)) throw new Error(`Bastide's own Prosody overlay does not parse: ${globals.invalid}`);
  const disabled = globals.modules_disabled;
  return {
    memoryOnly: Object.fromEntries(PROSODY_MEMORY_SETTINGS.map((k) => [k, globals[k] ?? null])),
    // "offline" would store chat messages for absent users; the others are about accounts and federation.
    modulesDisabled: Array.isArray(disabled) ? disabled.filter((m): m is string => m === "offline") : [],
  };
}

/** What Bastide's own Caddyfile masks and removes: the audit expects the same of the running one. */
function accessLogFilter(blueprint: ServiceBlueprint, path: string): { masks: Record<string, string>; deleted: string[] } {
  const text = blueprint.files({}).find((f) => f.path === path)?.content ?? "";
  const outputs = caddyLogOutputs(text);
  if (isInvalid(outputs)) throw new Error(`Bastide's own Caddyfile does not parse: ${outputs.invalid}`);
  const toFile = outputs.find((o) => o.toFile);
  return { masks: { ...(toFile?.masks ?? {}) }, deleted: [...(toFile?.deleted ?? [])] };
}

export function declaredState(config: Association): Declared {
  const all = blueprints(config);
  const services = all.map((b) => b.service);
  const names = hostnames(config);
  const desired = desiredState(config);
  const s = config.services;
  const proxy = all.find((b) => b.service === "proxy")!;
  const caddy = proxy.containers.find((c) => c.name === "caddy")!;
  const caddyfile = file("proxy", caddy.name, caddy.files!.find((f) => f.endsWith("/Caddyfile"))!);
  const declared: Declared = {
    organisation: { name: config.organisation.name, domain: config.domain },
    backups: declaredBackups(config),
    services,
    containers: declaredContainers(all, config),
    logRotation: { maxSize: LOG_ROTATION["max-size"], maxFile: LOG_ROTATION["max-file"] },
    proxy: {
      caddyfile,
      accessLogHours: s.proxy.accessLog.retentionDays * 24,
      rollSize: ACCESS_LOG_ROLL_SIZE,
      ...accessLogFilter(proxy, caddyfile.path),
    },
  };

  if (services.includes("jitsi")) {
    declared.jitsi = {
      webConfig: file("jitsi", "web", WEB_CONFIG_PATH),
      overlay: file("jitsi", "prosody", PROSODY_OVERLAY_PATH),
      recording: jitsiRecording(config),
      ...prosodyMemoryOnly(),
      domain: XMPP.domain,
      staff: config.members.filter(hostsMeetings).map((m) => m.id).sort(),
      tokenLogin: config.services.identity.enabled,
    };
  }

  if (services.includes("nextcloud")) {
    const system = nextcloudSystemConfig(config, names.cloud);
    const settings = desiredNextcloudSettings(config);
    const keys = Object.values(NEXTCLOUD_SYSTEM_KEYS).flat();
    declared.nextcloud = {
      shareLinks: { requirePassword: s.nextcloud.shareLinks.requirePassword, expireDays: s.nextcloud.shareLinks.expireAfterDays },
      temporaryTag: { name: settings!.retention.tag, rule: { ...settings!.retention.rule } },
      system: Object.fromEntries(keys.map((k) => [k, occValue(system[k])])),
      twoFactor: declaredTwoFactor(config),
      accounts: [NEXTCLOUD_ADMIN_USER, ...config.members.map((m) => m.id)].sort(),
    };
  }

  if (services.includes("matrix") && desired.matrix) {
    const matrix = desired.matrix;
    declared.matrix = {
      homeserver: file("matrix", "synapse", SYNAPSE_CONFIG_PATH),
      serverName: matrix.serverName,
      federation: s.matrix.federation.enabled,
      settings: homeserverSettings(config),
      accounts: [matrixUserId(MATRIX_BOT, matrix.serverName), ...matrix.users.map((u) => u.id)].sort(),
      rooms: [matrix.space.alias, ...matrix.rooms.map((r) => r.alias)],
      retentionMs: matrix.retentionMs,
    };
  }

  if (services.includes("polls")) {
    const polls = all.find((b) => b.service === "polls")!;
    declared.polls = {
      // Every container that reads Framadate's config: the app, and the purge that deletes old polls.
      configs: polls.containers.filter((c) => c.files?.includes(FRAMADATE_CONFIG_PATH)).map((c) => file("polls", c.name, FRAMADATE_CONFIG_PATH)),
      purgeDelayDays: s.polls.purgeDelayDays,
      defaultDurationDays: s.polls.defaultDurationDays,
      logFile: DISCARDED_LOG,
    };
  }

  if (services.includes("vpn")) {
    declared.vpn = {
      serverConf: file("vpn", "wireguard", SERVER_CONF_PATH),
      corefile: file("vpn", "wireguard", COREFILE_PATH),
      // Named in wg0.conf as the provisioning step writes them (provisioners/vpn/server.ts).
      devices: activePeers(desired).map((p) => `${p.member} ${p.device}`).sort(),
      cacheSeconds: cacheOf(corefile(names, s.vpn.subnet)),
    };
  }

  if (services.includes("identity")) declared.identity = declaredIdentity(config);
  return declared;
}
