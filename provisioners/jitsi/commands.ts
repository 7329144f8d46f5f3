// How Bastide reaches Prosody: it runs `prosodyctl` where Prosody runs, either on this
// machine or inside the Jitsi prosody container (dockerode exec). Passwords only ever
// travel on prosodyctl's standard input, never on a command line that `ps` shows.
import { spawn } from "node:child_process";
import { PassThrough } from "node:stream";
import type Docker from "dockerode";
import { containerName } from "../../stacks/services/blueprint.ts";

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

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
      let exec: Docker.Exec;
      try {
        exec = await docker.getContainer(container).exec({
          Cmd: ["prosodyctl", ...withConfig(configFile, args)],
          AttachStdin: true,
          AttachStdout: true,
          AttachStderr: true,
          Tty: false,
          ...(user ? { User: user } : {}),
        });
      } catch (error) {
        throw new ProsodyCommandError(`cannot exec in container ${container}: ${describeDockerError(error)}`, { cause: error });
      }
      return runExec(docker, exec, input, timeoutMs, container);
    },
  };
}

async function runExec(docker: Docker, exec: Docker.Exec, input: string | undefined, timeoutMs: number, container: string): Promise<CommandResult> {
  const deadline = Date.now() + timeoutMs;
  const tooLong = () => new ProsodyCommandError(`prosodyctl in container ${container} did not finish within ${timeoutMs} ms`);
  let stream: (NodeJS.ReadWriteStream & { destroy(): void }) | undefined;
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const done = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        stream?.destroy();
        reject(error);
      } else resolve();
    };
    const timer = setTimeout(() => done(tooLong()), timeoutMs);
    exec.start({ hijack: true, stdin: true }).then(
      (started) => {
        stream = started as NodeJS.ReadWriteStream & { destroy(): void };
        if (settled) return stream.destroy();
        const stdout = new PassThrough();
        const stderr = new PassThrough();
        stdout.on("data", (chunk: Buffer) => out.push(chunk));
        stderr.on("data", (chunk: Buffer) => err.push(chunk));
        docker.modem.demuxStream(stream, stdout, stderr);
        stream.on("end", () => done());
        stream.on("close", () => done());
        stream.on("error", (error: Error) => done(new ProsodyCommandError(`exec in container ${container} failed: ${error.message}`, { cause: error })));
        // Half-closing the hijacked connection closes the command's standard input.
        stream.end(input ?? "");
      },
      (error: unknown) => done(new ProsodyCommandError(`cannot start prosodyctl in container ${container}: ${describeDockerError(error)}`, { cause: error })),
    );
  });
  // The output ends a moment before the engine records the exit code.
  for (;;) {
    const info = await exec.inspect();
    if (!info.Running && info.ExitCode !== null) {
      return { exitCode: info.ExitCode, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
    }
    if (Date.now() > deadline) throw tooLong();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function describeDockerError(error: unknown): string {
  const e = error as { statusCode?: number; json?: { message?: string }; message?: string };
  return e?.json?.message ?? e?.message ?? String(error);
}
