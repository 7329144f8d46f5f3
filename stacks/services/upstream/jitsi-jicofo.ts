// ghcr.io/jitsi/jicofo: the conference focus, read from jitsi/docker-jitsi-meet at the pinned tag.
import type { ImageContract } from "../image-contract.ts";
import {
  composeRunTmpfs,
  dockerJitsiMeet,
  runTmpfs,
  s6ImageFacts,
} from "../jitsi/upstream-base.ts";

export const contract: ImageContract = {
  image: "jitsiJicofo",
  ...s6ImageFacts,
  digest: {
    value: "sha256:a8d64e46eaa340751a2b5530a4abd4175adf05bff07e9775fc48daae6364cfe9",
    source: { repo: "Dimmdao2/BersonCareBot", ref: "f5f4c7ed1b2e6ec19a2c5bd0f3613ddb47262674", file: "deploy/jitsi/VERSIONS.md", line: 10 },
    note: "A third party's record of ghcr.io's answer to GET /v2/jitsi/jicofo/manifests/stable-11146-2 (2026-09-08); jitsi publishes no digest list of its own.",
  },
  writablePaths: {
    value: [runTmpfs],
    source: composeRunTmpfs("363-364"),
    note: "Everything it writes goes under /run/jicofo (jicofo/rootfs/etc/s6-overlay/scripts/config lines 13-16).",
  },
  dataPaths: {
    value: [],
    source: dockerJitsiMeet("jicofo/rootfs/etc/s6-overlay/scripts/config", "13-16"),
    note: "No state survives a restart: the config is regenerated into /run/jicofo/config at every start.",
  },
  configPaths: {
    value: [],
    source: dockerJitsiMeet("jicofo/rootfs/etc/s6-overlay/scripts/config", 14),
    note: "/config is copied into /run/jicofo/config; Bastide uploads nothing there.",
  },
  env: {
    value: [
      "TZ",
      "XMPP_DOMAIN",
      "XMPP_AUTH_DOMAIN",
      "XMPP_MUC_DOMAIN",
      "XMPP_INTERNAL_MUC_DOMAIN",
      "ENABLE_AUTH",
      "AUTH_TYPE",
      "ENABLE_RECORDING",
      "XMPP_SERVER",
      "JICOFO_MAX_MEMORY",
      "JICOFO_AUTH_PASSWORD",
    ],
    source: dockerJitsiMeet("jicofo/rootfs/defaults/jicofo.conf"),
    note:
      "jicofo.conf: ENABLE_AUTH line 1, AUTH_TYPE 4 (jwt: authentication type JWT, lines 49-60), ENABLE_RECORDING 7, XMPP_AUTH_DOMAIN 35, XMPP_MUC_DOMAIN 36, " +
      "XMPP_INTERNAL_MUC_DOMAIN 37, XMPP_DOMAIN 38, XMPP_SERVER 41, JICOFO_AUTH_PASSWORD 315. JICOFO_MAX_MEMORY is read by " +
      "the jicofo package's jicofo.sh (jicofo/rootfs/etc/s6-overlay/scripts/jicofo line 4) and passed by upstream's compose " +
      "file (docker-compose.yml line 412), as is TZ (line 438).",
  },
  ports: {
    value: [{ port: 8888, protocol: "tcp", purpose: "REST API: /about/health" }],
    source: dockerJitsiMeet("docker-compose.yml", 367),
  },
  health: {
    value: "curl --fail-with-body http://127.0.0.1:8888/about/health",
    source: dockerJitsiMeet("jicofo/rootfs/usr/local/bin/healthcheck.sh", 3),
  },
};
