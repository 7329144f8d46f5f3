// A data-subject request, across every service the config enables: the export (access,
// portability) writes everything the stack holds about one member into a folder and a
// .tar.gz; the erasure removes it through the provisioners' own erase paths. Both leave a
// dated record of what they did (record.json, record.txt in the association's language).
//
// Erasure policy: a member still listed in the config is refused, since the next
// `pulumi up` would give them accounts again; remove them from the config first (and
// `pulumi up` disables them), or pass --force to erase now and re-create empty accounts
// at the next run. The erasure record keeps the member's id and what was done, not their
// name or e-mail: it is the proof of erasure, and it outlives the data.
import type { Association } from "../../stacks/config/schema.ts";
import { desiredState, type DesiredState } from "../../provisioners/desired.ts";
import { matrixUserId } from "../../provisioners/desired.ts";
import { RequestFolder, tarGz } from "./archive.ts";
import type { EraseContext, ExportContext, MemberIdentity } from "./context.ts";
import { eraseJitsi, exportJitsi } from "./jitsi.ts";
import { eraseMatrix, exportMatrix, matrixAccount } from "./matrix.ts";
import { assertNoSecret, describe, DSR_SERVICES, DsrRefusal, Recorder, stamp, t, type DsrFile, type DsrKind, type DsrRecord, type DsrService } from "./model.ts";
import { eraseNextcloud, exportNextcloud, nextcloudAccount } from "./nextcloud.ts";
import { erasePolls, exportPolls } from "./polls.ts";
import { DEFAULT_LIMITS, type DsrLimits, type DsrTargets } from "./targets.ts";
import { recordText } from "./text.ts";
import { eraseVpn, exportVpn } from "./vpn.ts";
import { erasureBackupNote } from "../reports/backups.ts";

export interface RequestInput {
  config: Association;
  member: string;
  targets: DsrTargets;
  /** The parent folder, e.g. out/dsr. */
  out: string;
  /** The credentials the request used: nothing written about it may contain one. */
  secrets: readonly string[];
  clock?: () => Date;
  /** Name and e-mail given on the command line, for a member the config no longer lists. */
  hints?: { name?: string; email?: string };
}

export interface ExportInput extends RequestInput {
  limits?: Partial<DsrLimits>;
}

export interface EraseInput extends RequestInput {
  /** false: plan only, write nothing. */
  confirm: boolean;
  /** Erase a member the config still lists. */
  force?: boolean;
  concurrency?: number;
}

export interface RequestResult {
  record: DsrRecord;
  /** Where the record (and for an export, the data) was written; undefined for a dry run. */
  folder?: string;
  archive?: { file: string; info: DsrFile };
  text: string;
}

const enabled = (config: Association): DsrService[] => DSR_SERVICES.filter((s) => config.services[s].enabled);

/** Who the member is: the config first, then what Nextcloud and Synapse hold, then the command line. */
export async function resolveIdentity(config: Association, member: string, targets: DsrTargets, hints: RequestInput["hints"] = {}): Promise<MemberIdentity> {
  const identity: MemberIdentity = { id: member, sources: [] };
  const listed = config.members.find((m) => m.id === member);
  if (listed) Object.assign(identity, { name: listed.name, email: listed.email, sources: ["config"] });
  if (!identity.email && targets.nextcloud) {
    const account = await nextcloudAccount(targets.nextcloud, member).catch(() => undefined);
    const email = typeof account?.email === "string" && account.email ? account.email : undefined;
    const name = typeof account?.displayname === "string" && account.displayname ? account.displayname : undefined;
    if (email || name) {
      identity.email ??= email;
      identity.name ??= name;
      identity.sources.push("nextcloud");
    }
  }
  if (!identity.name && targets.matrix) {
    const account = await matrixAccount(targets.matrix.client, matrixUserId(member, targets.matrix.client.serverName)).catch(() => undefined);
    if (typeof account?.displayname === "string" && account.displayname) {
      identity.name = account.displayname;
      identity.sources.push("matrix");
    }
  }
  if (hints.name || hints.email) {
    identity.name = hints.name ?? identity.name;
    identity.email = hints.email ?? identity.email;
    identity.sources.push("command line");
  }
  return identity;
}

/** The config without the member, and them as the one erasure: the provisioners' erase path. */
export function erasureDesired(config: Association, member: string): DesiredState {
  const without = { ...config, members: config.members.filter((m) => m.id !== member) };
  return { ...desiredState(without), departures: { disable: [], erase: [member], enable: [] } };
}

function buildRecord(kind: DsrKind, input: RequestInput, rec: Recorder, identity: MemberIdentity, startedAt: Date, services: DsrService[]): DsrRecord {
  return {
    format: "bastide-dsr/1",
    kind,
    member: input.member,
    organisation: input.config.organisation.name,
    startedAt: startedAt.toISOString(),
    finishedAt: rec.now().toISOString(),
    identity: kind === "export" ? { name: identity.name, email: identity.email, sources: identity.sources } : { sources: identity.sources },
    services,
    steps: rec.steps,
    notes: rec.notes,
    complete: !rec.steps.some((s) => s.outcome === "failed"),
  };
}

