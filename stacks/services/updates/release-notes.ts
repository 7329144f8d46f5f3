// Whether a release is a security release, as upstream says it: the release notes it publishes
// for that version on GitHub (the releases API, GET /repos/<owner>/<repo>/releases/tags/<tag>).
// Bastide never guesses: notes it cannot read, or an image with no notes it knows of, are said as such.
import { request } from "undici";
import type { Localized } from "../../../cli/command.ts";
import { readTag } from "./versions.ts";

export const GITHUB_API = "https://api.github.com";

/** The upstream version an image tag is built from, as its project tags it on GitHub. */
const version = (tag: string) => readTag(tag)?.numbers.slice(0, 3).join(".") ?? tag;

/** Where each image's project publishes its release notes, by repository path (as `locate` names it). */
const NOTES: Record<string, { repo: string; tag: (imageTag: string) => string }> = {
  "library/caddy": { repo: "caddyserver/caddy", tag: (t) => `v${version(t)}` },
  "library/nextcloud": { repo: "nextcloud/server", tag: (t) => `v${version(t)}` },
  "library/redis": { repo: "redis/redis", tag: version },
  "library/php": { repo: "php/php-src", tag: (t) => `php-${version(t)}` },
  "jitsi/web": { repo: "jitsi/docker-jitsi-meet", tag: (t) => t },
  "jitsi/prosody": { repo: "jitsi/docker-jitsi-meet", tag: (t) => t },
  "jitsi/jicofo": { repo: "jitsi/docker-jitsi-meet", tag: (t) => t },
  "jitsi/jvb": { repo: "jitsi/docker-jitsi-meet", tag: (t) => t },
  "element-hq/synapse": { repo: "element-hq/synapse", tag: (t) => t },
  "element-hq/element-web": { repo: "element-hq/element-web", tag: (t) => t },
  "linuxserver/wireguard": { repo: "linuxserver/docker-wireguard", tag: (t) => t },
  "keycloak/keycloak": { repo: "keycloak/keycloak", tag: (t) => t },
};

export type SecurityStatus =
  | { known: true; security: boolean; evidence?: string; source: string }
  | { known: false; reason: Localized };

/** What release notes say about security: the first line naming a CVE or security, if any. */
export function securityMention(notes: string): string | undefined {
  const line = notes.split(/\r?\n/).find((text) => /CVE-\d{4}-\d{4,}|\bsecurity\b/i.test(text));
  return line?.trim().slice(0, 160);
}

export function releaseNotesUrl(repository: string, imageTag: string, api = GITHUB_API): string | undefined {
  const source = NOTES[repository];
  return source && `${api}/repos/${source.repo}/releases/tags/${encodeURIComponent(source.tag(imageTag))}`;
}

const unreadable = (url: string, why: string): Localized => ({
  en: `the release notes at ${url} could not be read (${why})`,
  fr: `les notes de version ${url} n'ont pas pu être lues (${why})`,
});

export async function securityStatus(repository: string, imageTag: string, api = GITHUB_API): Promise<SecurityStatus> {
  const url = releaseNotesUrl(repository, imageTag, api);
  if (!url)
    return {
      known: false,
      reason: {
        en: "Bastide knows no release notes for this image that it can read: look at the project's own announcements",
        fr: "Bastide ne connaît pas de notes de version lisibles pour cette image : voyez les annonces du projet",
      },
    };
  try {
    const answer = await request(url, {
      headers: { accept: "application/vnd.github+json", "user-agent": "bastide-updates" },
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
    });
    if (answer.statusCode !== 200) {
      await answer.body.dump();
      return { known: false, reason: unreadable(url, `HTTP ${answer.statusCode}`) };
    }
    const release = (await answer.body.json()) as { body?: string | null; html_url?: string };
    const evidence = securityMention(release.body ?? "");
    return { known: true, security: evidence !== undefined, ...(evidence ? { evidence } : {}), source: release.html_url ?? url };
  } catch (error) {
    return { known: false, reason: unreadable(url, (error as Error).message) };
  }
}
