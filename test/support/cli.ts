// Bastide's commands as the admin runs them: `node --import tsx <script> ...args` from the
// project folder, on a pseudo-terminal when `tty` (util-linux's script(1) gives it one), so
// that a command that shows secrets on a terminal only is tested both ways. Asynchronous:
// fakes served from the test's own process keep answering while it runs.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CONFIG_NAMESPACE } from "../../stacks/config/supplied.ts";
import { requireProgram } from "./programs.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface CommandRun {
  status: number | null;
  stdout: string;
  /** Standard output, then standard error. */
  output: string;
}

const shellQuote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;

/**
 * Runs the TypeScript program `script` (a path from the project folder) with `args`. Its
 * environment is this process's, minus any BASTIDE_ setting of the machine running the
 * tests, plus `env`.
 */
export function runCommand(script: string, args: string[], { tty, env = {}, timeoutMs = 60_000, input = "" }: { tty: boolean; env?: Record<string, string>; timeoutMs?: number; input?: string }): Promise<CommandRun> {
  const command = [process.execPath, "--import", "tsx", fileURLToPath(new URL(script, `file://${ROOT}`)), ...args];
  const [program, argv] = tty ? [requireProgram("script", "bsdutils"), ["-qec", command.map(shellQuote).join(" "), "/dev/null"]] : [command[0]!, command.slice(1)];
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("BASTIDE_")));
  const child = spawn(program, argv, { cwd: ROOT, env: { ...base, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  // What the admin types: on a terminal, script(1) passes it to the command's pseudo-terminal.
  child.stdin.end(input);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${script} did not finish within ${timeoutMs / 1000} s:\n${stdout}${stderr}`));
    }, timeoutMs);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, output: `${stdout}${stderr}` });
    });
  });
}

/**
 * A state folder as `npm run deploy` leaves it (cli/stack.ts): a passphrase and the file
 * backend's record of `stack`, in Pulumi's layout. Returns the environment that points the
 * commands at it. Nothing in it is real state: a stand-in CLI reads it, never Pulumi.
 */
export function deployedStackState(dir: string, stack = "local"): { BASTIDE_STATE_DIR: string } {
  const state = join(dir, "bastide-state");
  mkdirSync(join(state, "pulumi", ".pulumi", "stacks", CONFIG_NAMESPACE), { recursive: true, mode: 0o700 });
  writeFileSync(join(state, "passphrase"), "test-passphrase", { mode: 0o600 });
  writeFileSync(join(state, "pulumi", ".pulumi", "stacks", CONFIG_NAMESPACE, `${stack}.json`), "{}");
  return { BASTIDE_STATE_DIR: state };
}
