// The live audit: read every source back (Docker engine, files in containers, occ,
// prosodyctl, the Nextcloud and Synapse APIs), judge it against the declared values,
// and make the report. Connections are injected, so tests run it against fakes and a
// test Docker engine, and the CLI against the stack.
import type { Association } from "../../stacks/config/schema.ts";
import { containerName } from "../../stacks/services/blueprint.ts";
import { NEXTCLOUD_OCC } from "../../stacks/services/nextcloud/blueprint.ts";
import { dockerProsody } from "../../provisioners/jitsi/commands.ts";
import { listAccounts } from "../../provisioners/jitsi/accounts.ts";
import type { Language } from "../rgpd/model.ts";
import { declaredState, JITSI_RECORDING_SETTINGS, NEXTCLOUD_SYSTEM_KEYS, type Declared, type DeclaredFile } from "./declared.ts";
import { containerFor, readContainers, readFileIn, type DockerSource } from "./docker.ts";
import { readIdentityRealm, type IdentityAuditConnection } from "./identity.ts";
import { readMatrixProbes, readMatrixState, type MatrixAuditConnection } from "./matrix.ts";
import { attempt, readError, type Audited, type AuditReport, type Read, type Unreachable } from "./model.ts";
import { readBackupJob, type BackupJobFacts } from "./backups.ts";
import { readNextcloudApi, readNextcloudOcc, type HttpTuning, type NextcloudAuditConnection } from "./nextcloud.ts";
import type { ContainerFacts, FileRead, Observed } from "./observed.ts";
import { caddyLogOutputs, corefileFacts, homeserverFacts, jitsiWebSettings, luaGlobals, pollsConfigFacts, wireguardPeers, type PollsConfigFacts } from "./parse.ts";
import { auditReport } from "./report.ts";
import { evaluate } from "./rules.ts";

/** Why a source cannot be reached at all, e.g. a missing password: its checks are unread. */
export interface Unavailable {
  unavailable: string;
}

export interface AuditConnections {
  docker: DockerSource | Unavailable;
  nextcloud?: NextcloudAuditConnection | Unavailable;
  matrix?: MatrixAuditConnection | Unavailable;
  identity?: IdentityAuditConnection | Unavailable;
  /** Retries and timeouts of the HTTP readers. */
  http?: HttpTuning;
}

export const isUnavailable = (value: unknown): value is Unavailable => typeof value === "object" && value !== null && "unavailable" in value;

/** The audit's HTTP calls give up sooner than provisioning: a missing service is reported, not waited for. */
export const AUDIT_HTTP: HttpTuning = { retry: { attempts: 3, baseDelayMs: 250, maxDelayMs: 2_000 }, timeoutMs: 20_000 };

/** Reads a source through a connection that may be missing; a missing one is an unread source. */
function through<C extends object, T>(connection: C | Unavailable | undefined, missing: string, read: (connection: C) => Promise<T>): Promise<Read<T>> {
  if (connection === undefined) return Promise.resolve(readError(missing));
  if (isUnavailable(connection)) return Promise.resolve(readError(connection.unavailable));
  return attempt(() => read(connection));
}

const where = (connection: { baseUrl: string } | Unavailable | undefined) => (connection && !isUnavailable(connection) ? connection.baseUrl : "(no connection)");

