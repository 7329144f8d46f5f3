// Every image Bastide runs, pinned. One file so that an update is one reviewed diff
// and the policy pack can check that nothing else slips in.
// A digest is pinned only where a public record of it for that tag was found, and the
// record is cited beside it (and in the image's contract, stacks/services/upstream/).
// Where none exists the image is pinned by its exact version tag, which the policy pack
// accepts; it refuses a moving tag such as `latest` or `stable`.
export const IMAGES = {
  // Digest: docker-library/repo-info, repos/caddy/remote/2.11.4-alpine.md (commit 140d580), the index digest
  // `caddy@sha256:ad27e5…`; 2-alpine.md there names the same digest, so 2.11.4 is the current release.
  caddy: "caddy:2.11.4-alpine@sha256:ad27e531c8b286ff153c0e6e16587a1583e4111bb58c4d83bd73d6d3ef0a0ce1",
  // Jitsi: docker-jitsi-meet's newest stable release, stable-11146-2 (tag 738058b4, 2026-08-17). Jitsi publishes
  // no digest list; these four are the digests ghcr.io answered for that tag, as recorded by a third party in
  // github.com/Dimmdao2/BersonCareBot deploy/jitsi/VERSIONS.md lines 8-11 (commit f5f4c7ed).
  // Contracts: upstream/jitsi-*.ts.
  jitsiWeb: "ghcr.io/jitsi/web:stable-11146-2@sha256:4231d5ff7318ff71d12ffd41afc36adae3c319b40cf79cde39b009b0c68295dc",
  jitsiProsody: "ghcr.io/jitsi/prosody:stable-11146-2@sha256:9e341b10134d947e49ca338b9efe8d70ac9d6e8d89d621da2246dfa79fe50363",
  jitsiJicofo: "ghcr.io/jitsi/jicofo:stable-11146-2@sha256:a8d64e46eaa340751a2b5530a4abd4175adf05bff07e9775fc48daae6364cfe9",
  jitsiJvb: "ghcr.io/jitsi/jvb:stable-11146-2@sha256:d7dc646d21af07530ae6acf1ace23ea4782445d0362004621a32a5a632a964e9",
  // Digest: docker-library/repo-info, repos/nextcloud/remote/34.0.4-apache.md (commit 00eae81), the index digest
  // `nextcloud@sha256:63c192…`; 34-apache.md there builds NEXTCLOUD_VERSION=34.0.4, the newest 34.x.
  // One major at a time: stacks/services/nextcloud/upgrade.ts refuses 32 → 34 (README, "Upgrading").
  nextcloud: "nextcloud:34.0.4-apache@sha256:63c1924fe431909541a7f4320a693d8502768998b5bd113284be922acf645d75",
  // docker-library/repo-info@14ad5cc1 repos/postgres/remote/17.11-alpine.md. Major 17 kept: a new major is a data migration.
  postgres: "postgres:17.11-alpine@sha256:b0f9560a2de083e2cc7382e75f808c7381a32852a7ec49117deedb300e552b24",
  // docker-library/repo-info@1742085a repos/redis/remote/7.4.11-alpine.md (newest 7.4 release recorded there).
  redis: "redis:7.4.11-alpine@sha256:ff02b58f971e7d7d156a1267e283fcbbeee91773b6aa36c49dac28ecfe28eadf",
  // ghcr.io images: neither element-hq's releases nor its ess-helm chart record a digest, so none
  // is pinned: a digest no public record confirms cannot be checked by anyone. See upstream/synapse.ts, element.ts.
  synapse: "ghcr.io/element-hq/synapse:v1.163.2",
  element: "ghcr.io/element-hq/element-web:v1.12.30",
  // docker-library/repo-info@28b7129f repos/mariadb/remote/11.8.9.md (newest 11.8 LTS release recorded there).
  mariadb: "mariadb:11.8.9@sha256:2d2f4095530294735a857cfe22bb101e19b0849b416911c796ec4aa81b164a62",
  // The former digest appears in no public record, and LinuxServer publishes none: pinned by the
  // exact build tag (the newest whose sources could be read). See upstream/wireguard.ts.
  wireguard: "lscr.io/linuxserver/wireguard:1.0.20250521-r1-ls110",
  // Keycloak publishes its images on quay.io with no digest list; pinned by the exact release tag.
  // The same release's server distribution, org.keycloak:keycloak-quarkus-dist:26.7.3 on Maven
  // Central, is what the tests run (scripts/setup-servers.sh). See upstream/keycloak.ts.
  keycloak: "quay.io/keycloak/keycloak:26.7.3",
} as const;

/**
 * Base of the Framadate image Bastide builds (docker/framadate/Dockerfile pins the same):
 * docker-library/repo-info@720356a4 repos/php/remote/8.2.34-apache.md. The former
 * 8.2.33 digest appears in no public record.
 */
export const FRAMADATE_BASE = "php:8.2.34-apache@sha256:72210a02e2e7bb1ad4db65ba0cf4bd70024768396c3d35634c42495b3513e3eb";

/** Images Bastide builds itself from a pinned Dockerfile in this repository. */
export const BUILT_IMAGES = {
  framadate: { name: "bastide/framadate", context: "docker/framadate" },
  // The backup job (stacks/backups/job.ts), FROM BACKUPS_BASE.
  backups: { name: "bastide/backups", context: "docker/backups" },
} as const;

const MOVING_TAGS = /^(latest|stable|main|master|edge|nightly|develop|dev|unstable|\d+|\d+\.\d+|\d+-alpine|\d+\.\d+-alpine)$/;

/** An image is pinned when it names a digest, or an exact version tag. */
export function isPinned(reference: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(reference)) return true;
  const tag = reference.match(/:([^:/@]+)$/)?.[1];
  return tag !== undefined && !MOVING_TAGS.test(tag);
}
