// The one way Bastide's own commands (first-password, audit, export/erase) read the
// stack's outputs: `pulumi stack output --show-secrets --json` on the admin's stack
// (cli/stack.ts: its backend, stack name and passphrase), kept in memory only.
import { spawnSync } from "node:child_process";
import Docker from "dockerode";
import type { Language } from "../../cli/command.ts";
import { stackMessages } from "../../cli/messages.ts";
import { findPulumiCli, isFound } from "../../cli/pulumi-cli.ts";
import { adminStack, missingStack, pulumiEnvironment, type Env } from "../../cli/stack.ts";
import type { Association } from "../../stacks/config/schema.ts";
import { dockerTargetFor } from "../connections.ts";
import { dockerFor } from "./docker.ts";

export interface StackOutputOptions {
  /** The project folder; the current one when absent. */
  cwd?: string;
  /** The stack; `local` (cli/stack.ts) when absent. */
  stack?: string;
  /** One output (e.g. `serviceSecrets`); all of them when absent. */
  output?: string;
  /** The Pulumi CLI to run; the one findPulumiCli finds when absent (tests pass a stand-in). */
  program?: string;
  timeoutMs?: number;
  /** The environment: where the state is (BASTIDE_STATE_DIR), the PATH. */
  env?: Env;
  /** The language of the messages that say what is missing. */
  language?: Language;
}

/**
 * The JSON text Pulumi prints, or undefined when the `program` given does not exist. Throws,
 * saying what to do, when there is no stack or no CLI, and with Pulumi's own error text
 * (from stderr) when it fails: stdout holds the secrets and is never shown.
 */
export function pulumiStackOutput(options: StackOutputOptions = {}): string | undefined {
  const env = options.env ?? process.env;
  const language = options.language ?? "en";
  const stack = adminStack({ stack: options.stack, env });
  const missing = missingStack(stack);
  if (missing === "no-passphrase") throw new Error(stackMessages.noPassphrase(stack)[language]);
  if (missing === "no-stack") throw new Error(stackMessages.noStack(stack)[language]);
  let program = options.program;
  if (program === undefined) {
    const cli = findPulumiCli(env);
    if (!isFound(cli)) throw new Error(stackMessages.noCli(cli)[language]);
    program = cli.path;
  }
  const args = ["stack", "output", "--show-secrets", "--json", ...(options.output ? [options.output] : []), "--stack", stack.stack];
  const result = spawnSync(program, args, {
    cwd: options.cwd,
    env: pulumiEnvironment(stack, env),
    encoding: "utf8",
    timeout: options.timeoutMs ?? 120_000,
    maxBuffer: 16 * 1024 * 1024,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") return undefined;
  if (result.error) throw new Error(`pulumi stack output: ${result.error.message}`);
  if (result.status !== 0) {
    const reason = result.stderr.trim().split("\n").filter(Boolean).slice(-3).join(" ").slice(0, 300);
    throw new Error(`pulumi stack output failed (exit ${result.status}): ${reason || "no message"}`);
  }
  return result.stdout;
}

/**
 * The Docker engine the stack runs on, for a command run from the admin's machine: DOCKER_HOST or
 * the local socket, the ssh target, or a cloud server, whose address is only in the stack's outputs.
 */
export function stackDocker(config: Association, options: { stack?: string | undefined; env?: Env; language: Language }): Docker {
  const env = options.env ?? process.env;
  if (config.host.target === "local") return env.DOCKER_HOST ? new Docker(dockerTargetFor(config, undefined, env.DOCKER_HOST) as Docker.DockerOptions) : new Docker();
  if (config.host.target === "ssh") return dockerFor(dockerTargetFor(config, undefined));
  const text = pulumiStackOutput({ output: "publicAddress", language: options.language, env, ...(options.stack ? { stack: options.stack } : {}) });
  return dockerFor(dockerTargetFor(config, text === undefined ? undefined : (JSON.parse(text) as string)));
}
