// What the audit takes out of the files and answers it reads back: small, secret-free
// facts. Several of these files hold secrets (homeserver.yaml, Framadate's config.php,
// wg0.conf); their text is reduced to facts as soon as it is read and never kept.
// Pure functions: the same extractor reads the file Bastide renders and the one found
// in the container, so a rule compares like with like.
import vm from "node:vm";
import { parse as parseYaml } from "yaml";
import { readCaddyfile, walk, type Directive } from "../pack/caddyfile.ts";
import type { RetentionRuleSpec } from "../../provisioners/nextcloud-settings/desired.ts";
import type { TwoFactorState } from "../../provisioners/nextcloud-settings/occ.ts";

export type { TwoFactorState };

/** A file that could be read but not understood: a finding, not an unreachable service. */
export interface Invalid {
  invalid: string;
}
export const isInvalid = (value: unknown): value is Invalid => typeof value === "object" && value !== null && "invalid" in value;

function guarded<T>(what: string, extract: () => T): T | Invalid {
  try {
    return extract();
  } catch (error) {
    return { invalid: `${what}: ${(error as Error).message.split("\n")[0]}` };
  }
}

// ---------------------------------------------------------------------------------------
// Caddyfile: where access logs go, how long rolled files are kept, what is masked

export interface CaddyLogOutput {
  /** `file /data/access-logs/access.log`, `stdout`... */
  output: string;
  /** Only file outputs stay on disk; the others go to the container's (rotated) log. */
  toFile: boolean;
  rollSize: string | null;
  rollKeepFor: string | null;
  rollDisabled: boolean;
  /** Field → mask, e.g. `request>remote_ip` → `ipv4 24 ipv6 48`. */
  masks: Record<string, string>;
  /** Fields deleted before writing. */
  deleted: string[];
}

const argsOf = (block: Directive[] | undefined, name: string) => (block ?? []).find((d) => d.args[0] === name);

function filterFields(format: Directive | undefined): { masks: Record<string, string>; deleted: string[] } {
  const masks: Record<string, string> = {};
  const deleted: string[] = [];
  if (!format || format.args[1] !== "filter") return { masks, deleted };
  for (const field of argsOf(format.block, "fields")?.block ?? []) {
    const [name, action, ...rest] = field.args;
    if (!name) continue;
    if (action === "delete") deleted.push(name);
    if (action === "ip_mask") {
      // Block form (ipv4 24 / ipv6 48) or Caddy's short form `ip_mask 24 48`.
      const block = (field.block ?? []).map((d) => d.args.join(" "));
      masks[name] = block.length > 0 ? block.join(" ") : rest.length === 2 ? `ipv4 ${rest[0]} ipv6 ${rest[1]}` : rest.join(" ");
    }
  }
  return { masks, deleted };
}

/** Every log block's output, snippets included. */
export function caddyLogOutputs(text: string): CaddyLogOutput[] | Invalid {
  return guarded("the Caddyfile does not parse", () =>
    walk(readCaddyfile(text).all)
      .filter(({ directive }) => directive.args[0] === "log" && directive.block)
      .flatMap(({ directive }) => {
        const output = argsOf(directive.block, "output");
        const options = output?.block ?? [];
        const value = (name: string) => argsOf(options, name)?.args[1] ?? null;
        const { masks, deleted } = filterFields(argsOf(directive.block, "format"));
        const target = output ? output.args.slice(1).join(" ") : "stderr";
        return [
          {
            output: target,
            toFile: output?.args[1] === "file",
            rollSize: value("roll_size"),
            rollKeepFor: value("roll_keep_for"),
            rollDisabled: argsOf(options, "roll_disabled") !== undefined,
            masks,
            deleted,
          },
        ];
      }),
  );
}

