// Which Pulumi CLI Bastide runs, and where it comes from.
//
// The npm package `pulumi` (a dev dependency) is only a launcher (node_modules/pulumi/run.js,
// lib/resolve.js, lib/download.js at 3.265.0): on first use it fetches
// https://get.pulumi.com/install.sh with Node's fetch and runs it with
// `--no-edit-path --install-root $PULUMI_HOME/versions/<version> --version <version>`
// (PULUMI_HOME defaults to ~/.pulumi, PULUMI_VERSION replaces the package's version), and
// that script (pulumi/get.pulumi.com dist/install.sh, download_tarball) downloads
// https://github.com/pulumi/pulumi/releases/download/v<version>/pulumi-v<version>-<os>-<arch>.tar.gz,
// falling back to https://get.pulumi.com/releases/sdk/, with curl, and unpacks it with tar.
// Offline, the launcher only says `pulumi: fetch failed`.
//
// So Bastide looks first for a CLI the admin already has: a `pulumi` on the PATH (the
// launcher's own link in node_modules/.bin does not count), then the launcher's cache; only
// when neither is there does it let the launcher download, after saying what and from where.
import { spawn } from "node:child_process";
import { accessSync, constants, realpathSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { delimiter, join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { Language } from "./command.ts";
import { NOTHING_CHANGED, stackMessages } from "./messages.ts";
import { pulumiEnvironment, type AdminStack, type Env } from "./stack.ts";

const require = createRequire(import.meta.url);
/** The launcher, and the CLI version it installs. */
const LAUNCHER = require.resolve("pulumi/run.js");
const LAUNCHER_VERSION = (require("pulumi/package.json") as { version: string }).version;

export const INSTALL_SCRIPT = "https://get.pulumi.com/install.sh";

export interface FoundCli {
  path: string;
  /** `PATH`: the admin's own; `cache`: installed earlier by the npm launcher. */
  from: "PATH" | "cache";
}

/** What the launcher would download, and where it would put it. */
export interface MissingCli {
  version: string;
  installScript: string;
  installRoot: string;
  tarballs: string[];
}

const executable = (file: string): boolean => {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
};

/** The npm launcher's link (node_modules/.bin/pulumi → pulumi/run.js) is not a CLI. */
const isLauncher = (file: string): boolean => realpathSync(file).endsWith(`${sep}pulumi${sep}run.js`);

export function launcherVersion(env: Env = process.env): string {
  return env.PULUMI_VERSION || LAUNCHER_VERSION;
}

/** Where the launcher keeps the CLI it downloads (node_modules/pulumi/lib/cache.js). */
export function launcherInstallRoot(env: Env = process.env): string {
  return join(env.PULUMI_HOME || join(homedir(), ".pulumi"), "versions", launcherVersion(env));
}

export function findPulumiCli(env: Env = process.env): FoundCli | MissingCli {
  for (const dir of (env.PATH ?? "").split(delimiter).filter(Boolean)) {
    const candidate = join(dir, "pulumi");
    if (executable(candidate) && !isLauncher(candidate)) return { path: candidate, from: "PATH" };
  }
  const installRoot = launcherInstallRoot(env);
  const cached = join(installRoot, "bin", "pulumi");
  if (executable(cached)) return { path: cached, from: "cache" };
  const version = launcherVersion(env);
  const tarball = `pulumi-v${version}-${process.platform === "darwin" ? "darwin" : "linux"}-${process.arch === "arm64" ? "arm64" : "x64"}.tar.gz`;
  return {
    version,
    installScript: INSTALL_SCRIPT,
    installRoot,
    tarballs: [`https://github.com/pulumi/pulumi/releases/download/v${version}/${tarball}`, `https://get.pulumi.com/releases/sdk/${tarball}`],
  };
}

export const isFound = (cli: FoundCli | MissingCli): cli is FoundCli => "path" in cli;

/**
 * Has the launcher download the CLI (`pulumi version`), its output shown as it comes.
 * Resolves to the CLI, or to the last lines the launcher printed when it failed.
 */
export function downloadPulumiCli(missing: MissingCli, env: Env = process.env): Promise<FoundCli | { failed: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [LAUNCHER, "version"], { env: env as NodeJS.ProcessEnv, stdio: ["ignore", "inherit", "pipe"] });
    let tail = "";
    child.stderr.on("data", (chunk: Buffer) => {
      process.stderr.write(chunk);
      tail = `${tail}${chunk.toString("utf8")}`.slice(-2000);
    });
    // The launcher's own announcement is not a reason.
    const failed = (why: string) => resolve({ failed: why.trim().split("\n").filter((line) => line && !line.startsWith("Downloading pulumi")).slice(-3).join(" ") || "no message" });
    child.on("error", (error) => failed(error.message));
    child.on("close", (code) => {
      const cli = join(missing.installRoot, "bin", "pulumi");
      if (code === 0 && executable(cli)) resolve({ path: cli, from: "cache" });
      else failed(tail);
    });
  });
}

/** The project folder (Pulumi.yaml), where Pulumi must run. */
export const PROJECT_DIR = fileURLToPath(new URL("..", import.meta.url));

/**
 * Runs the CLI on the admin's stack, in the project folder, its output on this terminal
 * (`quiet`: standard output dropped, errors still shown). Resolves to its exit code.
 */
export function runPulumi(cli: FoundCli, stack: AdminStack, args: readonly string[], options: { quiet?: boolean; env?: Env } = {}): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cli.path, args, { cwd: PROJECT_DIR, env: pulumiEnvironment(stack, options.env), stdio: ["inherit", options.quiet ? "ignore" : "inherit", "inherit"] });
    child.on("error", (error) => {
      process.stderr.write(`${cli.path}: ${error.message}\n`);
      resolve(1);
    });
    child.on("close", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** The CLI, downloaded by the npm launcher when the admin has none, after saying what comes from where. */
export async function ensurePulumiCli(language: Language, env: Env = process.env): Promise<FoundCli> {
  const cli = findPulumiCli(env);
  if (isFound(cli)) return cli;
  console.error(stackMessages.downloading(cli)[language]);
  const downloaded = await downloadPulumiCli(cli, env);
  if ("failed" in downloaded) {
    const reason = /fetch failed/.test(downloaded.failed) ? `${downloaded.failed}: ${await unreachableBecause(cli.installScript)}` : downloaded.failed;
    throw new Error(`${stackMessages.downloadFailed(cli, reason)[language]}\n${NOTHING_CHANGED[language]}`);
  }
  return downloaded;
}

/** Why Node's fetch could not reach `url`: the launcher only says `fetch failed`, its cause is what helps (no DNS, no route, a proxy). */
async function unreachableBecause(url: string): Promise<string> {
  try {
    const response = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(10_000) });
    return `${url} answers ${response.status} now`;
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause;
    return `${url}: ${cause?.message ?? (error as Error).message}`;
  }
}
