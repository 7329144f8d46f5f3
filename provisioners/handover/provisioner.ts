// The handover folder as a provisioned "service" whose API is the file system of the
// admin's machine: read what is there, plan (pure) what differs from the content the
// config gives, and apply only that. Files are compared byte for byte, so a run with
// nothing new writes nothing. Folders of members no longer in the config go, and with
// them their device profiles: a revoked key does not linger on the admin's disk.
//
// Safety: paths are built from member ids and device names (already restricted by the
// schema, checked again here); nothing is followed through a symbolic link, and a file
// is written whole under a temporary name, its mode set, then renamed into place.
import { randomBytes } from "node:crypto";
import { closeSync, fchmodSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, chmodSync, unlinkSync, writeSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import type { Change, ServiceProvisioner } from "../model.ts";
import { ProvisionError } from "../model.ts";
import type { CallCounter } from "../runtime/http.ts";
import { FOLDER_MODE, HANDOVER, type DesiredFile, type HandoverDesired } from "./content.ts";

export interface HandoverClient {
  /** Absolute path of the handover directory, e.g. ~/.bastide/handover/<stack>. */
  root: string;
  counter?: CallCounter;
}

export type EntryType = "file" | "folder" | "other";

export interface LiveEntry {
  type: EntryType;
  /** Permission bits only (0o777). */
  mode: number;
  /** Read only for files the plan compares. */
  content?: Buffer;
}

export interface HandoverLive {
  /** The handover directory itself; undefined when it does not exist yet. */
  root: { type: EntryType; mode: number } | undefined;
  /** Everything under it, by `/`-separated path; folders are not entered through links. */
  entries: Record<string, LiveEntry>;
}

export type HandoverChange =
  | Change<"member.remove" | "file.remove", { path: string }>
  | Change<"folder.secure", { path: string }>
  | Change<"file.write", { path: string } & DesiredFile>;

export const HANDOVER_PHASES = { remove: 0, write: 1 } as const;

/** A member id or a device name, as the schema allows them: never `.`, `..`, or a path. */
const SAFE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** A file Bastide writes: welcome.html, jardins-canal.conf… */
const SAFE_FILE = /^[a-z0-9][a-z0-9._-]{0,79}$/;
const MAX_DEPTH = 3;

const permissions = (mode: number) => mode & 0o777;

/** A path Bastide writes: a member's folder, a device's, or one of their files. */
function checkPath(path: string): string {
  const parts = path.split("/");
  const ok = parts.length <= MAX_DEPTH && parts.every((p, i) => (i === parts.length - 1 ? SAFE_FILE : SAFE_NAME).test(p) && p !== "." && p !== "..");
  if (!ok) throw new ProvisionError(HANDOVER, parts[0], `refusing the path "${path}": not a handover path`);
  return path;
}

/** A path found in a member's folder (any name readdir gives), which may be removed. */
function checkRemovable(path: string): string {
  const parts = path.split("/");
  const ok = parts.length <= MAX_DEPTH && SAFE_NAME.test(parts[0]!) && parts.every((p) => p !== "" && p !== "." && p !== ".." && !p.includes("\0"));
  if (!ok) throw new ProvisionError(HANDOVER, parts[0], `refusing to remove "${path}": not inside a member's handover folder`);
  return path;
}

// --- plan (pure) ---------------------------------------------------------------------------

/** Every folder a member's files need, the member's own first. */
function foldersOf(member: string, files: Record<string, DesiredFile>): Set<string> {
  const folders = new Set([member]);
  for (const path of Object.keys(files)) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) folders.add(`${member}/${parts.slice(0, i).join("/")}`);
  }
  return folders;
}

