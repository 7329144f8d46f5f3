import test, { type ExecutionContext } from "ava";
import { caddyfile, HEALTH_PORT, PROVISIONING_TOKEN } from "../../stacks/services/proxy/blueprint.ts";
import { IMAGES } from "../../stacks/services/images.ts";
import { resolveEndpoint } from "../../provisioners/connections.ts";
import { createNextcloudClient } from "../../provisioners/nextcloud/client.ts";
import { contract as caddyContract } from "../../stacks/services/upstream/caddy.ts";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { adaptCaddyfile, runCaddyfileOnLoopback, TEST_PROVISIONING_TOKEN as TOKEN } from "../support/caddy.ts";
import { blueprints } from "../../stacks/services/catalog.ts";
import { EDGE_ADDRESSES } from "../../stacks/platform/network.ts";
import type { ProxyRoute } from "../../stacks/services/blueprint.ts";
import { exampleAssociation } from "../support/association.ts";
import { LANGUAGES } from "../../policies/rgpd/model.ts";
import { publishedNotices, type NoticeId } from "../../policies/reports/companions.ts";
import { renderCompanionHtml } from "../../policies/reports/html.ts";
import { noticePath } from "../../stacks/services/proxy/notices.ts";
import { noticePages } from "../../stacks/services/proxy/notice-pages.ts";
import { caddyLogOutputs, isInvalid } from "../../policies/audit/parse.ts";
import { readCaddyfile } from "../../policies/pack/caddyfile.ts";

const onServer = exampleAssociation((input) => {
  input.domain = "asso-exemple.fr";
  input.host = { target: "ssh", address: "203.0.113.5", country: "FR", size: { cpus: 4, memoryGb: 12 } };
  input.services.proxy = { acmeCa: "production", acmeEmail: "admin@asso-exemple.fr" };
});

const ROUTES: ProxyRoute[] = [
  { host: "cloud.asso-exemple.fr", upstream: "bastide-nextcloud-app:80", vpnOnlyPaths: ["/settings/admin*"] },
  {
    host: "matrix.asso-exemple.fr",
    upstream: "bastide-matrix-synapse:8008",
    staticJson: [{ path: "/.well-known/matrix/client", body: { "m.homeserver": { base_url: "https://matrix.asso-exemple.fr" } } }],
  },
  { host: "chat.asso-exemple.fr", upstream: "bastide-matrix-element:80", headers: { "X-Frame-Options": "SAMEORIGIN" } },
];

const adapt = adaptCaddyfile;

const server = (json: any) => Object.values(json.apps.http.servers).find((s: any) => s.listen.includes(":443")) as any;
const routeFor = (json: any, host: string) => server(json).routes.find((r: any) => r.match?.[0]?.host?.includes(host));
const walk = (node: any, visit: (n: any) => void): void => {
  visit(node);
  if (node && typeof node === "object") for (const v of Object.values(node)) walk(v, visit);
};
const handlers = (node: any, name: string) => {
  const found: any[] = [];
  walk(node, (n) => n?.handler === name && found.push(n));
  return found;
};

test("the Caddyfile for every enabled service is valid for Caddy", (t) => {
  const proxy = blueprints(onServer).find((b) => b.service === "proxy")!;
  const [file] = proxy.files({});
  const json = adapt(file!.content);
  t.truthy(server(json), "a server listens on 443");
});

test("admin paths answer 403 unless the request comes from the VPN server or bears the provisioning token", (t) => {
  const json = adapt(caddyfile(onServer, ROUTES));
  const cloud = routeFor(json, "cloud.asso-exemple.fr");
  const forbidden = handlers(cloud, "static_response").filter((h) => h.status_code === 403);
  t.is(forbidden.length, 1);
  let matcher: any;
  walk(cloud, (n) => n?.path && n?.not && (matcher = n));
  t.deepEqual(matcher.path, ["/settings/admin*"]);
  t.deepEqual(matcher.not[0].remote_ip.ranges, [`${EDGE_ADDRESSES.vpn}/32`]);
  t.deepEqual(matcher.not[1].header, { [PROVISIONING_TOKEN.header]: [TOKEN] }, "the token comes from Caddy's environment");
  t.is(handlers(routeFor(json, "chat.asso-exemple.fr"), "static_response").length, 0, "no admin path, no 403");
});

