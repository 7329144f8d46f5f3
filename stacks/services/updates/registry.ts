// What a registry publishes for an image, read through its own API (OCI distribution-spec:
// GET /v2/<name>/tags/list, GET /v2/<name>/manifests/<tag>) with @snyk/docker-registry-v2-client,
// which answers the registries' token challenge (401 + WWW-Authenticate: Bearer realm, service,
// scope; anonymous, as Docker Hub, ghcr.io and quay.io allow for public images) and follows the
// tag list's pagination (the `last` marker, distribution-spec "Listing Tags").
import { createHash } from "node:crypto";
import { getTagsPaginated, registryCall } from "@snyk/docker-registry-v2-client";
import { parseImageReference } from "../../../policies/audit/rules.ts";

/** Where an image reference's registry answers the API. */
export interface ImageLocation {
  /** The host the reference names (docker.io for Docker Hub). */
  registry: string;
  /** The host:port the API is asked on. */
  apiHost: string;
  repository: string;
  tag: string | null;
  digest: string | null;
  protocol: "https:" | "http:";
}

// Docker Hub's API is not on docker.io itself: moby/moby registry/config.go, DefaultRegistryHost
// ("references using the docker.io domain name … does not match the domain-name of Docker Hub's registry").
const API_HOSTS: Record<string, string> = { "docker.io": "registry-1.docker.io" };
// A registry may hand its tokens out from another host: Docker Hub from auth.docker.io, lscr.io
// from ghcr.io (as getarcaneapp/arcane's registry client records, trustedAuthDelegations). The
// client refuses a token realm on an unrelated host unless it is listed here. Not checked here:
// no outside registry can be reached from this machine.
const TOKEN_HOSTS = ["auth.docker.io", "ghcr.io"];

/** Where to ask about `reference`. A registry on this machine (127.0.0.1, localhost) speaks plain HTTP, as Docker assumes. */
export function locate(reference: string): ImageLocation {
  const parsed = parseImageReference(reference);
  const slash = parsed.repository.indexOf("/");
  const registry = parsed.repository.slice(0, slash);
  const local = /^(127\.0\.0\.1|localhost)(:\d+)?$/.test(registry);
  return {
    registry,
    apiHost: API_HOSTS[registry] ?? registry,
    repository: parsed.repository.slice(slash + 1),
    tag: parsed.tag,
    digest: parsed.digest,
    protocol: local ? "http:" : "https:",
  };
}

// An index first (what `docker pull` resolves a multi-platform tag to), a single manifest otherwise.
const MANIFEST_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

function clientOptions(location: ImageLocation) {
  const host = location.apiHost.replace(/:\d+$/, "");
  return { protocol: location.protocol, allowedHosts: [host, ...TOKEN_HOSTS], timeout: 30_000 };
}

/** Every tag, asked `pageSize` at a time (the registry may answer fewer and point to the next page). */
export async function listTags(location: ImageLocation, pageSize = 1000): Promise<string[]> {
  return getTagsPaginated(location.apiHost, location.repository, undefined, undefined, pageSize, clientOptions(location));
}

/** The digest the registry answers for a tag (Docker-Content-Digest), checked against the bytes it sent. */
export async function digestOf(location: ImageLocation, tag: string): Promise<{ digest: string; url: string }> {
  const path = `${location.apiHost}/v2/${location.repository}/manifests/${tag}`;
  const answer = await registryCall(path, undefined, undefined, {
    ...clientOptions(location),
    headers: { Accept: MANIFEST_TYPES },
    // The raw bytes, whose sha256 the digest is; a parsed and re-serialized body would not match.
    parse_response: false,
  });
  const digest = String(answer.headers["docker-content-digest"] ?? "");
  const body = answer.body as Buffer | string;
  const computed = `sha256:${createHash("sha256").update(body).digest("hex")}`;
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`${location.registry} answered no Docker-Content-Digest for ${location.repository}:${tag}`);
  if (digest !== computed) throw new Error(`${location.registry} answered the digest ${digest} for ${location.repository}:${tag}, but the manifest it sent hashes to ${computed}`);
  return { digest, url: `${location.protocol}//${path}` };
}
