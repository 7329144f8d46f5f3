// For each pinned image: the newer releases its registry publishes, the digest the registry
// answers for them, and whether upstream calls them security releases. One image's failure
// (registry unreachable, 429, unknown repository) is that image's report, never the others'.
import type { Localized } from "../../../cli/command.ts";
import { mapLimit } from "../../../provisioners/runtime/concurrency.ts";
import { digestOf, listTags, locate } from "./registry.ts";
import { GITHUB_API, securityStatus, type SecurityStatus } from "./release-notes.ts";
import { DEFAULT_RULE, newerReleases, SERIES_RULES, type SeriesRule } from "./versions.ts";

export interface PinnedImage {
  /** Its name in images.ts: an IMAGES key, or an exported constant such as FRAMADATE_BASE. */
  name: string;
  reference: string;
}

export interface Release {
  reference: string;
  tag: string;
  /** Where the digest was read (the manifest URL), for the comment beside the pin. */
  source: string;
  security: SecurityStatus;
}

export type ImageReport =
  | { image: PinnedImage; ok: true; bump?: Release; laterSeries?: Release & { rule: SeriesRule } }
  | { image: PinnedImage; ok: false; error: Localized };

export interface CheckOptions {
  /** Where GitHub's API answers (the tests point it at a closed port). */
  releaseNotesApi?: string;
  /** How many tags each page of a tag list asks for. */
  tagsPageSize?: number;
  /** How many images are asked about at once. */
  concurrency?: number;
}

async function release(image: PinnedImage, tag: string, releaseNotesApi: string): Promise<Release> {
  const location = locate(image.reference);
  const keepsDigest = location.digest !== null;
  const [{ digest, url }, security] = await Promise.all([digestOf(location, tag), securityStatus(location.repository, tag, releaseNotesApi)]);
  const name = image.reference.replace(/@sha256:[0-9a-f]{64}$/, "").replace(/:[^:/]+$/, "");
  // The pinning scheme is kept: a reference pinned by digest gets the new digest, one pinned by tag stays so.
  return { reference: keepsDigest ? `${name}:${tag}@${digest}` : `${name}:${tag}`, tag, source: keepsDigest ? url : `${url} (digest ${digest})`, security };
}

export async function checkImage(image: PinnedImage, options: CheckOptions = {}): Promise<ImageReport> {
  const api = options.releaseNotesApi ?? GITHUB_API;
  try {
    const location = locate(image.reference);
    if (location.tag === null)
      return {
        image,
        ok: false,
        error: { en: "the reference names no tag, so no newer release can be told apart", fr: "la référence ne nomme aucune étiquette : aucune version plus récente ne peut être reconnue" },
      };
    const rule = SERIES_RULES[location.repository] ?? DEFAULT_RULE;
    const found = newerReleases(location.tag, await listTags(location, options.tagsPageSize), rule);
    const bump = found.bump ? await release(image, found.bump, api) : undefined;
    const later = found.laterSeries ? { ...(await release(image, found.laterSeries.tag, api)), rule } : undefined;
    return { image, ok: true, ...(bump ? { bump } : {}), ...(later ? { laterSeries: later } : {}) };
  } catch (error) {
    return { image, ok: false, error: describe(error) };
  }
}

/** A registry error as the admin can act on it: the HTTP status when there is one (429: rate limited). */
function describe(error: unknown): Localized {
  const status = (error as { statusCode?: number }).statusCode;
  const message = (error as Error).message || String(error);
  if (status === 429)
    return {
      en: `the registry refused with 429 Too Many Requests (rate limited): try again later (${message})`,
      fr: `le registre a refusé par 429 Too Many Requests (trop de requêtes) : réessayez plus tard (${message})`,
    };
  if (status) return { en: `the registry answered HTTP ${status}: ${message}`, fr: `le registre a répondu HTTP ${status} : ${message}` };
  const code = (error as { code?: string }).code;
  if (code) return { en: `the registry could not be reached (${code}): ${message}`, fr: `le registre n'a pas pu être joint (${code}) : ${message}` };
  return { en: message, fr: message };
}

/** Every image checked, a few at a time, in the order given. */
export async function checkImages(images: readonly PinnedImage[], options: CheckOptions = {}): Promise<ImageReport[]> {
  return mapLimit(images, options.concurrency ?? 4, (image) => checkImage(image, options));
}