test("every site sends security headers and proxies to its upstream", (t) => {
  const json = adapt(caddyfile(onServer, ROUTES));
  for (const route of ROUTES) {
    const site = routeFor(json, route.host);
    const headers = handlers(site, "headers").flatMap((h) => Object.keys(h.response?.set ?? {}));
    t.true(headers.includes("Strict-Transport-Security"), route.host);
    t.true(headers.includes("X-Content-Type-Options"), route.host);
    const upstreams = handlers(site, "reverse_proxy").flatMap((h) => h.upstreams.map((u: any) => u.dial));
    t.deepEqual(upstreams, [route.upstream]);
  }
  const chatHeaders = handlers(routeFor(json, "chat.asso-exemple.fr"), "headers").flatMap((h) => Object.keys(h.response?.set ?? {}));
  t.true(chatHeaders.includes("X-Frame-Options"));
});

test("static JSON answers carry the body Matrix clients read", (t) => {
  const json = adapt(caddyfile(onServer, ROUTES));
  const responses = handlers(routeFor(json, "matrix.asso-exemple.fr"), "static_response").filter((h) => h.status_code === 200);
  t.deepEqual(JSON.parse(responses[0].body), { "m.homeserver": { base_url: "https://matrix.asso-exemple.fr" } });
});

test("access logs are rotated, kept for the configured days and mask client addresses", (t) => {
  const json = adapt(caddyfile(onServer, ROUTES));
  const log = Object.values(json.logging.logs).find((l: any) => l.writer?.output === "file") as any;
  t.is(log.writer.filename, "/data/access-logs/access.log");
  t.is(log.writer.roll_keep_days, 14);
  // Rolled by a timer every hour, not by size only: on a quiet server a size roll may never come.
  t.deepEqual(log.writer.roll_minutes, [0]);
  t.is(log.writer.roll_size_mb, 10);
  // One hour per rolled file, 14 × 24 − 1 of them plus the current one: no line older than 14 days.
  t.is(log.writer.roll_keep, 14 * 24 - 1);
  t.deepEqual(log.encoder.fields["request>remote_ip"], { filter: "ip_mask", ipv4_cidr: 24, ipv6_cidr: 48 });
  t.is(log.encoder.fields["request>headers>Authorization"].filter, "delete");

  const unmasked = exampleAssociation((input) => (input.services.proxy = { accessLog: { anonymiseAddresses: false, retentionDays: 3 } }));
  const plain = adapt(caddyfile(unmasked, ROUTES));
  const plainLog = Object.values(plain.logging.logs).find((l: any) => l.writer?.output === "file") as any;
  t.is(plainLog.encoder.fields["request>remote_ip"], undefined);
  t.is(plainLog.writer.roll_keep, 3 * 24 - 1, "the count of rolled files follows the configured days");
  t.is(plainLog.encoder.fields["request>headers>Cookie"].filter, "delete", "cookies are never logged");
});

test("certificates: Let's Encrypt on a server, Caddy's own CA for *.localhost, staging when asked", (t) => {
  const issuers = (json: any) => json.apps.tls?.automation?.policies?.flatMap((p: any) => p.issuers ?? []) ?? [];
  const production = issuers(adapt(caddyfile(onServer, ROUTES)));
  t.true(production.some((i: any) => i.module === "acme" && i.email === "admin@asso-exemple.fr" && !i.ca));

  const local = issuers(adapt(caddyfile(exampleAssociation(), ROUTES)));
  t.true(local.some((i: any) => i.module === "internal"));

  const staging = exampleAssociation((input) => {
    input.host = onServer.host;
    input.services.proxy = { acmeCa: "staging" };
  });
  const stagingIssuers = issuers(adapt(caddyfile(staging, ROUTES)));
  t.true(stagingIssuers.some((i: any) => i.module === "acme" && String(i.ca).includes("staging")));
});

// ---------------------------------------------------------------------------------------
// Through the real Caddy: the rendered Caddyfile, run on the loopback in front of a stand-in
// Nextcloud that answers 200 to anything and notes what reached it.

const VPN_STAND_IN = "127.0.0.2";

interface Sent {
  status: number;
  location?: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(port: number, host: string, method: string, path: string, options: { from?: string; headers?: Record<string, string> } = {}): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: "127.0.0.1", port, method, path, localAddress: options.from ?? "127.0.0.1", headers: { Host: host, ...options.headers }, timeout: 10_000 },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode!, location: response.headers.location, headers: response.headers, body }));
      },
    );
    request.on("timeout", () => request.destroy(new Error(`${method} ${path} timed out`)));
    request.on("error", reject);
    request.end();
  });
}

