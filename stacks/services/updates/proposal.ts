// The proposal as a reviewed change: the pinned references replaced in the files that name them
// (stacks/services/images.ts, and a Dockerfile FROM that pins the same base), each new reference
// with a comment saying where its digest came from and when. Pure: texts in, texts and a patch out.
import { createTwoFilesPatch } from "diff";

export interface Bump {
  from: string;
  to: string;
  /** Where the digest (or the tag) was read, e.g. the manifest URL the registry answered. */
  source: string;
  /** The day it was read, YYYY-MM-DD. */
  date: string;
}

const MARK = "npm run updates";

/** The comment written above a bumped reference; a former one of the same kind is replaced. */
export function provenance(bump: Bump, commentStart: string): string {
  const digest = /@(sha256:[0-9a-f]{64})$/.exec(bump.to)?.[1];
  const what = digest ? `digest ${digest} as answered by ${bump.source}` : `tag read in ${bump.source}`;
  return `${commentStart} ${MARK}, ${bump.date}: ${bump.to.replace(/@sha256:.*$/, "")}, ${what} (was ${bump.from}).`;
}

/** `text` with every bump applied; lines that name no bumped reference are left as they are. */
export function applyBumps(text: string, bumps: readonly Bump[], commentStart = "//"): string {
  const lines = text.split("\n");
  const out: string[] = [];
  for (const line of lines) {
    const bump = bumps.find((b) => line.includes(b.from));
    if (!bump) {
      out.push(line);
      continue;
    }
    const indent = /^\s*/.exec(line)![0];
    const previous = out.at(-1);
    if (previous !== undefined && previous.trimStart().startsWith(`${commentStart} ${MARK},`)) out.pop();
    out.push(`${indent}${provenance(bump, commentStart)}`, line.replace(bump.from, bump.to));
  }
  return out.join("\n");
}

/** A unified diff of one file, as `git apply` and `patch -p1` read it; empty when nothing changed. */
export function patchOf(path: string, before: string, after: string): string {
  if (before === after) return "";
  return createTwoFilesPatch(`a/${path}`, `b/${path}`, before, after, undefined, undefined, { context: 3 }).replace(/^=+\n/, "");
}