/** Caddy's durations (`336h`, `14d`, `90m`), in hours; undefined when unreadable. */
export function durationHours(duration: string | null): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(duration ?? "");
  if (!match) return undefined;
  const perHour = { ms: 1 / 3_600_000, s: 1 / 3600, m: 1 / 60, h: 1, d: 24 }[match[2] as "ms" | "s" | "m" | "h" | "d"];
  return Number(match[1]) * perHour;
}

// ---------------------------------------------------------------------------------------
// Jitsi's web config: the file appended to config.js, run as the browser runs it

/**
 * The config object after the file runs on an empty one: what Bastide's file itself sets.
 * Run in a bounded VM context with nothing in it but `config`; the file comes from the
 * association's own server.
 */
export function jitsiWebSettings(text: string, names: readonly string[]): Record<string, unknown> | Invalid {
  return guarded("custom-config.js does not run", () => {
    const context = vm.createContext({});
    vm.runInContext(`var config = {};\n${text}`, context, { timeout: 1000 });
    const config = JSON.parse(JSON.stringify(context.config ?? {})) as Record<string, unknown>;
    return Object.fromEntries(names.map((name) => [name, config[name] ?? null]));
  });
}

// ---------------------------------------------------------------------------------------
// Prosody's Lua config: the global `name = value` settings, up to the first host

export type LuaValue = boolean | number | string | null | LuaValue[];

interface LuaToken {
  kind: "name" | "string" | "number" | "punct";
  text: string;
}

function luaTokens(text: string): LuaToken[] {
  const tokens: LuaToken[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (text.startsWith("--", i)) {
      const long = /^--\[(=*)\[/.exec(text.slice(i, i + 20));
      if (long) {
        const end = text.indexOf(`]${long[1]}]`, i);
        i = end < 0 ? text.length : end + long[1]!.length + 2;
      } else {
        while (i < text.length && text[i] !== "\n") i++;
      }
    } else if (c === '"' || c === "'") {
      let value = "";
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === "\\" && i + 1 < text.length) i++;
        value += text[i];
        i++;
      }
      i++;
      tokens.push({ kind: "string", text: value });
    } else if (/[0-9]/.test(c)) {
      const match = /^[0-9]+(\.[0-9]+)?/.exec(text.slice(i))!;
      tokens.push({ kind: "number", text: match[0] });
      i += match[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))!;
      tokens.push({ kind: "name", text: match[0] });
      i += match[0].length;
    } else {
      tokens.push({ kind: "punct", text: c });
      i++;
    }
  }
  return tokens;
}

/**
 * Prosody's global settings as scalars and lists of scalars; a table's `key = value`
 * entries and nested tables are skipped. Reading stops at the first VirtualHost or
 * Component, where host settings begin.
 */
export function luaGlobals(text: string): Record<string, LuaValue> | Invalid {
  return guarded("the Prosody config does not parse", () => {
    const tokens = luaTokens(text);
    let i = 0;
    const value = (): LuaValue => {
      const token = tokens[i++];
      if (!token) throw new Error("unexpected end of file");
      if (token.kind === "string") return token.text;
      if (token.kind === "number") return Number(token.text);
      if (token.kind === "name" && (token.text === "true" || token.text === "false")) return token.text === "true";
      if (token.kind === "name" && token.text === "nil") return null;
      if (token.kind === "punct" && token.text === "{") {
        const items: LuaValue[] = [];
        while (tokens[i] && !(tokens[i]!.kind === "punct" && tokens[i]!.text === "}")) {
          if (tokens[i]!.kind === "punct" && (tokens[i]!.text === ";" || tokens[i]!.text === ",")) {
            i++;
            continue;
          }
          const keyed = tokens[i]!.kind === "name" && tokens[i + 1]?.kind === "punct" && tokens[i + 1]!.text === "=";
          if (keyed) i += 2;
          const nested = tokens[i]?.kind === "punct" && tokens[i]!.text === "{";
          const item = value();
          if (!keyed && !nested) items.push(item);
        }
        if (!tokens[i]) throw new Error("a table is not closed: a `}` is missing");
        i++;
        return items;
      }
      throw new Error(`unexpected "${token.text}"`);
    };
    const globals: Record<string, LuaValue> = {};
    while (i < tokens.length) {
      const token = tokens[i]!;
      if (token.kind === "name" && (token.text === "VirtualHost" || token.text === "Component")) break;
      if (token.kind === "name" && tokens[i + 1]?.kind === "punct" && tokens[i + 1]!.text === "=") {
        i += 2;
        globals[token.text] = value();
      } else {
        // A call such as Include "conf.d/*.cfg.lua": skipped with its argument.
        i++;
      }
    }
    return globals;
  });
}