function writeRecord(folder: RequestFolder, record: DsrRecord, text: string, secrets: readonly string[]): void {
  const json = `${JSON.stringify(record, null, 2)}\n`;
  assertNoSecret(json, secrets, "record.json");
  assertNoSecret(text, secrets, "record.txt");
  folder.write("record.json", json);
  folder.write("record.txt", text);
}

const unreachable = (rec: Recorder, service: DsrService) =>
  rec.add({ service, part: "connection", outcome: "failed", summary: t("service non joint : aucune connexion à ce service", "service not reached: no connection to it"), error: `no connection to ${service}` });

export async function exportMember(input: ExportInput): Promise<RequestResult> {
  const clock = input.clock ?? (() => new Date());
  const startedAt = clock();
  const rec = new Recorder(clock);
  const { config, member, targets } = input;
  const identity = await resolveIdentity(config, member, targets, input.hints);
  const folder = RequestFolder.create(input.out, `${member}-${stamp(startedAt)}`);
  const services = enabled(config);
  const base = { member, identity, config, rec, desired: desiredState(config), folder, limits: { ...DEFAULT_LIMITS, ...input.limits } };
  const run: Record<DsrService, () => Promise<void> | undefined> = {
    nextcloud: () => targets.nextcloud && exportNextcloud({ ...base, target: targets.nextcloud }),
    matrix: () => targets.matrix && exportMatrix({ ...base, target: targets.matrix }),
    jitsi: () => targets.jitsi && exportJitsi({ ...base, target: targets.jitsi }),
    vpn: () => targets.vpn && exportVpn({ ...base, target: targets.vpn }),
    polls: () => targets.polls && exportPolls({ ...base, target: targets.polls }),
  };
  for (const service of services) await runService(rec, service, run[service]);
  const record = buildRecord("export", input, rec, identity, startedAt, services);
  const text = recordText(record, config.organisation.language);
  writeRecord(folder, record, text, input.secrets);
  const archive = await tarGz(folder.root);
  return { record, folder: folder.root, archive, text };
}

/** A member the config still lists is not erased unless forced: `pulumi up` would bring them back. */
export function refuseListedMember(config: Association, member: string, force: boolean | undefined): void {
  if (config.members.some((m) => m.id === member) && !force) {
    throw new DsrRefusal(
      `${member} is still listed under members: in the config. Remove them from it first (then \`pulumi up\` disables their accounts), ` +
        "or pass --force to erase now: the next `pulumi up` would then create new, empty accounts for them.",
    );
  }
}

export async function eraseMember(input: EraseInput): Promise<RequestResult> {
  const { config, member, targets } = input;
  refuseListedMember(config, member, input.force);
  const clock = input.clock ?? (() => new Date());
  const startedAt = clock();
  const rec = new Recorder(clock);
  const identity = await resolveIdentity(config, member, targets, input.hints);
  const services = enabled(config);
  const base = { member, identity, config, rec, desired: erasureDesired(config, member), confirm: input.confirm, concurrency: input.concurrency ?? 4 };
  const ctx = <T>(target: T): EraseContext<T> => ({ ...base, target });
  const run: Record<DsrService, () => Promise<void> | undefined> = {
    jitsi: () => targets.jitsi && eraseJitsi(ctx(targets.jitsi)),
    vpn: () => targets.vpn && eraseVpn(ctx(targets.vpn)),
    matrix: () => targets.matrix && eraseMatrix(ctx(targets.matrix)),
    nextcloud: () => targets.nextcloud && eraseNextcloud(ctx(targets.nextcloud)),
    polls: () => targets.polls && erasePolls(ctx(targets.polls)),
  };
  for (const service of services) await runService(rec, service, run[service]);
  // Backups are not edited one member at a time: the record says until when the member stays in them.
  rec.note("all", erasureBackupNote(config, rec.now()));
  if (input.force && config.members.some((m) => m.id === member)) {
    rec.note("all", t(
      `${member} est encore dans la configuration : le prochain \`pulumi up\` lui recréera des comptes vides. Le retirer de la liste des membres.`,
      `${member} is still in the config: the next \`pulumi up\` will create new, empty accounts for them. Remove them from the members list.`,
    ));
  }
  const record = buildRecord("erasure", input, rec, identity, startedAt, services);
  const text = recordText(record, config.organisation.language);
  if (!input.confirm) return { record, text };
  const folder = RequestFolder.create(input.out, `${member}-${stamp(startedAt)}-erasure`);
  writeRecord(folder, record, text, input.secrets);
  return { record, folder: folder.root, text };
}

async function runService(rec: Recorder, service: DsrService, run: () => Promise<void> | undefined): Promise<void> {
  try {
    const started = run();
    if (!started) return void unreachable(rec, service);
    await started;
  } catch (error) {
    rec.failed(service, "service", t("échec inattendu", "unexpected failure"), describe(error));
  }
}

export type { ExportContext };
