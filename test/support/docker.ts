// A Docker engine for tests: Debian's dockerd, started by the tests themselves (DESIGN.md's
// recipe), shared by every test file and process that asks for it, stopped by the last one.
//
//   const engine = await startDockerEngine();          // starts dockerd, or reuses the running one
//   try {
//     await ensureImportedImage(engine.docker, "bastide-test/thing:1", (tar) => buildRootfs(tar));
//     await removeContainer(engine.docker, "bastide-x");  // a leftover of a killed run
//     ... engine.docker.createContainer({ ..., HostConfig: { NetworkMode: "host" } }) ...
//   } finally {
//     await engine.release();                            // the last user stops dockerd
//   }
//
// - One engine per machine, under $BASTIDE_TEST_DOCKER_ROOT (default /tmp/bastide-docker):
//   data/ (images: the cache between runs, kept when dockerd stops), exec/, docker.sock,
//   docker.pid, dockerd.log, leases/ (one file per user), lock/ (held while starting or stopping).
// - No registry can be reached: build images with `docker import` of a root file system
//   (ensureImportedImage), tagged by what they were built from so that a stale one is not used.
// - No bridge network (--bridge=none, no iptables): containers use the host network and must
//   bind to 127.0.0.1 only. Storage is vfs: slow to copy large images, but works everywhere.
// - BASTIDE_KEEP_DOCKER=1 leaves dockerd running after the tests (faster edit-test loops); the
//   next run reuses it.
// - Every wait is bounded; a missing dockerd fails the test with the package to install.
import { spawn } from "node:child_process";
import { createReadStream, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, closeSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { requireProgram } from "./programs.ts";

export interface DockerEngine {
  readonly docker: Docker;
  readonly socketPath: string;
  /** Whether this call started dockerd (false: it was already running). */
  readonly started: boolean;
  /** Gives the engine back; the last user stops dockerd (its images stay on disk). Safe to call twice. */
  release(): Promise<void>;
}

export interface EngineOptions {
  /** Folder of the shared test engine. */
  root?: string;
  /** How long dockerd may take to answer. */
  startTimeoutMs?: number;
}

export const defaultEngineRoot = () => process.env.BASTIDE_TEST_DOCKER_ROOT ?? join(tmpdir(), "bastide-docker");

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true, at most `timeoutMs`; fails naming `what`. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, { timeoutMs = 30_000, intervalMs = 100 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

const processName = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return undefined;
  }
};

interface Paths {
  root: string;
  data: string;
  exec: string;
  socket: string;
  pidFile: string;
  log: string;
  leases: string;
  lock: string;
}

function pathsOf(root: string): Paths {
  return {
    root,
    data: join(root, "data"),
    exec: join(root, "exec"),
    socket: join(root, "docker.sock"),
    pidFile: join(root, "docker.pid"),
    log: join(root, "dockerd.log"),
    leases: join(root, "leases"),
    lock: join(root, "lock"),
  };
}

/** A lock between processes: a folder made atomically, taken over when its holder died. */
async function withLock<T>(paths: Paths, fn: () => Promise<T>): Promise<T> {
  const owner = join(paths.lock, "pid");
  await waitUntil(
    `the test engine's lock ${paths.lock}`,
    () => {
      try {
        mkdirSync(paths.lock);
        writeFileSync(owner, String(process.pid));
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        const holder = Number(readFileSafe(owner));
        // A holder that died (or had not written its pid a while after taking the lock) lets go.
        if ((holder && !isAlive(holder)) || (!holder && olderThan(paths.lock, 5_000))) rmSync(paths.lock, { recursive: true, force: true });
        return false;
      }
    },
    { timeoutMs: 90_000, intervalMs: 50 },
  );
  try {
    return await fn();
  } finally {
    rmSync(paths.lock, { recursive: true, force: true });
  }
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return "";
  }
}

function olderThan(path: string, ms: number): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > ms;
  } catch {
    return false;
  }
}

function liveLeases(paths: Paths): string[] {
  mkdirSync(paths.leases, { recursive: true });
  return readdirSync(paths.leases).filter((name) => {
    const pid = Number(name.split("-")[0]);
    if (pid && isAlive(pid)) return true;
    rmSync(join(paths.leases, name), { force: true });
    return false;
  });
}

const runningDockerd = (paths: Paths): number | undefined => {
  const pid = Number(readFileSafe(paths.pidFile));
  return pid && isAlive(pid) && processName(pid) === "dockerd" ? pid : undefined;
};

async function answers(docker: Docker): Promise<boolean> {
  try {
    await docker.ping();
    return true;
  } catch {
    return false;
  }
}

let leaseCounter = 0;

