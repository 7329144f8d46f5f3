// LinuxServer's WireGuard image, lscr.io/linuxserver/wireguard, read in
// linuxserver/docker-wireguard at the tag of the pinned build (the newest in the snapshot
// read here, April 2026), and its base, linuxserver/docker-baseimage-alpine.
// Bastide runs it in "client mode" (no PEERS) with its own wg0.conf: see vpn/blueprint.ts.
import type { ImageContract, Source } from "../image-contract.ts";

const TAG = "1.0.20250521-r1-ls110";
const at = (file: string, line: Source["line"]): Source => ({ repo: "linuxserver/docker-wireguard", ref: TAG, file, line });
const s6 = (name: string, line: Source["line"]) => at(`root/etc/s6-overlay/s6-rc.d/${name}/run`, line);
/** The image is FROM baseimage-alpine:3.23; the snapshot read here has the 3.22 branch, whose init is the same. */
const base = (file: string, line: Source["line"]): Source => ({
  repo: "linuxserver/docker-baseimage-alpine",
  ref: "3d5a8b06a66bdf923dd537912cde796ccf915532",
  file,
  line,
});

export const contract: ImageContract = {
  image: "wireguard",
  tag: TAG,
  unverifiedDigest:
    "lscr.io/ghcr.io publish no digest list, and linuxserver/docker-wireguard records none (its CI commits only " +
    "package_versions.txt): pinned by the exact build tag. Later builds (ls113, ls116) are named in third-party " +
    "files, but their sources could not be read here, so the contract stays at ls110.",
  user: {
    value: { name: "root", uid: 0, startsAsRoot: true },
    source: base("Dockerfile", 88),
    note: "s6-overlay and wg-quick run as root; user abc (uid 911, PUID/PGID move it) only owns /config (init-wireguard-confs lines 201-203).",
  },
  init: { value: "s6-overlay (/init)", source: base("Dockerfile", 102) },
  worksWithNoNewPrivileges: {
    value: true,
    source: { repo: "just-containers/s6-overlay", ref: "9658b23e53f51ec9423f5e1cd18f9dce36087440", file: "layout/rootfs-overlay/package/admin/s6-overlay-@VERSION@/libexec/preinit", line: "3-7" },
    note: "s6-overlay-suexec needs its setuid bit only when the container starts unprivileged; this image starts as root.",
  },
  capabilities: {
    value: ["NET_ADMIN"],
    source: at("README.md", 219),
    note: "\"Neccessary for Wireguard to create its VPN interface\". SYS_MODULE is optional (README 64, 148): only to load kernel modules the host did not.",
  },
  requiredSysctls: {
    value: { "net.ipv4.conf.all.src_valid_mark": "1" },
    source: at("README.md", 217),
    note: "\"Required for client mode\": the image's wg-quick skips setting it itself when it is already 1 (Dockerfile line 34).",
  },
  writablePaths: {
    value: [{ path: "/config", provide: "volume" }],
    source: at("README.md", 215),
    note: "s6-overlay also writes /run at start, inside the container's own file system, which Bastide leaves writable.",
  },
  dataPaths: { value: ["/config"], source: at("README.md", 215), note: "\"Contains all relevant configuration files.\"" },
  configPaths: {
    value: ["/config/wg_confs/", "/config/coredns/"],
    source: s6("svc-wireguard", "7-14"),
    note: "wg-quick up on every /config/wg_confs/*.conf with an [Interface]; CoreDNS runs in /config/coredns (svc-coredns 15-21) and the default Corefile is copied only when none exists (init-wireguard-confs 193-195).",
  },
  env: {
    value: ["PUID", "PGID", "TZ", "PEERS", "SERVERURL", "SERVERPORT", "PEERDNS", "INTERNAL_SUBNET", "ALLOWEDIPS", "PERSISTENTKEEPALIVE_PEERS", "LOG_CONFS", "USE_COREDNS"],
    source: s6("init-wireguard-confs", "139-190"),
    note: "PUID/PGID in the base's init-adduser (lines 4-5), TZ in README 206, LOG_CONFS at line 116, USE_COREDNS (client mode) at 188-189.",
  },
  allowsUserOverride: { value: false, source: at("README.md", "123-129"), note: "Non-root, read-only operation is \"Not supported in client mode\"." },
  ports: {
    value: [
      {
        port: 51820,
        protocol: "udp",
        purpose: "WireGuard",
        configuredBy: { file: "/config/wg_confs/wg0.conf", key: "ListenPort" },
      },
    ],
    source: at("Dockerfile", 46),
    note: "In client mode the port is the ListenPort of the conf wg-quick brings up.",
  },
  health: {
    value: "wg show",
    source: at("Dockerfile", 32),
    note: "The image defines no HEALTHCHECK; wg comes with wireguard-tools, which it installs.",
  },
};
