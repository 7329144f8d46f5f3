// WireGuard's own tools as the reference for keys and configuration files.
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireProgram, run, scratch } from "./programs.ts";

export const wg = () => requireProgram("wg", "wireguard-tools");

/** `wg pubkey`, the reference for every key computation. */
export function wgPubkey(privateKey: string): string {
  const result = run(wg(), ["pubkey"], { input: `${privateKey}\n` });
  if (result.status !== 0) throw new Error(`wg pubkey refused the key: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

/** `wg-quick strip`: wg-quick's own parser, and the plain config it hands to `wg`. wg-quick names the interface after the file. */
export function wgQuickStrip(conf: string, name = "wg0"): string {
  const wgQuick = requireProgram("wg-quick", "wireguard-tools");
  const dir = scratch();
  try {
    const file = join(dir, `${name}.conf`);
    writeFileSync(file, conf, { mode: 0o600 });
    const result = run(wgQuick, ["strip", file]);
    if (result.status !== 0) throw new Error(`wg-quick strip failed: ${result.stderr}`);
    return result.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface WgSection {
  name: string;
  values: Record<string, string>;
}

/** The sections of a wg/wg-quick config, comments dropped. */
export function wgSections(conf: string): WgSection[] {
  const found: WgSection[] = [];
  for (const raw of conf.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) continue;
    const header = line.match(/^\[(\w+)\]$/);
    if (header) found.push({ name: header[1]!, values: {} });
    else {
      const [key, ...rest] = line.split("=");
      found.at(-1)!.values[key!.trim()] = rest.join("=").trim();
    }
  }
  return found;
}
