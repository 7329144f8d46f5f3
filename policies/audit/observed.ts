// What the readers bring back from the running services: one Read per source, so that
// an unreachable source marks only its own checks as unread. Facts only, no secrets.
import type { Read } from "./model.ts";
import type { BackupJobFacts } from "./backups.ts";
import type {
  CaddyLogOutput,
  CorefileFacts,
  HomeserverFacts,
  Invalid,
  LuaValue,
  PollsConfigFacts,
  RetentionRule,
  ShareLinkCapabilities,
  TwoFactorState,
} from "./parse.ts";

/** A container labelled `bastide.service`, as the Docker engine describes it. */
export interface ContainerFacts {
  id: string;
  /** The engine's name for it (without the leading slash). */
  name: string;
  /** Its `bastide.service` and `bastide.container` labels. */
  service: string;
  shortName: string;
  running: boolean;
  /** Config.Image: what it was created from (a reference or an image id). */
  image: string;
  /** The references the engine knows for that image: its tags and registry digests. */
  imageReferences: string[];
  logDriver: string;
  logOptions: Record<string, string>;
  privileged: boolean;
  securityOptions: string[];
  addedCapabilities: string[];
  memoryBytes: number;
  memorySwapBytes: number;
  /** Named volumes mounted, with where. */
  volumes: { name: string; path: string }[];
  /** Only the variables in AUDITED_ENV; the others (passwords among them) are never kept. */
  env: Record<string, string>;
}

/** A file's facts, or why the file could not be understood (a finding: the check fails). */
export type FileRead<T> = Read<T | Invalid>;

export interface NextcloudApiFacts {
  shareLinks: ShareLinkCapabilities | Invalid;
  tags: { id: number; name: string }[];
  /** The Retention app's rules (none while the app is off). */
  retentionRules: RetentionRule[];
  /** Every account, with whether it can log in. */
  accounts: { id: string; enabled: boolean }[];
}

export interface NextcloudOccFacts {
  /** Key → what `occ config:system:get` printed; null when the key is not set. */
  system: Record<string, string | null>;
  twoFactor: TwoFactorState | Invalid;
}

/** An HTTP answer reduced to what a rule judges. */
export interface ProbeAnswer {
  status: number;
  errcode: string | null;
  error: string | null;
  /** For the federation version: the server software it names. */
  server: string | null;
}

export interface MatrixProbes {
  register: ProbeAnswer;
  guest: ProbeAnswer;
  federation: ProbeAnswer;
}

export interface MatrixStateFacts {
  /** Local users, with whether they are deactivated. */
  accounts: { id: string; deactivated: boolean }[];
  /** By local alias: the room's m.room.retention content, or null when the alias leads nowhere. */
  rooms: Record<string, { roomId: string; retention: Record<string, unknown> | null } | null>;
}

/** One step of a Keycloak authentication flow, as its executions endpoint lists them (depth-first). */
export interface FlowStep {
  level: number;
  /** REQUIRED, ALTERNATIVE, CONDITIONAL or DISABLED. */
  requirement: string;
  /** The authenticator or condition (e.g. auth-otp-form); null for a sub-flow. */
  providerId: string | null;
  subflow: boolean;
  name: string;
}

export interface IdentityUserFacts {
  username: string;
  enabled: boolean;
  /** Its bastide_role attribute. */
  role: string | null;
  /** Milliseconds since the epoch. */
  createdTimestamp: number | null;
  requiredActions: string[];
  /** The kinds of credentials it holds (password, otp, webauthn...), never their values. */
  credentials: string[];
}

export interface IdentityRealmFacts {
  realm: {
    registrationAllowed: boolean | null;
    bruteForceProtected: boolean | null;
    failureFactor: number | null;
    eventsEnabled: boolean | null;
    /** Seconds. */
    eventsExpiration: number | null;
    passwordPolicy: string | null;
    ssoSessionIdleTimeout: number | null;
    ssoSessionMaxLifespan: number | null;
    browserFlow: string | null;
  };
  browserFlow: FlowStep[];
  users: IdentityUserFacts[];
}

export interface Observed {
  /** Every container labelled bastide.service. */
  containers: Read<ContainerFacts[]>;
  caddyfile?: FileRead<CaddyLogOutput[]>;
  jitsiWeb?: FileRead<Record<string, unknown>>;
  prosodyOverlay?: FileRead<Record<string, LuaValue>>;
  jitsiAccounts?: Read<string[]>;
  homeserver?: FileRead<HomeserverFacts>;
  /** By container (`bastide-polls-app`, `bastide-polls-purge`). */
  pollsConfigs?: Record<string, FileRead<PollsConfigFacts>>;
  wireguardPeers?: Read<string[]>;
  corefile?: FileRead<CorefileFacts>;
  nextcloudApi?: Read<NextcloudApiFacts>;
  nextcloudOcc?: Read<NextcloudOccFacts>;
  matrixProbes?: Read<MatrixProbes>;
  matrixState?: Read<MatrixStateFacts>;
  identityRealm?: Read<IdentityRealmFacts>;
  /** The backup job's container and its status and drill records. */
  backupJob?: Read<BackupJobFacts>;
}
