// The reverse proxy: the only container on 80/443. It gets TLS certificates from
// ACME, adds security headers, keeps access logs short-lived and masked, and
// keeps admin paths to the VPN.
import type { Association } from "../../config/schema.ts";
import type { ProxyRoute, ServiceModule } from "../blueprint.ts";
import { IMAGES } from "../images.ts";
import { render } from "../../platform/templates.ts";
import { EDGE_ADDRESSES } from "../../platform/network.ts";
import { ACCESS_LOG_ROLL_MINUTE, ACCESS_LOG_ROLL_SIZE, accessLogRolling } from "./register.ts";
import type { NoticePage } from "./notices.ts";

const LETS_ENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory";

/** Admin paths also open to requests bearing this generated token: `pulumi up` provisions
 * through them before any VPN peer exists. The Caddyfile names the variable, never the value. */
export const PROVISIONING_TOKEN = { secret: "provisioning-token", header: "X-Bastide-Provisioning", env: "BASTIDE_PROVISIONING_TOKEN" } as const;

/** Port the container's health check asks; bound to the container's loopback, never published. */
export const HEALTH_PORT = 2080;

/** `notices`: the pages every site answers itself (none unless given). */
export function caddyfile(config: Association, routes: ProxyRoute[], notices: NoticePage[] = []): string {
  const settings = config.services.proxy;
  return render("proxy/Caddyfile", {
    acmeEmail: settings.acmeEmail ?? config.organisation.contact,
    acmeCaUrl: settings.acmeCa === "staging" ? LETS_ENCRYPT_STAGING : "",
    localCerts: config.host.target === "local",
    accessLog: { rollSize: ACCESS_LOG_ROLL_SIZE, rollMinute: ACCESS_LOG_ROLL_MINUTE, ...accessLogRolling(settings.accessLog.retentionDays) },
    anonymiseAddresses: settings.accessLog.anonymiseAddresses,
    healthPort: HEALTH_PORT,
    vpnSource: `${EDGE_ADDRESSES.vpn}/32`,
    tokenHeader: PROVISIONING_TOKEN.header,
    // Caddy substitutes {$VAR} from its environment when it reads the file.
    tokenPlaceholder: `{$${PROVISIONING_TOKEN.env}}`,
    notices,
    sites: routes.map((r) => ({
      host: r.host,
      upstream: r.upstream,
      headers: r.headers ?? {},
      vpnOnlyPaths: (r.vpnOnlyPaths ?? []).join(" "),
      vpnOnlyExceptions: (r.vpnOnlyExceptions ?? []).join(" "),
      redirects: r.redirects ?? [],
      staticJson: (r.staticJson ?? []).map((s) => ({ path: s.path, body: JSON.stringify(s.body) })),
    })),
  });
}

export const proxy: ServiceModule = {
  name: "proxy",
  enabled: () => true,
  blueprint: (config, { routes, noticePages }) => ({
    service: "proxy",
    title: "Reverse proxy (Caddy)",
    containers: [
      {
        name: "caddy",
        image: IMAGES.caddy,
        memoryMb: { small: 128, standard: 256 },
        ports: [
          { port: 80, protocol: "tcp", purpose: "HTTP, only to redirect to HTTPS and answer ACME challenges" },
          { port: 443, protocol: "tcp", purpose: "HTTPS for every web service" },
        ],
        volumes: [
          { volume: "data", path: "/data" },
          { volume: "config", path: "/config" },
        ],
        secretEnv: { [PROVISIONING_TOKEN.env]: PROVISIONING_TOKEN.secret },
        files: ["/etc/caddy/Caddyfile"],
        networks: ["edge"],
        edgeAddress: EDGE_ADDRESSES.proxy,
        // Every public name resolves to the proxy inside the edge network too, as the VPN's
        // resolver does for peers: a service that calls another by its public name (Synapse
        // and Nextcloud asking the identity provider for its discovery document, keys and
        // tokens) reaches it through Caddy directly, not through the host's public address,
        // which a server behind NAT or a firewall may not route back to itself.
        aliases: [...new Set(routes.map((route) => route.host))].sort(),
        healthcheck: { test: ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${HEALTH_PORT}/`], intervalSeconds: 30, retries: 3 },
      },
    ],
    volumes: [
      { name: "data", path: "/data", holds: "TLS certificates and keys; access logs (masked addresses, rotated)" },
      { name: "config", path: "/config", holds: "Caddy's autosaved state" },
    ],
    secrets: [{ name: PROVISIONING_TOKEN.secret, length: 48 }],
    routes: [],
    files: () => [{ container: "caddy", path: "/etc/caddy/Caddyfile", content: caddyfile(config, routes, noticePages()), holdsSecrets: false }],
  }),
};