async function standInUpstream(): Promise<{ port: number; seen: string[]; close: () => Promise<void> }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.end("stand-in");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as AddressInfo).port, seen, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Admin surfaces of Nextcloud 34 (provisioning_api and settings routes.php), with a few spellings meant to slip by. */
const ADMIN_REQUESTS: [string, string][] = [
  ["GET", "/ocs/v1.php/cloud/users"],
  ["POST", "/ocs/v1.php/cloud/users"],
  ["GET", "/ocs/v2.php/cloud/users/details?search=a"],
  ["PUT", "/ocs/v2.php/cloud/users/alice"],
  ["PUT", "/ocs/v2.php/cloud/users/alice/disable"],
  ["POST", "/ocs/v2.php/cloud/users/alice/groups"],
  ["POST", "/ocs/v2.php/cloud/users/alice/wipe"],
  ["GET", "/ocs/v2.php/cloud/groups"],
  ["POST", "/ocs/v2.php/cloud/apps/files_external"],
  ["POST", "/ocs/v2.php/apps/provisioning_api/api/v1/config/apps/core/shareapi_enforce_links_password"],
  ["GET", "/settings/admin"],
  ["GET", "/settings/admin/security"],
  ["GET", "/index.php/settings/admin/overview"],
  ["GET", "/settings/users"],
  ["POST", "/index.php/settings/users/changepassword"],
  ["GET", "/settings/apps"],
  ["PUT", "/index.php/settings/api/admin/twofactorauth"],
  ["POST", "/settings/admin/mailsettings"],
  ["GET", "/index.php/settings/ajax/checksetup"],
  ["GET", "/index.php/apps/logreader/api/log"],
  ["GET", "/ocs/v2.php/apps/serverinfo/api/v1/info"],
  // Caddy lowercases, unescapes, merges slashes and resolves dot segments before matching.
  ["GET", "/OCS/v2.php/Cloud/Users"],
  ["GET", "//ocs/v2.php//cloud/users"],
  ["GET", "/ocs/v2.php/cloud/user/../users"],
  ["GET", "/ocs/v2.php/cloud/%75sers"],
  ["GET", "/index.php/./settings/Admin"],
];

/** What members, their clients and other servers use: must pass from anywhere. */
const MEMBER_REQUESTS: [string, string][] = [
  ["GET", "/"],
  ["GET", "/status.php"],
  ["GET", "/index.php/apps/files/"],
  ["GET", "/apps/calendar/"],
  ["PROPFIND", "/remote.php/dav/files/alice/"],
  ["PROPFIND", "/remote.php/dav/calendars/alice/"],
  ["REPORT", "/remote.php/dav/addressbooks/users/alice/contacts/"],
  ["GET", "/ocs/v2.php/cloud/capabilities?format=json"],
  ["GET", "/ocs/v1.php/cloud/user?format=json"],
  ["GET", "/ocs/v2.php/cloud/user/fields"],
  ["POST", "/ocs/v2.php/cloud/shares"],
  ["GET", "/ocs/v2.php/apps/files_sharing/api/v1/shares"],
  ["GET", "/ocs/v2.php/apps/notifications/api/v2/notifications"],
  ["GET", "/ocs/v2.php/core/autocomplete/get?search=a"],
  ["POST", "/ocs/v2.php/apps/provisioning_api/api/v1/config/users/core/lang"],
  ["GET", "/settings/user/security"],
  ["GET", "/index.php/settings/user/personal-info"],
  ["POST", "/settings/personal/changepassword"],
];

/** Nextcloud's site behind the real Caddy, its app a stand-in that records what reaches it; stopped when the test ends. */
async function nextcloudBehindCaddy(t: ExecutionContext, addresses?: Record<string, string>) {
  const route = blueprints(onServer).find((b) => b.service === "nextcloud")!.routes[0]!;
  const upstream = await standInUpstream();
  const caddy = await runCaddyfileOnLoopback(caddyfile(onServer, [route]), { upstreams: { [route.upstream]: upstream.port }, ...(addresses ? { addresses } : {}) });
  t.teardown(async () => {
    await caddy.stop();
    await upstream.close();
  });
  return { route, upstream, caddy };
}

