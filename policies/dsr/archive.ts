// The folder a request writes into, and the archive of an export. It is personal data:
// folders are 0700 and files 0600, created exclusively (an earlier request is never
// overwritten), and nothing is written outside the folder whatever a server names things.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, createReadStream, fchmodSync, mkdirSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import type { DsrFile } from "./model.ts";

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

export class TooLarge extends Error {
  readonly limitBytes: number;
  constructor(what: string, limitBytes: number) {
    super(`${what} is larger than ${formatBytes(limitBytes)}`);
    this.name = "TooLarge";
    this.limitBytes = limitBytes;
  }
}

export const formatBytes = (bytes: number) =>
  bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : bytes >= 1024 ** 2 ? `${(bytes / 1024 ** 2).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;

function makeDirs(path: string): void {
  mkdirSync(path, { recursive: true, mode: DIR_MODE });
}

export class RequestFolder {
  readonly root: string;

  private constructor(root: string) {
    this.root = root;
  }

  /** Creates `parent/name` (0700), or `name-2`, `name-3`... when taken: an earlier request is never touched. */
  static create(parent: string, name: string): RequestFolder {
    makeDirs(resolve(parent));
    for (let n = 1; n <= 100; n++) {
      const root = resolve(parent, n === 1 ? name : `${name}-${n}`);
      try {
        mkdirSync(root, { mode: DIR_MODE });
        return new RequestFolder(root);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
    }
    throw new Error(`${resolve(parent, name)} and 99 others exist already`);
  }

  private pathOf(relativePath: string): string {
    const full = resolve(this.root, relativePath);
    if (!full.startsWith(this.root + sep)) throw new Error(`refusing to write outside ${this.root}: ${relativePath}`);
    makeDirs(dirname(full));
    return full;
  }

  private describe(full: string, hash: ReturnType<typeof createHash>, bytes: number): DsrFile {
    return { path: relative(this.root, full).split(sep).join("/"), bytes, sha256: hash.digest("hex") };
  }

  write(relativePath: string, data: string | Buffer): DsrFile {
    const full = this.pathOf(relativePath);
    const buffer = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    const fd = openSync(full, "wx", FILE_MODE);
    try {
      fchmodSync(fd, FILE_MODE);
      writeSync(fd, buffer);
    } finally {
      closeSync(fd);
    }
    return this.describe(full, createHash("sha256").update(buffer), buffer.length);
  }

  writeJson(relativePath: string, value: unknown): DsrFile {
    return this.write(relativePath, `${JSON.stringify(value, null, 2)}\n`);
  }

  /** Copies a stream, at most `maxBytes`: past that the partial file is removed and TooLarge thrown. */
  async writeStream(relativePath: string, source: Readable | NodeJS.ReadableStream | AsyncIterable<Uint8Array>, maxBytes: number): Promise<DsrFile> {
    const full = this.pathOf(relativePath);
    const fd = openSync(full, "wx", FILE_MODE);
    const hash = createHash("sha256");
    let bytes = 0;
    let completed = false;
    try {
      fchmodSync(fd, FILE_MODE);
      for await (const chunk of source as AsyncIterable<Buffer | string>) {
        const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
        bytes += buffer.length;
        if (bytes > maxBytes) {
          (source as { destroy?: () => void }).destroy?.();
          throw new TooLarge(relativePath, maxBytes);
        }
        hash.update(buffer);
        writeSync(fd, buffer);
      }
      completed = true;
    } finally {
      closeSync(fd);
      if (!completed) rmSync(full, { force: true });
    }
    return this.describe(full, hash, bytes);
  }
}

/**
 * `folder` as `<folder>.tar.gz` next to it, 0600 from the start, with the system's tar
 * (run without a shell). The archive keeps the files' 0600 modes.
 */
export async function tarGz(folder: string, timeoutMs = 10 * 60_000): Promise<{ file: string; info: DsrFile }> {
  const file = `${folder}.tar.gz`;
  const fd = openSync(file, "wx", FILE_MODE);
  let ok = false;
  try {
    fchmodSync(fd, FILE_MODE);
    await new Promise<void>((done, fail) => {
      const child = spawn("tar", ["-czf", "-", "-C", dirname(folder), basename(folder)], { stdio: ["ignore", fd, "pipe"] });
      const errors: Buffer[] = [];
      child.stderr!.on("data", (chunk: Buffer) => errors.push(chunk));
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("error", (error) => {
        clearTimeout(timer);
        fail(new Error(`cannot run tar: ${error.message}`));
      });
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        if (code === 0) done();
        else fail(new Error(`tar failed (${signal ?? code}): ${Buffer.concat(errors).toString("utf8").trim()}`));
      });
    });
    ok = true;
  } finally {
    closeSync(fd);
    if (!ok) rmSync(file, { force: true });
  }
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return { file, info: { path: basename(file), bytes: statSync(file).size, sha256: hash.digest("hex") } };
}
