// The live audit as data: what a reader got back from a running service (a Read), what
// a rule made of it (a Check), and the report the DPO receives. audit.json is the
// report; its zod schema is the source of the types.
import { z } from "zod";
import { LANGUAGES, SERVICE_NAMES } from "../rgpd/model.ts";

export const AUDIT_FORMAT = "bastide-audit/1";

/** What a reader got from a running service, or why it could not; and when. */
export type Read<T> = { ok: true; value: T; readAt: string } | { ok: false; error: string; readAt: string };

export const readValue = <T>(value: T, at: Date = new Date()): Read<T> => ({ ok: true, value, readAt: at.toISOString() });
export const readError = <T>(error: unknown, at: Date = new Date()): Read<T> => ({ ok: false, error: describe(error), readAt: at.toISOString() });

/** Runs a read, turning any failure into an unread value that says why. */
export async function attempt<T>(read: () => Promise<T>): Promise<Read<T>> {
  try {
    return readValue(await read());
  } catch (error) {
    return readError(error);
  }
}

function describe(error: unknown): string {
  const message = (error as Error)?.message ?? String(error);
  return message.split("\n")[0]!.slice(0, 300);
}

/** pass: the service does what the config says; fail: it does not; unread: it could not be asked. */
export const STATUSES = ["pass", "fail", "unread"] as const;
export type Status = (typeof STATUSES)[number];

const text = z.string().trim().min(1);
const service = z.enum(SERVICE_NAMES);
/** What a check is about: a service, or the backups, which cover them all. */
export const AUDITED = [...SERVICE_NAMES, "backups"] as const;
export type Audited = (typeof AUDITED)[number];
const audited = z.enum(AUDITED);
const isoTime = z.iso.datetime();

export const checkSchema = z.strictObject({
  /** Stable id, e.g. `container.log-rotation`. */
  rule: z.string().regex(/^[a-z]+\.[a-z0-9-]+$/),
  /** The rule's title in the report's language. */
  title: text,
  service: audited,
  /** What the rule looked at when it runs once per container, room or file; null otherwise. */
  subject: text.nullable(),
  /** The register's data categories whose claim this check backs. */
  categories: z.array(text),
  /** The value the config and Bastide's modules say should be in force. */
  declared: text,
  /** The value read back from the running service. */
  observed: text,
  status: z.enum(STATUSES),
  readAt: isoTime,
});
export type Check = z.infer<typeof checkSchema>;

/** A source that could not be read, and which service it belongs to (null: the host's Docker engine). */
export const unreachableSchema = z.strictObject({ service: audited.nullable(), source: text, error: text });
export type Unreachable = z.infer<typeof unreachableSchema>;

export const auditReportSchema = z.strictObject({
  format: z.literal(AUDIT_FORMAT),
  language: z.enum(LANGUAGES),
  title: text,
  generatedAt: isoTime,
  generatedAtText: text,
  /** The config file the declared values come from, when known. */
  source: text.nullable(),
  organisation: z.strictObject({ name: text, domain: text }),
  /** pass: every check passed; fail: at least one failed; incomplete: a service could not be read. */
  result: z.enum(["pass", "fail", "incomplete"]),
  exitCode: z.union([z.literal(0), z.literal(1), z.literal(2)]),
  summary: z.strictObject({ total: z.number().int().min(0), passed: z.number().int().min(0), failed: z.number().int().min(0), unread: z.number().int().min(0) }),
  unreachable: z.array(unreachableSchema),
  checks: z.array(checkSchema).min(1),
  /** Each auditable category of the register, with the verdict of the checks that back it. */
  categories: z.array(
    z.strictObject({ id: text, service, name: text, status: z.enum(STATUSES), rules: z.array(text).min(1) }),
  ),
});
export type AuditReport = z.infer<typeof auditReportSchema>;
