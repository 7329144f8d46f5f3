// Each processing's reference number, creation date and date of last change (the CNIL's
// model register asks all three on every sheet). They must not move when nothing changed,
// so they cannot come from the day the documents are printed: Bastide keeps them in a small
// JSON file beside the association file, which the admin commits with it.
//
// Why a file and not the Pulumi stack's outputs: the documents are made offline, from the
// association file alone (`npm run report`), with no Pulumi CLI and no stack; a file in the
// admin's repository also shows, in its history, when each sheet changed and why.
//
// A sheet's date moves when the SHA-256 of what the sheet states changes (its activity,
// every data category with its retention, and the recipients outside the server): a
// change to the association file that changes a processing moves that processing's date,
// and nothing else does (not the day, not another service, not the language).
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { z } from "zod";
import type { ServiceName } from "../../stacks/services/blueprint.ts";
import { SERVICE_NAMES, type DataCategory, type ProcessingActivity } from "./model.ts";

export const HISTORY_FORMAT = "bastide-register-history/1";

const day = z.iso.date();

const entrySchema = z.strictObject({
  reference: z.string().regex(/^T-\d{2,}$/, { error: "must look like T-01" }),
  created: day,
  changed: day,
  /** SHA-256 of the sheet's content when it last changed. */
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/, { error: "must be a SHA-256 in hexadecimal" }),
});
export type HistoryEntry = z.infer<typeof entrySchema>;

export const historySchema = z.strictObject({
  format: z.literal(HISTORY_FORMAT),
  processings: z.partialRecord(z.enum(SERVICE_NAMES), entrySchema),
});
export type RegisterHistory = z.infer<typeof historySchema>;

export const emptyHistory = (): RegisterHistory => ({ format: HISTORY_FORMAT, processings: {} });

/** JSON with the keys of every object sorted, so that the order code builds objects in does not matter. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object")
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(value);
}

/** What a sheet states, in both languages: a change to any of it is a change to the processing. */
export function fingerprint(content: { activity: ProcessingActivity; categories: readonly DataCategory[]; recipients: readonly unknown[] }): string {
  return createHash("sha256").update(canonical(content)).digest("hex");
}

/** The reference a new processing gets: its place in SERVICE_NAMES, so two fresh files agree, unless already taken. */
function newReference(service: ServiceName, taken: Set<string>): string {
  const preferred = `T-${String(SERVICE_NAMES.indexOf(service) + 1).padStart(2, "0")}`;
  if (!taken.has(preferred)) return preferred;
  for (let n = SERVICE_NAMES.length + 1; ; n++) {
    const candidate = `T-${String(n).padStart(2, "0")}`;
    if (!taken.has(candidate)) return candidate;
  }
}

/**
 * The history after today's run: a new processing gets a reference and today as both dates;
 * a changed one keeps its reference and creation date and gets today as its last change; an
 * unchanged one is left as it was. A processing no longer deployed keeps its entry, so that
 * it gets its reference back if it is turned on again.
 */
export function updateHistory(previous: RegisterHistory, fingerprints: Partial<Record<ServiceName, string>>, today: Date): RegisterHistory {
  const date = today.toISOString().slice(0, 10);
  const processings = { ...previous.processings };
  const taken = new Set(Object.values(processings).map((e) => e!.reference));
  for (const service of SERVICE_NAMES) {
    const print = fingerprints[service];
    if (print === undefined) continue;
    const entry = processings[service];
    if (!entry) {
      const reference = newReference(service, taken);
      taken.add(reference);
      processings[service] = { reference, created: date, changed: date, fingerprint: print };
    } else if (entry.fingerprint !== print) processings[service] = { ...entry, changed: date, fingerprint: print };
  }
  return { format: HISTORY_FORMAT, processings };
}

/** The history file beside `configFile`: association.yaml → association.register-history.json. */
export function historyFileFor(configFile: string): string {
  return configFile.replace(/\.(ya?ml|json)$/i, "") + ".register-history.json";
}

/** Reads the history file; a missing one is an empty history, a damaged one an error naming the file and the fix. */
export function readHistory(file: string): RegisterHistory {
  if (!existsSync(file)) return emptyHistory();
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(`${file} is not valid JSON (${(error as Error).message}): restore it from your repository's history, or delete it to date every processing from today`);
  }
  const parsed = historySchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  - ${i.path.join(".") || "(file)"}: ${i.message}`).join("\n");
    throw new Error(`${file} is not a register history Bastide wrote:\n${problems}\nRestore it from your repository's history, or delete it to date every processing from today`);
  }
  return parsed.data;
}

export function writeHistory(file: string, history: RegisterHistory): void {
  writeFileSync(file, `${JSON.stringify(history, null, 2)}\n`);
}
