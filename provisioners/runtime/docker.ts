// Commands inside a container, through the Docker engine's exec API: how Bastide runs
// prosodyctl, occ, wg and reads Caddy's local CA. Secrets travel on standard input,
// never on a command line.
import { PassThrough } from "node:stream";
import Docker from "dockerode";
import type { DockerTarget } from "../connections.ts";

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export class ContainerCommandError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ContainerCommandError";
  }
}

export interface ExecOptions {
  /** Written to the command's standard input, which is then closed. */
  input?: string;
  /** The user to run as; the image's own when absent. */
  user?: string;
  workingDir?: string;
  timeoutMs?: number;
}

export const DEFAULT_EXEC_TIMEOUT_MS = 30_000;

export const dockerFor = (target: DockerTarget) => new Docker(target as Docker.DockerOptions);

/**
 * Runs `cmd` in `container` to completion within the time limit. Rejects only when it
 * could not run or finish; a non-zero exit code is a result for the caller to read.
 */
export async function execInContainer(docker: Docker, container: string, cmd: readonly string[], options: ExecOptions = {}): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  let exec: Docker.Exec;
  try {
    exec = await docker.getContainer(container).exec({
      Cmd: [...cmd],
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      ...(options.user ? { User: options.user } : {}),
      ...(options.workingDir ? { WorkingDir: options.workingDir } : {}),
    });
  } catch (error) {
    throw new ContainerCommandError(`cannot exec in container ${container}: ${describeDockerError(error)}`, { cause: error });
  }
  const deadline = Date.now() + timeoutMs;
  const tooLong = () => new ContainerCommandError(`${cmd[0]} in container ${container} did not finish within ${timeoutMs} ms`);
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
        stream.on("error", (error: Error) => done(new ContainerCommandError(`exec in container ${container} failed: ${error.message}`, { cause: error })));
        // Half-closing the hijacked connection closes the command's standard input.
        stream.end(options.input ?? "");
      },
      (error: unknown) => done(new ContainerCommandError(`cannot start ${cmd[0]} in container ${container}: ${describeDockerError(error)}`, { cause: error })),
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

export function describeDockerError(error: unknown): string {
  const e = error as { statusCode?: number; json?: { message?: string }; message?: string };
  return e?.json?.message ?? e?.message ?? String(error);
}
