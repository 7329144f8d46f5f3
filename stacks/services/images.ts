// Every image Bastide runs, pinned. One file so that an update is one reviewed diff
// and the policy pack can check that nothing else slips in.
// A digest is added where one was published next to the tag; the policy pack accepts
// an exact version tag without one but refuses a moving tag such as `latest` or `stable`.
export const IMAGES = {
  // Digest: docker-library/repo-info, repos/caddy/remote/2.11.4-alpine.md (commit 140d580), the index digest
  // `caddy@sha256:ad27e5…`; 2-alpine.md there names the same digest, so 2.11.4 is the current release.
  caddy: "caddy:2.11.4-alpine@sha256:ad27e531c8b286ff153c0e6e16587a1583e4111bb58c4d83bd73d6d3ef0a0ce1",
  jitsiWeb: "ghcr.io/jitsi/web:stable-11146-1@sha256:ff81559621732d3dfc4815f261d41fd826566833016ea772f4d43a77aa88fe9a",
  jitsiProsody: "ghcr.io/jitsi/prosody:stable-11146-1@sha256:0e3d9ada40c03e6eef151348e0872dce7b4b1c16c173ff4a67afeae60aba2404",
  jitsiJicofo: "ghcr.io/jitsi/jicofo:stable-11146-1@sha256:a5da296923010dcc2daf6a02e6a183181906cb969a088ae90b97516bdeb9737f",
  jitsiJvb: "ghcr.io/jitsi/jvb:stable-11146-1@sha256:6a7cec66c6a2fdd8ffd3a90101a0f8e3297aff29494f258caf1bcfbd418a17f3",
  // Digest: docker-library/repo-info, repos/nextcloud/remote/34.0.4-apache.md (commit 00eae81), the index digest
  // `nextcloud@sha256:63c192…`; 34-apache.md there builds NEXTCLOUD_VERSION=34.0.4, the newest 34.x.
  // One major at a time: stacks/services/nextcloud/upgrade.ts refuses 32 → 34 (README, "Upgrading").
  nextcloud: "nextcloud:34.0.4-apache@sha256:63c1924fe431909541a7f4320a693d8502768998b5bd113284be922acf645d75",
  postgres: "postgres:17.11-alpine@sha256:b0f9560a2de083e2cc7382e75f808c7381a32852a7ec49117deedb300e552b24",
  redis: "redis:7.4.11-alpine@sha256:ff02b58f971e7d7d156a1267e283fcbbeee91773b6aa36c49dac28ecfe28eadf",
  synapse: "ghcr.io/element-hq/synapse:v1.159.0@sha256:edf259d2b575b669a3e81024918ab8d5cfb7d2fba5a53c9e09695f1abc5645cb",
  // No digest was published next to this tag where we could see it: pinned by exact version.
  element: "ghcr.io/element-hq/element-web:v1.12.30",
  mariadb: "mariadb:11.8.8@sha256:1fe78d53850250aa2560aa0059e3088b4cd230a5db2230f530c70e4b87bcc30c",
  wireguard: "lscr.io/linuxserver/wireguard:1.0.20250521-r0-ls91@sha256:e93cfa43a087a6853c9f8090d7de25cea4cf6f8dc4dc576c70756188a301c4a6",
} as const;

/** Base of the Framadate image Bastide builds (docker/framadate/Dockerfile pins the same). */
export const FRAMADATE_BASE = "php:8.2.33-apache@sha256:9982b4e2d8b65a96ae5fedf1a8513fdb6ccde65c58c1dad38e43fa497af8ffcc";

/** Images Bastide builds itself from a pinned Dockerfile in this repository. */
export const BUILT_IMAGES = {
  framadate: { name: "bastide/framadate", context: "docker/framadate" },
} as const;

const MOVING_TAGS = /^(latest|stable|main|master|edge|nightly|develop|dev|unstable|\d+|\d+\.\d+|\d+-alpine|\d+\.\d+-alpine)$/;

/** An image is pinned when it names a digest, or an exact version tag. */
export function isPinned(reference: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(reference)) return true;
  const tag = reference.match(/:([^:/@]+)$/)?.[1];
  return tag !== undefined && !MOVING_TAGS.test(tag);
}
