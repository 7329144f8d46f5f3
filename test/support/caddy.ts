// A Caddyfile as Caddy itself reads it: validated, then adapted to the JSON Caddy runs.
import { PROVISIONING_TOKEN } from "../../stacks/services/proxy/blueprint.ts";
import { requireProgram, run, scratch } from "./programs.ts";

/** What the proxy container's environment holds in tests. */
export const TEST_PROVISIONING_TOKEN = "test-token-0123456789";

export function adaptCaddyfile(text: string): any {
  const caddy = requireProgram("caddy", "caddy");
  const dir = scratch({ Caddyfile: text });
  const env = { [PROVISIONING_TOKEN.env]: TEST_PROVISIONING_TOKEN };
  const validate = run(caddy, ["validate", "--config", "Caddyfile", "--adapter", "caddyfile"], { cwd: dir, env });
  if (validate.status !== 0) throw new Error(`caddy validate failed:\n${validate.stderr}`);
  const adapted = run(caddy, ["adapt", "--config", "Caddyfile", "--adapter", "caddyfile"], { cwd: dir, env });
  if (adapted.status !== 0) throw new Error(`caddy adapt failed:\n${adapted.stderr}`);
  return JSON.parse(adapted.stdout);
}
