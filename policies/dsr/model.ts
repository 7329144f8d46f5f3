// Data-subject requests (RGPD art. 15, 17 and 20): the record of what an export or an
// erasure did, step by step, with timestamps. Every step says something in both languages,
// so the human text can be written in the association's own; the JSON keeps both.
// A record holds counts, file names and checksums, never content and never a secret.
import type { Localized } from "../rgpd/model.ts";

export const DSR_SERVICES = ["nextcloud", "matrix", "jitsi", "vpn", "polls"] as const;
export type DsrService = (typeof DSR_SERVICES)[number];

export type DsrKind = "export" | "erasure";

/**
 * done: exported or erased; none: the service holds nothing about the member;
 * planned: what an erasure would do (without --confirm); skipped: not done, and why;
 * failed: could not be done: the request is incomplete.
 */
export type StepOutcome = "done" | "none" | "planned" | "skipped" | "failed";

export interface DsrFile {
  /** Relative to the export folder. */
  path: string;
  bytes: number;
  sha256: string;
}

export interface DsrStep {
  service: DsrService;
  /** What the step is about: `account`, `files`, `messages`, `account.delete`... */
  part: string;
  outcome: StepOutcome;
  /** When it finished. */
  at: string;
  /** One sentence, counts only. */
  summary: Localized;
  count?: number;
  files?: DsrFile[];
  /** For failed steps: the service's own words (English), never a credential. */
  error?: string;
}

/** What a request leaves out on purpose, and why: stated in the record, not hidden. */
export interface DsrNote {
  service: DsrService | "all";
  text: Localized;
}

export interface DsrRecord {
  format: "bastide-dsr/1";
  kind: DsrKind;
  member: string;
  organisation: string;
  startedAt: string;
  finishedAt: string;
  /**
   * Who the member is, as the services know them: the export shows it to the member;
   * an erasure keeps only where it came from (the record outlives the data).
   */
  identity: { name?: string; email?: string; sources: string[] };
  /** The services the config enables, in the order they were handled. */
  services: DsrService[];
  steps: DsrStep[];
  notes: DsrNote[];
  /** No step failed. */
  complete: boolean;
}

export const t = (fr: string, en: string): Localized => ({ fr, en });

export const SERVICE_LABELS: Record<DsrService, Localized> = {
  nextcloud: t("Nextcloud (fichiers et agendas)", "Nextcloud (files and calendars)"),
  matrix: t("Matrix (messagerie)", "Matrix (chat)"),
  jitsi: t("Jitsi (visioconférence)", "Jitsi (video meetings)"),
  vpn: t("VPN (WireGuard)", "VPN (WireGuard)"),
  polls: t("Sondages (Framadate)", "Polls (Framadate)"),
};

export const OUTCOME_LABELS: Record<StepOutcome, Localized> = {
  done: t("fait", "done"),
  none: t("rien n'est conservé", "nothing held"),
  planned: t("prévu", "planned"),
  skipped: t("non fait", "not done"),
  failed: t("ÉCHEC", "FAILED"),
};

export class DsrRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DsrRefusal";
  }
}

/** Collects the steps of one request, stamping each with the time it finished. */
export class Recorder {
  readonly steps: DsrStep[] = [];
  readonly notes: DsrNote[] = [];
  private readonly clock: () => Date;

  constructor(clock: () => Date) {
    this.clock = clock;
  }

  now(): Date {
    return this.clock();
  }

  add(step: Omit<DsrStep, "at">): DsrStep {
    const stamped = { ...step, at: this.clock().toISOString() };
    this.steps.push(stamped);
    return stamped;
  }

  failed(service: DsrService, part: string, summary: Localized, error: unknown): DsrStep {
    return this.add({ service, part, outcome: "failed", summary, error: describe(error) });
  }

  note(service: DsrNote["service"], text: Localized): void {
    if (!this.notes.some((n) => n.service === service && n.text.en === text.en)) this.notes.push({ service, text });
  }
}

export const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Only [A-Za-z0-9._-], never `.` or `..`: names that come from a server become safe file names. */
export function safeName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^\.+/, "_").slice(0, 120);
  return cleaned === "" ? "_" : cleaned;
}

/**
 * Refuses to let a secret through: any of `secrets` (the credentials the request used)
 * found in `text` stops the write. Short values are not secrets Bastide generates.
 */
export function assertNoSecret(text: string, secrets: readonly string[], what: string): void {
  for (const secret of secrets) {
    if (secret.length >= 8 && text.includes(secret)) throw new Error(`${what} would contain one of the credentials it used; nothing was written`);
  }
}

/** `2026-11-21T103005Z`: sorts by time, safe in a file name. */
export const stamp = (date: Date) => date.toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "");