export function planHandover(desired: HandoverDesired, live: HandoverLive): HandoverChange[] {
  const changes: HandoverChange[] = [];
  const change = <K extends HandoverChange["kind"]>(kind: K, path: string, subject: string, phase: number, extra: object = {}) =>
    changes.push({ service: HANDOVER, kind, subject, member: path === "." ? undefined : path.split("/")[0], phase, payload: { path, ...extra } } as HandoverChange);

  if (live.root && live.root.type !== "folder") {
    throw new ProvisionError(HANDOVER, undefined, "the handover directory exists but is not a folder; move it away and run again");
  }
  if (live.root && permissions(live.root.mode) !== FOLDER_MODE) change("folder.secure", ".", "make the handover folder private (0700)", HANDOVER_PHASES.write);

  const wantedFolders = new Set<string>();
  const wantedFiles = new Map<string, DesiredFile>();
  for (const [member, files] of Object.entries(desired.members)) {
    checkPath(member);
    for (const folder of foldersOf(member, files)) wantedFolders.add(checkPath(folder));
    for (const [path, file] of Object.entries(files)) wantedFiles.set(checkPath(`${member}/${path}`), file);
  }

  // Removals: the top-most entry that should not be there (its content goes with it).
  const removed: string[] = [];
  const underRemoved = (path: string) => removed.some((r) => path.startsWith(`${r}/`));
  for (const path of Object.keys(live.entries).sort()) {
    if (underRemoved(path)) continue;
    const entry = live.entries[path]!;
    const [top] = path.split("/");
    if (!SAFE_NAME.test(top!)) continue; // not a member's folder: the admin's own, left alone
    if (!path.includes("/") && !desired.members[path]) {
      if (entry.type === "file") continue; // a file at the top is not Bastide's
      removed.push(path);
      change("member.remove", path, `handover folder of ${path}, no longer in the config`, HANDOVER_PHASES.remove);
      continue;
    }
    const wantFolder = wantedFolders.has(path);
    const wantFile = wantedFiles.has(path);
    const rightType = (wantFolder && entry.type === "folder") || (wantFile && entry.type === "file");
    if (!rightType) {
      removed.push(path);
      change("file.remove", path, `remove ${path}${wantFolder || wantFile ? " (not a plain file or folder)" : ""}`, HANDOVER_PHASES.remove);
    } else if (wantFolder && permissions(entry.mode) !== FOLDER_MODE) {
      change("folder.secure", path, `make ${path} private (0700)`, HANDOVER_PHASES.write);
    }
  }

  for (const [path, file] of wantedFiles) {
    const entry = removed.some((r) => path === r || path.startsWith(`${r}/`)) ? undefined : live.entries[path];
    const same = entry?.type === "file" && permissions(entry.mode) === file.mode && entry.content !== undefined && Buffer.compare(entry.content, file.content) === 0;
    if (!same) change("file.write", path, `write ${path}`, HANDOVER_PHASES.write, { content: file.content, mode: file.mode });
  }
  return changes;
}

// --- read -----------------------------------------------------------------------------------

const typeOf = (stats: { isFile(): boolean; isDirectory(): boolean }): EntryType => (stats.isFile() ? "file" : stats.isDirectory() ? "folder" : "other");