/** Starts the shared test engine, or joins it when it already runs. */
export async function startDockerEngine(options: EngineOptions = {}): Promise<DockerEngine> {
  requireProgram("dockerd", "docker.io");
  const paths = pathsOf(options.root ?? defaultEngineRoot());
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  for (const dir of [paths.root, paths.data, paths.exec, paths.leases]) mkdirSync(dir, { recursive: true });
  const docker = new Docker({ socketPath: paths.socket });
  const lease = join(paths.leases, `${process.pid}-${++leaseCounter}`);

  const started = await withLock(paths, async () => {
    writeFileSync(lease, "");
    if (existsSync(paths.socket) && (await answers(docker))) return false;
    const pid = runningDockerd(paths);
    if (pid) {
      // Started by someone else and still coming up, or hung: wait, bounded.
      await waitUntil(`dockerd (pid ${pid}) to answer on ${paths.socket}`, () => answers(docker), { timeoutMs: startTimeoutMs });
      return false;
    }
    rmSync(paths.socket, { force: true });
    rmSync(paths.pidFile, { force: true });
    const log = openSync(paths.log, "a");
    const child = spawn(
      "dockerd",
      [
        "--data-root", paths.data,
        "--exec-root", paths.exec,
        "--pidfile", paths.pidFile,
        "-H", `unix://${paths.socket}`,
        "--storage-driver", "vfs",
        "--iptables=false",
        "--ip6tables=false",
        "--bridge=none",
      ],
      // Detached: the engine outlives this test process while other test files still use it.
      { detached: true, stdio: ["ignore", log, log] },
    );
    closeSync(log);
    let exited: string | undefined;
    child.on("exit", (code, signal) => (exited = `exited (${signal ?? code})`));
    child.unref();
    try {
      await waitUntil(`dockerd to answer on ${paths.socket}`, () => {
        if (exited) throw new Error(`dockerd ${exited}; see ${paths.log}:\n${tail(paths.log)}`);
        return answers(docker);
      }, { timeoutMs: startTimeoutMs });
    } catch (error) {
      if (!exited && child.pid) await stopProcess(child.pid);
      throw error;
    }
    return true;
  });

  let released = false;
  return {
    docker,
    socketPath: paths.socket,
    started,
    async release() {
      if (released) return;
      released = true;
      await withLock(paths, async () => {
        rmSync(lease, { force: true });
        if (process.env.BASTIDE_KEEP_DOCKER === "1" || liveLeases(paths).length > 0) return;
        const pid = runningDockerd(paths);
        if (pid) await stopProcess(pid);
      });
    },
  };
}

function tail(file: string, lines = 15): string {
  return readFileSafe(file).split("\n").slice(-lines).join("\n");
}

/** SIGTERM, then SIGKILL if it is still there after 20 s. Only for processes these helpers started. */
async function stopProcess(pid: number): Promise<void> {
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  try {
    await waitUntil(`process ${pid} to stop`, () => !isAlive(pid), { timeoutMs: 20_000 });
  } catch {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/**
 * Makes sure `reference` exists in the engine, else builds it: `build(tarFile)` writes a root
 * file system as a tar, which is imported with the Dockerfile instructions in `changes`
 * (e.g. `USER prosody`). Put what the image is built from in the tag: an image is never rebuilt.
 */
export async function ensureImportedImage(
  docker: Docker,
  reference: string,
  build: (tarFile: string) => void | Promise<void>,
  changes: string[] = [],
): Promise<"cached" | "built"> {
  if (await imageExists(docker, reference)) return "cached";
  const [repo, tag = "latest"] = splitReference(reference);
  const dir = mkdtempSync(join(tmpdir(), "bastide-image-"));
  try {
    const tarFile = join(dir, "rootfs.tar");
    await build(tarFile);
    const stream = await docker.importImage(createReadStream(tarFile), { repo, tag, changes } as object);
    const events = await new Promise<{ error?: string }[]>((resolve, reject) =>
      docker.modem.followProgress(stream, (error: Error | null, output: { error?: string }[]) => (error ? reject(error) : resolve(output))),
    );
    const failure = events.find((e) => e.error);
    if (failure) throw new Error(`docker import of ${reference} failed: ${failure.error}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (!(await imageExists(docker, reference))) throw new Error(`docker import did not create ${reference}`);
  return "built";
}

async function imageExists(docker: Docker, reference: string): Promise<boolean> {
  try {
    await docker.getImage(reference).inspect();
    return true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    throw error;
  }
}

function splitReference(reference: string): [string, string | undefined] {
  const colon = reference.lastIndexOf(":");
  return colon > reference.lastIndexOf("/") ? [reference.slice(0, colon), reference.slice(colon + 1)] : [reference, undefined];
}

/** Removes a container by name, running or not; nothing when there is none. */
export async function removeContainer(docker: Docker, name: string): Promise<void> {
  try {
    await docker.getContainer(name).remove({ force: true, v: true });
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
