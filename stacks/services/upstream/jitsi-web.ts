// ghcr.io/jitsi/web: nginx and the Jitsi Meet web app, read from jitsi/docker-jitsi-meet at the pinned tag.
import type { ImageContract } from "../image-contract.ts";
import {
  composeRunTmpfs,
  dockerJitsiMeet,
  runTmpfs,
  s6ImageFacts,
} from "../jitsi/upstream-base.ts";

export const contract: ImageContract = {
  image: "jitsiWeb",
  ...s6ImageFacts,
  digest: {
    value: "sha256:4231d5ff7318ff71d12ffd41afc36adae3c319b40cf79cde39b009b0c68295dc",
    source: { repo: "Dimmdao2/BersonCareBot", ref: "f5f4c7ed1b2e6ec19a2c5bd0f3613ddb47262674", file: "deploy/jitsi/VERSIONS.md", line: 8 },
    note: "A third party's record of ghcr.io's answer to GET /v2/jitsi/web/manifests/stable-11146-2 (2026-09-08); jitsi publishes no digest list of its own.",
  },
  writablePaths: {
    value: [runTmpfs],
    source: composeRunTmpfs("7-8"),
    note:
      "nginx's own scratch folder is a link into /run (ln -s /run/web/tmp /var/lib/nginx, web/Dockerfile line 30). " +
      "/storage (ACME state) is only written with ENABLE_LETSENCRYPT=1 (web/rootfs/etc/s6-overlay/scripts/config line 27), which Bastide leaves off.",
  },
  dataPaths: {
    value: [],
    source: dockerJitsiMeet("web/rootfs/etc/s6-overlay/scripts/config", "5-7"),
    note: "Nothing to keep once TLS is left to the proxy: the config is regenerated into /run/web/config at every start.",
  },
  configPaths: {
    value: ["/config/custom-config.js", "/usr/share/jitsi-meet/static"],
    source: dockerJitsiMeet("web/rootfs/etc/s6-overlay/scripts/config", "143-144"),
    note:
      "/config is copied into /run/web/config (line 7); custom-config.js, if there, is appended to config.js (lines 143-144). " +
      "nginx serves /static/* from /usr/share/jitsi-meet/static/ (web/rootfs/defaults/meet.conf lines 68-70), where Bastide's " +
      "meeting login page goes (stacks/services/jitsi/login.ts).",
  },
  env: {
    value: [
      "TZ",
      "XMPP_DOMAIN",
      "XMPP_GUEST_DOMAIN",
      "XMPP_MUC_DOMAIN",
      "ENABLE_AUTH",
      "ENABLE_GUESTS",
      "PUBLIC_URL",
      "XMPP_BOSH_URL_BASE",
      "DISABLE_HTTPS",
      "ENABLE_LETSENCRYPT",
      "ENABLE_HTTP_REDIRECT",
      "ENABLE_HSTS",
      "ENABLE_RECORDING",
      "ENABLE_LIVESTREAMING",
      "ENABLE_PREJOIN_PAGE",
      "TOKEN_AUTH_URL",
    ],
    source: dockerJitsiMeet("web/rootfs/defaults/system-config.js"),
    note:
      "system-config.js: ENABLE_AUTH line 3, ENABLE_GUESTS 5, XMPP_GUEST_DOMAIN 10, XMPP_MUC_DOMAIN 11; settings-config.js: " +
      "ENABLE_PREJOIN_PAGE 10, ENABLE_RECORDING 13, TOKEN_AUTH_URL 397-399 (config.tokenAuthUrl), ENABLE_LIVESTREAMING 15, PUBLIC_URL 37; meet.conf: XMPP_DOMAIN 5, " +
      "XMPP_BOSH_URL_BASE 6; default: ENABLE_HTTP_REDIRECT 8, DISABLE_HTTPS 15; ssl.conf: ENABLE_LETSENCRYPT 7, ENABLE_HSTS 26 " +
      "(all under web/rootfs/defaults/). TZ is passed by upstream's compose file (docker-compose.yml line 156). The image " +
      "reads neither AUTH_TYPE, XMPP_AUTH_DOMAIN nor XMPP_INTERNAL_MUC_DOMAIN.",
  },
  ports: {
    value: [{ port: 8000, protocol: "tcp", purpose: "nginx, plain HTTP (TLS on 8443 is switched off by DISABLE_HTTPS=1)" }],
    source: dockerJitsiMeet("web/rootfs/defaults/default", 2),
    note: "listen 8000 default_server; EXPOSE 8000 8443 (web/Dockerfile line 35).",
  },
  health: {
    value: "curl --fail http://127.0.0.1:8000/",
    source: dockerJitsiMeet("web/rootfs/defaults/meet.conf", 25),
    note:
      "Upstream declares no health check for web (docker-compose.yml has none). nginx's default server on 8000 " +
      "(web/rootfs/defaults/default line 2) includes meet.conf, which serves the app's index page at / (index index.html, " +
      "line 25): the page every participant loads first, and what Bastide probes.",
  },
};
