// Reusable field schemas. Each carries a message that says how to fix the value,
// because the person reading it is a volunteer admin, not a TypeScript developer.
import { z } from "zod";

export const EU_EEA_COUNTRIES = [
  "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
  "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
  // EEA members outside the EU: the GDPR applies there too.
  "IS", "LI", "NO",
] as const;

function countryProblem(input: unknown): string {
  const upper = typeof input === "string" ? input.trim().toUpperCase() : "";
  if ((EU_EEA_COUNTRIES as readonly string[]).includes(upper) && upper !== input)
    return `"${String(input)}" must be written as ${upper}: two capital letters`;
  return (
    `${input === undefined ? "must be" : `"${String(input)}" is not`} an EU/EEA country code: ` +
    `Bastide keeps the data in the EU/EEA. Use a two-letter code such as FR, DE, BE or NL.`
  );
}

export const euCountry = z.enum(EU_EEA_COUNTRIES, { error: (issue) => countryProblem(issue.input) });

/** Longest value shown back in a message: enough to recognise it, never a whole pasted file. */
const SHOWN_LENGTH = 60;

/**
 * A value as a message shows it: quoted, control characters escaped (a NUL or an escape
 * sequence must not reach the terminal or the register's HTML), cut after SHOWN_LENGTH.
 */