function lstatOrUndefined(path: string) {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

export function readHandover(client: HandoverClient, desired: HandoverDesired): HandoverLive {
  const rootStats = lstatOrUndefined(client.root);
  client.counter?.record("handover", "GET", ".", rootStats ? 200 : 404);
  if (!rootStats) return { root: undefined, entries: {} };
  const root = { type: typeOf(rootStats), mode: permissions(rootStats.mode) };
  if (root.type !== "folder") return { root, entries: {} };

  const compared = new Set(Object.entries(desired.members).flatMap(([member, files]) => Object.keys(files).map((p) => `${member}/${p}`)));
  const entries: Record<string, LiveEntry> = {};
  const walk = (relative: string, depth: number) => {
    for (const name of readdirSync(join(client.root, relative)).sort()) {
      const path = relative ? `${relative}/${name}` : name;
      const stats = lstatSync(join(client.root, path));
      const entry: LiveEntry = { type: typeOf(stats), mode: permissions(stats.mode) };
      if (entry.type === "file" && compared.has(path)) entry.content = readFileSync(join(client.root, path));
      entries[path] = entry;
      // Only members' folders are entered, never through a link, never deeper than Bastide writes.
      if (entry.type === "folder" && depth < MAX_DEPTH - 1 && SAFE_NAME.test(path.split("/")[0]!)) walk(path, depth + 1);
    }
  };
  walk("", 0);
  return { root, entries };
}

// --- apply ----------------------------------------------------------------------------------

/** Creates the folders down to `relative` (0700), refusing any that is not a real folder. */
function ensureFolders(root: string, relative: string): void {
  const firstCreated = mkdirSync(root, { recursive: true, mode: FOLDER_MODE });
  // The umask may have taken bits away from the folders just created (never adds any).
  if (firstCreated) for (let path = root; path.length >= firstCreated.length; path = dirname(path)) chmodSync(path, FOLDER_MODE);
  let path = root;
  for (const part of relative ? relative.split("/") : []) {
    path = join(path, part);
    const stats = lstatOrUndefined(path);
    if (!stats) {
      try {
        mkdirSync(path, { mode: FOLDER_MODE });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        if (!lstatSync(path).isDirectory()) throw new Error(`${path} is not a folder`);
      }
      chmodSync(path, FOLDER_MODE);
    } else if (!stats.isDirectory()) {
      throw new Error(`${path} is not a folder`);
    }
  }
}

/** Written whole under a temporary name with its final mode, then renamed over the old one. */
export function writeAtomically(path: string, content: Buffer, mode: number): void {
  const temporary = join(dirname(path), `.${randomBytes(6).toString("hex")}.tmp`);
  // "wx": never opens an existing file or follows a link planted under that name.
  const fd = openSync(temporary, "wx", mode);
  try {
    try {
      fchmodSync(fd, mode);
      for (let written = 0; written < content.length; ) written += writeSync(fd, content, written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // already renamed or never created
    }
    throw error;
  }
}

export function applyHandover(change: HandoverChange, client: HandoverClient): void {
  if (!isAbsolute(client.root)) throw new ProvisionError(HANDOVER, undefined, `the handover directory must be an absolute path, not "${client.root}"`);
  const { path: target } = change.payload;
  const removal = change.kind === "member.remove" || change.kind === "file.remove";
  const relative = target === "." && change.kind === "folder.secure" ? "" : removal ? checkRemovable(target) : checkPath(target);
  const path = relative ? join(client.root, relative) : client.root;
  try {
    switch (change.kind) {
      case "member.remove":
      case "file.remove":
        // rm does not follow links: a link is removed, not what it points to.
        rmSync(path, { recursive: true, force: true });
        client.counter?.record("handover", "DELETE", relative, 200);
        return;
      case "folder.secure": {
        const stats = lstatSync(path);
        if (!stats.isDirectory()) throw new Error(`${path} is not a folder`);
        chmodSync(path, FOLDER_MODE);
        client.counter?.record("handover", "CHMOD", relative || ".", 200);
        return;
      }
      case "file.write": {
        const parent = relative.split("/").slice(0, -1).join("/");
        ensureFolders(client.root, parent);
        writeAtomically(path, change.payload.content, change.payload.mode);
        client.counter?.record("handover", "PUT", relative, 200);
        return;
      }
    }
  } catch (error) {
    if (error instanceof ProvisionError) throw error;
    throw new ProvisionError(HANDOVER, change.member, `${change.subject}: ${(error as Error).message}`, { cause: error });
  }
}

export const handoverProvisioner: ServiceProvisioner<HandoverDesired, HandoverLive, HandoverChange, HandoverClient> = {
  service: HANDOVER,
  read: async (client, desired) => readHandover(client, desired),
  plan: planHandover,
  apply: async (change, client) => applyHandover(change, client),
};
