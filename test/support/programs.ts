// Generated files are checked by the real programs that read them. CI installs
// those programs; a missing one fails the test loudly instead of skipping it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function requireProgram(name: string, debianPackage: string): string {
  const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  if (found.status !== 0) throw new Error(`${name} is not installed: apt-get install ${debianPackage} (CI's .ci/run does)`);
  return found.stdout.trim();
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (bounded), never through a shell. */
export function run(program: string, args: string[], options: { cwd?: string; input?: string; env?: Record<string, string>; timeoutMs?: number } = {}): RunResult {
  const env = options.env ? { ...process.env, ...options.env } : undefined;
  const result = spawnSync(program, args, { cwd: options.cwd, input: options.input, env, encoding: "utf8", timeout: options.timeoutMs ?? 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Writes `files` into a fresh temporary folder and returns its path. */
export function scratch(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "bastide-test-"));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