export function shown(value: unknown): string {
  if (typeof value !== "string") return JSON.stringify(value) ?? String(value);
  const cut = [...value].slice(0, SHOWN_LENGTH).join("");
  const escaped = JSON.stringify(cut).replace(/[\u0080-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return cut.length < value.length ? `${escaped.slice(0, -1)}…" (${value.length} characters)` : escaped;
}

/** A refusal that shows the value it refuses, when there is one (a missing field has none). */
export const withValue =
  (message: string) =>
  (issue: { input?: unknown }): string =>
    issue.input === undefined ? message : `${shown(issue.input)}: ${message}`;

/**
 * Characters that have no place in a name or a sentence of the config: C0/C1 controls
 * (NUL, escape...), Unicode line separators, bidirectional overrides (text that reads
 * differently from what it says) and the byte-order mark. Line breaks and tabs are
 * allowed only where a field says so.
 */
const INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/u;
const LINE_BREAK = /[\t\n\r]/;

export function invisibleProblem(value: string, multiline: boolean): string | undefined {
  const found = value.match(INVISIBLE)?.[0] ?? (multiline ? undefined : value.match(LINE_BREAK)?.[0]);
  if (found === undefined) return undefined;
  const code = `U+${found.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
  return `${shown(value)} contains an invisible control character (${code})${multiline ? "" : " or a line break"}; retype the value without it`;
}

/** Free text of bounded length, without control characters. */
export const text = (options: { max: number; example: string; multiline?: boolean }) =>
  z
    .string({ error: `must be text such as ${options.example}` })
    .trim()
    .min(1, { error: "must not be empty" })
    .superRefine((value, ctx) => {
      if (value.length > options.max)
        ctx.addIssue({ code: "custom", message: `${shown(value)} is too long: at most ${options.max} characters; shorten it` });
      const invisible = invisibleProblem(value, options.multiline ?? false);
      if (invisible) ctx.addIssue({ code: "custom", message: invisible });
    });

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
/** URL parsers (WHATWG's, every browser's) read a host whose last label is a number, decimal or 0x, as an IPv4 address. */
const NUMERIC_LABEL = /^(\d+|0x[0-9a-f]*)$/;
/** A domain leaves room for a service label in front of it: `x.` at the least; the longest real one is checked with the sub-domains. */
export const MAX_DOMAIN_LENGTH = 253 - 2;

export function domainProblem(value: string, max = MAX_DOMAIN_LENGTH): string | undefined {
  const labels = value.split(".");
  if (value.length > max) return `${shown(value)} is too long (${value.length} characters; at most ${max}); use a shorter domain name`;
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)))
    return `${shown(value)} is not a domain name such as asso-exemple.fr (letters, digits, hyphens and dots; at least two labels)`;
  if (NUMERIC_LABEL.test(labels.at(-1)!))
    return `${shown(value)} reads as an IP address, not a domain name: its last label must not be a number; use a name such as asso-exemple.fr`;
  return undefined;
}

export const domainName = z
  .string({ error: "must be a domain name such as asso-exemple.fr" })
  .trim()
  .toLowerCase()
  .superRefine((value, ctx) => {
    const problem = domainProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

export const subdomainLabel = z
  .string()
  .trim()
  .toLowerCase()
  .regex(LABEL, { error: (issue) => `${shown(issue.input)} must be one DNS label such as meet or cloud (letters, digits and hyphens, no dots)` });

/** RFC 5322 atext, plus any letter, mark or digit beyond ASCII (RFC 6531/6532). */
const LOCAL_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\p{L}\p{M}\p{N}-]+$/u;
/** SMTP's limits (RFC 5321 4.5.3.1): 64 octets for the local part, 254 for the whole path. */
const MAX_LOCAL_OCTETS = 64;
const MAX_EMAIL_OCTETS = 254;

/**
 * Accepts international local parts (émilie.martin@...): every service that stores a
 * member's address accepts them (see README, "International e-mail addresses"). The domain
 * part is asked in its ASCII form (xn--...), which is what mail servers and Let's Encrypt use.
 */
export function emailProblem(value: string): string | undefined {
  const fix = "must be an e-mail address such as dpo@asso-exemple.fr";
  const at = value.lastIndexOf("@");
  if (at < 1 || at === value.length - 1) return `${shown(value)} ${fix}`;
  const local = value.slice(0, at);
  const domain = value.slice(at + 1).toLowerCase();
  if (Buffer.byteLength(value) > MAX_EMAIL_OCTETS) return `${shown(value)} is too long for an e-mail address (at most ${MAX_EMAIL_OCTETS} bytes)`;
  if (Buffer.byteLength(local) > MAX_LOCAL_OCTETS)
    return `${shown(value)}: the part before @ is longer than ${MAX_LOCAL_OCTETS} bytes, which mail servers refuse`;
  if (!local.split(".").every((atom) => LOCAL_ATOM.test(atom)))
    return `${shown(value)} ${fix} (no spaces, quotes, brackets, control characters, nor a dot at the start, at the end or twice before @)`;
  if (/[^\x00-\x7f]/.test(domain))
    return `${shown(value)}: write the domain after @ in its ASCII form (xn--...), as mail servers and Let's Encrypt expect it`;
  const domainIssue = domainProblem(domain, 253);
  if (domainIssue) return `${shown(value)} ${fix}: the part after @ is not a domain name`;
  return undefined;
}

export const email = z
  .string({ error: "must be an e-mail address such as dpo@asso-exemple.fr" })
  .trim()
  .normalize("NFC")
  .superRefine((value, ctx) => {
    const problem = emailProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/** Two spellings of one address: NFC-normalised and lower-cased, as Synapse's canonicalise_email casefolds it. */
export const emailKey = (address: string) => address.normalize("NFC").toLowerCase();

/** Ids become user names in five services; keep them to what all five accept. */
export const identifier = z
  .string({ error: "must be an identifier such as alice.martin" })
  .regex(/^[a-z][a-z0-9._-]{1,31}$/, {
    error: (issue) =>
      `${shown(issue.input)} must be 2-32 characters: lower-case letters, digits, dot, hyphen or underscore, starting with a letter (e.g. alice.martin)`,
  });

export const displayName = text({ max: 100, example: "Alice Martin" });

export const language = z.enum(["fr", "en"], { error: withValue("must be fr or en") });

export const days = (what: string, min: number, max: number) =>
  z
    .number({ error: withValue(`must be a number of days (${what})`) })
    .int({ error: withValue(`must be a whole number of days (${what})`) })
    .min(min, { error: withValue(`must be at least ${min} days (${what})`) })
    .max(max, { error: withValue(`must be at most ${max} days (${what})`) });

export const ipv4Cidr = z.cidrv4({ error: "must be an IPv4 network in CIDR form such as 10.8.0.0/24" });

/** Words that fill a required reason without giving one. */
const PLACEHOLDERS = new Set(["todo", "tbd", "xxx", "test", "na", "n/a", "nothing", "rien", "aucune", "none", "because", "parce", "que", "reason", "raison", "why"]);
const MIN_REASON_WORDS = 3;

/**
 * A stated reason must be a sentence: the DPO's register quotes it as the justification of
 * a relaxed protection, so dots, one repeated word or "TODO TODO TODO" do not count.
 */
export function hollowReasonProblem(value: string): string | undefined {
  const words = (value.toLowerCase().match(/[\p{L}\p{N}][\p{L}\p{N}'’/-]*/gu) ?? []).filter((w) => /\p{L}.*\p{L}/u.test(w));
  const distinct = new Set(words);
  const meaningful = [...distinct].filter((w) => !PLACEHOLDERS.has(w));
  if (words.length >= MIN_REASON_WORDS && distinct.size >= 2 && meaningful.length >= 2) return undefined;
  return `${shown(value)} does not say why: write a sentence of at least ${MIN_REASON_WORDS} words (the DPO's register quotes it), e.g. "nos bénévoles échangent avec la fédération nationale"`;
}

/** Text that states why a protection is turned off: the DPO reads it in the register. */
export const reason = z
  .string({ error: "must explain, in a sentence, why (the DPO's register quotes it)" })
  .trim()
  .min(10, { error: "must explain, in a sentence of at least 10 characters, why (the DPO's register quotes it)", abort: true })
  .superRefine((value, ctx) => {
    const problem = value.length > 1000
      ? `${shown(value)} is too long: at most 1000 characters; the register quotes it whole, keep it to a paragraph`
      : (invisibleProblem(value, true) ?? hollowReasonProblem(value));
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/** Longest URL accepted: far above any real page address, far below what slows a renderer. */
const MAX_URL_LENGTH = 2048;

/** An address a member's browser opens from a page Bastide serves: https, on a real domain name, no credentials. */
export function httpsUrlProblem(value: string): string | undefined {
  const fix = "use the https:// address of the page, such as https://telephonie.example/numeros";
  if (value.length > MAX_URL_LENGTH) return `${shown(value)} is too long (at most ${MAX_URL_LENGTH} characters)`;
  if (/\s/.test(value) || invisibleProblem(value, false)) return `${shown(value)} contains spaces or control characters; ${fix}`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${shown(value)} is not a web address; ${fix}`;
  }
  if (url.protocol !== "https:") return `${shown(value)} uses ${url.protocol.replace(/:$/, "")}:, not https: (browsers would run or fetch it unprotected); ${fix}`;
  if (url.username || url.password) return `${shown(value)} carries a user name or password; remove them: ${fix}`;
  if (domainProblem(url.hostname, 253)) return `${shown(value)} does not point at a domain name (an IP address or a local name is not a public page); ${fix}`;
  return undefined;
}

export const httpsUrl = z
  .string({ error: "must be an https:// address" })
  .trim()
  .superRefine((value, ctx) => {
    const problem = httpsUrlProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) => (typeof key === "number" ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    "",
  );
}
