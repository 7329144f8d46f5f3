// ghcr.io/jitsi/prosody: the XMPP server, read from jitsi/docker-jitsi-meet at the pinned tag.
import type { ImageContract } from "../image-contract.ts";
import {
  composeRunTmpfs,
  dockerJitsiMeet,
  runTmpfs,
  s6ImageFacts,
} from "../jitsi/upstream-base.ts";

export const contract: ImageContract = {
  image: "jitsiProsody",
  ...s6ImageFacts,
  digest: {
    value: "sha256:9e341b10134d947e49ca338b9efe8d70ac9d6e8d89d621da2246dfa79fe50363",
    source: { repo: "Dimmdao2/BersonCareBot", ref: "f5f4c7ed1b2e6ec19a2c5bd0f3613ddb47262674", file: "deploy/jitsi/VERSIONS.md", line: 9 },
    note: "A third party's record of ghcr.io's answer to GET /v2/jitsi/prosody/manifests/stable-11146-2 (2026-09-08); jitsi publishes no digest list of its own.",
  },
  writablePaths: {
    value: [runTmpfs, { path: "/var/lib/prosody", provide: "volume" }],
    source: composeRunTmpfs("203-216"),
    note:
      "tmpfs /run:size=16M,mode=1750,exec (lines 203-204) and the volume ${CONFIG}/storage/prosody:/var/lib/prosody " +
      "(line 216); prosody/rootfs/etc/s6-overlay/scripts/config line 14 stops the container unless /var/lib/prosody is writable.",
  },
  dataPaths: {
    value: ["/var/lib/prosody"],
    source: dockerJitsiMeet("prosody/rootfs/defaults/prosody.cfg.lua", 439),
    note:
      "data_path = \"/var/lib/prosody/data\" (accounts, under <host>/accounts/); the config script creates that folder " +
      "as uid 1000 (scripts/config lines 16-21) and, on a first start with an empty data folder, copies the accounts " +
      "of the old layout from /config/data (lines 29-32). Upstream mounts the volume on /var/lib/prosody (docker-compose.yml line 216).",
  },
  configPaths: {
    value: ["/config/conf.d", "/prosody-plugins-custom"],
    source: dockerJitsiMeet("prosody/rootfs/etc/s6-overlay/scripts/config", "25-27"),
    note:
      "/config is copied into /run/prosody/config at every start (line 27), whose prosody.cfg.lua ends with " +
      "Include \"conf.d/*.cfg.lua\" (prosody/rootfs/defaults/prosody.cfg.lua line 441); /prosody-plugins-custom is the " +
      "first of plugin_paths (prosody/rootfs/defaults/conf.d/jitsi-meet.cfg.lua line 74) and a VOLUME of the image (prosody/Dockerfile line 83).",
  },
  env: {
    value: [
      "TZ",
      "XMPP_DOMAIN",
      "XMPP_AUTH_DOMAIN",
      "XMPP_GUEST_DOMAIN",
      "XMPP_MUC_DOMAIN",
      "XMPP_INTERNAL_MUC_DOMAIN",
      "ENABLE_AUTH",
      "AUTH_TYPE",
      "ENABLE_GUESTS",
      "PUBLIC_URL",
      "ENABLE_LOBBY",
      "ENABLE_RECORDING",
      "XMPP_MUC_MODULES",
      "JICOFO_AUTH_PASSWORD",
      "JVB_AUTH_PASSWORD",
      "JWT_APP_ID",
      "JWT_APP_SECRET",
      "JWT_ACCEPTED_ISSUERS",
    ],
    source: dockerJitsiMeet("prosody/rootfs/defaults/conf.d/jitsi-meet.cfg.lua"),
    note:
      "jitsi-meet.cfg.lua: AUTH_TYPE line 1, ENABLE_AUTH 6, ENABLE_GUESTS 11, ENABLE_LOBBY 13, ENABLE_RECORDING 17, PUBLIC_URL 40, " +
      "XMPP_AUTH_DOMAIN 48, XMPP_DOMAIN 49, XMPP_GUEST_DOMAIN 50, XMPP_INTERNAL_MUC_DOMAIN 51, XMPP_MUC_DOMAIN 52, " +
      "XMPP_MUC_MODULES 313-314 (added to the main MUC component's modules_enabled); with AUTH_TYPE jwt: JWT_ACCEPTED_ISSUERS " +
      "85-86 (asap_accepted_issuers), JWT_APP_SECRET 4 and 131-132 (app_secret; line 4 passes it through toBool, which jitsi/tpl v1.5.0 func.go lines 46-60 makes true for any non-empty string that is not a boolean word, as a 64-character generated secret is), JWT_APP_ID 130 (app_id); scripts/config: JICOFO_AUTH_PASSWORD line 61, " +
      "JVB_AUTH_PASSWORD 79; TZ is read by the C library, and upstream's compose file passes it (docker-compose.yml line 330).",
  },
  ports: {
    value: [
      { port: 5222, protocol: "tcp", purpose: "XMPP client connections (jicofo, jvb)" },
      { port: 5280, protocol: "tcp", purpose: "BOSH, websocket and /health over HTTP" },
    ],
    source: dockerJitsiMeet("prosody/Dockerfile", 81),
    note: "EXPOSE 5222 5280; c2s_ports and http_ports in prosody/rootfs/defaults/prosody.cfg.lua lines 231 and 432.",
  },
  health: {
    value: "curl --fail-with-body http://127.0.0.1:5280/health",
    source: dockerJitsiMeet("prosody/rootfs/usr/local/bin/healthcheck.sh", 3),
    note: "Served by mod_http_health (prosody/rootfs/prosody-plugins/mod_http_health.lua), enabled in prosody.cfg.lua line 127.",
  },
};
