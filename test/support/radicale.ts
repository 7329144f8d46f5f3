// A real CalDAV server for the calendar tests: Debian's Radicale on 127.0.0.1, with
// its own temporary storage and a plain htpasswd file. Debian's Python tools must run
// from /usr/bin (the python3 on PATH cannot see their modules). Waits are bounded.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const RADICALE = "/usr/bin/radicale";

export interface Radicale {
  /** e.g. http://127.0.0.1:40123/ */
  url: string;
  /** Where the collections are kept on disk. */
  storage: string;
  stop(): Promise<void>;
}

/** Fails loudly when Radicale is missing: CI installs it. */
export function requireRadicale(): string {
  if (!existsSync(RADICALE)) throw new Error(`${RADICALE} is missing: apt-get install radicale (CI's .ci/run does)`);
  return RADICALE;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts Radicale with these users (name → password); resolves once it answers HTTP. */
export async function startRadicale(users: Record<string, string>, { startTimeoutMs = 15_000 } = {}): Promise<Radicale> {
  const program = requireRadicale();
  const dir = mkdtempSync(join(tmpdir(), "bastide-radicale-"));
  const storage = join(dir, "collections");
  const port = await freePort();
  writeFileSync(join(dir, "users"), Object.entries(users).map(([name, password]) => `${name}:${password}\n`).join(""));
  writeFileSync(
    join(dir, "config"),
    [
      "[server]",
      `hosts = 127.0.0.1:${port}`,
      "[auth]",
      "type = htpasswd",
      `htpasswd_filename = ${join(dir, "users")}`,
      "htpasswd_encryption = plain",
      // Radicale delays every failed login by default; tests try wrong passwords on purpose.
      "delay = 0",
      "[rights]",
      "type = owner_only",
      "[storage]",
      `filesystem_folder = ${storage}`,
      "[web]",
      "type = none",
      "[logging]",
      "level = warning",
      "",
    ].join("\n"),
  );

  const child = spawn(program, ["--config", join(dir, "config")], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}/`;
  const radicale: Radicale = { url, storage, stop: () => stop(child, exited, dir) };

  const deadline = Date.now() + startTimeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      await fetch(url, { method: "OPTIONS", signal: AbortSignal.timeout(1000) });
      return radicale;
    } catch {
      await sleep(100);
    }
  }
  await radicale.stop();
  throw new Error(`Radicale did not answer on ${url} within ${startTimeoutMs} ms (exit ${child.exitCode}): ${stderr.trim()}`);
}

async function stop(child: ChildProcess, exited: Promise<number | null>, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill("SIGTERM");
    const done = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
    if (!done) {
      child.kill("SIGKILL");
      await Promise.race([exited, sleep(2000)]);
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
