// ghcr.io/jitsi/jvb: the video bridge, read from jitsi/docker-jitsi-meet at the pinned tag.
import type { ImageContract } from "../image-contract.ts";
import {
  composeRunTmpfs,
  dockerJitsiMeet,
  runTmpfs,
  s6ImageFacts,
} from "../jitsi/upstream-base.ts";

export const contract: ImageContract = {
  image: "jitsiJvb",
  ...s6ImageFacts,
  digest: {
    value: "sha256:d7dc646d21af07530ae6acf1ace23ea4782445d0362004621a32a5a632a964e9",
    source: { repo: "Dimmdao2/BersonCareBot", ref: "f5f4c7ed1b2e6ec19a2c5bd0f3613ddb47262674", file: "deploy/jitsi/VERSIONS.md", line: 11 },
    note: "A third party's record of ghcr.io's answer to GET /v2/jitsi/jvb/manifests/stable-11146-2 (2026-09-08); jitsi publishes no digest list of its own.",
  },
  writablePaths: {
    value: [runTmpfs],
    source: composeRunTmpfs("464-465"),
    note: "The JVM's temporary files too go under /run (-Djava.io.tmpdir=/run/jvb/tmp, jvb/rootfs/etc/s6-overlay/scripts/jvb line 3).",
  },
  dataPaths: {
    value: [],
    source: dockerJitsiMeet("jvb/rootfs/etc/s6-overlay/scripts/config", 5),
    note: "No state survives a restart: /config is copied into /run/jvb/config and the config regenerated at every start.",
  },
  configPaths: {
    value: [],
    source: dockerJitsiMeet("jvb/rootfs/etc/s6-overlay/scripts/config", 5),
    note: "Bastide uploads nothing to the bridge.",
  },
  env: {
    value: [
      "TZ",
      "XMPP_AUTH_DOMAIN",
      "XMPP_INTERNAL_MUC_DOMAIN",
      "XMPP_SERVER",
      "JVB_PORT",
      "JVB_ADVERTISE_IPS",
      "JVB_DISABLE_STUN",
      "VIDEOBRIDGE_MAX_MEMORY",
      "JVB_AUTH_PASSWORD",
    ],
    source: dockerJitsiMeet("jvb/rootfs/defaults/jvb.conf"),
    note:
      "jvb.conf: JVB_DISABLE_STUN line 6, JVB_ADVERTISE_IPS 13, XMPP_AUTH_DOMAIN 23, XMPP_INTERNAL_MUC_DOMAIN 24, XMPP_SERVER 26, " +
      "JVB_PORT 38, JVB_AUTH_PASSWORD 54. VIDEOBRIDGE_MAX_MEMORY is read by the jitsi-videobridge2 package's jvb.sh " +
      "(jvb/rootfs/etc/s6-overlay/scripts/jvb line 5) and passed by upstream's compose file (docker-compose.yml line 516), as is TZ " +
      "(line 515). The image reads neither XMPP_DOMAIN, XMPP_MUC_DOMAIN, XMPP_GUEST_DOMAIN nor PUBLIC_URL.",
  },
  ports: {
    value: [
      { port: 10000, protocol: "udp", purpose: "RTP media from browsers" },
      { port: 8080, protocol: "tcp", purpose: "colibri REST API: /about/health" },
    ],
    source: dockerJitsiMeet("docker-compose.yml", "468-469"),
    note: "The media port follows JVB_PORT (jvb/rootfs/defaults/jvb.conf line 38, default 10000).",
  },
  health: {
    value: "curl --fail-with-body http://127.0.0.1:8080/about/health",
    source: dockerJitsiMeet("jvb/rootfs/usr/local/bin/healthcheck.sh", 3),
  },
};