test("through the real Caddy: Nextcloud's admin surfaces answer 403 outside the VPN, pass from the VPN or with the token; members' paths pass", async (t) => {
  const { route, upstream, caddy } = await nextcloudBehindCaddy(t, { [`${EDGE_ADDRESSES.vpn}/32`]: `${VPN_STAND_IN}/32` });
  const ask = (method: string, path: string, options?: { from?: string; headers?: Record<string, string> }) => send(caddy.port, route.host, method, path, options);

  for (const [method, path] of ADMIN_REQUESTS) {
    t.is((await ask(method, path)).status, 403, `${method} ${path} from the Internet`);
    t.is((await ask(method, path, { headers: { [PROVISIONING_TOKEN.header]: "not-the-token" } })).status, 403, `${method} ${path} with a wrong token`);
  }
  t.deepEqual(upstream.seen, [], "nothing refused reached Nextcloud");

  for (const [method, path] of ADMIN_REQUESTS) {
    t.is((await ask(method, path, { from: VPN_STAND_IN })).status, 200, `${method} ${path} from the VPN`);
    t.is((await ask(method, path, { headers: { [PROVISIONING_TOKEN.header]: TOKEN } })).status, 200, `${method} ${path} with the provisioning token`);
  }
  for (const [method, path] of MEMBER_REQUESTS) t.is((await ask(method, path)).status, 200, `${method} ${path} from the Internet`);
});

test("through the real Caddy: CalDAV/CardDAV discovery is answered by the proxy with a redirect to Nextcloud's DAV endpoint", async (t) => {
  const { route, upstream, caddy } = await nextcloudBehindCaddy(t);
  for (const path of ["/.well-known/caldav", "/.well-known/carddav"])
    for (const method of ["GET", "PROPFIND"]) {
      const answer = await send(caddy.port, route.host, method, path);
      t.is(answer.status, 301, `${method} ${path}`);
      t.is(answer.location, "/remote.php/dav/", `${method} ${path}`);
    }
  t.deepEqual(upstream.seen, [], "the proxy answers discovery itself");
});

test("the Caddy contract is read at the pinned tag and digest; the container reads its Caddyfile where the image does", (t) => {
  const [reference, digest] = IMAGES.caddy.split("@");
  t.is(reference, `caddy:${caddyContract.tag}`);
  t.is(digest, caddyContract.digest!.value);
  const caddy = blueprints(onServer).find((b) => b.service === "proxy")!.containers[0]!;
  t.deepEqual(caddy.files, caddyContract.configPaths.value);
  t.deepEqual(Object.keys(caddy.secretEnv ?? {}).filter((k) => !caddyContract.env.value.includes(k)), []);
  for (const p of caddy.ports ?? []) t.true(caddyContract.ports.value.some((f) => f.port === p.port && f.protocol === p.protocol), `${p.port}/${p.protocol}`);
  t.true(caddyContract.ports.value.some((f) => f.port === HEALTH_PORT), "the health site's port");
});

test("through the real Caddy: Bastide's Nextcloud client reaches the provisioning API with the token, and is refused without it", async (t) => {
  const { route, caddy } = await nextcloudBehindCaddy(t);
  // The site's name, connected to the loopback, as the provisioners reach a local stack.
  const { baseUrl, dispatcher } = await resolveEndpoint({ url: `http://${route.host}:${caddy.port}`, address: "127.0.0.1" });
  const client = (headers?: Record<string, string>) =>
    createNextcloudClient({ baseUrl, dispatcher, user: "_bastide", password: "not-a-real-password", retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 }, ...(headers ? { headers } : {}) });
  t.is((await client({ [PROVISIONING_TOKEN.header]: TOKEN }).http.request("GET", "ocs/v2.php/cloud/users")).status, 200);
  t.is((await client().http.request("GET", "ocs/v2.php/cloud/users")).status, 403);
});

// ---------------------------------------------------------------------------------------
// The information notices, served by the proxy itself on every public host.

