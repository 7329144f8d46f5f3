// How Bastide reaches Prosody: it runs `prosodyctl` where Prosody runs, either on this
// machine or inside the Jitsi prosody container (dockerode exec). Passwords only ever
// travel on prosodyctl's standard input, never on a command line that `ps` shows.
import { spawn } from "node:child_process";
import type Docker from "dockerode";
import { ContainerCommandError, execInContainer, type CommandResult } from "../runtime/docker.ts";
import { containerName } from "../../stacks/services/blueprint.ts";

export type { CommandResult };

/** Runs prosodyctl sub-commands against one Prosody. */
export interface ProsodyCommands {
  /** Where prosodyctl runs, for messages: "prosody on this machine", "container bastide-jitsi-prosody". */
  readonly where: string;
  /**
   * Runs `prosodyctl [--config FILE] ...args` to completion within the transport's time limit.
   * `input` is written to its standard input, which is then closed (so a prompt never waits).
   * Rejects only when the command could not run or finish; a non-zero exit is a result.
   */
  prosodyctl(args: readonly string[], input?: string): Promise<CommandResult>;
}

export class ProsodyCommandError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ProsodyCommandError";
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;

const withConfig = (configFile: string | undefined, args: readonly string[]) => [...(configFile ? ["--config", configFile] : []), ...args];

export interface LocalProsodyOptions {
  /** Prosody's config file; prosodyctl's own default when absent. */
  configFile?: string;
  /**
   * The account Prosody runs as: prosodyctl runs as it through `runuser`, so the files it
   * writes belong to Prosody (this process must be root). Absent: prosodyctl runs as this process.
   */
  user?: string;
  /** prosodyctl's path. */
  prosodyctl?: string;
  timeoutMs?: number;
}

/** prosodyctl on this machine, as a child process. */
export function localProsody(options: LocalProsodyOptions = {}): ProsodyCommands {
  const { configFile, user, prosodyctl = "prosodyctl", timeoutMs = DEFAULT_TIMEOUT_MS } = options;
  return {
    where: "prosody on this machine",
    prosodyctl(args, input) {
      const command = withConfig(configFile, args);
      const [program, argv] = user ? ["runuser", ["-u", user, "--", prosodyctl, ...command]] : [prosodyctl, command];
      return runChild(program, argv, input, timeoutMs);
    },
  };
}

function runChild(program: string, args: string[], input: string | undefined, timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    // Its own process group, so that a timeout stops prosodyctl too, not only runuser.
    const child = spawn(program, args, { stdio: ["pipe", "pipe", "pipe"], detached: true });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const timer = setTimeout(() => {
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
      reject(new ProsodyCommandError(`prosodyctl did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    // A prosodyctl that exits before reading its input closes the pipe: not an error here.
    child.stdin.on("error", () => {});
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new ProsodyCommandError(`cannot run ${program}: ${error.message}`, { cause: error }));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === null) return reject(new ProsodyCommandError(`${program} was stopped by ${signal}`));
      resolve({ exitCode: code, stdout: Buffer.concat(stdout).toString("utf8"), stderr: Buffer.concat(stderr).toString("utf8") });
    });
    child.stdin.end(input ?? "");
  });
}

/** Where docker-jitsi-meet's prosody image (stable-11146) renders its config; its /etc/prosody is removed. */
export const JITSI_IMAGE_PROSODY_CONFIG = "/run/prosody/config/prosody.cfg.lua";

export interface DockerProsodyOptions {
  docker: Docker;
  /** The prosody container; Bastide's own by default. */
  container?: string;
  /** Prosody's config file inside the container. */
  configFile?: string;
  /** The user to exec as; the image's own user (the one Prosody runs as) when absent. */
  user?: string;
  timeoutMs?: number;
}

/** prosodyctl inside the prosody container, through the Docker engine's exec API. */
export function dockerProsody(options: DockerProsodyOptions): ProsodyCommands {
  const { docker, container = containerName("jitsi", "prosody"), configFile = JITSI_IMAGE_PROSODY_CONFIG, user, timeoutMs = DEFAULT_TIMEOUT_MS } = options;
  return {
    where: `container ${container}`,
    async prosodyctl(args, input) {
      try {
        return await execInContainer(docker, container, ["prosodyctl", ...withConfig(configFile, args)], {
          ...(input !== undefined ? { input } : {}),
          ...(user ? { user } : {}),
          timeoutMs,
        });
      } catch (error) {
        throw error instanceof ContainerCommandError ? new ProsodyCommandError(error.message, { cause: error }) : error;
      }
    },
  };
}
