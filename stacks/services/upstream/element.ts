// Element Web's image, ghcr.io/element-hq/element-web: the built web app served by nginx
// (nginx:alpine-slim). The element-web repository is too large to bring here whole; its
// Dockerfile and docker/ files were read one by one from the public index, at the commits
// named below (the index keeps files, not tags: re-read them at the tag on the next update).
import type { ImageContract, Source } from "../image-contract.ts";

const DOCKERFILE: Source = { repo: "element-hq/element-web", ref: "036353ace17643419fd953a3a708d0243e849339", file: "Dockerfile" };
const at = (line: Source["line"]): Source => ({ ...DOCKERFILE, line });

export const contract: ImageContract = {
  image: "element",
  tag: "v1.12.30",
  unverifiedDigest:
    "ghcr.io publishes no digest list and element-web's release notes record none; element-hq/ess-helm pins the tag " +
    "only (charts/matrix-stack/values.yaml). v1.12.30 is the newest release found in any public record here.",
  user: {
    value: { name: "nginx", uid: 101, startsAsRoot: false },
    source: at("44-45"),
    note: "`USER nginx`; the nginx:alpine-slim base creates nginx with uid 101 (nginxinc/docker-nginx, alpine-slim Dockerfile).",
  },
  init: { value: "nginx's /docker-entrypoint.sh (templates through envsubst, then scripts of /docker-entrypoint.d)", source: at("29-32") },
  worksWithNoNewPrivileges: {
    value: true,
    source: at("34-45"),
    note: "Runs as nginx from the start (pid file moved to /tmp, cache and config owned by nginx): no privilege change at all.",
  },
  capabilities: {
    value: [],
    source: at("47-48"),
    note: "Port 80 as non-root needs no capability: Docker sets net.ipv4.ip_unprivileged_port_start=0 in the container.",
  },
  writablePaths: {
    value: [],
    source: at("34-39"),
    note: "Writes only inside its own file system (/tmp, /var/cache/nginx, /etc/nginx/conf.d), which Bastide leaves writable.",
  },
  dataPaths: { value: [], source: at(27), note: "Static files only: nothing to keep." },
  configPaths: {
    value: ["/app/config.json"],
    source: { repo: "element-hq/element-web", ref: "54b775a844d2b3fa1f0db324959c4c9df6e9f92a", file: "docker/docker-entrypoint.d/18-load-element-modules.sh", line: "17-19" },
    note: "/usr/share/nginx/html links to /app (Dockerfile 41-42); the entrypoint copies /app/config*.json before serving.",
  },
  env: {
    value: ["ELEMENT_WEB_PORT", "NGINX_ENTRYPOINT_QUIET_LOGS"],
    source: at("47-48"),
    note: "ELEMENT_WEB_PORT is the listen port of docker/nginx-templates/default.conf.template (lines 2-3).",
  },
  ports: {
    value: [{ port: 80, protocol: "tcp", purpose: "nginx serving the web app", configuredBy: { env: "ELEMENT_WEB_PORT" } }],
    source: at("47-48"),
  },
  health: {
    value: "wget --retry-connrefused --tries=5 -q --wait=3 --spider http://localhost:$ELEMENT_WEB_PORT/config.json",
    source: at(50),
  },
};