test("through the real Caddy: every public host answers the notices in both languages, whole, with the security headers; the rest still reaches the service", async (t) => {
  const routes = blueprints(onServer).flatMap((b) => b.routes);
  const upstream = await standInUpstream();
  const caddy = await runCaddyfileOnLoopback(caddyfile(onServer, routes, noticePages(onServer)), { upstreams: Object.fromEntries(routes.map((r) => [r.upstream, upstream.port])) });
  t.teardown(async () => {
    await caddy.stop();
    await upstream.close();
  });
  const notices = LANGUAGES.flatMap((language) => publishedNotices(onServer, language).map((notice) => ({ notice, path: noticePath(notice.id as NoticeId, language) })));
  t.deepEqual(
    notices.map((n) => n.notice.id).sort(),
    ["notice-guests", "notice-guests", "notice-members", "notice-members", "notice-respondents", "notice-respondents"],
    "the example deploys Nextcloud, Jitsi and the polls: all three notices, in both languages",
  );
  const hosts = [...new Set(routes.map((r) => r.host))];
  t.true(hosts.length >= 5, hosts.join(", "));
  for (const host of hosts) {
    for (const { notice, path } of notices) {
      const page = await send(caddy.port, host, "GET", path);
      t.is(page.status, 200, `${host}${path}`);
      t.is(page.headers["content-type"], "text/html; charset=utf-8", `${host}${path}`);
      t.is(page.headers["strict-transport-security"], "max-age=31536000; includeSubDomains", `${host}${path}`);
      t.is(page.headers["x-content-type-options"], "nosniff", `${host}${path}`);
      t.is(page.headers["content-security-policy"], "default-src 'none'; style-src 'unsafe-inline'", `${host}${path}`);
      // Byte for byte the rendered notice: Caddy's placeholders left the page's CSS braces alone.
      t.is(page.body, renderCompanionHtml(notice).trimEnd(), `${host}${path}`);
      t.true(page.body.includes(`<html lang="${notice.language}">`), `${host}${path}`);
      t.true(page.body.includes(onServer.organisation.dpo.email), `${host}${path}: the DPO's address`);
      t.false(/<script|<link|<img|@import|url\(|src=/i.test(page.body), `${host}${path}: nothing fetched`);
    }
    const other = await send(caddy.port, host, "GET", "/");
    t.is(other.body, "stand-in", `${host}/ reaches the service`);
  }
  t.is((await send(caddy.port, hosts[0]!, "GET", "/privacy/other.html")).body, "stand-in", "a path beside the notices still reaches the service");
  t.deepEqual(
    upstream.seen.filter((line) => notices.some((n) => line.endsWith(n.path))),
    [],
    "no notice request reached a service",
  );
});

test("the notices inside the Caddyfile do not confuse Bastide's own Caddyfile reader (policy pack and audit)", (t) => {
  const proxy = blueprints(onServer).find((b) => b.service === "proxy")!;
  const text = proxy.files({})[0]!.content;
  t.true(text.includes("handle /confidentialite/membres.html"), "the served Caddyfile carries the notices");
  const outputs = caddyLogOutputs(text);
  t.false(isInvalid(outputs), JSON.stringify(outputs));
  t.deepEqual([...new Set((outputs as { output: string }[]).map((o) => o.output))], ["file /data/access-logs/access.log"]);
  const sites = readCaddyfile(text).sites.map((s) => s.addresses.join(" ")).filter((a) => !a.startsWith(":"));
  t.deepEqual(sites.sort(), [...new Set(blueprints(onServer).flatMap((b) => b.routes.map((r) => r.host)))].sort());
});

test("through the real Caddy: a name with Caddy placeholders is shown as written on the notices, never replaced by Caddy's environment", async (t) => {
  const written = "Les Amis {$BASTIDE_PROVISIONING_TOKEN} et {env.HOME}";
  const hostile = exampleAssociation((input) => {
    input.organisation.name = written;
  });
  const routes = blueprints(hostile).flatMap((b) => b.routes);
  const upstream = await standInUpstream();
  const caddy = await runCaddyfileOnLoopback(caddyfile(hostile, routes, noticePages(hostile)), { upstreams: Object.fromEntries(routes.map((r) => [r.upstream, upstream.port])) });
  t.teardown(async () => {
    await caddy.stop();
    await upstream.close();
  });
  const page = await send(caddy.port, routes[0]!.host, "GET", noticePath("notice-members", "fr"));
  t.is(page.status, 200);
  t.false(page.body.includes(TOKEN), "the provisioning token (Caddy's {$…}) is not on the page");
  t.false(page.body.includes(caddy.dataDir), "Caddy's {env.…} is not replaced");
  const shown = written.replace(/[{}]/g, (c) => (c === "{" ? "&#123;" : "&#125;"));
  t.true(page.body.includes(`<p class="org">${shown}</p>`), "the name, as written, in entities a browser shows as braces");
});
