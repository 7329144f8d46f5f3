// The official Caddy image, caddy:2.11.4-alpine. Its Dockerfile is caddyserver/caddy-docker's
// 2.11/alpine/Dockerfile (read at 62d1326, which built 2.11.2; the 2.11.4 build runs the same
// lines with CADDY_VERSION=v2.11.4, as docker-library/repo-info's record of the tag shows).
// Caddy's own behaviour is read at caddyserver/caddy v2.11.4.
import type { ImageContract, Source } from "../image-contract.ts";

const DOCKERFILE: Source = { repo: "caddyserver/caddy-docker", ref: "62d1326", file: "2.11/alpine/Dockerfile" };
const RECORD: Source = { repo: "docker-library/repo-info", ref: "140d58041645e33e89eaf9642c32ff0d555b667d", file: "repos/caddy/remote/2.11.4-alpine.md" };
const CADDY = (file: string, line: Source["line"]): Source => ({ repo: "caddyserver/caddy", ref: "v2.11.4", file, line });
const at = (line: Source["line"]): Source => ({ ...DOCKERFILE, line });

const facts = {
  image: "caddy",
  tag: "2.11.4-alpine",
  digest: {
    value: "sha256:ad27e531c8b286ff153c0e6e16587a1583e4111bb58c4d83bd73d6d3ef0a0ce1",
    source: { ...RECORD, line: 4 },
    note: "The multi-platform index digest; repos/caddy/remote/2-alpine.md names the same one, so 2.11.4 is the current release.",
  },
  user: {
    value: { name: "root", uid: 0, startsAsRoot: true },
    source: at("1-63"),
    note: "No USER line: Caddy runs as root, which binds 80 and 443 and reads the uploaded Caddyfile.",
  },
  init: {
    value: "none: `caddy run --config /etc/caddy/Caddyfile --adapter caddyfile` is PID 1",
    source: at(63),
  },
  worksWithNoNewPrivileges: {
    value: true,
    source: at(39),
    note: "setcap cap_net_bind_service on /usr/bin/caddy serves non-root users only; as root, no privilege is gained at exec.",
  },
  capabilities: { value: [], source: at(39), note: "Binding 80/443 as root needs only Docker's default NET_BIND_SERVICE." },
  writablePaths: {
    value: [
      { path: "/data", provide: "volume" as const },
      { path: "/config", provide: "volume" as const },
    ],
    source: at("9-16"),
    note: "/data/caddy and /config/caddy are created world-writable for Caddy's storage (XDG dirs, lines 44-45).",
  },
  dataPaths: {
    value: ["/data", "/config"],
    source: CADDY("storage.go", "109-130"),
    note: "$XDG_DATA_HOME/caddy holds certificates and ACME accounts; Bastide's access logs go to /data/access-logs too.",
  },
  configPaths: { value: ["/etc/caddy/Caddyfile"], source: at(63) },
  env: {
    value: ["XDG_CONFIG_HOME", "XDG_DATA_HOME", "BASTIDE_PROVISIONING_TOKEN"],
    source: CADDY("caddyconfig/caddyfile/parse.go", "37-100"),
    note:
      "XDG_* are set by the image (Dockerfile 44-45) and read by storage.go 87, 123; the Caddyfile adapter replaces every " +
      "{$VAR} with the variable from Caddy's environment (parse.go 69-100), which is how the provisioning token gets in.",
  },
  ports: {
    value: [
      { port: 80, protocol: "tcp" as const, purpose: "HTTP: ACME challenges and the redirect to HTTPS" },
      { port: 443, protocol: "tcp" as const, purpose: "HTTPS" },
      { port: 443, protocol: "udp" as const, purpose: "HTTP/3" },
      { port: 2019, protocol: "tcp" as const, purpose: "admin API (Bastide's Caddyfile turns it off)" },
      { port: 2080, protocol: "tcp" as const, purpose: "Bastide's health site, bound to 127.0.0.1 by its Caddyfile" },
    ],
    source: at("56-59"),
    note: "Caddy listens on every site address its Caddyfile names (caddyconfig/httpcaddyfile/addresses.go); 80/443/2019 are the image's EXPOSE lines.",
  },
  health: {
    value: "wget -q -O /dev/null http://127.0.0.1:2080/",
    source: at("3-7"),
    note:
      "Upstream documents no health check. The Alpine base has busybox wget (curl too, line 5); the Caddyfile's loopback-only " +
      ":2080 site answers it, so the check needs no admin API.",
  },
};

export const contract: ImageContract = facts;