export async function readObserved(declared: Declared, connections: AuditConnections): Promise<{ observed: Observed; unreachable: Unreachable[] }> {
  const tuning = { ...AUDIT_HTTP, ...connections.http };
  const docker = connections.docker;
  const containers: Read<ContainerFacts[]> = isUnavailable(docker) ? readError(docker.unavailable) : await attempt(() => readContainers(docker));

  /** Every source, in the order it is asked: the unreachable ones are listed in that order. */
  const sources: { service: Audited | null; label: string; read: Promise<Read<unknown>> }[] = [];
  const track = <T>(service: Audited | null, label: string, read: Promise<Read<T>>): Promise<Read<T>> => {
    sources.push({ service, label, read });
    return read;
  };
  track(null, "Docker engine (containers labelled bastide.service)", Promise.resolve(containers));

  /** Needs the containers first: when the engine did not answer, nothing in a container is read. */
  const inContainer = <T>(run: (docker: DockerSource, all: ContainerFacts[]) => Promise<T>): Promise<Read<T>> =>
    containers.ok && !isUnavailable(docker) ? attempt(() => run(docker, containers.value)) : Promise.resolve(readError<T>(ENGINE_DOWN));
  const file = <T>(spec: DeclaredFile, extract: (text: string) => T) =>
    track(spec.service, `${spec.path} in ${spec.container}`, inContainer(async (d, all) => extract(await readFileIn(d.docker, all, spec))));

  const observed: Observed = { containers };
  const reads: Promise<unknown>[] = [file(declared.proxy.caddyfile, caddyLogOutputs).then((r) => (observed.caddyfile = r))];

  const jitsi = declared.jitsi;
  if (jitsi) {
    reads.push(
      file(jitsi.webConfig, (text) => jitsiWebSettings(text, JITSI_RECORDING_SETTINGS)).then((r) => (observed.jitsiWeb = r)),
      file(jitsi.overlay, luaGlobals).then((r) => (observed.prosodyOverlay = r)),
    );
    if (!jitsi.tokenLogin) {
      const accounts = inContainer((d, all) => listAccounts({ commands: dockerProsody({ docker: d.docker, container: containerFor(all, jitsi.overlay).id }) }, jitsi.domain));
      reads.push(track("jitsi", `prosodyctl in ${jitsi.overlay.container}`, accounts).then((r) => (observed.jitsiAccounts = r)));
    }
  }

  const nextcloud = declared.nextcloud;
  if (nextcloud) {
    const connection = connections.nextcloud;
    const api = through(connection, "no connection to Nextcloud was given", (c) => readNextcloudApi(c, tuning));
    const occ = inContainer((d, all) => readNextcloudOcc(d.docker, all, Object.values(NEXTCLOUD_SYSTEM_KEYS).flat()));
    reads.push(
      track("nextcloud", `Nextcloud API at ${where(connection)}`, api).then((r) => (observed.nextcloudApi = r)),
      track("nextcloud", `occ in ${containerName("nextcloud", NEXTCLOUD_OCC.container)}`, occ).then((r) => (observed.nextcloudOcc = r)),
    );
  }

  const matrix = declared.matrix;
  if (matrix) {
    const connection = connections.matrix;
    const missing = "no connection to Synapse was given";
    const probes = through(connection, missing, (c) => readMatrixProbes(c, tuning));
    const state = through(connection, missing, (c) => readMatrixState(c, matrix.rooms, tuning));
    reads.push(
      file(matrix.homeserver, homeserverFacts).then((r) => (observed.homeserver = r)),
      track("matrix", `Synapse API at ${where(connection)} (public endpoints)`, probes).then((r) => (observed.matrixProbes = r)),
      track("matrix", `Synapse admin and client API at ${where(connection)}, as Bastide's bot`, state).then((r) => (observed.matrixState = r)),
    );
  }

  const polls = declared.polls;
  if (polls) {
    const configs: Record<string, FileRead<PollsConfigFacts>> = {};
    observed.pollsConfigs = configs;
    for (const spec of polls.configs) reads.push(file(spec, pollsConfigFacts).then((r) => (configs[spec.container] = r)));
  }

  const vpn = declared.vpn;
  if (vpn) {
    reads.push(
      file(vpn.serverConf, wireguardPeers).then((r) => (observed.wireguardPeers = r)),
      file(vpn.corefile, corefileFacts).then((r) => (observed.corefile = r)),
    );
  }

  const backups = declared.backups;
  if (backups) {
    const job = containers.ok && !isUnavailable(docker) ? attempt(() => readBackupJob(docker.docker, backups)) : Promise.resolve(readError<BackupJobFacts>(ENGINE_DOWN));
    reads.push(track("backups", `${backups.statusFile} and ${backups.drillFile} in ${backups.container}`, job).then((r) => (observed.backupJob = r)));
  }

  if (declared.identity) {
    const connection = connections.identity;
    const realm = through(connection, "no connection to Keycloak was given", (c) => readIdentityRealm(c, tuning));
    reads.push(track("identity", `Keycloak admin API at ${where(connection)}, realm ${declared.identity.realm}`, realm).then((r) => (observed.identityRealm = r)));
  }

  await Promise.all(reads);
  const unreachable: Unreachable[] = [];
  for (const { service, label, read } of sources) {
    const result = await read;
    // The engine's own entry says it once; what could not be read because of it is implied.
    if (!result.ok && result.error !== ENGINE_DOWN) unreachable.push({ service, source: label, error: result.error });
  }
  return { observed, unreachable };
}

/** Why nothing inside a container was read: the engine itself is listed as unreachable. */
const ENGINE_DOWN = "the Docker engine could not be read (see above)";

export interface AuditOptions {
  config: Association;
  connections: AuditConnections;
  /** What should be in force; declaredState(config) when absent. */
  declared?: Declared;
  language?: Language;
  /** The config file, shown in the report. */
  source?: string;
  now?: () => Date;
}

export async function runAudit(options: AuditOptions): Promise<AuditReport> {
  return (await auditWithFacts(options)).report;
}

/** The audit and what it read: the CLI keeps the last restore drill's record for the DPO's documents. */
export async function auditWithFacts(options: AuditOptions): Promise<{ report: AuditReport; observed: Observed }> {
  const declared = options.declared ?? declaredState(options.config);
  const { observed, unreachable } = await readObserved(declared, options.connections);
  const checks = evaluate(declared, observed);
  const report = auditReport({
    config: options.config,
    checks,
    unreachable,
    language: options.language ?? options.config.organisation.language,
    generatedAt: (options.now ?? (() => new Date()))(),
    source: options.source,
  });
  return { report, observed };
}