// ---------------------------------------------------------------------------------------
// Synapse's homeserver.yaml: the privacy and retention settings, without the secrets

export interface HomeserverFacts {
  enable_registration: unknown;
  allow_guest_access: unknown;
  federation_domain_whitelist: unknown;
  /** The resources every listener serves, e.g. ["client"]. */
  listenerResources: string[];
  retention: unknown;
  media_retention: unknown;
  redaction_retention_period: unknown;
  user_ips_max_age: unknown;
}

const record = (value: unknown): Record<string, unknown> => (typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {});

export function homeserverFacts(text: string): HomeserverFacts | Invalid {
  return guarded("homeserver.yaml does not parse", () => {
    const document = record(parseYaml(text));
    const listeners = Array.isArray(document.listeners) ? document.listeners : [];
    const listenerResources = [
      ...new Set(
        listeners.flatMap((l) => (Array.isArray(record(l).resources) ? (record(l).resources as unknown[]) : []).flatMap((r) => {
          const names = record(r).names;
          return Array.isArray(names) ? names.map(String) : [];
        })),
      ),
    ].sort();
    return {
      enable_registration: document.enable_registration ?? null,
      allow_guest_access: document.allow_guest_access ?? null,
      federation_domain_whitelist: document.federation_domain_whitelist ?? null,
      listenerResources,
      retention: document.retention ?? null,
      media_retention: document.media_retention ?? null,
      redaction_retention_period: document.redaction_retention_period ?? null,
      user_ips_max_age: document.user_ips_max_age ?? null,
    };
  });
}

// ---------------------------------------------------------------------------------------
// Framadate's config.php: the purge delay and where its own log goes (not the DB password)

export interface PollsConfigFacts {
  purgeDelay: number | null;
  logFile: string | null;
  defaultPollDuration: number | null;
}

