// The one way Bastide's own commands (first-password, audit, export/erase) read the
// stack's outputs: `pulumi stack output --show-secrets --json`, kept in memory only.
import { spawnSync } from "node:child_process";

export interface StackOutputOptions {
  /** The project folder; the current one when absent. */
  cwd?: string;
  /** The stack; Pulumi's selected one when absent. */
  stack?: string;
  /** One output (e.g. `serviceSecrets`); all of them when absent. */
  output?: string;
  /** The Pulumi CLI to run; `pulumi` on the PATH when absent (tests pass a stand-in). */
  program?: string;
  timeoutMs?: number;
}

/**
 * The JSON text Pulumi prints, or undefined when the CLI is not installed. Throws with
 * Pulumi's own error text (from stderr): stdout holds the secrets and is never shown.
 */
export function pulumiStackOutput(options: StackOutputOptions = {}): string | undefined {
  const args = ["stack", "output", "--show-secrets", "--json", ...(options.output ? [options.output] : []), ...(options.stack ? ["--stack", options.stack] : [])];
  const result = spawnSync(options.program ?? "pulumi", args, {
    cwd: options.cwd,
    encoding: "utf8",
    timeout: options.timeoutMs ?? 120_000,
    maxBuffer: 16 * 1024 * 1024,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") return undefined;
  if (result.error) throw new Error(`pulumi stack output: ${result.error.message}`);
  if (result.status !== 0) {
    // The last lines say why (the first may be npm's wrapper fetching the CLI).
    const reason = result.stderr.trim().split("\n").filter(Boolean).slice(-3).join(" ").slice(0, 300);
    throw new Error(`pulumi stack output failed (exit ${result.status}): ${reason || "no message"}`);
  }
  return result.stdout;
}
