// Reads a retention setting from the validated config, with the bounds the schema
// gives it, so the register quotes the value in force and the range the admin may
// choose from, and neither can drift from stacks/config.
import { associationSchema, type Association } from "../../stacks/config/schema.ts";
import type { Bounds, Localized, Period, Retention } from "./model.ts";

export interface ConfigSetting {
  /** Dotted path in the config, e.g. `services.matrix.retention.messagesDays`. */
  path: string;
  value: number;
  bounds: Bounds;
}

interface SchemaNode {
  _zod: { def: { type: string; innerType?: SchemaNode; in?: SchemaNode; shape?: Record<string, SchemaNode> } };
  minValue?: number | null;
  maxValue?: number | null;
}

/** Skips the wrappers (default, prefault, optional, pipe) down to the schema that holds the checks. */
function unwrap(node: SchemaNode): SchemaNode {
  const def = node._zod.def;
  if (def.innerType) return unwrap(def.innerType);
  if (def.type === "pipe" && def.in) return unwrap(def.in);
  return node;
}

export function schemaBounds(path: string): Bounds {
  let node = unwrap(associationSchema as unknown as SchemaNode);
  for (const key of path.split(".")) {
    const child = node._zod.def.shape?.[key];
    if (!child) throw new Error(`the config schema has no field ${path}`);
    node = unwrap(child);
  }
  const { minValue, maxValue } = node;
  if (node._zod.def.type !== "number" || typeof minValue !== "number" || typeof maxValue !== "number")
    throw new Error(`${path} is not a bounded number in the config schema`);
  return { min: minValue, max: maxValue };
}

export function configSetting(config: Association, path: string): ConfigSetting {
  const value = path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], config);
  if (typeof value !== "number") throw new Error(`the config has no number at ${path}`);
  return { path, value, bounds: schemaBounds(path) };
}

/** Synapse's and Prosody's durations, e.g. `28d`, `12h`, in whole days. */
export function durationDays(duration: string): number {
  const match = /^(\d+)([dhwy])$/.exec(duration);
  if (!match) throw new Error(`"${duration}" is not a duration such as 7d`);
  const n = Number(match[1]);
  const perDay = { h: 1 / 24, d: 1, w: 7, y: 365 }[match[2] as "h" | "d" | "w" | "y"];
  return Math.ceil(n * perDay);
}

/** Kept `setting.value` days from `from`; the admin sets it in the config. */
export function daysRetention(setting: ConfigSetting, from: Localized, note?: Localized): Retention {
  return {
    period: { kind: "days", days: setting.value, from },
    setting: setting.path,
    configurable: true,
    bounds: setting.bounds,
    ...(note ? { note } : {}),
  };
}

/** Kept while the member is in the list, then disabled, then erased after the departure grace period. */
export function accountRetention(config: Association, note?: Localized): Retention {
  const grace = configSetting(config, "departures.graceDays");
  return {
    period: { kind: "account", graceDays: grace.value },
    setting: grace.path,
    configurable: true,
    bounds: grace.bounds,
    ...(note ? { note } : {}),
  };
}

/** A period Bastide fixes; `constant` names where (e.g. `LOG_ROTATION (stacks/platform/component.ts)`). */
export function fixedRetention(period: Period, constant: string, note?: Localized): Retention {
  return { period, setting: constant, configurable: false, ...(note ? { note } : {}) };
}