const phpString = (literal: string) => literal.slice(1, -1).replace(/\\([\\'])/g, "$1");

export function pollsConfigFacts(text: string): PollsConfigFacts {
  const number = (pattern: RegExp) => {
    const match = pattern.exec(text)?.[1];
    return match === undefined ? null : Number(match);
  };
  const logFile = /const\s+LOG_FILE\s*=\s*('(?:[^'\\]|\\.)*')\s*;/.exec(text)?.[1];
  return {
    purgeDelay: number(/const\s+PURGE_DELAY\s*=\s*(\d+)\s*;/),
    logFile: logFile === undefined ? null : phpString(logFile),
    defaultPollDuration: number(/'default_poll_duration'\s*=>\s*(\d+)\s*,/),
  };
}

// ---------------------------------------------------------------------------------------
// WireGuard's wg0.conf: the peers' names (never the keys)

/** The comment naming each [Peer] section, e.g. `karim.benali phone`. */
export function wireguardPeers(text: string): string[] {
  const peers: string[] = [];
  let inPeer = false;
  let named = false;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (/^\[Peer\]$/i.test(line)) {
      if (inPeer && !named) peers.push(`(unnamed peer ${peers.length + 1})`);
      inPeer = true;
      named = false;
    } else if (/^\[.+\]$/.test(line)) {
      if (inPeer && !named) peers.push(`(unnamed peer ${peers.length + 1})`);
      inPeer = false;
    } else if (inPeer && !named && line.startsWith("#")) {
      peers.push(line.replace(/^#+\s*/, ""));
      named = true;
    }
  }
  if (inPeer && !named) peers.push(`(unnamed peer ${peers.length + 1})`);
  return peers;
}

// ---------------------------------------------------------------------------------------
// CoreDNS's Corefile (Caddyfile syntax): is any query logged, how long are answers cached

export interface CorefileFacts {
  /** Plugins that write queries to the log: `log`, `dnstap`. */
  queryLogging: string[];
  /** Each `cache` plugin's time-to-live, in seconds (3600 when it gives none). */
  cacheSeconds: number[];
}

export function corefileFacts(text: string): CorefileFacts | Invalid {
  return guarded("the Corefile does not parse", () => {
    const all = walk(readCaddyfile(text).all).map(({ directive }) => directive);
    return {
      queryLogging: all.filter((d) => d.args[0] === "log" || d.args[0] === "dnstap").map((d) => d.args.join(" ")),
      // CoreDNS's cache plugin defaults to 3600 s without an argument.
      cacheSeconds: all.filter((d) => d.args[0] === "cache").map((d) => Number(d.args[1] ?? 3600)),
    };
  });
}

// ---------------------------------------------------------------------------------------
// Nextcloud

/** How `occ config:system:get` prints a scalar (Base::valueToString): true/false as words. */
export function occValue(value: unknown): string {
  if (value === true) return "true";
  if (value === false) return "false";
  if (value === null || value === undefined) return "null";
  return String(value);
}

export function describeTwoFactor(state: TwoFactorState): string {
  if (!state.enforced) return "not enforced";
  const who = state.groups.length === 0 ? "enforced for all users" : `enforced for group(s) ${state.groups.join(", ")}`;
  return state.excluded.length > 0 ? `${who}, except ${state.excluded.join(", ")}` : who;
}

export interface ShareLinkCapabilities {
  linksEnabled: boolean;
  passwordEnforced: boolean | null;
  expireDateEnabled: boolean | null;
  expireDateEnforced: boolean | null;
  expireDays: number | null;
}

/** files_sharing.public from the capabilities (apps/files_sharing/lib/Capabilities.php). */
export function shareLinkCapabilities(capabilities: unknown): ShareLinkCapabilities | Invalid {
  const sharing = record(record(record(capabilities).capabilities).files_sharing);
  if (Object.keys(sharing).length === 0) return { invalid: "the capabilities have no files_sharing section" };
  const publicLinks = record(sharing.public);
  const password = record(publicLinks.password);
  const expire = record(publicLinks.expire_date);
  const bool = (v: unknown) => (typeof v === "boolean" ? v : null);
  return {
    linksEnabled: publicLinks.enabled === true,
    passwordEnforced: bool(password.enforced),
    expireDateEnabled: bool(expire.enabled),
    expireDateEnforced: bool(expire.enforced),
    expireDays: typeof expire.days === "number" ? expire.days : null,
  };
}

/** A files_retention rule: timeunit 0 days, 1 weeks, 2 months, 3 years; timeafter 0 creation, 1 last change. */
export type RetentionRule = RetentionRuleSpec & { tagid: number };

const UNITS = ["day", "week", "month", "year"] as const;

export function describeRetentionRule(rule: RetentionRuleSpec): string {
  const unit = UNITS[rule.timeunit] ?? `unit ${rule.timeunit}`;
  const after = rule.timeafter === 1 ? "after the last change" : rule.timeafter === 0 ? "after creation" : `after ${rule.timeafter}`;
  return `${rule.timeamount} ${unit}${rule.timeamount === 1 ? "" : "s"} ${after}`;
}

/** A rule's period in days, when it is counted in days or weeks; months and years are not whole days. */
export function ruleDays(rule: RetentionRuleSpec): number | undefined {
  if (rule.timeunit === 0) return rule.timeamount;
  if (rule.timeunit === 1) return rule.timeamount * 7;
  return undefined;
}
